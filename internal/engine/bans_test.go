package engine

import (
	"context"
	"testing"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// Bans expire in the engine, by their key's TTL: no sweep runs, and every node's index drops
// an expired ban when the engine's marker reaches its watch.
func TestBansExpireInTheEngine(t *testing.T) {
	url := startNATS(t)
	a, b := openExternal(t, url), openExternal(t, url)
	ctx := context.Background()
	const account = "123456789012"
	now := time.Now()
	end := now.Add(time.Second)
	timed := &chat.Ban{RoomID: "room", UserID: "brief", CreateTime: now, ExpireTime: &end}
	forever := &chat.Ban{RoomID: "room", UserID: "forever", CreateTime: now}
	if err := a.Bans.Put(ctx, account, chat.RoomUserKey("room", "brief"), timed, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := a.Bans.Put(ctx, account, chat.RoomUserKey("room", "forever"), forever, 0); err != nil {
		t.Fatal(err)
	}
	t.Run("a ban is in every node's index", func(t *testing.T) {
		eventually(t, "the other node sees both bans", func() bool {
			_, ok1 := b.Bans.Peek(account, chat.RoomUserKey("room", "brief"))
			_, ok2 := b.Bans.Peek(account, chat.RoomUserKey("room", "forever"))
			return ok1 && ok2
		})
	})
	t.Run("a timed ban leaves every index when its TTL passes", func(t *testing.T) {
		for _, e := range []*Engine{a, b} {
			eventually(t, "the timed ban is gone", func() bool {
				_, ok := e.Bans.Peek(account, chat.RoomUserKey("room", "brief"))
				return !ok
			})
		}
		if _, ok := b.Bans.Peek(account, chat.RoomUserKey("room", "forever")); !ok {
			t.Fatal("the ban without end went too")
		}
	})
	t.Run("a replaced ban takes the new TTL", func(t *testing.T) {
		if err := a.Bans.Put(ctx, account, chat.RoomUserKey("room", "forever"), forever, time.Second); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the replaced ban expires", func() bool {
			_, ok := b.Bans.Peek(account, chat.RoomUserKey("room", "forever"))
			return !ok
		})
	})
}
