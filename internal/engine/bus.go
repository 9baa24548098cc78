package engine

import (
	"fmt"
	"net/url"
	"time"

	"github.com/nats-io/nats.go"
)

// SignalKind says what a room signal asks of the nodes that have members in the room.
type SignalKind string

// Room signals. Every node with local members of the room receives each one.
const (
	// SignalDeliver carries an encoded MESSAGE or EVENT payload for every member.
	SignalDeliver SignalKind = "deliver"
	// SignalDisconnect closes every connection of UserID.
	SignalDisconnect SignalKind = "disconnect"
	// SignalUpdated says the room's settings changed; the payload is the room as stored.
	SignalUpdated SignalKind = "updated"
	// SignalDeleted says the room is gone; its members are told and disconnected.
	SignalDeleted SignalKind = "deleted"
)

// RoomSignal is one message on a room's subject.
type RoomSignal struct {
	Kind SignalKind
	// Payload is the encoded MESSAGE or EVENT of a SignalDeliver, or the encoded
	// aws:DISCONNECT_USER event that precedes a SignalDisconnect.
	Payload []byte
	// UserID names the user to disconnect.
	UserID string
	// Origin identifies the node that published the signal.
	Origin string
	// CountsTowardRate marks a MESSAGE that used some of the room's message rate, so that
	// every node's rate limiter sees the sends admitted on the others.
	CountsTowardRate bool
}

const (
	headerKind   = "Ivschat-Signal"
	headerUser   = "Ivschat-User"
	headerOrigin = "Ivschat-Origin"
	headerRate   = "Ivschat-Rate"
)

// roomSubject is the subject of a room: one per room, partitioned by account.
func roomSubject(account, roomID string) string {
	return "ivschat.room." + account + "." + roomID
}

// PublishRoom sends a signal to every node with members in the room.
func (e *Engine) PublishRoom(account, roomID string, s RoomSignal) error {
	msg := nats.NewMsg(roomSubject(account, roomID))
	msg.Header.Set(headerKind, string(s.Kind))
	if s.UserID != "" {
		// A user id is any text up to 128 characters; headers trim spaces and cannot carry
		// line breaks, so it travels percent-encoded.
		msg.Header.Set(headerUser, url.QueryEscape(s.UserID))
	}
	if s.Origin != "" {
		msg.Header.Set(headerOrigin, s.Origin)
	}
	if s.CountsTowardRate {
		msg.Header.Set(headerRate, "1")
	}
	msg.Data = s.Payload
	if err := e.nc.PublishMsg(msg); err != nil {
		return fmt.Errorf("engine: publish to room: %w", err)
	}
	return nil
}

// Subscription stops a room subscription.
type Subscription interface{ Unsubscribe() error }

// SubscribeRoom calls handle for every signal of the room until unsubscribed. Signals of one
// room arrive in publish order, on one goroutine.
func (e *Engine) SubscribeRoom(account, roomID string, handle func(RoomSignal)) (Subscription, error) {
	sub, err := e.nc.Subscribe(roomSubject(account, roomID), func(m *nats.Msg) {
		user, err := url.QueryUnescape(m.Header.Get(headerUser))
		if err != nil {
			return // Not published by PublishRoom.
		}
		handle(RoomSignal{
			Kind:    SignalKind(m.Header.Get(headerKind)),
			Payload: m.Data,
			UserID:  user,
			Origin:  m.Header.Get(headerOrigin),

			CountsTowardRate: m.Header.Get(headerRate) == "1",
		})
	})
	if err != nil {
		return nil, fmt.Errorf("engine: subscribe to room: %w", err)
	}
	// Fan-out must not stall on the client library's default pending limits.
	_ = sub.SetPendingLimits(-1, 256<<20)
	// Wait (briefly) for the server to have the subscription: from then on its interest is on
	// its way to the other servers of the cluster, which forward the room's messages once it
	// arrives, well under a millisecond later on a LAN. Without the wait, a member who joined
	// a room new to this node could miss what other nodes publish in the next few milliseconds.
	// While the connection is down the subscription is restored on reconnect; don't wait.
	if e.nc.IsConnected() {
		_ = e.nc.FlushTimeout(500 * time.Millisecond)
	}
	return sub, nil
}

// Flush waits until the server has processed everything published so far.
func (e *Engine) Flush() error { return e.nc.Flush() }
