package bench

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ivschatd/ivschatd/test/procstat"
)

// atomicHist is a histogram many members record into at once.
type atomicHist struct {
	counts [2048]atomic.Int64 // enough buckets for values up to about 2^31
	max    atomic.Int64
	sum    atomic.Int64
}

func (h *atomicHist) record(v int64) {
	if v < 0 {
		v = 0
	}
	i := bucketOf(v)
	if i >= len(h.counts) {
		i = len(h.counts) - 1
	}
	h.counts[i].Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			break
		}
	}
}

func (h *atomicHist) snapshot(reset bool) Histogram {
	var out Histogram
	last := -1
	counts := make([]int64, len(h.counts))
	for i := range h.counts {
		var c int64
		if reset {
			c = h.counts[i].Swap(0)
		} else {
			c = h.counts[i].Load()
		}
		counts[i] = c
		if c > 0 {
			if out.Total == 0 {
				out.Min = bucketHigh(i)
				if i > 0 {
					out.Min = bucketHigh(i-1) + 1
				}
			}
			out.Total += c
			last = i
		}
	}
	out.Counts = counts[:last+1]
	if reset {
		out.Max = h.max.Swap(0)
		out.Sum = float64(h.sum.Swap(0))
	} else {
		out.Max = h.max.Load()
		out.Sum = float64(h.sum.Load())
	}
	return out
}

// Pool is the members one generator process holds.
type Pool struct {
	mu      sync.Mutex
	members []*member
	// lat is sharded so that members on different cores seldom touch the same counters.
	lat     [latShards]atomicHist
	dropped atomic.Int64

	errMu      sync.Mutex
	errSamples map[string]int64
}

// NewPool makes an empty pool.
func NewPool() *Pool { return &Pool{errSamples: map[string]int64{}} }

const latShards = 8

func (p *Pool) latency(reset bool) Histogram {
	var h Histogram
	for i := range p.lat {
		s := p.lat[i].snapshot(reset)
		h.Merge(&s)
	}
	return h
}

func (p *Pool) noteError(payload []byte) {
	key := string(payload)
	if i := indexOf(payload, `"ErrorCode":`); i >= 0 {
		key = "ERROR " + string(payload[i+len(`"ErrorCode":`):min(len(payload), i+len(`"ErrorCode":`)+3)])
	}
	p.errMu.Lock()
	if len(p.errSamples) < 20 {
		p.errSamples[key]++
	} else if _, ok := p.errSamples[key]; ok {
		p.errSamples[key]++
	}
	p.errMu.Unlock()
}

func indexOf(p []byte, s string) int {
	for i := 0; i+len(s) <= len(p); i++ {
		if string(p[i:i+len(s)]) == s {
			return i
		}
	}
	return -1
}

// ConnectRequest asks a generator to open members.
type ConnectRequest struct {
	// URLs are the servers' WebSocket URLs: member i dials URLs[i % len].
	URLs   []string `json:"urls"`
	Tokens []string `json:"tokens"`
	// Rooms is the room index of each token; Senders the sender number of each (nil: none send).
	Rooms   []int32 `json:"rooms"`
	Senders []int32 `json:"senders,omitempty"`
	// SourceIPs are the local addresses the members dial from, in turn.
	SourceIPs []string `json:"source_ips,omitempty"`
	// Concurrency bounds the handshakes in flight.
	Concurrency int `json:"concurrency"`
	// ExpectRefusal checks that every token is refused (a used token); nothing is kept open.
	ExpectRefusal bool `json:"expect_refusal,omitempty"`
	// TimeoutMS bounds each handshake.
	TimeoutMS int `json:"timeout_ms,omitempty"`
	// MintURL, when set, has each member's token minted just before its handshake by a
	// signed CreateChatToken call to this control plane: Tokens then hold room identifiers,
	// MintUsers the user ids, and the result returns up to KeepTokens of the tokens minted.
	MintURL    string   `json:"mint_url,omitempty"`
	MintUsers  []string `json:"mint_users,omitempty"`
	KeepTokens int      `json:"keep_tokens,omitempty"`
}

