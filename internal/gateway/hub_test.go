package gateway

import (
	"log/slog"
	"testing"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/engine"
)

// noSubscription stands for the engine's subscription of a hub built without an engine.
type noSubscription struct{}

func (noSubscription) Unsubscribe() error { return nil }

// A signal that closes members may find a member's queue full; that member is dropped from
// the room, which takes the room's member lock, so the signal must not hold it meanwhile.
func TestSignalsThatCloseMembersDropThoseWhoseQueueIsFull(t *testing.T) {
	for _, tc := range []struct {
		rule   string
		signal engine.RoomSignal
	}{
		{"a room deleted while a member's queue is full drops the member", engine.RoomSignal{Kind: engine.SignalDeleted}},
		{"a user disconnected while its queue is full is dropped", engine.RoomSignal{Kind: engine.SignalDisconnect, UserID: "stuck", Payload: []byte(`{}`)}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			// A one-frame queue: the signal's own frame fills it, so the close frame after it
			// does not fit.
			gw := &Gateway{cfg: Config{QueueFrames: 1}, log: slog.New(slog.DiscardHandler)}
			for i := range gw.hubs {
				gw.hubs[i].hubs = map[string]*hub{}
			}
			h := &hub{gw: gw, account: "123456789012", roomID: "AbCdEfGhIjKl", members: map[*conn]struct{}{}, sub: noSubscription{}}
			shardOf(&gw.hubs, h.account+"."+h.roomID).hubs[h.account+"."+h.roomID] = h
			c := &conn{gw: gw, hub: h, token: &chat.Token{UserID: "stuck"}}
			h.members[c] = struct{}{}
			gw.wg.Add(1)
			gw.connections.Add(1)

			done := make(chan struct{})
			go func() {
				h.dispatch(tc.signal)
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("the signal never finished: dropping the member waited on the lock the signal held")
			}
			if len(h.list(nil)) != 0 || gw.Connections() != 0 {
				t.Fatalf("the member was not dropped: %d members, %d connections", len(h.list(nil)), gw.Connections())
			}
		})
	}
}
