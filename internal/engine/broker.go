package engine

import (
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// Broker is the chat.Broker of a cluster: one NATS subject per room, subscribed while this
// node serves members of the room. It publishes on the engine's connection, which is opened
// with no echo, so the server never returns what this node publishes: Publish hands it to
// the node's own handler instead.
type Broker struct {
	nc      *nats.Conn
	handler chat.SignalHandler

	mu   sync.Mutex // guards subs
	subs map[chat.RoomKey]*nats.Subscription
}

var _ chat.Broker = (*Broker)(nil)

// NewBroker makes the broker of room signals over the engine's connection.
func NewBroker(e *Engine) *Broker {
	return &Broker{nc: e.nc, subs: map[chat.RoomKey]*nats.Subscription{}}
}

const (
	headerKind = "Ivschat-Signal"
	headerUser = "Ivschat-User"
)

// roomSubject is the subject of a room: one per room, partitioned by account.
func roomSubject(room chat.RoomKey) string {
	return "ivschat.room." + room.Account + "." + room.ID
}

// Register sets the handler of every room's signals.
func (b *Broker) Register(h chat.SignalHandler) { b.handler = h }

// Publish sends a signal to every other node with members in the room, then hands it to
// this node's handler once the connection has taken it.
func (b *Broker) Publish(room chat.RoomKey, s chat.Signal) error {
	msg := nats.NewMsg(roomSubject(room))
	msg.Header.Set(headerKind, string(s.Kind))
	if s.UserID != "" {
		// A user id is any text up to 128 characters; headers trim spaces and cannot carry
		// line breaks, so it travels percent-encoded.
		msg.Header.Set(headerUser, url.QueryEscape(s.UserID))
	}
	msg.Data = s.Payload
	if err := b.nc.PublishMsg(msg); err != nil {
		return fmt.Errorf("engine: publish to room: %w", err)
	}
	if b.handler != nil {
		b.handler.HandleSignal(room, s, true)
	}
	return nil
}

// Subscribe starts handing the room's signals from other nodes to the handler. They arrive
// in publish order, on one goroutine for the room.
func (b *Broker) Subscribe(room chat.RoomKey) error {
	b.mu.Lock()
	_, ok := b.subs[room]
	b.mu.Unlock()
	if ok {
		return nil
	}
	sub, err := b.nc.Subscribe(roomSubject(room), func(m *nats.Msg) {
		user, err := url.QueryUnescape(m.Header.Get(headerUser))
		if err != nil || b.handler == nil {
			return // Not published by Publish.
		}
		b.handler.HandleSignal(room, chat.Signal{
			Kind:    chat.SignalKind(m.Header.Get(headerKind)),
			Payload: m.Data,
			UserID:  user,
		}, false)
	})
	if err != nil {
		return fmt.Errorf("engine: subscribe to room: %w", err)
	}
	// Fan-out must not stall on the client library's default pending limits.
	_ = sub.SetPendingLimits(-1, 256<<20)
	b.mu.Lock()
	b.subs[room] = sub
	b.mu.Unlock()
	// Wait (briefly) for the server to have the subscription: from then on its interest is on
	// its way to the other servers of the cluster, which forward the room's messages once it
	// arrives, well under a millisecond later on a LAN. Without the wait, a member who joined
	// a room new to this node could miss what other nodes publish in the next few milliseconds.
	// While the connection is down the subscription is restored on reconnect; don't wait.
	if b.nc.IsConnected() {
		_ = b.nc.FlushTimeout(500 * time.Millisecond)
	}
	return nil
}

// Unsubscribe stops the room's signals from other nodes.
func (b *Broker) Unsubscribe(room chat.RoomKey) error {
	b.mu.Lock()
	sub := b.subs[room]
	delete(b.subs, room)
	b.mu.Unlock()
	if sub == nil {
		return nil
	}
	return sub.Unsubscribe()
}
