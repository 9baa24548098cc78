package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// The merge of a connection's replay with what reaches it live, through the room's real
// fan-out: before the history is read, and after it.
func TestReplayFirst(t *testing.T) {
	msg := func(id string) []byte {
		return chat.Encode(chat.NewMessage(id, "", id, nil, &chat.Token{UserID: "u"}, time.Unix(0, 0)))
	}
	kept := func(ids ...string) []*chat.KeptMessage {
		var out []*chat.KeptMessage
		for i, id := range ids {
			out = append(out, &chat.KeptMessage{Seq: uint64(i + 1), ID: id, Payload: msg(id)})
		}
		return out
	}
	const a, b, c, d = "aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc", "dddddddddddd"
	event := chat.Encode(chat.NewEvent("eeeeeeeeeeee", "", "app:e", nil, time.Unix(0, 0)))
	tests := []struct {
		rule   string
		before [][]byte // reach the connection live before the history is read
		kept   []*chat.KeptMessage
		n      int
		after  [][]byte // reach it live after the replay
		want   string
	}{
		{"the last n kept go first, oldest first", nil, kept(a, b, c), 2, nil, "b c"},
		{"a kept message already queued live is not replayed", [][]byte{msg(c)}, kept(a, b, c), 2, nil, "b c"},
		{"what was queued live keeps its place after the replay", [][]byte{event, msg(d)}, kept(a, b, c), 2, nil, "b c ? d"},
		{"the live copy of a replayed message arriving later is skipped", nil, kept(a, b, c), 2, [][]byte{msg(c), event, msg(d)}, "b c ? d"},
		{"a live copy of a message not replayed is delivered", nil, kept(a, b, c), 1, [][]byte{msg(b)}, "c b"},
		{"nothing kept replays nothing", [][]byte{msg(d)}, nil, 5, nil, "d"},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			broker := chat.NewMemoryBus().Node()
			g := testNode(broker, Config{QueueFrames: 16})
			room := testRoom(10)
			m := testMember(t, g, room, "late")
			publish := func(payloads [][]byte) {
				for _, p := range payloads {
					if err := broker.Publish(room.Key(), chat.Signal{Kind: chat.SignalDeliver, Payload: p}); err != nil {
						t.Fatal(err)
					}
				}
				settle(t, m.hub)
			}
			publish(tc.before)
			m.replayFirst(tc.kept, tc.n)
			publish(tc.after)
			var got []string
			eachFrame(m.waiting(t), func(f []byte) {
				if id := chat.MessageIDOf(framePayload(f)); id != "" {
					got = append(got, id[:1])
				} else {
					got = append(got, "?")
				}
			})
			if strings.Join(got, " ") != tc.want {
				t.Fatalf("queued %q, want %q", strings.Join(got, " "), tc.want)
			}
		})
	}
	t.Run("live copies are skipped only for a while", func(t *testing.T) {
		broker := chat.NewMemoryBus().Node()
		g := testNode(broker, Config{QueueFrames: 16})
		room := testRoom(10)
		m := testMember(t, g, room, "late")
		m.replayFirst(kept(a), 1)
		m.mu.Lock()
		m.replayedUntil = time.Now().Add(-time.Second)
		m.mu.Unlock()
		_ = broker.Publish(room.Key(), chat.Signal{Kind: chat.SignalDeliver, Payload: msg(a)})
		frames := 0
		eachFrame(m.waiting(t), func([]byte) { frames++ })
		if frames != 2 {
			t.Fatalf("%d frames queued, want the replayed one and its live copy", frames)
		}
	})
}

func TestFramePayload(t *testing.T) {
	var run []byte
	sizes := []int{0, 125, 126, 0xFFFF, 0x10000}
	for _, n := range sizes {
		p := []byte(strings.Repeat("x", n))
		f := frame(opText, p)
		if got := framePayload(f); string(got) != string(p) {
			t.Fatalf("payload of %d bytes came back as %d", n, len(got))
		}
		run = append(run, f...)
	}
	var got []int
	eachFrame(run, func(f []byte) { got = append(got, len(framePayload(f))) })
	if len(got) != len(sizes) {
		t.Fatalf("eachFrame found %v in a run of %v", got, sizes)
	}
	for i := range got {
		if got[i] != sizes[i] {
			t.Fatalf("eachFrame found %v in a run of %v", got, sizes)
		}
	}
}
