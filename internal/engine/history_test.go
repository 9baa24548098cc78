package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// keptIDs lists the ids a room keeps, oldest first.
func keptIDs(t *testing.T, e *Engine, room chat.RoomKey) string {
	t.Helper()
	kept, err := e.KeptMessages(context.Background(), room)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(kept))
	for i, m := range kept {
		if want := `{"id":"` + m.ID + `"}`; string(m.Payload) != want {
			t.Fatalf("message %s came back as %s, want %s", m.ID, m.Payload, want)
		}
		if i > 0 && kept[i-1].Seq >= m.Seq {
			t.Fatalf("not oldest first: %d then %d", kept[i-1].Seq, m.Seq)
		}
		ids[i] = m.ID
	}
	return strings.Join(ids, " ")
}

func keep(t *testing.T, e *Engine, room chat.RoomKey, n int, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := e.KeepMessage(context.Background(), room, id, []byte(`{"id":"`+id+`"}`), n); err != nil {
			t.Fatal(err)
		}
	}
}

// A room's history is its last N kept messages, oldest first; deleted ones are gone and
// do not bring older ones back; trimming and dropping act on one room only.
func TestHistoryKeepsTheLastN(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e := openEngine(t, dir)
	id := func(i int) string { return fmt.Sprintf("msg%09d", i) }
	fresh := func() chat.RoomKey { return chat.RoomKey{Account: acct, ID: chat.NewID()} }
	cases := []struct {
		name string
		run  func(room chat.RoomKey) string
		want string
	}{
		{"a room without messages keeps none", func(room chat.RoomKey) string { return "" }, ""},
		{"messages are kept oldest first", func(room chat.RoomKey) string {
			keep(t, e, room, 10, id(1), id(2), id(3))
			return ""
		}, id(1) + " " + id(2) + " " + id(3)},
		{"past N the oldest go", func(room chat.RoomKey) string {
			keep(t, e, room, 2, id(1), id(2), id(3), id(4))
			return ""
		}, id(3) + " " + id(4)},
		{"a deleted message is gone and does not bring an older one back", func(room chat.RoomKey) string {
			keep(t, e, room, 3, id(1), id(2), id(3), id(4))
			if err := e.ForgetMessage(ctx, room, id(3)); err != nil {
				t.Fatal(err)
			}
			return ""
		}, id(2) + " " + id(4)},
		{"deleting a message not kept changes nothing", func(room chat.RoomKey) string {
			keep(t, e, room, 3, id(1))
			if err := e.ForgetMessage(ctx, room, "notkept00000"); err != nil {
				t.Fatal(err)
			}
			return ""
		}, id(1)},
		{"lowering N trims to the newest", func(room chat.RoomKey) string {
			keep(t, e, room, 5, id(1), id(2), id(3), id(4))
			if err := e.TrimHistory(ctx, room, 2); err != nil {
				t.Fatal(err)
			}
			return ""
		}, id(3) + " " + id(4)},
		{"trimming to 0 drops everything", func(room chat.RoomKey) string {
			keep(t, e, room, 5, id(1), id(2))
			if err := e.TrimHistory(ctx, room, 0); err != nil {
				t.Fatal(err)
			}
			return ""
		}, ""},
		{"a message kept twice is kept once, in its latest place", func(room chat.RoomKey) string {
			keep(t, e, room, 5, id(1), id(2), id(1))
			return ""
		}, id(2) + " " + id(1)},
		{"another room's changes leave a room alone", func(room chat.RoomKey) string {
			keep(t, e, room, 5, id(1), id(2))
			other := fresh()
			keep(t, e, other, 1, id(7), id(8))
			if err := e.TrimHistory(ctx, other, 0); err != nil {
				t.Fatal(err)
			}
			return ""
		}, id(1) + " " + id(2)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			room := fresh()
			c.run(room)
			if got := keptIDs(t, e, room); got != c.want {
				t.Fatalf("kept %q, want %q", got, c.want)
			}
		})
	}
	t.Run("a full history of the largest N reads back whole", func(t *testing.T) {
		room := fresh()
		var want []string
		for i := range chat.MaxHistory + 5 {
			keep(t, e, room, chat.MaxHistory, id(i))
			if i >= 5 {
				want = append(want, id(i))
			}
		}
		if got := keptIDs(t, e, room); got != strings.Join(want, " ") {
			t.Fatalf("kept %d messages, want the last %d", len(strings.Fields(got)), chat.MaxHistory)
		}
	})
}

// History is in the store: it survives a restart of the node.
func TestHistorySurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	room := chat.RoomKey{Account: acct, ID: chat.NewID()}
	e, err := Open(context.Background(), Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	keep(t, e, room, 5, "aaaaaaaaaaaa", "bbbbbbbbbbbb")
	e.Close()
	e = openEngine(t, dir)
	if got := keptIDs(t, e, room); got != "aaaaaaaaaaaa bbbbbbbbbbbb" {
		t.Fatalf("after a restart the room keeps %q", got)
	}
}

// Every node of a cluster reads what any node kept, at once.
func TestHistoryIsTheSameFromEveryNode(t *testing.T) {
	url := startNATS(t)
	a, b := openExternal(t, url), openExternal(t, url)
	room := chat.RoomKey{Account: acct, ID: chat.NewID()}
	keep(t, a, room, 5, "aaaaaaaaaaaa")
	keep(t, b, room, 5, "bbbbbbbbbbbb")
	for _, e := range []*Engine{a, b} {
		if got := keptIDs(t, e, room); got != "aaaaaaaaaaaa bbbbbbbbbbbb" {
			t.Fatalf("a node reads %q", got)
		}
	}
}

// BenchmarkKeptMessages is the engine's part of a replay at connect: reading a room's kept
// messages (as many as the room keeps; replay takes the last R of them).
func BenchmarkKeptMessages(b *testing.B) {
	for _, n := range []int{50, 1000} {
		b.Run(fmt.Sprintf("kept=%d", n), func(b *testing.B) {
			e := openEngine(b, b.TempDir())
			room := chat.RoomKey{Account: acct, ID: chat.NewID()}
			payload := []byte(`{"Type":"MESSAGE","Id":"AbCdEfGhIjKl","RequestId":"r","Attributes":{},"Content":"` + strings.Repeat("x", 64) + `","SendTime":"2026-12-02T01:00:00.123456789Z","Sender":{"UserId":"u","Attributes":{}}}`)
			for i := range n {
				if err := e.KeepMessage(context.Background(), room, fmt.Sprintf("msg%09d", i), payload, n); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				kept, err := e.KeptMessages(context.Background(), room)
				if err != nil || len(kept) != n {
					b.Fatal(len(kept), err)
				}
			}
		})
	}
}

// BenchmarkKeepMessage is what a room with history adds to each message: the append and the
// trim, two requests to the stream.
func BenchmarkKeepMessage(b *testing.B) {
	e := openEngine(b, b.TempDir())
	room := chat.RoomKey{Account: acct, ID: chat.NewID()}
	payload := []byte(`{"Type":"MESSAGE"}`)
	b.ReportAllocs()
	for i := range b.N {
		if err := e.KeepMessage(context.Background(), room, fmt.Sprintf("msg%09d", i), payload, 50); err != nil {
			b.Fatal(err)
		}
	}
}
