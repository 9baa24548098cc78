// Command ivschat-bench measures ivschatd against a raw WebSocket baseline on the same
// machine: rooms and tokens through the signed control plane, members as WebSocket clients
// with the token as subprotocol, spread over worker processes and loopback source addresses.
//
// "ivschat-bench help" (or no arguments) lists its commands: run, plot, table, baseline, worker.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"

	_ "net/http/pprof" // served by the baseline on -pprof-addr
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ivschatd/ivschatd/cmd/ivschat-bench/internal/bench"
)

// usage is what --help, help and no arguments print.
const usage = `ivschat-bench measures ivschatd against a raw WebSocket baseline on the same machine.

Usage: ivschat-bench <command> [flags]

Commands:
  run [flags]               run scenarios against ivschatd and the baseline, print tables, write a JSON record (-out)
  plot [-o F.svg] R.json…   plot send-to-receive latency against load from records
  table R.json…             print the tables and verdicts of records again
  baseline [-addr A]        run the raw WebSocket baseline server alone
  worker                    a generator process; run starts these itself
  help                      this text

"ivschat-bench <command> -h" lists the command's flags. A goal that is a ratio to the
baseline is "not judged" when the run has no baseline result to compare with.
`

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		fmt.Print(usage)
		return
	}
	cmd, args := args[0], args[1:]
	var err error
	switch cmd {
	case "run":
		err = run(args)
	case "worker":
		err = worker()
	case "baseline":
		err = baseline(args)
	case "plot":
		err = plot(args)
	case "table":
		err = table(args)
	case "help", "-h", "-help", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "ivschat-bench: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ivschat-bench:", err)
		os.Exit(1)
	}
}

// newFlagSet is a command's flag set whose -h names the command and its arguments.
func newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: ivschat-bench %s %s\n", name, synopsis)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintf(fs.Output(), "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// worker serves the coordinator; IVSCHAT_BENCH_WORKER_CPUPROFILE=DIR profiles the worker
// itself, to see what the generator spends its CPU on.
func worker() error {
	if dir := os.Getenv("IVSCHAT_BENCH_WORKER_CPUPROFILE"); dir != "" {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("worker-%d-cpu.pprof", os.Getpid())))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	return bench.ServeWorker(os.Stdin, os.Stdout)
}

func baseline(args []string) error {
	fs := newFlagSet("baseline", "[flags]")
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	pprofAddr := fs.String("pprof-addr", "", "serve net/http/pprof on this loopback address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pprofAddr != "" {
		ln, err := net.Listen("tcp", *pprofAddr)
		if err != nil {
			return err
		}
		go func() { _ = http.Serve(ln, http.DefaultServeMux) }()
	}
	b, err := bench.StartBaseline(*addr)
	if err != nil {
		return err
	}
	fmt.Printf("baseline listening on %s\n", b.URL())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	b.Close()
	return nil
}

type options struct {
	targets, scenarios  string
	addr                string
	pid                 int
	ivschatd            string
	ivschatdArgs        string
	roomTags            string
	workers, sourceIPs  int
	connectConc         int
	idle, idleRoom      int
	idleSteps           int
	fanout              string
	senders             int
	duration            time.Duration
	smallRooms, smallSz int
	smallRate           float64
	storm, stormConc    int
	stormRoom, reuse    int
	mintDur             time.Duration
	mintConc            int
	mintClients         string
	out, profile        string
	settle, drain       time.Duration
	repeat              int
	natsURL             string
	enginePids          string
}

