package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ivschatd/ivschatd/test/procstat"
)

// Runner runs scenarios: listening members live in the generators, senders in Local.
type Runner struct {
	Gens      []Generator
	Local     *Pool
	SourceIPs []string
	// ConnectConcurrency bounds handshakes in flight per generator while setting up.
	ConnectConcurrency int
	// Progress gets a status line every ProgressEvery while a scenario runs; nil is quiet.
	Progress      io.Writer
	ProgressEvery time.Duration
	// WorkerPids are the generator processes, whose CPU the results report.
	WorkerPids []int
	// EnginePids are the NATS servers of an external engine, whose CPU the results report
	// apart from the server's.
	EnginePids []int
	// Drain is the longest wait for deliveries after the last send.
	Drain time.Duration
	// Settle is the pause before a memory reading.
	Settle time.Duration
	// OnMeasure, if set, is called with the scenario name and the expected length of its
	// measured window at the start of it, and its returned func at the end (profiling hooks).
	OnMeasure func(name string, t Target, seconds float64) func()
}

// Result is one scenario measured against one target.
type Result struct {
	Scenario  string             `json:"scenario"`
	Kind      string             `json:"kind"`
	Target    string             `json:"target"`
	Params    map[string]any     `json:"params"`
	Metrics   map[string]float64 `json:"metrics"`
	Latency   *Summary           `json:"latency,omitempty"`
	Handshake *Summary           `json:"handshake,omitempty"`
	// Correct is the scenario's correctness check: every delivery made, every token opened.
	Correct  bool          `json:"correct"`
	Problems []string      `json:"problems,omitempty"`
	Notes    []string      `json:"notes,omitempty"`
	Memory   []MemoryPoint `json:"memory,omitempty"`
	Started  time.Time     `json:"started"`
}

// MemoryPoint is the server's memory at a number of connections.
type MemoryPoint struct {
	Connections int   `json:"connections"`
	RSSKiB      int64 `json:"rss_kib"`
}

func newResult(kind, scenario string, t Target) *Result {
	return &Result{Scenario: scenario, Kind: kind, Target: t.Name(), Params: map[string]any{}, Metrics: map[string]float64{},
		Correct: true, Started: time.Now().UTC()}
}

