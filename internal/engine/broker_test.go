package engine

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// handled is one call of a signal handler.
type handled struct {
	room   chat.RoomKey
	signal chat.Signal
	local  bool
}

// recorder is a signal handler that keeps what it is given, in order.
type recorder chan handled

func (r recorder) HandleSignal(room chat.RoomKey, s chat.Signal, local bool) {
	r <- handled{room, s, local}
}

// next is the next signal the handler got, failing the test if none comes.
func (r recorder) next(t *testing.T) handled {
	t.Helper()
	select {
	case h := <-r:
		return h
	case <-time.After(10 * time.Second):
		t.Fatal("no signal reached the handler")
		return handled{}
	}
}

// empty fails the test if the handler got anything not yet taken.
func (r recorder) empty(t *testing.T) {
	t.Helper()
	select {
	case h := <-r:
		t.Fatalf("unexpected signal %+v", h)
	default:
	}
}

// brokerNode is one node's broker with its handler.
type brokerNode struct {
	*Broker
	got recorder
}

func newBrokerNode(b *Broker) brokerNode {
	n := brokerNode{b, make(recorder, 100)}
	b.Register(n.got)
	return n
}

// flushed waits until the server has processed everything the node published.
func (n brokerNode) flushed(t *testing.T) {
	t.Helper()
	if err := n.nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

var (
	roomR     = chat.RoomKey{Account: acct, ID: "RRRRRRRRRRRR"}
	roomO     = chat.RoomKey{Account: acct, ID: "OOOOOOOOOOOO"}
	roomOther = chat.RoomKey{Account: other, ID: "RRRRRRRRRRRR"}
	sentinel  = chat.Signal{Kind: chat.SignalDeliver, Payload: []byte(`"sentinel"`)}
)

// TestBroker checks the room-signal seam on both engines: the embedded one, where a second
// node is a second connection to the same in-process server, and an external server shared
// by two engines. Both nodes publish and subscribe on one connection each, as a node does.
func TestBroker(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes func(t *testing.T) (a, b brokerNode)
	}{
		{"embedded", func(t *testing.T) (brokerNode, brokerNode) {
			e := openEngine(t, t.TempDir())
			nc, err := nats.Connect("", append(e.connOptions(), nats.InProcessServer(e.embedded))...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(nc.Close)
			return newBrokerNode(NewBroker(e)), newBrokerNode(&Broker{nc: nc, subs: map[chat.RoomKey]*nats.Subscription{}})
		}},
		{"external", func(t *testing.T) (brokerNode, brokerNode) {
			url := startNATS(t)
			return newBrokerNode(NewBroker(openExternal(t, url))), newBrokerNode(NewBroker(openExternal(t, url)))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := tc.nodes(t)
			testBroker(t, a, b)
		})
	}
}

func testBroker(t *testing.T, a, b brokerNode) {
	signals := []chat.Signal{
		{Kind: chat.SignalDeliver, Payload: chat.Encode(chat.NewEvent("AYk6xKitV4On", "", "join", nil, time.Now()))},
		{Kind: chat.SignalDeliver, Payload: []byte(`{"Type":"MESSAGE"}`)},
		{Kind: chat.SignalDisconnect, Payload: []byte(`{"Type":"EVENT"}`), UserID: "alice"},
		{Kind: chat.SignalDisconnect, UserID: " spaced user "},
		{Kind: chat.SignalDisconnect, UserID: "line\r\nIvschat-Signal: deleted"},
		{Kind: chat.SignalDisconnect, UserID: "ユーザー😀:x=y;z"},
		{Kind: chat.SignalDisconnect, UserID: "100%25 real+user"},
		{Kind: chat.SignalUpdated, Payload: []byte(`{"id":"RRRRRRRRRRRR"}`)},
		{Kind: chat.SignalDeleted},
	}
	same := func(got, want chat.Signal) bool {
		return got.Kind == want.Kind && got.UserID == want.UserID &&
			bytes.Equal(got.Payload, want.Payload)
	}
	for _, n := range []brokerNode{a, b} {
		if err := n.Subscribe(roomR); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("a node's own signal reaches its handler during Publish, as local, and never again", func(t *testing.T) {
		for i, s := range signals {
			if err := a.Publish(roomR, s); err != nil {
				t.Fatal(err)
			}
			select {
			case h := <-a.got:
				if h.room != roomR || !h.local || !same(h.signal, s) {
					t.Fatalf("signal %d handed over as %+v", i, h)
				}
			default:
				t.Fatalf("signal %d was not handed to the node's handler before Publish returned", i)
			}
		}
		// The server handles a's publications before b's sentinel: an echo would come first.
		a.flushed(t)
		if err := b.Publish(roomR, sentinel); err != nil {
			t.Fatal(err)
		}
		if h := a.got.next(t); h.local || !same(h.signal, sentinel) {
			t.Fatalf("after its own signals the node got %+v, want only the other node's sentinel", h)
		}
	})
	t.Run("every other subscribed node gets each signal once, in publish order, intact", func(t *testing.T) {
		var remote []handled
		for range len(signals) + 1 { // and b's own sentinel, at any place among them
			if h := b.got.next(t); !h.local {
				remote = append(remote, h)
			}
		}
		if len(remote) != len(signals) {
			t.Fatalf("%d signals from the other node, want %d", len(remote), len(signals))
		}
		for i, want := range signals {
			if h := remote[i]; h.room != roomR || !same(h.signal, want) {
				t.Fatalf("signal %d = %+v, want %+v from the other node", i, h, want)
			}
		}
		b.got.empty(t)
	})
	t.Run("a node's own signal reaches its handler even in a room it is not subscribed to", func(t *testing.T) {
		if err := a.Publish(roomO, sentinel); err != nil {
			t.Fatal(err)
		}
		if h := a.got.next(t); h.room != roomO || !h.local {
			t.Fatalf("got %+v", h)
		}
	})
	t.Run("signals stay in their room and account", func(t *testing.T) {
		for _, room := range []chat.RoomKey{roomO, roomOther} {
			if err := a.Publish(room, chat.Signal{Kind: chat.SignalDeleted}); err != nil {
				t.Fatal(err)
			}
			a.got.next(t)
		}
		a.flushed(t)
		if err := a.Publish(roomR, sentinel); err != nil {
			t.Fatal(err)
		}
		a.got.next(t)
		if h := b.got.next(t); h.room != roomR || !same(h.signal, sentinel) {
			t.Fatalf("a signal of another room or account reached the node: %+v", h)
		}
	})
	t.Run("after Unsubscribe, the room's signals from other nodes stop", func(t *testing.T) {
		if err := b.Subscribe(roomO); err != nil {
			t.Fatal(err)
		}
		if err := b.Unsubscribe(roomR); err != nil {
			t.Fatal(err)
		}
		b.flushed(t)
		for i, room := range []chat.RoomKey{roomR, roomO} {
			if err := a.Publish(room, chat.Signal{Kind: chat.SignalDeliver, Payload: fmt.Appendf(nil, "%d", i)}); err != nil {
				t.Fatal(err)
			}
			a.got.next(t)
		}
		if h := b.got.next(t); h.room != roomO {
			t.Fatalf("a signal of the unsubscribed room arrived: %+v", h)
		}
		if err := b.Unsubscribe(roomR); err != nil {
			t.Fatalf("a second Unsubscribe: %v", err)
		}
	})
}