func run(args []string) error {
	var o options
	fs := newFlagSet("run", "[flags]")
	fs.StringVar(&o.targets, "targets", "ivschatd,baseline", "servers to measure: ivschatd, baseline, cluster:N (N nodes on the NATS cluster of -nats-url, members spread over them)")
	fs.StringVar(&o.natsURL, "nats-url", "", "cluster:N targets: the NATS cluster's client URLs, comma separated (e.g. from test/cluster/cmd/natscluster)")
	fs.StringVar(&o.enginePids, "engine-pids", "", "pids of the NATS servers, comma separated: their CPU is reported as engine CPU")
	fs.StringVar(&o.scenarios, "scenarios", "idle,fanout,smallrooms,storm,stormmint,mint", "scenarios to run, in order (stormmint: the connect storm with each member's token minted during it)")
	fs.StringVar(&o.addr, "addr", "", "measure the ivschatd at this URL (http://host:port) instead of starting one")
	fs.IntVar(&o.pid, "pid", 0, "pid of the ivschatd at -addr, for /proc memory and CPU")
	fs.StringVar(&o.ivschatd, "ivschatd", "", "ivschatd binary to start (default: go build ./cmd/ivschatd of the current directory)")
	fs.StringVar(&o.ivschatdArgs, "ivschatd-args", "", "extra arguments for the started ivschatd, space separated")
	fs.StringVar(&o.roomTags, "room-tags", "", "tags of every room the scenarios create, key=value comma separated (e.g. ivschatd:presence-events=true)")
	fs.IntVar(&o.workers, "workers", 4, "generator processes holding listening members")
	fs.IntVar(&o.sourceIPs, "source-ips", 8, "loopback source addresses the members dial from: 127.0.0.2 onwards")
	fs.IntVar(&o.connectConc, "connect-concurrency", 64, "handshakes in flight per generator while setting up")
	fs.IntVar(&o.idle, "idle", 15000, "idle hold: members")
	fs.IntVar(&o.idleRoom, "idle-room-size", 1000, "idle hold: members per room")
	fs.IntVar(&o.idleSteps, "idle-steps", 6, "idle hold: memory readings while connecting")
	fs.StringVar(&o.fanout, "fanout", "5000:10,10000:10,10000:100", "fan-out phases, members:msgs-per-second[:sending time], comma separated; consecutive phases with the same members share connections")
	fs.IntVar(&o.senders, "senders", 10, "fan-out: sending members (each also receives)")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "fan-out and small rooms: sending time of each phase")
	fs.IntVar(&o.smallRooms, "small-rooms", 2000, "many small rooms: rooms")
	fs.IntVar(&o.smallSz, "small-room-size", 5, "many small rooms: members per room (one sends)")
	fs.Float64Var(&o.smallRate, "small-rate", 1, "many small rooms: messages per second per room")
	fs.IntVar(&o.storm, "storm", 10000, "connect storm: members")
	fs.IntVar(&o.stormConc, "storm-concurrency", 256, "connect storm: handshakes in flight per generator")
	fs.IntVar(&o.stormRoom, "storm-room-size", 100, "connect storm: members per room")
	fs.IntVar(&o.reuse, "reuse-sample", 500, "connect storm: used tokens tried again, each must be refused")
	fs.DurationVar(&o.mintDur, "mint-duration", 10*time.Second, "token minting: time per client")
	fs.IntVar(&o.mintConc, "mint-concurrency", 64, "token minting: calls in flight")
	fs.StringVar(&o.mintClients, "mint-clients", "sdk,signer", "token minting: sdk (the ivschat client) and/or signer (SigV4 signer over net/http)")
	fs.StringVar(&o.out, "out", "", "write the JSON record here")
	fs.StringVar(&o.profile, "profile", "", "directory for pprof CPU and heap profiles of the started ivschatd during each measured window")
	fs.DurationVar(&o.settle, "settle", 3*time.Second, "pause before memory readings")
	fs.DurationVar(&o.drain, "drain", 15*time.Second, "longest wait for deliveries after the last send")
	fs.IntVar(&o.repeat, "repeat", 1, "run each scenario this many times, alternating the targets")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	rec := &bench.Record{Started: time.Now().UTC(), Command: "ivschat-bench run " + strings.Join(args, " "),
		Machine: bench.ThisMachine(), Commit: os.Getenv("IVSCHAT_BENCH_COMMIT")}
	if rec.Commit == "" {
		rec.Commit = bench.GitCommit(".")
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	targets := splitList(o.targets)
	needsIvschatd := contains(targets, "ivschatd")
	for _, t := range targets {
		if strings.HasPrefix(t, "cluster:") {
			needsIvschatd = true
			if o.natsURL == "" {
				return fmt.Errorf("-targets %s needs -nats-url", t)
			}
		}
	}
	if needsIvschatd && o.addr == "" && o.ivschatd == "" {
		fmt.Fprintln(os.Stderr, "building ./cmd/ivschatd")
		if o.ivschatd, err = bench.BuildIvschatd("."); err != nil {
			return err
		}
		defer os.RemoveAll(filepath.Dir(o.ivschatd))
	}
	var ips []string
	for i := 0; i < o.sourceIPs; i++ {
		ips = append(ips, fmt.Sprintf("127.0.0.%d", 2+i))
	}
	r := &bench.Runner{Local: bench.NewPool(), SourceIPs: ips, ConnectConcurrency: o.connectConc,
		Progress: os.Stderr, ProgressEvery: 2 * time.Second, Drain: o.drain, Settle: o.settle}
	for _, p := range splitList(o.enginePids) {
		pid, err := strconv.Atoi(p)
		if err != nil {
			return fmt.Errorf("-engine-pids: %q is not a pid", p)
		}
		r.EnginePids = append(r.EnginePids, pid)
	}
	for i := 0; i < max(o.workers, 1); i++ {
		w, err := bench.StartWorker([]string{exe, "worker"}, nil)
		if err != nil {
			return err
		}
		defer w.Close()
		r.Gens = append(r.Gens, w)
		r.WorkerPids = append(r.WorkerPids, w.Pid())
	}
	defer r.Local.CloseAll()
	var pprofURL string
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return err
		}
		r.OnMeasure = func(name string, t bench.Target, seconds float64) func() {
			if pprofURL == "" {
				return func() {}
			}
			prefix := strings.ReplaceAll(name, " ", "-")
			if t.Name() != "ivschatd" {
				prefix = t.Name() + "-" + prefix
			}
			return profile(pprofURL, filepath.Join(o.profile, prefix), seconds)
		}
	}

	tags := map[string]string{}
	for kv := range strings.SplitSeq(o.roomTags, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			tags[k] = v
		} else if kv != "" {
			return fmt.Errorf("-room-tags: %q is not key=value", kv)
		}
	}
	withTags := func(t *bench.Ivschatd) *bench.Ivschatd {
		if len(tags) > 0 {
			t.RoomTags = tags
		}
		return t
	}
	// start brings up a fresh server of the target for one scenario.
	start := func(name string) (bench.Target, func(), error) {
		if n, ok := strings.CutPrefix(name, "cluster:"); ok {
			nodes, err := strconv.Atoi(n)
			if err != nil || nodes < 1 {
				return nil, nil, fmt.Errorf("target %q: want cluster:N with N ≥ 1", name)
			}
			return startCluster(name, o.ivschatd, o.natsURL, nodes, strings.Fields(o.ivschatdArgs))
		}
		switch name {
		case "ivschatd":
			if o.addr != "" {
				return withTags(bench.NewIvschatd(o.addr, o.pid)), func() {}, nil
			}
			dir, err := os.MkdirTemp("", "ivschat-bench-data-")
			if err != nil {
				return nil, nil, err
			}
			argv := []string{o.ivschatd, "--addr", "127.0.0.1:0", "--data-dir", dir, "--admin-addr", "127.0.0.1:0"}
			pprofURL = ""
			if o.profile != "" {
				port, err := freePort()
				if err != nil {
					return nil, nil, err
				}
				argv[len(argv)-1] = "127.0.0.1:" + strconv.Itoa(port) // profiles are on the admin listener
				pprofURL = "http://127.0.0.1:" + strconv.Itoa(port)
			}
			argv = append(argv, strings.Fields(o.ivschatdArgs)...)
			p, err := bench.StartProc("ivschatd", argv, nil, dir)
			if err != nil {
				return nil, nil, err
			}
			return withTags(bench.NewIvschatd(p.URL, p.Pid())), p.Stop, nil
		case "baseline":
			argv := []string{exe, "baseline", "-addr", "127.0.0.1:0"}
			pprofURL = ""
			if o.profile != "" {
				port, err := freePort()
				if err != nil {
					return nil, nil, err
				}
				argv = append(argv, "-pprof-addr", "127.0.0.1:"+strconv.Itoa(port))
				pprofURL = "http://127.0.0.1:" + strconv.Itoa(port)
			}
			p, err := bench.StartProc("baseline", argv, nil, "")
			if err != nil {
				return nil, nil, err
			}
			return &bench.BaselineTarget{BaseURL: p.URL, PID: p.Pid()}, p.Stop, nil
		}
		return nil, nil, fmt.Errorf("unknown target %q", name)
	}

	phases, err := parseFanout(o.fanout, o.duration)
	if err != nil {
		return err
	}
	for _, sc := range splitList(o.scenarios) {
		for rep := 0; rep < max(o.repeat, 1); rep++ {
			if err := runPair(ctx, r, rec, sc, targets, start, &o, phases); err != nil {
				return err
			}
		}
	}
	rec.Finished = time.Now().UTC()
	rec.Verdicts = bench.Judge(rec.Results)
	bench.WriteTables(os.Stdout, rec)
	if o.out != "" {
		return writeRecord(o.out, rec)
	}
	return nil
}