func (r *Result) problem(format string, args ...any) {
	r.Correct = false
	if len(r.Problems) < 20 {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

func (r *Runner) logf(format string, args ...any) {
	if r.Progress != nil {
		fmt.Fprintf(r.Progress, format+"\n", args...)
	}
}

// cpuMeter measures CPU used by the server and by the generator processes over a window.
type cpuMeter struct {
	r       *Runner
	pids    []int
	start   time.Time
	server  procstat.Sample
	engine  procstat.Sample
	gen     float64
	machine procstat.MachineCPU
	load    float64
}

func (r *Runner) meter(t Target) *cpuMeter {
	m := &cpuMeter{r: r, pids: t.Pids(), start: time.Now(), gen: r.generatorCPU(), machine: procstat.ReadMachineCPU(), load: procstat.LoadAverage()}
	if len(m.pids) > 0 {
		m.server, _ = readServer(m.pids)
	}
	if len(r.EnginePids) > 0 {
		m.engine, _ = readServer(r.EnginePids)
	}
	return m
}

// readServer is what /proc says of the server's processes together: memory, CPU and calls
// added up.
func readServer(pids []int) (procstat.Sample, error) {
	var total procstat.Sample
	for i, pid := range pids {
		s, err := procstat.Read(pid)
		if err != nil {
			return total, err
		}
		if i == 0 {
			total.At = s.At
		}
		total.RSSKiB += s.RSSKiB
		total.HWMKiB += s.HWMKiB
		total.Threads += s.Threads
		total.CPUSeconds += s.CPUSeconds
		total.ReadCalls += s.ReadCalls
		total.WriteCalls += s.WriteCalls
	}
	return total, nil
}

func (r *Runner) generatorCPU() float64 {
	total := SelfCPUSeconds()
	for _, pid := range r.WorkerPids {
		if s, err := procstat.Read(pid); err == nil {
			total += s.CPUSeconds
		}
	}
	return total
}

// stop writes server and generator CPU (as % of one core) and server memory to res.
func (m *cpuMeter) stop(res *Result) {
	wall := time.Since(m.start).Seconds()
	if wall <= 0 {
		return
	}
	gen := m.r.generatorCPU() - m.gen
	res.Metrics["generator_cpu_pct"] = round1(100 * gen / wall)
	// Other work on the machine during the window (other sessions' builds and tests share
	// these cores): busy time not charged to the server or the generator.
	mc := procstat.ReadMachineCPU()
	res.Metrics["softirq_cpu_pct"] = round1(100 * (mc.SoftIRQ - m.machine.SoftIRQ) / wall)
	res.Metrics["load_average"] = m.load
	other := mc.Busy - m.machine.Busy - gen
	if len(m.pids) > 0 {
		if s, err := readServer(m.pids); err == nil {
			res.Metrics["server_cpu_s"] = round3(s.CPUSeconds - m.server.CPUSeconds)
			res.Metrics["server_cpu_pct"] = round1(100 * (s.CPUSeconds - m.server.CPUSeconds) / wall)
			res.Metrics["server_rss_mib"] = round1(float64(s.RSSKiB) / 1024)
			other -= s.CPUSeconds - m.server.CPUSeconds
			res.Metrics["server_write_calls"] = float64(s.WriteCalls - m.server.WriteCalls)
			res.Metrics["server_read_calls"] = float64(s.ReadCalls - m.server.ReadCalls)
		}
	}
	if len(m.r.EnginePids) > 0 {
		if s, err := readServer(m.r.EnginePids); err == nil {
			res.Metrics["engine_cpu_s"] = round3(s.CPUSeconds - m.engine.CPUSeconds)
			other -= s.CPUSeconds - m.engine.CPUSeconds
		}
	}
	res.Metrics["other_cpu_pct"] = round1(max(100*other/wall, 0))
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// connect opens members: tokens[i] in rooms[i]; senders[i] >= 0 puts the member in the
// local pool as a sender, the rest are spread over the generators. With mint set, tokens are
// room identifiers and each member's token is minted just before its handshake.
func (r *Runner) connect(ctx context.Context, t Target, tokens []string, rooms, senders []int32, conc int, mint *mintSpec) ConnectResult {
	type part struct {
		gen Generator
		req ConnectRequest
	}
	parts := make([]*part, len(r.Gens)+1)
	for i := range parts {
		parts[i] = &part{req: ConnectRequest{URLs: t.WSURLs(), SourceIPs: r.SourceIPs, Concurrency: conc}}
		if mint != nil {
			parts[i].req.MintURL, parts[i].req.KeepTokens = mint.url, mint.keep
		}
		if i < len(r.Gens) {
			parts[i].gen = r.Gens[i]
		} else {
			parts[i].gen = Local{r.Local}
			parts[i].req.Senders = []int32{}
		}
	}
	listener := 0
	for i, tok := range tokens {
		var p *part
		if senders != nil && senders[i] >= 0 {
			p = parts[len(r.Gens)]
			p.req.Senders = append(p.req.Senders, senders[i])
		} else {
			p = parts[listener%len(r.Gens)]
			listener++
		}
		p.req.Tokens = append(p.req.Tokens, tok)
		p.req.Rooms = append(p.req.Rooms, rooms[i])
		if mint != nil {
			p.req.MintUsers = append(p.req.MintUsers, mint.users[i])
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	total := ConnectResult{Statuses: map[int]int{}, Errors: map[string]int{}}
	for _, p := range parts {
		if len(p.req.Tokens) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := p.gen.Connect(ctx, p.req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				total.Failed += len(p.req.Tokens)
				total.Errors[err.Error()]++
				return
			}
			mergeConnect(&total, &res)
		}()
	}
	wg.Wait()
	return total
}

// mintSpec has tokens minted by the generators during a connect: at url, for users.
type mintSpec struct {
	url   string
	users []string
	keep  int // tokens each generator returns, for the reuse check
}

func mergeConnect(total, res *ConnectResult) {
	total.OK += res.OK
	total.Minted = append(total.Minted, res.Minted...)
	total.MintedRooms = append(total.MintedRooms, res.MintedRooms...)
	total.Failed += res.Failed
	for k, v := range res.Statuses {
		total.Statuses[k] += v
	}
	for k, v := range res.Errors {
		total.Errors[k] += v
	}
	total.Handshake.Merge(&res.Handshake)
	if total.StartNS == 0 || (res.StartNS != 0 && res.StartNS < total.StartNS) {
		total.StartNS = res.StartNS
	}
	total.EndNS = max(total.EndNS, res.EndNS)
}

// gather merges the stats of every generator and the local pool.
func (r *Runner) gather(req StatsRequest) (PoolStats, error) {
	all := append([]Generator{Local{r.Local}}, r.Gens...)
	stats := make([]PoolStats, len(all))
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	for i, g := range all {
		wg.Add(1)
		go func() { defer wg.Done(); stats[i], errs[i] = g.Stats(req) }()
	}
	wg.Wait()
	total := PoolStats{ErrorKinds: map[string]int64{}}
	if req.Detail {
		total.Rooms = map[int32]RoomStats{}
		total.Latency = &Histogram{}
	}
	for i, s := range stats {
		if errs[i] != nil {
			return total, errs[i]
		}
		total.Members += s.Members
		total.Open += s.Open
		total.Dropped += s.Dropped
		total.Received += s.Received
		total.Accepted += s.Accepted
		total.Errors += s.Errors
		for k, v := range s.ErrorKinds {
			total.ErrorKinds[k] += v
		}
		for id, rs := range s.Rooms {
			t, seen := total.Rooms[id]
			if !seen || rs.MinGot < t.MinGot {
				t.MinGot = rs.MinGot
			}
			t.MaxGot = max(t.MaxGot, rs.MaxGot)
			t.Members += rs.Members
			t.Open += rs.Open
			t.Received += rs.Received
			t.Accepted += rs.Accepted
			t.Errors += rs.Errors
			total.Rooms[id] = t
		}
		if s.Latency != nil {
			total.Latency.Merge(s.Latency)
		}
		total.LastRecv = max(total.LastRecv, s.LastRecv)
	}
	return total, nil
}

// expected is how many deliveries the accepted messages owe the members.
func expected(s PoolStats) int64 {
	var n int64
	for _, r := range s.Rooms {
		n += r.Accepted * int64(r.Members)
	}
	return n
}

// progress prints a status line now and then until stop is closed.
func (r *Runner) progress(label string, t Target, stop <-chan struct{}) {
	if r.Progress == nil {
		return
	}
	every := r.ProgressEvery
	if every <= 0 {
		every = 2 * time.Second
	}
	go func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		start := time.Now()
		var last procstat.Sample
		if len(t.Pids()) > 0 {
			last, _ = readServer(t.Pids())
		}
		var lastRecv int64
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			s, err := r.gather(StatsRequest{})
			if err != nil {
				continue
			}
			line := fmt.Sprintf("  [%s %s] %4.0fs open=%d dropped=%d recv=%d (+%d/s) errors=%d", t.Name(), label,
				time.Since(start).Seconds(), s.Open, s.Dropped, s.Received, int64(float64(s.Received-lastRecv)/every.Seconds()), s.Errors)
			lastRecv = s.Received
			if len(t.Pids()) > 0 {
				if p, err := readServer(t.Pids()); err == nil {
					line += fmt.Sprintf(" | server rss=%.0fMiB cpu=%.0f%%", float64(p.RSSKiB)/1024,
						100*(p.CPUSeconds-last.CPUSeconds)/p.At.Sub(last.At).Seconds())
					last = p
				}
			}
			r.logf("%s", line)
		}
	}()
}

func users(prefix string, n int) []string {
	u := make([]string, n)
	for i := range u {
		u[i] = prefix + strconv.Itoa(i)
	}
	return u
}

func (r *Runner) settle() {
	if r.Settle > 0 {
		time.Sleep(r.Settle)
	}
}

func (r *Runner) rss(t Target) int64 {
	if len(t.Pids()) == 0 {
		return 0
	}
	s, err := readServer(t.Pids())
	if err != nil {
		return 0
	}
	return s.RSSKiB
}

// Idle connects n members in rooms of roomSize, in steps, and reads the server's memory.
func (r *Runner) Idle(ctx context.Context, t Target, n, roomSize, steps int) (*Result, error) {
	res := newResult("idle", fmt.Sprintf("idle %d", n), t)
	res.Params["members"], res.Params["room_size"] = n, roomSize
	nRooms := (n + roomSize - 1) / roomSize
	roomIDs, err := t.CreateRooms(ctx, nRooms)
	if err != nil {
		return nil, err
	}
	rooms, roomNames := make([]int32, n), make([]string, n)
	for i := range rooms {
		rooms[i] = int32(i / roomSize)
		roomNames[i] = roomIDs[i/roomSize]
	}
	mintStart := time.Now()
	tokens, err := t.Tokens(ctx, roomNames, users("idle-", n))
	if err != nil {
		return nil, err
	}
	r.logf("  [%s idle] %d tokens in %.1fs", t.Name(), n, time.Since(mintStart).Seconds())
	r.settle()
	before := r.rss(t)
	res.Memory = append(res.Memory, MemoryPoint{0, before})
	stop := make(chan struct{})
	r.progress("idle", t, stop)
	defer close(stop)
	steps = max(steps, 1)
	connected := 0
	var hs Histogram
	for s := 1; s <= steps; s++ {
		hi := n * s / steps
		lo := n * (s - 1) / steps
		cr := r.connect(ctx, t, tokens[lo:hi], rooms[lo:hi], nil, r.ConnectConcurrency, nil)
		hs.Merge(&cr.Handshake)
		connected += cr.OK
		if cr.Failed > 0 {
			res.problem("%d of %d handshakes failed: %v", cr.Failed, hi-lo, cr.Errors)
		}
		r.settle()
		res.Memory = append(res.Memory, MemoryPoint{connected, r.rss(t)})
		r.logf("  [%s idle] %d connected, server rss %.1f MiB", t.Name(), connected, float64(res.Memory[len(res.Memory)-1].RSSKiB)/1024)
		if cr.OK == 0 {
			break
		}
	}
	var end func()
	if r.OnMeasure != nil {
		end = r.OnMeasure(res.Scenario, t, 1)
	}
	m := r.meter(t)
	time.Sleep(max(r.Settle, time.Second))
	st, err := r.gather(StatsRequest{})
	if err != nil {
		return nil, err
	}
	if end != nil {
		end()
	}
	m.stop(res)
	if st.Open != n {
		res.problem("%d of %d members open after the hold", st.Open, n)
	}
	after := res.Memory[len(res.Memory)-1].RSSKiB
	res.Metrics["connected"] = float64(connected)
	res.Metrics["open_after_hold"] = float64(st.Open)
	if before > 0 && connected > 0 {
		res.Metrics["rss_before_mib"] = round1(float64(before) / 1024)
		res.Metrics["rss_after_mib"] = round1(float64(after) / 1024)
		res.Metrics["kib_per_conn"] = round3(float64(after-before) / float64(connected))
		if len(res.Memory) >= 3 {
			// The slope over the second half, free of start-up costs.
			mid := res.Memory[len(res.Memory)/2]
			if d := connected - mid.Connections; d > 0 {
				res.Metrics["kib_per_conn_slope"] = round3(float64(after-mid.RSSKiB) / float64(d))
			}
		}
	}
	sum := hs.Summarize()
	res.Handshake = &sum
	r.closeAll()
	return res, nil
}

func (r *Runner) closeAll() {
	var wg sync.WaitGroup
	for _, g := range append([]Generator{Local{r.Local}}, r.Gens...) {
		wg.Add(1)
		go func() { defer wg.Done(); _ = g.CloseAll() }()
	}
	wg.Wait()
}

// Rate is one measured phase of fan-out: msgs per second for a duration.
type Rate struct {
	PerSecond float64
	Duration  time.Duration
}

// Fanout connects n listening members and senders members that send, all in one room, and
// measures each rate in turn on the same connections.
func (r *Runner) Fanout(ctx context.Context, t Target, n, senders int, rates []Rate) ([]*Result, error) {
	roomIDs, err := t.CreateRooms(ctx, 1)
	if err != nil {
		return nil, err
	}
	total := n + senders
	names, rooms, sndr := make([]string, total), make([]int32, total), make([]int32, total)
	for i := range names {
		names[i] = roomIDs[0]
		sndr[i] = -1
		if i < senders {
			sndr[i] = int32(i)
		}
	}
	tokens, err := t.Tokens(ctx, names, users("fan-", total))
	if err != nil {
		return nil, err
	}
	cr := r.connect(ctx, t, tokens, rooms, sndr, r.ConnectConcurrency, nil)
	defer r.closeAll()
	r.logf("  [%s fanout] %d members connected (%d failed)", t.Name(), cr.OK, cr.Failed)
	var results []*Result
	for _, rate := range rates {
		res := newResult("fanout", fmt.Sprintf("fanout %dx%g", n, rate.PerSecond), t)
		res.Params["members"], res.Params["senders"], res.Params["rate"] = n, senders, rate.PerSecond
		res.Params["duration_s"] = rate.Duration.Seconds()
		if cr.Failed > 0 {
			res.problem("%d of %d handshakes failed: %v", cr.Failed, total, cr.Errors)
		}
		offsets := make([]time.Duration, senders)
		period := time.Duration(float64(time.Second) * float64(senders) / rate.PerSecond)
		for i := range offsets {
			offsets[i] = period * time.Duration(i) / time.Duration(senders)
		}
		if err := r.measure(ctx, t, res, fmt.Sprintf("fanout %dx%g", n, rate.PerSecond), period, offsets, rate.Duration); err != nil {
			return results, err
		}
		results = append(results, res)
	}
	return results, nil
}

// SmallRooms measures many rooms of a few members, one of which sends at perRoom msg/s.
func (r *Runner) SmallRooms(ctx context.Context, t Target, nRooms, size int, perRoom float64, d time.Duration) (*Result, error) {
	res := newResult("smallrooms", fmt.Sprintf("smallrooms %dx%d", nRooms, size), t)
	res.Params["rooms"], res.Params["room_size"], res.Params["rate_per_room"] = nRooms, size, perRoom
	res.Params["duration_s"] = d.Seconds()
	roomIDs, err := t.CreateRooms(ctx, nRooms)
	if err != nil {
		return nil, err
	}
	total := nRooms * size
	names, rooms, sndr := make([]string, total), make([]int32, total), make([]int32, total)
	for i := range names {
		room := i / size
		names[i], rooms[i], sndr[i] = roomIDs[room], int32(room), -1
		if i%size == 0 {
			sndr[i] = int32(room)
		}
	}
	tokens, err := t.Tokens(ctx, names, users("small-", total))
	if err != nil {
		return nil, err
	}
	cr := r.connect(ctx, t, tokens, rooms, sndr, r.ConnectConcurrency, nil)
	defer r.closeAll()
	r.logf("  [%s smallrooms] %d members connected (%d failed)", t.Name(), cr.OK, cr.Failed)
	if cr.Failed > 0 {
		res.problem("%d of %d handshakes failed: %v", cr.Failed, total, cr.Errors)
	}
	period := time.Duration(float64(time.Second) / perRoom)
	offsets := make([]time.Duration, nRooms)
	for i := range offsets {
		offsets[i] = period * time.Duration(i) / time.Duration(nRooms)
	}
	return res, r.measure(ctx, t, res, res.Scenario, period, offsets, d)
}

// measure runs the local senders (in the order they joined) on a schedule, drains, and
// fills res with deliveries, losses and latency.
func (r *Runner) measure(ctx context.Context, t Target, res *Result, label string, period time.Duration, offsets []time.Duration, d time.Duration) error {
	if _, err := r.gather(StatsRequest{Detail: true, Reset: true}); err != nil {
		return err
	}
	r.Local.mu.Lock()
	senders := append([]*member(nil), r.Local.members...)
	r.Local.mu.Unlock()
	sort.Slice(senders, func(i, j int) bool { return senders[i].sender < senders[j].sender })
	stop := make(chan struct{})
	r.progress(label, t, stop)
	defer close(stop)
	var end func()
	if r.OnMeasure != nil {
		end = r.OnMeasure(label, t, d.Seconds())
	}
	m := r.meter(t)
	start := time.Now().Add(50 * time.Millisecond)
	var sent, sendErrs atomic.Int64
	var wg sync.WaitGroup
	for i, s := range senders {
		if i >= len(offsets) {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := int64(0); ; k++ {
				at := start.Add(offsets[i] + time.Duration(k)*period)
				if at.Sub(start) >= d || ctx.Err() != nil {
					return
				}
				time.Sleep(time.Until(at))
				if err := s.send(k); err != nil {
					sendErrs.Add(1)
					return
				}
				sent.Add(1)
			}
		}()
	}
	wg.Wait()
	sendEnd := time.Now()
	// Drain: wait until every accepted message reached every member, or nothing moves.
	drain := r.Drain
	if drain <= 0 {
		drain = 15 * time.Second
	}
	var st PoolStats
	var err error
	lastRecv, lastMove := int64(-1), time.Now()
	for deadline := time.Now().Add(drain); ; {
		st, err = r.gather(StatsRequest{Detail: true})
		if err != nil {
			return err
		}
		if st.Accepted+st.Errors >= sent.Load() && st.Received >= expected(st) {
			break
		}
		if st.Received != lastRecv {
			lastRecv, lastMove = st.Received, time.Now()
		}
		if time.Now().After(deadline) || time.Since(lastMove) > 3*time.Second {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if end != nil {
		end()
	}
	m.stop(res)
	exp := expected(st)
	res.Metrics["sent"] = float64(sent.Load())
	res.Metrics["accepted"] = float64(st.Accepted)
	res.Metrics["rejected"] = float64(st.Errors)
	res.Metrics["expected_deliveries"] = float64(exp)
	res.Metrics["delivered"] = float64(st.Received)
	res.Metrics["lost"] = float64(max(exp-st.Received, 0))
	res.Metrics["dropped_connections"] = float64(st.Dropped)
	res.Metrics["send_seconds"] = round3(sendEnd.Sub(start).Seconds())
	if st.LastRecv > 0 {
		secs := float64(st.LastRecv-start.UnixNano()) / 1e9
		res.Metrics["deliveries_per_s"] = math.Round(float64(st.Received) / secs)
		res.Metrics["drain_seconds"] = round3(float64(st.LastRecv-sendEnd.UnixNano()) / 1e9)
	}
	if st.Latency != nil {
		s := st.Latency.Summarize()
		res.Latency = &s
	}
	if w := res.Metrics["server_write_calls"]; w > 0 {
		res.Metrics["deliveries_per_write_call"] = round3(float64(st.Received) / w)
	}
	if cpu := res.Metrics["server_cpu_s"]; cpu > 0 && st.Received > 0 {
		res.Metrics["server_cpu_us_per_delivery"] = round3(cpu * 1e6 / float64(st.Received))
	}
	if cpu := res.Metrics["engine_cpu_s"]; cpu > 0 && st.Received > 0 {
		res.Metrics["engine_cpu_us_per_delivery"] = round3(cpu * 1e6 / float64(st.Received))
	}
	if len(st.ErrorKinds) > 0 {
		res.Params["error_kinds"] = st.ErrorKinds
	}
	if sendErrs.Load() > 0 {
		res.problem("%d sends failed on the socket", sendErrs.Load())
	}
	if st.Errors > 0 {
		// Refused sends are not deliveries owed; at a room's maximum rate a strict limiter
		// refuses a few when sends arrive unevenly. Reported, not counted as lost.
		res.Notes = append(res.Notes, fmt.Sprintf("%d sends refused by the server: %v", st.Errors, st.ErrorKinds))
	}
	if st.Accepted+st.Errors < sent.Load() {
		res.problem("%d sends never came back to their sender", sent.Load()-st.Accepted-st.Errors)
	}
	if st.Dropped > 0 {
		res.problem("%d members were disconnected", st.Dropped)
	}
	short := 0
	for _, rs := range st.Rooms {
		if rs.MinGot != rs.Accepted || rs.MaxGot != rs.Accepted {
			short++
		}
	}
	if short > 0 || exp != st.Received {
		res.problem("%d rooms where some member missed a message or got one twice; %d of %d deliveries made", short, st.Received, exp)
	}
	r.logf("  [%s %s] sent=%d accepted=%d delivered=%d/%d p50=%.2fms p99=%.2fms", t.Name(), label, sent.Load(), st.Accepted,
		st.Received, exp, res.latency().P50, res.latency().P99)
	return nil
}

func (r *Result) latency() Summary {
	if r.Latency == nil {
		return Summary{}
	}
	return *r.Latency
}

// Storm connects n members at once, conc handshakes in flight per generator, and checks that
// a sample of their tokens cannot be used again. Tokens are minted first, or, with
// mintDuring, each member's just before its handshake (ivschatd: a signed CreateChatToken
// call from the generator; the baseline's tokens cost nothing to make), so that the rate and
// the server's CPU per connect include the minting.
func (r *Runner) Storm(ctx context.Context, t Target, n, roomSize, conc, reuseSample int, mintDuring bool) (*Result, error) {
	name := fmt.Sprintf("storm %d", n)
	if mintDuring {
		name += " minting"
	}
	res := newResult("storm", name, t)
	res.Params["members"], res.Params["room_size"], res.Params["concurrency_per_generator"] = n, roomSize, conc
	res.Params["mint_during"] = mintDuring
	nRooms := (n + roomSize - 1) / roomSize
	roomIDs, err := t.CreateRooms(ctx, nRooms)
	if err != nil {
		return nil, err
	}
	rooms, names := make([]int32, n), make([]string, n)
	for i := range rooms {
		rooms[i], names[i] = int32(i/roomSize), roomIDs[i/roomSize]
	}
	userIDs := users("storm-", n)
	var mint *mintSpec
	tokens := names
	it, minting := t.(*Ivschatd)
	if minting = minting && mintDuring; minting {
		mint = &mintSpec{url: it.BaseURL, users: userIDs, keep: reuseSample/max(len(r.Gens), 1) + 1}
	} else if tokens, err = t.Tokens(ctx, names, userIDs); err != nil {
		return nil, err
	}
	r.settle()
	stop := make(chan struct{})
	r.progress("storm", t, stop)
	var end func()
	if r.OnMeasure != nil {
		end = r.OnMeasure(res.Scenario, t, 5)
	}
	m := r.meter(t)
	cr := r.connect(ctx, t, tokens, rooms, nil, conc, mint)
	if end != nil {
		end()
	}
	m.stop(res)
	close(stop)
	secs := float64(cr.EndNS-cr.StartNS) / 1e9
	res.Metrics["connected"] = float64(cr.OK)
	res.Metrics["failed"] = float64(cr.Failed)
	res.Metrics["seconds"] = round3(secs)
	if secs > 0 {
		res.Metrics["connections_per_s"] = math.Round(float64(cr.OK) / secs)
	}
	if cpu := res.Metrics["server_cpu_s"]; cpu > 0 && cr.OK > 0 {
		res.Metrics["server_cpu_us_per_connect"] = round1(cpu * 1e6 / float64(cr.OK))
	}
	hs := cr.Handshake.Summarize()
	res.Handshake = &hs
	if cr.Failed > 0 {
		res.problem("%d of %d handshakes failed: %v %v", cr.Failed, n, cr.Statuses, cr.Errors)
	}
	time.Sleep(500 * time.Millisecond)
	st, err := r.gather(StatsRequest{})
	if err != nil {
		return nil, err
	}
	if st.Open != n {
		res.problem("%d of %d members open after the storm", st.Open, n)
	}
	if t.SingleUse() && reuseSample > 0 {
		used, usedRooms := tokens, rooms
		if minting {
			used, usedRooms = cr.Minted, cr.MintedRooms
		}
		sample := make([]string, 0, reuseSample)
		srooms := make([]int32, 0, reuseSample)
		for i := 0; i < reuseSample && i < len(used); i++ {
			j := i * len(used) / min(reuseSample, len(used))
			sample = append(sample, used[j])
			srooms = append(srooms, usedRooms[j])
		}
		rr := r.Local.Connect(ctx, ConnectRequest{URLs: t.WSURLs(), Tokens: sample, Rooms: srooms, Concurrency: 16,
			ExpectRefusal: true, SourceIPs: r.SourceIPs})
		res.Metrics["reuse_checked"] = float64(len(sample))
		res.Metrics["reuse_refused"] = float64(rr.OK)
		if rr.OK != len(sample) || len(sample) < min(reuseSample, n) {
			res.problem("%d of %d used tokens were not refused with 403: %v %v", len(sample)-rr.OK, len(sample), rr.Statuses, rr.Errors)
		}
	}
	r.closeAll()
	return res, nil
}

// Mint measures signed CreateChatToken calls per second.
func (r *Runner) Mint(ctx context.Context, t *Ivschatd, mode string, conc int, d time.Duration) (*Result, error) {
	res := newResult("mint", "mint "+mode, t)
	res.Params["client"], res.Params["concurrency"], res.Params["duration_s"] = mode, conc, d.Seconds()
	rooms, err := t.CreateRooms(ctx, 1)
	if err != nil {
		return nil, err
	}
	var end func()
	if r.OnMeasure != nil {
		end = r.OnMeasure(res.Scenario, t, d.Seconds())
	}
	m := r.meter(t)
	mr := (&Minter{BaseURL: t.BaseURL, Room: rooms[0], Mode: mode, Concurrency: conc}).Run(ctx, d)
	if end != nil {
		end()
	}
	m.stop(res)
	res.Metrics["calls"] = float64(mr.Calls)
	res.Metrics["errors"] = float64(mr.Errors)
	res.Metrics["calls_per_s"] = math.Round(float64(mr.Calls) / mr.Seconds)
	if cpu := res.Metrics["server_cpu_pct"]; cpu > 0 {
		// What the server could do with both cores to itself.
		res.Metrics["calls_per_server_core_s"] = math.Round(res.Metrics["calls_per_s"] * 100 / cpu)
	}
	s := mr.Latency.Summarize()
	res.Latency = &s
	if mr.Errors > 0 {
		res.problem("%d calls failed, e.g. %s", mr.Errors, mr.Sample)
	}
	return res, nil
}
