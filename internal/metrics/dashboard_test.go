package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dashboardFile is the Grafana dashboard shipped for operators.
const dashboardFile = "../../docs/grafana/ivschatd.json"

// What a PromQL expression holds besides metric names: strings, label matchers, ranges, and
// the label lists of grouping and matching clauses.
var (
	promQLNoise    = regexp.MustCompile(`"[^"]*"|\{[^}]*\}|\[[^\]]*\]|\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promQLWord     = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*\s*\(?`)
	promQLKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true}
)

func TestDashboardQueriesNameExportedMetrics(t *testing.T) {
	exported := exportedNames(t)
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("%s is not JSON: %v", dashboardFile, err)
	}
	used := map[string]bool{}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			names := metricNames(q.Expr)
			if len(names) == 0 {
				t.Errorf("panel %q: query %q names no metric", p.Title, q.Expr)
			}
			for _, n := range names {
				if !exported[n] {
					t.Errorf("panel %q: query %q reads %s, which the server does not export", p.Title, q.Expr, n)
				}
				used[n] = true
			}
		}
	}
	t.Run("every ivschatd metric has a panel", func(t *testing.T) {
		for n := range exported {
			family := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_count"), "_sum")
			if strings.HasPrefix(n, namespace+"_") && !used[n] && !used[family+"_bucket"] && !used[family+"_count"] {
				t.Errorf("%s is on no panel", n)
			}
		}
	})
}

func TestMetricNamesOfQueries(t *testing.T) {
	for _, tt := range []struct {
		expr string
		want []string
	}{
		{`sum by (outcome) (rate(ivschatd_messages_total{instance=~"$instance"}[$__rate_interval]))`, []string{"ivschatd_messages_total"}},
		{`histogram_quantile(0.99, sum by (le) (rate(ivschatd_review_duration_seconds_bucket[5m])))`, []string{"ivschatd_review_duration_seconds_bucket"}},
		{`go_goroutines`, []string{"go_goroutines"}},
		{`process_open_fds{instance="a"} / process_max_fds`, []string{"process_max_fds", "process_open_fds"}},
	} {
		t.Run(tt.expr, func(t *testing.T) {
			if got := metricNames(tt.expr); !slices.Equal(got, tt.want) {
				t.Errorf("%v, want %v", got, tt.want)
			}
		})
	}
}

// metricNames lists the metric names an expression reads: the words left once the noise is
// gone that are neither functions (followed by "(") nor keywords.
func metricNames(expr string) []string {
	var out []string
	for _, w := range promQLWord.FindAllString(promQLNoise.ReplaceAllString(expr, " "), -1) {
		if strings.HasSuffix(w, "(") {
			continue // a function
		}
		if w = strings.TrimSpace(w); promQLKeywords[w] || slices.Contains(out, w) {
			continue
		}
		out = append(out, w)
	}
	slices.Sort(out)
	return out
}

// exportedNames gathers every series name a node exports, histograms with their _bucket,
// _sum and _count series.
func exportedNames(t *testing.T) map[string]bool {
	m := New(Gauges{Connections: func() int64 { return 0 }, Rooms: func() int64 { return 0 },
		ChatLogPending: func() map[string]uint64 { return nil }})
	m.APIRequest("CreateRoom", 200, 0)
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		n := f.GetName()
		names[n] = true
		if f.GetType().String() == "HISTOGRAM" {
			names[n+"_bucket"], names[n+"_sum"], names[n+"_count"] = true, true, true
		}
	}
	return names
}