// ConnectResult is what a connect did.
type ConnectResult struct {
	OK        int            `json:"ok"`
	Failed    int            `json:"failed"`
	Statuses  map[int]int    `json:"statuses,omitempty"`
	Errors    map[string]int `json:"errors,omitempty"`
	Handshake Histogram      `json:"handshake_us"`
	StartNS   int64          `json:"start_ns"`
	EndNS     int64          `json:"end_ns"`
	// Minted are some of the tokens minted (MintURL), each with its room index.
	Minted      []string `json:"minted,omitempty"`
	MintedRooms []int32  `json:"minted_rooms,omitempty"`
}

// Connect opens one member per token, Concurrency handshakes at a time.
func (p *Pool) Connect(ctx context.Context, req ConnectRequest) ConnectResult {
	res := ConnectResult{Statuses: map[int]int{}, Errors: map[string]int{}}
	var srcs []net.IP
	for _, s := range req.SourceIPs {
		if ip := net.ParseIP(s); ip != nil {
			srcs = append(srcs, ip)
		}
	}
	conc := max(req.Concurrency, 1)
	timeout := time.Duration(req.TimeoutMS) * time.Millisecond
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	var (
		mu   sync.Mutex
		hist atomicHist
		next atomic.Int64
		wg   sync.WaitGroup
	)
	var minter *signedMinter
	if req.MintURL != "" {
		minter = newSignedMinter(req.MintURL)
		defer minter.close()
	}
	res.StartNS = time.Now().UnixNano()
	for w := 0; w < conc && w < len(req.Tokens); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(req.Tokens) || ctx.Err() != nil {
					return
				}
				var src net.IP
				if len(srcs) > 0 {
					src = srcs[i%len(srcs)]
				}
				hctx, cancel := context.WithTimeout(ctx, timeout)
				token := req.Tokens[i]
				var err error
				if minter != nil {
					body, hash := tokenRequest(token, req.MintUsers[i])
					token, err = minter.mint(hctx, body, hash)
				}
				start := time.Now()
				var conn net.Conn
				var br *bufio.Reader
				if err == nil {
					conn, br, err = dialWS(hctx, req.URLs[i%len(req.URLs)], token, src)
				}
				cancel()
				if err == nil {
					hist.record(time.Since(start).Microseconds())
				}
				mu.Lock()
				var he *HandshakeError
				switch {
				case err == nil && req.ExpectRefusal:
					res.Failed++
					res.Errors["opened a used token"]++
					conn.Close()
				case err == nil:
					res.OK++
					if minter != nil && len(res.Minted) < req.KeepTokens {
						res.Minted = append(res.Minted, token)
						res.MintedRooms = append(res.MintedRooms, req.Rooms[i])
					}
				case req.ExpectRefusal && errors.As(err, &he):
					res.Statuses[he.Status]++
					if he.Status == 403 {
						res.OK++
					} else {
						res.Failed++
					}
				default:
					res.Failed++
					if errors.As(err, &he) {
						res.Statuses[he.Status]++
						err = he
					}
					if len(res.Errors) < 10 {
						res.Errors[err.Error()]++
					} else if _, ok := res.Errors[err.Error()]; ok {
						res.Errors[err.Error()]++
					}
				}
				mu.Unlock()
				if err != nil || req.ExpectRefusal {
					continue
				}
				m := &member{pool: p, room: req.Rooms[i], sender: -1, shard: int32(i % latShards), conn: conn, br: br}
				if req.Senders != nil {
					m.sender = req.Senders[i]
				}
				p.mu.Lock()
				p.members = append(p.members, m)
				p.mu.Unlock()
				go m.readLoop()
			}
		}()
	}
	wg.Wait()
	res.EndNS = time.Now().UnixNano()
	res.Handshake = hist.snapshot(false)
	return res
}

