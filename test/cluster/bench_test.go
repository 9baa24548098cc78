package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/gorilla/websocket"

	"github.com/ivschatd/ivschatd/internal/engine"
	"github.com/ivschatd/ivschatd/test/procstat"
)

// BenchmarkFanOut measures one room of 300 members on the three-server NATS cluster, the
// members spread over three ivschatd nodes or all on one of them. Two loads:
//
//   - messages: members send at 90 messages a second, just under the highest room rate (100),
//     round robin over 10 senders; b.N messages.
//   - events: control-plane SendEvent calls, 16 in flight, spread over the nodes that hold
//     members, as fast as they go; b.N events. Events are not rate-limited, so this finds the
//     ceiling of fan-out to one room.
//
// Reported: deliveries/s (frames received by members per second of the phase), latency from
// send to receipt (p50, p99), and CPU per delivery of the ivschatd processes and of the NATS
// servers (from /proc). Run it with a fixed count, e.g.
//
//	go test -run '^$' -bench FanOut -benchtime 1000x ./test/cluster
func BenchmarkFanOut(b *testing.B) {
	const members = 300
	bin, natsnode := buildBinaries(b)
	nc := startNATSCluster(b, natsnode, 3)
	nodes := []*node{
		startNode(b, bin, "node-1", nc.urls()),
		startNode(b, bin, "node-2", nc.urls()),
		startNode(b, bin, "node-3", nc.urls()),
	}
	var phase atomic.Int64
	for _, over := range []int{1, 3} {
		on := nodes[:over]
		room := newRoom(b, on[0].ivs, &ivschat.CreateRoomInput{MaximumMessageRatePerSecond: aws.Int32(100)})
		var ms []*benchMember
		for i := range members {
			n := on[i%len(on)]
			ms = append(ms, benchJoin(b, n, newToken(b, n.ivs, room.Arn, fmt.Sprintf("m%d", i)), &phase))
		}
		warm(b, on[0], room.Arn, ms, &phase)

		b.Run(fmt.Sprintf("nodes=%d/messages", over), func(b *testing.B) {
			p := phase.Add(1)
			senders := ms[:10] // members 0..9: spread over the nodes like the rest
			cpu := readCPU(b, nodes, nc)
			start := time.Now()
			tick := time.NewTicker(time.Second / 90)
			for i := range b.N {
				<-tick.C
				s := senders[i%len(senders)]
				s.send(b, fmt.Sprintf(`{"Action":"SEND_MESSAGE","Content":"b%d:%d"}`, p, time.Now().UnixNano()))
			}
			tick.Stop()
			report(b, ms, p, -1, start, cpu, nodes, nc)
		})

		b.Run(fmt.Sprintf("nodes=%d/events", over), func(b *testing.B) {
			p := phase.Add(1)
			cpu := readCPU(b, nodes, nc)
			start := time.Now()
			var next atomic.Int64
			var wg sync.WaitGroup
			for w := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := on[w%len(on)].ivs
					for next.Add(1) <= int64(b.N) {
						_, err := c.SendEvent(context.Background(), &ivschat.SendEventInput{RoomIdentifier: room.Arn, EventName: aws.String("bench"),
							Attributes: map[string]string{"t": fmt.Sprintf("b%d:%d", p, time.Now().UnixNano())}})
						if err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			report(b, ms, p, b.N, start, cpu, nodes, nc)
		})
		for _, m := range ms {
			m.ws.Close()
		}
	}
}

// benchMember counts the frames of the current phase it receives and their latencies; it
// decodes only what it needs.
type benchMember struct {
	ws    *websocket.Conn
	phase *atomic.Int64
	wmu   sync.Mutex

	mu        sync.Mutex
	seenPhase int64
	count     int
	latencies []time.Duration
	last      time.Time // when the phase's latest frame arrived
}

func benchJoin(b testing.TB, n *node, token string, phase *atomic.Int64) *benchMember {
	b.Helper()
	d := websocket.Dialer{Subprotocols: []string{token}, HandshakeTimeout: 10 * time.Second}
	ws, _, err := d.Dial(n.ws, nil)
	if err != nil {
		b.Fatalf("dial %s: %v", n.name, err)
	}
	m := &benchMember{ws: ws, phase: phase}
	go m.read()
	return m
}

func (m *benchMember) read() {
	for {
		_, data, err := m.ws.ReadMessage()
		if err != nil {
			return
		}
		var f struct {
			Type       string
			Content    string
			Attributes map[string]string
		}
		if json.Unmarshal(data, &f) != nil {
			continue
		}
		stamp := f.Content
		if f.Type == "EVENT" {
			stamp = f.Attributes["t"]
		}
		p, sent, ok := parseStamp(stamp)
		if !ok {
			continue
		}
		lat := time.Since(time.Unix(0, sent))
		m.mu.Lock()
		if p != m.seenPhase {
			m.seenPhase, m.count, m.latencies = p, 0, m.latencies[:0]
		}
		m.count++
		m.latencies = append(m.latencies, lat)
		m.last = time.Now()
		m.mu.Unlock()
	}
}

// parseStamp reads "b<phase>:<unix nanos>".
func parseStamp(s string) (phase, nanos int64, ok bool) {
	p, t, found := strings.Cut(strings.TrimPrefix(s, "b"), ":")
	if !found || !strings.HasPrefix(s, "b") {
		return 0, 0, false
	}
	phase, err1 := strconv.ParseInt(p, 10, 64)
	nanos, err2 := strconv.ParseInt(t, 10, 64)
	return phase, nanos, err1 == nil && err2 == nil
}

func (m *benchMember) send(b testing.TB, frame string) {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	_ = m.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := m.ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		b.Fatal(err)
	}
}

