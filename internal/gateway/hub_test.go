package gateway

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// testNode is a gateway without a service or listener, on a broker of an in-memory bus: its
// rooms' fan-out is the real one, between nodes in this process.
func testNode(b chat.Broker, cfg Config) *Gateway {
	return New(nil, b, nil, cfg, slog.New(slog.DiscardHandler))
}

// testMember joins a member that never completes its handshake: what it is sent stays in
// its queue, to be read by the test.
func testMember(t testing.TB, g *Gateway, room *chat.Room, user string) *conn {
	t.Helper()
	c := &conn{gw: g, token: &chat.Token{UserID: user}}
	g.wg.Add(1)
	g.connections.Add(1)
	if _, err := g.join(c, room); err != nil {
		t.Fatal(err)
	}
	return c
}

// waiting is what a member has been sent and not yet written, once its room's shard writers
// have handed out everything queued: the frames one after another.
func (c *conn) waiting(t testing.TB) []byte {
	t.Helper()
	settle(t, c.hub)
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Join(c.pending, nil)
}

// settle waits until the room's shard writers have nothing left to hand out.
func settle(t testing.TB, h *hub) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		busy := false
		for _, s := range h.shards {
			s.mu.Lock()
			busy = busy || s.writing
			s.mu.Unlock()
		}
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the room's shard writers never finished")
		}
	}
}

func testRoom(rate int) *chat.Room {
	return &chat.Room{Resource: chat.Resource{Account: "123456789012", ID: "AbCdEfGhIjKl"}, MaximumMessageRatePerSecond: rate}
}

func TestRoomSignalsOnTheBus(t *testing.T) {
	cfg := Config{QueueFrames: 16}
	deliver := func(payload string) chat.Signal {
		return chat.Signal{Kind: chat.SignalDeliver, Payload: []byte(payload)}
	}
	t.Run("a signal reaches the room's members on every node, framed once, in publish order", func(t *testing.T) {
		bus := chat.NewMemoryBus()
		a, b := bus.Node(), bus.Node()
		ga, gb := testNode(a, cfg), testNode(b, cfg)
		room := testRoom(10)
		members := []*conn{testMember(t, ga, room, "a1"), testMember(t, ga, room, "a2"), testMember(t, gb, room, "b1")}
		for _, p := range []string{`"one"`, `"two"`} {
			if err := a.Publish(room.Key(), deliver(p)); err != nil {
				t.Fatal(err)
			}
		}
		want := append(frame(opText, []byte(`"one"`)), frame(opText, []byte(`"two"`))...)
		for _, m := range members {
			if got := m.waiting(t); !bytes.Equal(got, want) {
				t.Fatalf("member %s got %q, want %q", m.token.UserID, got, want)
			}
		}
		members[0].mu.Lock()
		members[1].mu.Lock()
		shared := &members[0].pending[0][0] == &members[1].pending[0][0]
		members[1].mu.Unlock()
		members[0].mu.Unlock()
		if !shared {
			t.Fatal("two members of one node got separate copies of one frame")
		}
	})
	t.Run("the last member to leave a node ends its hub; the next one starts a fresh one", func(t *testing.T) {
		bus := chat.NewMemoryBus()
		a, b := bus.Node(), bus.Node()
		ga, gb := testNode(a, cfg), testNode(b, cfg)
		room := testRoom(10)
		m := testMember(t, gb, room, "b")
		m.teardown()
		testMember(t, ga, room, "a")
		if err := a.Publish(room.Key(), deliver(`"m"`)); err != nil {
			t.Fatal(err)
		}
		if len(m.waiting(t)) != 0 || gb.Connections() != 0 {
			t.Fatal("a member that left still gets the room's signals")
		}
		again := testMember(t, gb, room, "b")
		if err := a.Publish(room.Key(), deliver(`"n"`)); err != nil {
			t.Fatal(err)
		}
		if got, want := again.waiting(t), frame(opText, []byte(`"n"`)); !bytes.Equal(got, want) {
			t.Fatalf("a member who joined again got %q, want %q", got, want)
		}
	})
}

// A signal that closes members may find a member's queue full; that member is dropped from
// the room, which takes the room's member lock, so the signal must not hold it meanwhile.
func TestSignalsThatCloseMembersDropThoseWhoseQueueIsFull(t *testing.T) {
	for _, tc := range []struct {
		rule   string
		signal chat.Signal
	}{
		{"a room deleted while a member's queue is full drops the member", chat.Signal{Kind: chat.SignalDeleted}},
		{"a user disconnected while its queue is full is dropped", chat.Signal{Kind: chat.SignalDisconnect, UserID: "stuck", Payload: []byte(`{}`)}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			// A one-frame queue: the signal's own frame fills it, so the close frame after it
			// does not fit.
			broker := chat.NewMemoryBus().Node()
			gw := testNode(broker, Config{QueueFrames: 1})
			room := testRoom(10)
			c := testMember(t, gw, room, "stuck")

			done := make(chan struct{})
			go func() {
				_ = broker.Publish(room.Key(), tc.signal)
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("the signal never finished: dropping the member waited on the lock the signal held")
			}
			// The room's shard writer drops the member once it finds the queue full.
			for deadline := time.Now().Add(10 * time.Second); len(c.hub.list(nil)) != 0 || gw.Connections() != 0; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the member was not dropped: %d members, %d connections", len(c.hub.list(nil)), gw.Connections())
				}
			}
		})
	}
}

// Tags switch extensions on and off: the service publishes the room as stored after every tag
// change, and each node's hub parses its settings once.
func TestRoomUpdateSignalCarriesTheSettings(t *testing.T) {
	bus := chat.NewMemoryBus()
	a, b := bus.Node(), bus.Node()
	ga, gb := testNode(a, Config{QueueFrames: 16}), testNode(b, Config{QueueFrames: 16})
	room := testRoom(10)
	testMember(t, ga, room, "a")
	hb := testMember(t, gb, room, "b").hub
	for _, tc := range []struct {
		rule string
		tags map[string]string
		want chat.RoomSettings
	}{
		{"a tag added on one node switches the extension on at the other", map[string]string{chat.TagPresenceEvents: "true"}, chat.RoomSettings{PresenceEvents: true}},
		{"a tag removed on one node switches the extension off at the other", map[string]string{}, chat.RoomSettings{}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			updated := *room
			updated.Tags = tc.tags
			if err := a.Publish(room.Key(), chat.Signal{Kind: chat.SignalUpdated, Payload: chat.Encode(&updated)}); err != nil {
				t.Fatal(err)
			}
			if got := hb.state.Load().settings; got != tc.want {
				t.Fatalf("settings %+v, want %+v", got, tc.want)
			}
		})
	}
}
