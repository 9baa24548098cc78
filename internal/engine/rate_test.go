package engine

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestRoomRate(t *testing.T) {
	ns := runNATS(t)
	nodes := []*Engine{openExternal(t, ns.ClientURL()), openExternal(t, ns.ClientURL()), openExternal(t, ns.ClientURL())}
	ctx := context.Background()
	// Sends are stamped within the seconds from base on, whatever the time the test runs at.
	base := time.Unix(time.Now().Unix()+5, 0)
	admit := func(t *testing.T, e *Engine, room string, limit int, at time.Duration) bool {
		t.Helper()
		ok, err := e.AdmitMessage(ctx, "111111111111", room, limit, base.Add(at))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}

	t.Run("a room admits its limit in a second and refuses the next send", func(t *testing.T) {
		for i := range 3 {
			if !admit(t, nodes[0], "one", 3, time.Duration(i)*time.Millisecond) {
				t.Fatalf("send %d refused", i)
			}
		}
		if admit(t, nodes[0], "one", 3, 999*time.Millisecond) {
			t.Fatal("a fourth send within the second was admitted")
		}
	})
	t.Run("the budget is the clock's second: the next second admits again", func(t *testing.T) {
		if !admit(t, nodes[0], "one", 3, 1000*time.Millisecond) {
			t.Fatal("refused in the next second")
		}
	})
	t.Run("sends admitted on one node count on the others from the room's first message", func(t *testing.T) {
		if !admit(t, nodes[0], "fresh", 2, 0) || !admit(t, nodes[1], "fresh", 2, time.Millisecond) {
			t.Fatal("the first two sends were refused")
		}
		if admit(t, nodes[2], "fresh", 2, 2*time.Millisecond) {
			t.Fatal("a node new to the room admitted a third send within the second")
		}
	})
	t.Run("rooms are counted apart", func(t *testing.T) {
		if !admit(t, nodes[1], "other", 1, 0) {
			t.Fatal("a send to another room was refused")
		}
	})
	t.Run("of sends racing on every node at once, exactly the limit is admitted", func(t *testing.T) {
		for round := range 5 {
			room := "race" + string(rune('a'+round))
			at := base.Add(time.Duration(round) * time.Second)
			var admitted atomic.Int64
			var wg sync.WaitGroup
			for _, e := range nodes {
				for range 5 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						ok, err := e.AdmitMessage(ctx, "111111111111", room, 5, at)
						if err != nil {
							t.Error(err)
						}
						if ok {
							admitted.Add(1)
						}
					}()
				}
			}
			wg.Wait()
			if n := admitted.Load(); n != 5 {
				t.Fatalf("round %d: %d of 15 racing sends admitted at 5/s", round, n)
			}
		}
	})
	t.Run("a busy node admits from leased slices, not one engine write per send", func(t *testing.T) {
		writes := func() uint64 {
			info, err := nodes[0].js.Stream(ctx, "KV_"+bucketRoomRates)
			if err != nil {
				t.Fatal(err)
			}
			return info.CachedInfo().State.LastSeq
		}
		before := writes()
		admitted := 0
		// 400 sends over two seconds into a room of 100/s: 200 a second are sent.
		for i := range 400 {
			if admit(t, nodes[0], "busy", 100, 10*time.Second+time.Duration(i)*5*time.Millisecond) {
				admitted++
			}
		}
		leases := writes() - before
		t.Logf("400 sends over two seconds at 100/s: %d admitted, %d leases", admitted, leases)
		if admitted < 150 || admitted > 200 {
			t.Fatalf("%d of 400 sends over two seconds admitted at 100/s; want at most 200, and most of them", admitted)
		}
		if leases*4 > uint64(admitted) {
			t.Fatalf("%d leases for %d admitted sends: want a lease per slice of sends, not per send", leases, admitted)
		}
	})
	t.Run("with the engine gone, a send is refused with an error, not admitted", func(t *testing.T) {
		ns.Shutdown()
		ns.WaitForShutdown()
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		ok, err := nodes[1].AdmitMessage(ctx, "111111111111", "unreachable", 10, base)
		if ok || err == nil {
			t.Fatalf("AdmitMessage with the engine gone = %v, %v; want an error", ok, err)
		}
	})
}