// startCluster starts nodes ivschatd processes on the NATS cluster at natsURL, replicating
// by 3, each with a data directory of its own; the target's control plane is the first node's
// and its members are spread over all of them.
func startCluster(name, bin, natsURL string, nodes int, extra []string) (bench.Target, func(), error) {
	var procs []*bench.Proc
	stop := func() {
		for _, p := range procs {
			p.Stop()
		}
	}
	t := &bench.Ivschatd{Label: name, Concurrency: 32}
	for i := range nodes {
		dir, err := os.MkdirTemp("", "ivschat-bench-data-")
		if err != nil {
			stop()
			return nil, nil, err
		}
		argv := append([]string{bin, "--addr", "127.0.0.1:0", "--data-dir", dir, "--admin-addr", "",
			"--nats-url", natsURL, "--replicas", "3"}, extra...)
		p, err := bench.StartProc(fmt.Sprintf("%s-node-%d", name, i+1), argv, nil, dir)
		if err != nil {
			stop()
			return nil, nil, err
		}
		procs = append(procs, p)
		if i == 0 {
			t.BaseURL, t.Client = p.URL, bench.SDKClient(p.URL)
		}
		t.WS = append(t.WS, "ws"+strings.TrimPrefix(p.URL, "http"))
		t.PIDs = append(t.PIDs, p.Pid())
	}
	return t, stop, nil
}

