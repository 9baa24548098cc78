package chat

import (
	"sync"
	"testing"
)

// recorder is a SignalHandler that keeps what it was handed.
type recorder struct {
	mu   sync.Mutex
	got  []Signal
	kind []bool // local, per signal
}

func (r *recorder) HandleSignal(_ RoomKey, s Signal, local bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, s)
	r.kind = append(r.kind, local)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func received(w *Watcher) []string {
	var out []string
	for {
		select {
		case s := <-w.Signals():
			out = append(out, string(s.Payload))
		default:
			return out
		}
	}
}

func TestTap(t *testing.T) {
	room := RoomKey{Account: "123456789012", ID: "AbCdEf123456"}
	deliver := func(p string) Signal { return Signal{Kind: SignalDeliver, Payload: []byte(p)} }

	t.Run("a watcher receives what other nodes publish, while the gateway has no member", func(t *testing.T) {
		bus := NewMemoryBus()
		inner, other := bus.Node(), bus.Node()
		tap := NewTap(inner)
		gw := &recorder{}
		tap.Register(gw)
		w, err := tap.Watch(room, 8)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		_ = other.Publish(room, deliver("from the other node"))
		if got := received(w); len(got) != 1 || got[0] != "from the other node" {
			t.Fatalf("watcher got %q", got)
		}
		if gw.count() != 1 {
			t.Fatalf("the gateway handler got %d signals, want it handed every signal as before", gw.count())
		}
	})

	t.Run("a watcher receives this node's own signals, which the gateway receives too", func(t *testing.T) {
		tap := NewTap(NewMemoryBus().Node())
		gw := &recorder{}
		tap.Register(gw)
		w, _ := tap.Watch(room, 8)
		defer w.Close()
		_ = tap.Publish(room, deliver("local"))
		if got := received(w); len(got) != 1 || got[0] != "local" {
			t.Fatalf("watcher got %q", got)
		}
		if gw.count() != 1 || !gw.kind[0] {
			t.Fatalf("gateway got %d signals (local %v), want one local", gw.count(), gw.kind)
		}
	})

	t.Run("the gateway and the watchers share one subscription, held while any holds it", func(t *testing.T) {
		inner := NewMemoryBus().Node()
		tap := NewTap(inner)
		type step struct {
			name string
			do   func() error
			want bool // the inner broker is subscribed after it
		}
		var w1, w2 *Watcher
		steps := []step{
			{"gateway subscribes", func() error { return tap.Subscribe(room) }, true},
			{"gateway subscribes again", func() error { return tap.Subscribe(room) }, true},
			{"a watcher joins", func() (err error) { w1, err = tap.Watch(room, 1); return }, true},
			{"gateway unsubscribes", func() error { return tap.Unsubscribe(room) }, true},
			{"a second watcher joins", func() (err error) { w2, err = tap.Watch(room, 1); return }, true},
			{"the first watcher closes", func() error { w1.Close(); w1.Close(); return nil }, true},
			{"the last watcher closes", func() error { w2.Close(); return nil }, false},
			{"gateway unsubscribes a room it left", func() error { return tap.Unsubscribe(room) }, false},
		}
		for _, s := range steps {
			if err := s.do(); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			if got := inner.subscribed(room); got != s.want {
				t.Fatalf("after %q the inner broker is subscribed: %v, want %v", s.name, got, s.want)
			}
		}
		if len(tap.rooms) != 0 || tap.watched.Load() != 0 {
			t.Fatalf("the tap still holds %d rooms and %d watchers", len(tap.rooms), tap.watched.Load())
		}
	})

	t.Run("a watcher that falls behind is told, and the broker never waits for it", func(t *testing.T) {
		tap := NewTap(NewMemoryBus().Node())
		w, _ := tap.Watch(room, 2)
		defer w.Close()
		for _, p := range []string{"1", "2", "3", "4"} {
			_ = tap.Publish(room, deliver(p))
		}
		select {
		case <-w.Lost():
		default:
			t.Fatal("Lost is not closed after the buffer overflowed")
		}
		if got := received(w); len(got) != 2 {
			t.Fatalf("watcher kept %q, want the first two", got)
		}
	})
}
