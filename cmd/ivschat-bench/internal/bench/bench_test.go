package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/ivschatd/ivschatd/internal/server"
)

// The quick variant of every scenario: tiny sizes, against a real ivschatd and the raw
// baseline in this process, with members in this process and in one worker process. It
// checks correctness only (every member got every message, every token opened and could
// not be used twice), never timings.

const workerEnv = "IVSCHAT_BENCH_TEST_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) == "1" {
		if err := ServeWorker(os.Stdin, os.Stdout); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func startIvschatd(t *testing.T) *Ivschatd {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.AdminAddr = "127.0.0.1:0", ""
	cfg.DataDir = t.TempDir()
	srv, err := server.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("start ivschatd: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return NewIvschatd(srv.URL(), os.Getpid())
}

func startBaseline(t *testing.T) *BaselineTarget {
	t.Helper()
	b, err := StartBaseline("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return &BaselineTarget{BaseURL: b.URL(), PID: os.Getpid()}
}

func newRunner(t *testing.T) *Runner {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	w, err := StartWorker([]string{exe, "-test.run=^$"}, []string{workerEnv + "=1"})
	if err != nil {
		t.Fatal(err)
	}
	local := NewPool()
	r := &Runner{
		Gens:               []Generator{Local{NewPool()}, w},
		Local:              local,
		SourceIPs:          []string{"127.0.0.2", "127.0.0.3"},
		ConnectConcurrency: 8,
		WorkerPids:         []int{w.Pid()},
		Drain:              5 * time.Second,
	}
	if testing.Verbose() {
		r.Progress = os.Stderr
	}
	t.Cleanup(func() {
		for _, g := range r.Gens {
			_ = g.Close()
		}
		local.CloseAll()
	})
	return r
}

func check(t *testing.T, res *Result, metrics map[string]float64) {
	t.Helper()
	if !res.Correct {
		t.Errorf("%s on %s: %v", res.Scenario, res.Target, res.Problems)
	}
	for k, want := range metrics {
		if got := res.Metrics[k]; got != want {
			t.Errorf("%s on %s: %s = %v, want %v", res.Scenario, res.Target, k, got, want)
		}
	}
}

func TestScenarios(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := newRunner(t)
	targets := []struct {
		name string
		t    func(*testing.T) Target
	}{
		{"ivschatd", func(t *testing.T) Target { return startIvschatd(t) }},
		{"baseline", func(t *testing.T) Target { return startBaseline(t) }},
	}
	for _, tc := range targets {
		t.Run(tc.name, func(t *testing.T) {
			target := tc.t(t)
			t.Run("idle", func(t *testing.T) {
				res, err := r.Idle(ctx, target, 40, 15, 2)
				if err != nil {
					t.Fatal(err)
				}
				check(t, res, map[string]float64{"connected": 40, "open_after_hold": 40})
			})
			t.Run("fanout", func(t *testing.T) {
				// 20 listening members and 2 senders; 50 messages, then 20 more at a lower rate on
				// the same connections.
				results, err := r.Fanout(ctx, target, 20, 2, []Rate{{50, time.Second}, {20, time.Second}})
				if err != nil {
					t.Fatal(err)
				}
				check(t, results[0], map[string]float64{"sent": 50, "accepted": 50, "delivered": 50 * 22, "lost": 0})
				check(t, results[1], map[string]float64{"sent": 20, "accepted": 20, "delivered": 20 * 22, "lost": 0})
				if results[0].Latency == nil || results[0].Latency.Count != 50*22 {
					t.Errorf("latency histogram: %+v", results[0].Latency)
				}
			})
			t.Run("smallrooms", func(t *testing.T) {
				res, err := r.SmallRooms(ctx, target, 20, 5, 4, time.Second)
				if err != nil {
					t.Fatal(err)
				}
				check(t, res, map[string]float64{"sent": 80, "accepted": 80, "delivered": 80 * 5, "lost": 0})
			})
			for _, mint := range []bool{false, true} {
				t.Run(fmt.Sprintf("storm, tokens minted during it: %v", mint), func(t *testing.T) {
					res, err := r.Storm(ctx, target, 60, 20, 30, 60, mint)
					if err != nil {
						t.Fatal(err)
					}
					want := map[string]float64{"connected": 60, "failed": 0}
					if target.SingleUse() {
						want["reuse_checked"], want["reuse_refused"] = 60, 60
					}
					check(t, res, want)
				})
			}
		})
		if tc.name == "ivschatd" {
			t.Run("mint", func(t *testing.T) {
				target := startIvschatd(t)
				for _, mode := range []string{"sdk", "signer"} {
					res, err := r.Mint(ctx, target, mode, 4, 300*time.Millisecond)
					if err != nil {
						t.Fatal(err)
					}
					check(t, res, map[string]float64{"errors": 0})
					if res.Metrics["calls"] == 0 {
						t.Errorf("mint %s: no calls", mode)
					}
				}
			})
		}
	}
}

func TestHistogram(t *testing.T) {
	var h Histogram
	for v := int64(1); v <= 100000; v++ {
		h.Record(v)
	}
	for _, tc := range []struct {
		q    float64
		want int64
	}{{0.5, 50000}, {0.99, 99000}, {0.999, 99900}, {1, 100000}} {
		got := h.Quantile(tc.q)
		if d := float64(got-tc.want) / float64(tc.want); d < 0 || d > 0.016 {
			t.Errorf("quantile %v = %d, want %d within 1.6%% above", tc.q, got, tc.want)
		}
	}
	if h.Max != 100000 || h.Min != 1 || h.Total != 100000 {
		t.Errorf("min %d max %d total %d", h.Min, h.Max, h.Total)
	}
	for v := int64(0); v < 1<<20; v = v*3/2 + 1 {
		i := bucketOf(v)
		if bucketHigh(i) < v || (i > 0 && bucketHigh(i-1) >= v) {
			t.Fatalf("value %d in bucket %d [%d, %d]", v, i, bucketHigh(i-1)+1, bucketHigh(i))
		}
	}
	var a, b Histogram
	a.Record(5)
	b.Record(7000)
	a.Merge(&b)
	if a.Total != 2 || a.Max != 7000 || a.Min != 5 || a.Quantile(1) != 7000 {
		t.Errorf("merge: %+v", a)
	}
}