// runPair runs one scenario on each target in turn, each on a freshly started server.
func runPair(ctx context.Context, r *bench.Runner, rec *bench.Record, sc string, targets []string,
	start func(string) (bench.Target, func(), error), o *options, phases [][2]any) error {
	for _, tn := range targets {
		if sc == "mint" && tn == "baseline" {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(os.Stderr, "\n== %s on %s\n", sc, tn)
		t, stopServer, err := start(tn)
		if err != nil {
			return err
		}
		results, err := runScenario(ctx, r, t, sc, o, phases)
		stopServer()
		if err != nil {
			return fmt.Errorf("%s on %s: %w", sc, tn, err)
		}
		rec.Results = append(rec.Results, results...)
		if o.out != "" {
			rec.Verdicts = bench.Judge(rec.Results)
			_ = writeRecord(o.out, rec)
		}
	}
	return nil
}

func runScenario(ctx context.Context, r *bench.Runner, t bench.Target, sc string, o *options, phases [][2]any) ([]*bench.Result, error) {
	switch sc {
	case "idle":
		res, err := r.Idle(ctx, t, o.idle, o.idleRoom, o.idleSteps)
		return []*bench.Result{res}, err
	case "fanout":
		var all []*bench.Result
		for _, ph := range phases {
			res, err := r.Fanout(ctx, t, ph[0].(int), o.senders, ph[1].([]bench.Rate))
			all = append(all, res...)
			if err != nil {
				return all, err
			}
		}
		return all, nil
	case "smallrooms":
		res, err := r.SmallRooms(ctx, t, o.smallRooms, o.smallSz, o.smallRate, o.duration)
		return []*bench.Result{res}, err
	case "storm", "stormmint":
		res, err := r.Storm(ctx, t, o.storm, o.stormRoom, o.stormConc, o.reuse, sc == "stormmint")
		return []*bench.Result{res}, err
	case "mint":
		it, ok := t.(*bench.Ivschatd)
		if !ok {
			return nil, nil
		}
		var all []*bench.Result
		for _, mode := range splitList(o.mintClients) {
			res, err := r.Mint(ctx, it, mode, o.mintConc, o.mintDur)
			if err != nil {
				return all, err
			}
			all = append(all, res)
		}
		return all, nil
	}
	return nil, fmt.Errorf("unknown scenario %q", sc)
}

// parseFanout reads "5000:10,10000:10,10000:100" into groups of rates per member count.
func parseFanout(s string, d time.Duration) ([][2]any, error) {
	var out [][2]any
	for _, part := range splitList(s) {
		f := strings.Split(part, ":")
		var n int
		var rate float64
		var err1, err2, err3 error
		dur := d
		if len(f) >= 2 {
			n, err1 = strconv.Atoi(f[0])
			rate, err2 = strconv.ParseFloat(f[1], 64)
		}
		if len(f) == 3 {
			dur, err3 = time.ParseDuration(f[2])
		}
		if len(f) < 2 || len(f) > 3 || err1 != nil || err2 != nil || err3 != nil || n <= 0 || rate <= 0 || dur <= 0 {
			return nil, fmt.Errorf("-fanout: %q is not members:rate or members:rate:duration", part)
		}
		if len(out) > 0 && out[len(out)-1][0].(int) == n {
			out[len(out)-1][1] = append(out[len(out)-1][1].([]bench.Rate), bench.Rate{PerSecond: rate, Duration: dur})
			continue
		}
		out = append(out, [2]any{n, []bench.Rate{{PerSecond: rate, Duration: dur}}})
	}
	return out, nil
}

// profile takes a CPU profile of the window and a heap profile and a goroutine count at its end.
func profile(base, prefix string, seconds float64) func() {
	secs := max(int(seconds+0.5), 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = fetch(base+"/debug/pprof/profile?seconds="+strconv.Itoa(secs), prefix+"-cpu.pprof")
	}()
	return func() {
		<-done
		_ = fetch(base+"/debug/pprof/heap", prefix+"-heap.pprof")
		_ = fetch(base+"/debug/pprof/goroutine?debug=1", prefix+"-goroutines.txt")
	}
}

func fetch(url, file string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func writeRecord(path string, rec *bench.Record) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func readRecords(paths []string) ([]*bench.Record, error) {
	var recs []*bench.Record
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var rec bench.Record
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		recs = append(recs, &rec)
	}
	return recs, nil
}

func plot(args []string) error {
	fs := newFlagSet("plot", "[flags] RECORD.json...")
	out := fs.String("o", "", "SVG file to write (default: stdout)")
	title := fs.String("title", "ivschatd vs raw baseline: send-to-receive latency against load", "plot title")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("plot: no record given")
	}
	recs, err := readRecords(fs.Args())
	if err != nil {
		return err
	}
	var results []*bench.Result
	for _, r := range recs {
		results = append(results, r.Results...)
	}
	w := io.Writer(os.Stdout)
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	return bench.PlotSVG(w, *title, results)
}

func table(args []string) error {
	fs := newFlagSet("table", "RECORD.json...")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("table: no record given")
	}
	recs, err := readRecords(fs.Args())
	if err != nil {
		return err
	}
	for _, r := range recs {
		r.Verdicts = bench.Judge(r.Results)
		bench.WriteTables(os.Stdout, r)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