// RoomStats counts one room's deliveries to this generator's members.
type RoomStats struct {
	Members  int   `json:"members"`
	Open     int   `json:"open"`
	Received int64 `json:"received"`
	MinGot   int64 `json:"min_got"`
	MaxGot   int64 `json:"max_got"`
	// Accepted is how many of its senders' messages came back to them; Errors the ERROR
	// frames its members got.
	Accepted int64 `json:"accepted"`
	Errors   int64 `json:"errors"`
}

// PoolStats is the state of a generator.
type PoolStats struct {
	Members    int                 `json:"members"`
	Open       int                 `json:"open"`
	Dropped    int64               `json:"dropped"`
	Received   int64               `json:"received"`
	Accepted   int64               `json:"accepted"`
	Errors     int64               `json:"errors"`
	ErrorKinds map[string]int64    `json:"error_kinds,omitempty"`
	Rooms      map[int32]RoomStats `json:"rooms,omitempty"`
	Latency    *Histogram          `json:"latency_us,omitempty"`
	LastRecv   int64               `json:"last_recv_ns"`
	CPUSeconds float64             `json:"cpu_s"`
}

// StatsRequest says how much a stats call returns and whether it starts a new phase.
type StatsRequest struct {
	Detail bool `json:"detail"` // per room counts and the latency histogram
	Reset  bool `json:"reset"`  // zero every counter after reading
}

// Stats reads, and optionally resets, the counters.
func (p *Pool) Stats(req StatsRequest) PoolStats {
	p.mu.Lock()
	members := p.members
	p.mu.Unlock()
	s := PoolStats{Members: len(members), Dropped: p.dropped.Load()}
	if req.Detail {
		s.Rooms = map[int32]RoomStats{}
	}
	for _, m := range members {
		var got, own, errs int64
		if req.Reset {
			got, own, errs = m.got.Swap(0), m.own.Swap(0), m.errs.Swap(0)
		} else {
			got, own, errs = m.got.Load(), m.own.Load(), m.errs.Load()
		}
		open := !m.closed.Load()
		if open {
			s.Open++
		}
		s.LastRecv = max(s.LastRecv, m.lastRecv.Load())
		s.Received += got
		s.Accepted += own
		s.Errors += errs
		if req.Detail {
			r, seen := s.Rooms[m.room]
			if !seen || got < r.MinGot {
				r.MinGot = got
			}
			if got > r.MaxGot {
				r.MaxGot = got
			}
			r.Members++
			if open {
				r.Open++
			}
			r.Received += got
			r.Accepted += own
			r.Errors += errs
			s.Rooms[m.room] = r
		}
	}
	if req.Detail {
		h := p.latency(req.Reset)
		s.Latency = &h
		p.errMu.Lock()
		s.ErrorKinds = map[string]int64{}
		for k, v := range p.errSamples {
			s.ErrorKinds[k] = v
		}
		if req.Reset {
			clear(p.errSamples)
		}
		p.errMu.Unlock()
	}
	if req.Reset {
		for _, m := range members {
			m.lastRecv.Store(0)
		}
	}
	s.CPUSeconds = SelfCPUSeconds()
	return s
}

// CloseAll closes every member and waits, a bounded time, for their connections to end.
func (p *Pool) CloseAll() {
	p.mu.Lock()
	members := p.members
	p.members = nil
	p.mu.Unlock()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	for _, m := range members {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			m.close()
			<-sem
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(3 * time.Second)
	for _, m := range members {
		for !m.closed.Load() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		m.conn.Close()
	}
	p.dropped.Store(0)
	p.latency(true)
}

// SelfCPUSeconds is the CPU time this process has used.
func SelfCPUSeconds() float64 {
	s, err := procstat.Read(os.Getpid())
	if err != nil {
		return 0
	}
	return s.CPUSeconds
}