func (m *benchMember) received(phase int64) (int, []time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seenPhase != phase {
		return 0, nil
	}
	return m.count, slices.Clone(m.latencies)
}

func (m *benchMember) lastFrame() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

// warm makes sure every member hears the room before measuring (a new subscription takes a
// moment to reach the other NATS servers).
func warm(b testing.TB, via *node, roomARN *string, ms []*benchMember, phase *atomic.Int64) {
	b.Helper()
	p := phase.Add(1)
	waitFor(b, 20*time.Second, "every member hearing the room", func() bool {
		_, err := via.ivs.SendEvent(context.Background(), &ivschat.SendEventInput{RoomIdentifier: roomARN, EventName: aws.String("warm"),
			Attributes: map[string]string{"t": fmt.Sprintf("b%d:%d", p, time.Now().UnixNano())}})
		if err != nil {
			return false
		}
		time.Sleep(200 * time.Millisecond)
		for _, m := range ms {
			if n, _ := m.received(p); n == 0 {
				return false
			}
		}
		return true
	})
}

type cpuSample struct{ ivschatd, nats float64 }

func readCPU(b testing.TB, nodes []*node, nc *natsCluster) cpuSample {
	var s cpuSample
	for _, n := range nodes {
		p, err := procstat.Read(n.cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		s.ivschatd += p.CPUSeconds
	}
	for _, srv := range nc.servers {
		p, err := procstat.Read(srv.cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		s.nats += p.CPUSeconds
	}
	return s
}

// report waits until every member has what the first one got (want, if known, per member),
// then reports throughput, latency and CPU per delivery.
func report(b *testing.B, ms []*benchMember, phase int64, want int, start time.Time, before cpuSample, nodes []*node, nc *natsCluster) {
	b.StopTimer()
	if want < 0 { // messages: as many as the room admitted, which the first member saw
		prev := -1
		waitFor(b, 30*time.Second, "deliveries to settle", func() bool {
			n, _ := ms[0].received(phase)
			stable := n == prev
			prev = n
			time.Sleep(300 * time.Millisecond)
			return stable && n > 0
		})
		want, _ = ms[0].received(phase)
	}
	waitFor(b, 60*time.Second, "every member receiving every frame", func() bool {
		for _, m := range ms {
			if n, _ := m.received(phase); n < want {
				return false
			}
		}
		return true
	})
	after := readCPU(b, nodes, nc)
	var all []time.Duration
	var last time.Time
	for _, m := range ms {
		_, l := m.received(phase)
		all = append(all, l...)
		if t := m.lastFrame(); t.After(last) {
			last = t
		}
	}
	slices.Sort(all)
	deliveries := float64(len(all))
	elapsed := last.Sub(start).Seconds()
	b.ReportMetric(deliveries/elapsed, "deliveries/s")
	b.ReportMetric(float64(want), "frames/member")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric((after.ivschatd-before.ivschatd)*1e6/deliveries, "ivschatd-cpu-µs/delivery")
	b.ReportMetric((after.nats-before.nats)*1e6/deliveries, "nats-cpu-µs/delivery")
}

// BenchmarkRoomRateAdmission is what the room rate costs a send on the three-server NATS
// cluster with --replicas 3: engines opened as the nodes open theirs, each on its own NATS
// server. Sub-benchmarks:
//
//   - admitted: one node admits sends to one room, each under the limit: from the node's leased
//     slice of the room's budget, one lease (a conditional write replicated to three servers)
//     per slice.
//   - refused: a send the node knows to be over the room's budget for its second, decided
//     without a round trip.
//   - admitted-3-nodes: three nodes admit sends to one room at once, 25/s each, a millisecond
//     apart: the time one admission takes, with the compare-and-set races of their leases.
//
// cpu-µs/op is the CPU per send of this process (the engines) and the three NATS servers.
// Run it with a fixed count, e.g.
//
//	go test -run '^$' -bench RoomRateAdmission -benchtime 2000x ./test/cluster
func BenchmarkRoomRateAdmission(b *testing.B) {
	_, natsnode := buildBinaries(b)
	nc := startNATSCluster(b, natsnode, 3)
	var engines []*engine.Engine
	for _, s := range nc.servers {
		e, err := engine.Open(context.Background(), engine.Config{URL: s.url, Replicas: 3})
		mustNoErr(b, err)
		b.Cleanup(e.Close)
		engines = append(engines, e)
	}
	ctx := context.Background()
	const account = "111111111111"
	runs := 0
	fresh := func() string { runs++; return "bench" + strconv.Itoa(runs) }
	// cpu is the CPU time used so far by this process and the NATS servers, in seconds.
	cpu := func() float64 {
		p, err := procstat.Read(os.Getpid())
		mustNoErr(b, err)
		total := p.CPUSeconds
		for _, srv := range nc.servers {
			p, err := procstat.Read(srv.cmd.Process.Pid)
			mustNoErr(b, err)
			total += p.CPUSeconds
		}
		return total
	}
	perSend := func(b *testing.B, began float64, sends int) {
		b.ReportMetric((cpu()-began)/float64(sends)*1e6, "cpu-µs/op")
	}
	b.Run("admitted", func(b *testing.B) {
		room, now := fresh(), time.Now()
		began := cpu()
		for b.Loop() {
			now = now.Add(20 * time.Millisecond) // 50/s, under the limit
			if ok, err := engines[0].AdmitMessage(ctx, account, room, 100, now); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
		perSend(b, began, b.N)
	})
	b.Run("refused", func(b *testing.B) {
		room, now := fresh(), time.Now().Add(time.Hour)
		for range 10 {
			_, _ = engines[0].AdmitMessage(ctx, account, room, 10, now)
		}
		began := cpu()
		for b.Loop() {
			if ok, err := engines[0].AdmitMessage(ctx, account, room, 10, now); ok || err != nil {
				b.Fatal(ok, err)
			}
		}
		perSend(b, began, b.N)
	})
	b.Run("admitted-3-nodes", func(b *testing.B) {
		room := fresh()
		// Each node sends every 40 ms, 75/s in the room under its limit of 100, with real
		// send times: the nodes' writes collide when they fall within a round trip.
		var wg sync.WaitGroup
		var spent, refused atomic.Int64
		per := max(b.N/len(engines), 1)
		start := time.Now()
		began := cpu()
		for i, e := range engines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range per {
					time.Sleep(time.Until(start.Add(time.Duration(k)*40*time.Millisecond + time.Duration(i)*time.Millisecond)))
					sent := time.Now()
					ok, err := e.AdmitMessage(ctx, account, room, 100, sent)
					if err != nil {
						b.Error(err)
						return
					}
					spent.Add(int64(time.Since(sent)))
					if !ok {
						refused.Add(1) // a node behind its schedule catches up in a burst
					}
				}
			}()
		}
		wg.Wait()
		perSend(b, began, per*len(engines))
		b.ReportMetric(float64(spent.Load())/float64(per*len(engines)), "ns/admission")
		b.ReportMetric(float64(refused.Load()), "refused")
	})
}
