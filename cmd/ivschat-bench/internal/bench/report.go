package bench

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Record is the JSON record of one run.
type Record struct {
	Started  time.Time  `json:"started"`
	Finished time.Time  `json:"finished"`
	Command  string     `json:"command"`
	Commit   string     `json:"commit,omitempty"`
	Machine  Machine    `json:"machine"`
	Results  []*Result  `json:"results"`
	Verdicts []*Verdict `json:"verdicts"`
}

// Machine describes where a run happened.
type Machine struct {
	NProc     int    `json:"nproc"`
	CPUModel  string `json:"cpu_model"`
	MemoryMiB int64  `json:"memory_mib"`
	Kernel    string `json:"kernel"`
	Go        string `json:"go"`
	OpenFiles string `json:"open_files_limit"`
}

// ThisMachine reads the machine's description.
func ThisMachine() Machine {
	m := Machine{NProc: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "MemTotal:" {
				kib, _ := strconv.ParseInt(f[1], 10, 64)
				m.MemoryMiB = kib / 1024
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/self/limits"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "Max open files") {
				f := strings.Fields(l)
				if len(f) >= 5 {
					m.OpenFiles = f[3] + " soft, " + f[4] + " hard"
				}
			}
		}
	}
	return m
}

// GitCommit is the commit of the module in dir, "" if unknown.
func GitCommit(dir string) string {
	cmd := exec.Command("git", "rev-parse", "--short", "HEAD")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// Verdict is one of the targets checked against the run.
type Verdict struct {
	Goal     string  `json:"goal"`
	Scenario string  `json:"scenario"`
	Metric   string  `json:"metric"`
	Ivschatd float64 `json:"ivschatd"`
	Baseline float64 `json:"baseline,omitempty"`
	Ratio    float64 `json:"ratio,omitempty"`
	Pass     bool    `json:"pass"`
	// NotJudged: the goal is a ratio to the baseline and the run has no baseline result to
	// compare with, so it neither passes nor fails.
	NotJudged bool   `json:"not_judged,omitempty"`
	Note      string `json:"note,omitempty"`
}

// Outcome is the verdict as the tables show it: PASS, FAIL or "not judged".
func (v *Verdict) Outcome() string {
	switch {
	case v.NotJudged:
		return "not judged"
	case v.Pass:
		return "PASS"
	}
	return "FAIL"
}

// find is the nth (from 0) result of a scenario on a target: a run may repeat a scenario.
func find(results []*Result, target, scenario string, nth int) *Result {
	for _, r := range results {
		if r.Target == target && r.Scenario == scenario {
			if nth == 0 {
				return r
			}
			nth--
		}
	}
	return nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return round3(a / b)
}

// Goal is one target a scenario's result is judged by: a ratio to the baseline of the same
// run (Ratio > 0), or an absolute floor (Floor > 0) that needs no baseline.
type Goal struct {
	Text   string // as the tables show it
	Kind   string // the scenario kind it applies to
	Metric string
	// Applies narrows the goal to some runs of its kind (nil: all of them).
	Applies func(*Result) bool
	// Ratio is the limit of ivschatd ÷ baseline: at most (AtMost) or at least.
	Ratio  float64
	AtMost bool
	// Floor is the least value ivschatd must reach on its own.
	Floor float64
}

// Goals are the targets of the messaging load, from the issues that set them (15: fan-out,
// idle memory and the connect storm against the machine-limit baseline; earlier ones for small
// rooms and token minting).
var Goals = []Goal{
	{Text: "memory per idle connection ≤ 1.0× baseline", Kind: "idle", Metric: "kib_per_conn", Ratio: 1.0, AtMost: true},
	{Text: "deliveries/s ≥ 0.95× baseline, nothing lost", Kind: "fanout", Metric: "deliveries_per_s", Applies: atRate(50, true), Ratio: 0.95},
	{Text: "p99 ≤ 2× baseline, nothing lost", Kind: "fanout", Metric: "p99_ms", Applies: atRate(50, true), Ratio: 2, AtMost: true},
	{Text: "p99 ≤ 1.2× baseline, nothing lost", Kind: "fanout", Metric: "p99_ms", Applies: atRate(50, false), Ratio: 1.2, AtMost: true},
	{Text: "p99 ≤ 1.5× baseline", Kind: "smallrooms", Metric: "p99_ms", Ratio: 1.5, AtMost: true},
	{Text: "connections/s ≥ 0.4× baseline with a token minted per member during the storm, every token opened once",
		Kind: "storm", Metric: "connections_per_s", Applies: mintingDuring, Ratio: 0.4},
	{Text: "≥ 20,000 signed CreateChatToken/s", Kind: "mint", Metric: "calls_per_s", Floor: 20000},
}

// atRate selects fan-out phases sending at least (or, with atLeast false, below) rate
// messages per second.
func atRate(rate float64, atLeast bool) func(*Result) bool {
	return func(r *Result) bool {
		got, _ := r.Params["rate"].(float64)
		return (got >= rate) == atLeast
	}
}

// mintingDuring selects connect storms whose tokens were minted during the storm.
func mintingDuring(r *Result) bool {
	m, _ := r.Params["mint_during"].(bool)
	return m
}

// value is a result's metric; p99_ms comes from the latency histogram.
func (r *Result) value(metric string) float64 {
	if metric == "p99_ms" {
		return r.latency().P99
	}
	return r.Metrics[metric]
}

// Judge checks every ivschatd result against the Goals of its kind.
func Judge(results []*Result) []*Verdict {
	var out []*Verdict
	seen := map[string]int{}
	for _, r := range results {
		if r.Target != "ivschatd" {
			continue
		}
		b := find(results, "baseline", r.Scenario, seen[r.Scenario])
		seen[r.Scenario]++
		for _, g := range Goals {
			if g.Kind == r.Kind && (g.Applies == nil || g.Applies(r)) {
				out = append(out, g.judge(r, b))
			}
		}
	}
	return out
}

// judge is the goal's verdict on a result, with b the baseline's result of the same round
// (nil when the run had none).
func (g Goal) judge(r, b *Result) *Verdict {
	v := &Verdict{Goal: g.Text, Scenario: r.Scenario, Metric: g.Metric, Ivschatd: r.value(g.Metric)}
	switch {
	case g.Floor > 0:
		v.Pass = v.Ivschatd >= g.Floor
	case b == nil:
		v.NotJudged = true
		v.Note = "no baseline in this run"
	default:
		v.Baseline = b.value(g.Metric)
		v.Ratio = ratio(v.Ivschatd, v.Baseline)
		v.Pass = v.Ratio >= g.Ratio
		if g.AtMost {
			v.Pass = v.Ratio <= g.Ratio
		}
	}
	// Wrong results fail whatever the ratio, with or without a baseline.
	if !r.Correct {
		v.NotJudged = false
		v.Pass = false
		v.Note = "ivschatd: " + strings.Join(r.Problems, "; ")
	}
	return v
}

// WriteTables prints the results and the verdicts as Markdown tables.
func WriteTables(w io.Writer, rec *Record) {
	fmt.Fprintf(w, "\n| scenario | target | ok | deliveries/s | delivered / expected | lost | p50 ms | p99 ms | p99.9 ms | max ms | server CPU %% | generator CPU %% | other |\n")
	fmt.Fprintf(w, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range rec.Results {
		l := r.latency()
		if r.Kind == "storm" && r.Handshake != nil {
			l = *r.Handshake
		}
		ok := "yes"
		if !r.Correct {
			ok = "NO"
		}
		dash := func(name string) string {
			if v, found := r.Metrics[name]; found {
				return strconv.FormatFloat(v, 'f', -1, 64)
			}
			return ""
		}
		delivered := ""
		if _, found := r.Metrics["delivered"]; found {
			delivered = dash("delivered") + " / " + dash("expected_deliveries")
		}
		var other []string
		for _, k := range []string{"kib_per_conn", "kib_per_conn_slope", "rss_after_mib", "connections_per_s", "connected",
			"reuse_refused", "server_cpu_us_per_connect", "calls_per_s", "calls_per_server_core_s", "rejected", "dropped_connections", "server_rss_mib",
			"deliveries_per_write_call", "server_cpu_us_per_delivery", "engine_cpu_us_per_delivery", "other_cpu_pct", "load_average"} {
			if v, found := r.Metrics[k]; found && !(v == 0 && (k == "rejected" || k == "dropped_connections")) {
				other = append(other, fmt.Sprintf("%s=%g", k, v))
			}
		}
		lat := func(v float64) string {
			if l.Count == 0 {
				return ""
			}
			return strconv.FormatFloat(v, 'f', 2, 64)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Scenario, r.Target, ok,
			dash("deliveries_per_s"), delivered, dash("lost"), lat(l.P50), lat(l.P99), lat(l.P999), lat(l.Max),
			dash("server_cpu_pct"), dash("generator_cpu_pct"), strings.Join(other, " "))
	}
	fmt.Fprintf(w, "\n| goal | scenario | metric | ivschatd | baseline | ratio | pass |\n|---|---|---|---:|---:|---:|---|\n")
	for _, v := range rec.Verdicts {
		pass := v.Outcome()
		if v.Note != "" {
			pass += " (" + v.Note + ")"
		}
		base, rt := "", ""
		if v.Baseline != 0 || v.Ratio != 0 {
			base, rt = strconv.FormatFloat(v.Baseline, 'f', -1, 64), strconv.FormatFloat(v.Ratio, 'f', -1, 64)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %g | %s | %s | %s |\n", v.Goal, v.Scenario, v.Metric, v.Ivschatd, base, rt, pass)
	}
}

// PlotSVG draws send-to-receive latency (p50 and p99, log scale) against delivered messages
// per second for the fan-out and small-room results of one or more records.
func PlotSVG(w io.Writer, title string, results []*Result) error {
	type pt struct {
		x, y  float64
		label string
	}
	series := map[string][]pt{}
	for _, r := range results {
		if (r.Kind != "fanout" && r.Kind != "smallrooms") || r.Latency == nil || r.Metrics["deliveries_per_s"] <= 0 {
			continue
		}
		x := r.Metrics["deliveries_per_s"]
		series[r.Target+" p50"] = append(series[r.Target+" p50"], pt{x, max(r.Latency.P50, 0.01), r.Scenario})
		series[r.Target+" p99"] = append(series[r.Target+" p99"], pt{x, max(r.Latency.P99, 0.01), r.Scenario})
	}
	if len(series) == 0 {
		return fmt.Errorf("no fan-out or small-room results with latency to plot")
	}
	names := sortedKeys(series)
	xmax, ymin, ymax := 0.0, 1e9, 0.0
	for _, n := range names {
		s := series[n]
		sort.Slice(s, func(i, j int) bool { return s[i].x < s[j].x })
		for _, p := range s {
			xmax, ymin, ymax = max(xmax, p.x), min(ymin, p.y), max(ymax, p.y)
		}
	}
	// Axes: x linear from 0 to a round number, y in decades.
	xtop := niceCeil(xmax * 1.05)
	lo, hi := decadeFloor(ymin), decadeCeil(ymax)
	if hi <= lo {
		hi = lo * 10
	}
	const W, H, left, right, top, bottom = 820, 500, 80, 200, 40, 60
	pw, ph := float64(W-left-right), float64(H-top-bottom)
	px := func(x float64) float64 { return left + x/xtop*pw }
	py := func(y float64) float64 {
		return top + ph - (math.Log10(y)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))*ph
	}
	colors := map[string]string{"ivschatd p50": "#1f77b4", "ivschatd p99": "#1f77b4", "baseline p50": "#d62728", "baseline p99": "#d62728"}
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", W, H)
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(w, `<text x="%d" y="22" font-size="15">%s</text>`+"\n", left, xmlEscape(title))
	for d := lo; d <= hi*1.0001; d *= 10 {
		y := py(d)
		fmt.Fprintf(w, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%s ms</text>`+"\n",
			left, y, left+pw, y, left-6, y+4, strconv.FormatFloat(d, 'g', -1, 64))
	}
	for i := 0; i <= 5; i++ {
		x := xtop * float64(i) / 5
		fmt.Fprintf(w, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n",
			px(x), top, px(x), top+ph, px(x), top+ph+18, humanCount(x))
	}
	fmt.Fprintf(w, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="#333"/>`+"\n", left, top, pw, ph)
	fmt.Fprintf(w, `<text x="%.1f" y="%d" text-anchor="middle">deliveries per second (messages × members)</text>`+"\n", left+pw/2, H-15)
	fmt.Fprintf(w, `<text transform="translate(18,%.1f) rotate(-90)" text-anchor="middle">send-to-receive latency (log)</text>`+"\n", top+ph/2)
	labeled := map[string]bool{} // a repeated scenario is labeled once
	for i, n := range names {
		s := series[n]
		color := colors[n]
		if color == "" {
			color = "#2ca02c"
		}
		dash := ""
		if strings.HasSuffix(n, "p50") {
			dash = ` stroke-dasharray="5,4"`
		}
		var pts []string
		for _, p := range s {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(p.x), py(p.y)))
		}
		fmt.Fprintf(w, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(pts, " "), color, dash)
		for _, p := range s {
			fmt.Fprintf(w, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s %s: %.2f ms at %.0f/s</title></circle>`+"\n",
				px(p.x), py(p.y), color, xmlEscape(p.label), n, p.y, p.x)
			if strings.HasSuffix(n, "p99") && strings.HasPrefix(n, "ivschatd") && !labeled[p.label] {
				labeled[p.label] = true
				fmt.Fprintf(w, `<text x="%.1f" y="%.1f" font-size="10" fill="#555">%s</text>`+"\n", px(p.x)+5, py(p.y)-6, xmlEscape(p.label))
			}
		}
		ly := float64(top + 20 + 22*i)
		fmt.Fprintf(w, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s" stroke-width="2"%s/><text x="%d" y="%.1f">%s</text>`+"\n",
			W-right+15, ly, W-right+45, ly, color, dash, W-right+52, ly+4, n)
	}
	fmt.Fprintln(w, "</svg>")
	return nil
}

func decadeFloor(v float64) float64 {
	d := 1e-3
	for d*10 <= v {
		d *= 10
	}
	return d
}

func decadeCeil(v float64) float64 {
	d := 1e-3
	for d < v {
		d *= 10
	}
	return d
}

func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	d := 1.0
	for d*10 <= v {
		d *= 10
	}
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if d*m >= v {
			return d * m
		}
	}
	return d * 10
}

func humanCount(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 3, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'g', 3, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
