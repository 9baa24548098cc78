package engine

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRoomRate(t *testing.T) {
	url := startNATS(t)
	nodes := []*Engine{openExternal(t, url), openExternal(t, url), openExternal(t, url)}
	ctx := context.Background()
	base := time.Now()
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
	t.Run("the window slides: a send is admitted once the oldest is a second old", func(t *testing.T) {
		if !admit(t, nodes[0], "one", 3, 1000*time.Millisecond+1) {
			t.Fatal("refused once the first send was a second old")
		}
		if admit(t, nodes[0], "one", 3, 1000*time.Millisecond+2) {
			t.Fatal("admitted while the second and third sends are less than a second old")
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
	t.Run("a send that another node read its clock after but recorded first is counted", func(t *testing.T) {
		if !admit(t, nodes[0], "skewed", 1, 500*time.Millisecond) {
			t.Fatal("the first send was refused")
		}
		if admit(t, nodes[1], "skewed", 1, 100*time.Millisecond) {
			t.Fatal("an earlier send time was admitted within a second of the recorded one")
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
			var admitted atomic.Int64
			var wg sync.WaitGroup
			for _, e := range nodes {
				for range 5 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						ok, err := e.AdmitMessage(ctx, "111111111111", room, 5, time.Now())
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
}

// BenchmarkAdmitMessage is what the room rate costs a send on an embedded engine: an
// admitted send is one conditional write to the bucket; a send refused because this node
// already knows the room is at its limit costs no round trip.
func BenchmarkAdmitMessage(b *testing.B) {
	e := openEngine(b, b.TempDir())
	ctx := context.Background()
	runs := 0
	b.Run("admitted", func(b *testing.B) {
		runs++
		room := "bench" + strconv.Itoa(runs) // each run starts with a fresh room
		now := time.Now()
		for b.Loop() {
			now = now.Add(20 * time.Millisecond) // 50/s, under the limit
			if ok, err := e.AdmitMessage(ctx, "111111111111", room, 100, now); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("refused", func(b *testing.B) {
		now := time.Now().Add(time.Hour)
		for range 10 {
			_, _ = e.AdmitMessage(ctx, "111111111111", "full", 10, now)
		}
		for b.Loop() {
			if ok, err := e.AdmitMessage(ctx, "111111111111", "full", 10, now); ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
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
