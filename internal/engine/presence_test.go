package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// roster is a node's members, as the gateway would list them.
type roster map[chat.RoomKey][]chat.RoomUser

func (r roster) LocalRoomUsers(room chat.RoomKey) []chat.RoomUser { return r[room] }

// changes records the presence changes a node reports, as "user before→after".
type changes struct {
	mu  sync.Mutex
	got []string
}

func (c *changes) report(_ chat.RoomKey, user string, before, after int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, fmt.Sprintf("%s %d→%d", user, before, after))
	return nil
}

func (c *changes) take() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := strings.Join(c.got, ", ")
	c.got = nil
	return s
}

func TestPresence(t *testing.T) {
	url := startNATS(t)
	room := chat.RoomKey{Account: "123456789012", ID: "AbCdEfGhIjKl"}
	at := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	a, b := openExternal(t, url), openExternal(t, url)
	var seenA, seenB changes
	ctx := context.Background()
	mustStart := func(e *Engine, r roster, c *changes) {
		if err := e.Presence.Start(ctx, r, c.report); err != nil {
			t.Fatal(err)
		}
	}
	mustStart(a, roster{room: {{UserID: "ann", Connections: 1, ConnectedAt: at}}}, &seenA)
	mustStart(b, roster{room: {{UserID: "ann", Connections: 2, ConnectedAt: at.Add(-time.Minute)}, {UserID: "bob", Connections: 1, ConnectedAt: at}}}, &seenB)

	t.Run("a node lists the room's users on every node, merged", func(t *testing.T) {
		eventually(t, "a knows of b", func() bool { return len(a.Presence.livePeers()) == 1 })
		users, err := a.Presence.RoomUsers(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, u := range users {
			got = append(got, fmt.Sprintf("%s×%d@%s", u.UserID, u.Connections, u.ConnectedAt.Format("15:04")))
		}
		if s := strings.Join(got, " "); s != "ann×3@00:59 bob×1@01:00" {
			t.Fatalf("users %q", s)
		}
	})
	count := func(e *Engine, user string, delta int) {
		t.Helper()
		if err := e.Presence.CountConnection(ctx, room, user, delta); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("counts add up across nodes; the node that changes a count reports it", func(t *testing.T) {
		count(a, "u", 1)
		count(b, "u", 1)
		count(a, "u", -1)
		count(b, "u", -1)
		if got := seenA.take(); got != "u 0→1, u 2→1" {
			t.Fatalf("a reported %q", got)
		}
		if got := seenB.take(); got != "u 1→2, u 1→0" {
			t.Fatalf("b reported %q", got)
		}
	})
	t.Run("a count never goes below zero", func(t *testing.T) {
		count(a, "nobody", -1)
		count(a, "v", 1)
		count(b, "v", -1) // b holds no connection of v
		if got := seenA.take() + "|" + seenB.take(); got != "v 0→1|" {
			t.Fatalf("reported %q", got)
		}
		count(a, "v", -1)
		seenA.take()
	})
	t.Run("a user with any characters is counted and reported as such", func(t *testing.T) {
		user := "a user\nwith ünïcode / and dots..."
		count(a, user, 1)
		count(a, user, -1)
		if got := seenA.take(); got != user+" 0→1, "+user+" 1→0" {
			t.Fatalf("reported %q", got)
		}
	})
	t.Run("when a node goes, another removes its connections and reports the leaves once", func(t *testing.T) {
		count(b, "w", 1)
		count(b, "w", 1)
		count(a, "x", 1)
		count(b, "x", 1)
		seenA.take()
		seenB.take()
		b.Presence.Close()
		eventually(t, "a reports both changes", func() bool {
			seenA.mu.Lock()
			defer seenA.mu.Unlock()
			return len(seenA.got) >= 2
		})
		time.Sleep(200 * time.Millisecond) // a repeated report would come now
		got := strings.Split(seenA.take(), ", ")
		sort.Strings(got)
		if s := strings.Join(got, ", "); s != "w 2→0, x 2→1" {
			t.Fatalf("a reported %q", s)
		}
		if got := seenB.take(); got != "" {
			t.Fatalf("the closed node reported %q", got)
		}
		users, err := a.Presence.RoomUsers(ctx, room)
		if err != nil || len(users) != 1 || users[0].UserID != "ann" || users[0].Connections != 1 {
			t.Fatalf("after b closed, a lists %+v (%v)", users, err)
		}
	})
}