// BenchmarkAdmitMessage is what the room rate costs a send on an embedded engine: a send is
// admitted from this node's leased slice of the room's budget for its second, and a lease (one
// conditional write to the bucket) is taken in the background once per slice; a send refused
// because the room's budget for its second is all handed out costs no round trip. cpu-µs/op is
// the CPU of the whole process (the embedded NATS server included) per send.
func BenchmarkAdmitMessage(b *testing.B) {
	e := openEngine(b, b.TempDir())
	ctx := context.Background()
	runs := 0
	b.Run("admitted", func(b *testing.B) {
		runs++
		room := "bench" + strconv.Itoa(runs) // each run starts with a fresh room
		now := time.Now()
		cpu := processCPU(b)
		for b.Loop() {
			now = now.Add(20 * time.Millisecond) // 50/s, under the limit
			if ok, err := e.AdmitMessage(ctx, "111111111111", room, 100, now); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
		b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N)/1e3, "cpu-µs/op")
	})
	b.Run("refused", func(b *testing.B) {
		now := time.Now().Add(time.Hour)
		for range 10 {
			_, _ = e.AdmitMessage(ctx, "111111111111", "full", 10, now)
		}
		cpu := processCPU(b)
		for b.Loop() {
			if ok, err := e.AdmitMessage(ctx, "111111111111", "full", 10, now); ok || err != nil {
				b.Fatal(ok, err)
			}
		}
		b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N)/1e3, "cpu-µs/op")
	})
}

// processCPU is the CPU time this process has used, user and system, in nanoseconds.
func processCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// Slow mode counts each user's sends to a room across the cluster, by the room rate's
// compare-and-set, over windows of up to an hour.
func TestUserRate(t *testing.T) {
	url := startNATS(t)
	a, b := openExternal(t, url), openExternal(t, url)
	ctx := context.Background()
	base := time.Now()
	admit := func(t *testing.T, e *Engine, room, user string, at time.Duration) (bool, time.Time) {
		t.Helper()
		ok, retry, err := e.AdmitUserMessage(ctx, "111111111111", room, user, 2, time.Hour, base.Add(at))
		if err != nil {
			t.Fatal(err)
		}
		return ok, retry
	}
	t.Run("a user's sends on two nodes count toward one limit", func(t *testing.T) {
		if ok, _ := admit(t, a, "room", "u", 0); !ok {
			t.Fatal("first send refused")
		}
		if ok, _ := admit(t, b, "room", "u", time.Minute); !ok {
			t.Fatal("second send refused")
		}
		ok, retry := admit(t, a, "room", "u", 2*time.Minute)
		if ok {
			t.Fatal("a third send within the hour was admitted")
		}
		if !retry.Equal(base.Add(time.Hour)) {
			t.Fatalf("retry at %v, want an hour after the first send (%v)", retry, base.Add(time.Hour))
		}
	})
	t.Run("the user may send again when the oldest send leaves the window", func(t *testing.T) {
		if ok, _ := admit(t, b, "room", "u", time.Hour+time.Millisecond); !ok {
			t.Fatal("refused after the first send left the window")
		}
		if ok, retry := admit(t, a, "room", "u", time.Hour+2*time.Millisecond); ok || !retry.Equal(base.Add(time.Hour+time.Minute)) {
			t.Fatalf("admitted %v, retry %v: want refused until an hour after the second send", ok, retry)
		}
	})
	t.Run("users and rooms are counted apart", func(t *testing.T) {
		if ok, _ := admit(t, a, "room", "other user", 3*time.Minute); !ok {
			t.Fatal("another user was refused")
		}
		if ok, _ := admit(t, a, "otherroom", "u", 3*time.Minute); !ok {
			t.Fatal("the user was refused in another room")
		}
		if ok, _ := admit(t, a, "room", "u.", 3*time.Minute); !ok {
			t.Fatal("a user whose id differs by a dot shares a record")
		}
	})
}
