package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"

	"github.com/ivschatd/ivschatd/internal/server"
)

// nextRaw reads the next payload as the server sent it.
func (m *member) nextRaw() []byte {
	m.t.Helper()
	_ = m.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := m.ws.ReadMessage()
	if err != nil {
		m.t.Fatalf("read: %v", err)
	}
	return data
}

// say sends a message and returns its payload as the sender received it.
func (m *member) say(content string) []byte {
	m.t.Helper()
	m.send(map[string]any{"Action": "SEND_MESSAGE", "RequestId": content, "Content": content, "Attributes": map[string]string{"k": content}})
	raw := m.nextRaw()
	if !strings.HasPrefix(string(raw), `{"Type":"MESSAGE"`) {
		m.t.Fatalf("sent %q, got %s", content, raw)
	}
	return raw
}

// roomMessages is one page of ListRoomMessages.
type roomMessages struct {
	Messages  []json.RawMessage
	NextToken string
}

func listMessages(t testing.TB, srv *server.Server, in map[string]any) roomMessages {
	t.Helper()
	var out roomMessages
	extension(t, srv, "ListRoomMessages", in, &out)
	return out
}

// contents lists the Content of each payload.
func contents(t testing.TB, payloads []json.RawMessage) string {
	t.Helper()
	var out []string
	for _, p := range payloads {
		var f frame
		if err := json.Unmarshal(p, &f); err != nil {
			t.Fatal(err)
		}
		out = append(out, f.Content)
	}
	return strings.Join(out, " ")
}

// A room with ivschatd:history keeps its last N delivered messages, exactly as delivered,
// and ListRoomMessages lists them newest first.
func TestHistory(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	ctx := context.Background()
	newMember := func(room *ivschat.CreateRoomOutput, user string) *member {
		return join(t, srv, newToken(t, c, room.Arn, user, types.ChatTokenCapabilitySendMessage, types.ChatTokenCapabilityDeleteMessage))
	}
	list := func(room *ivschat.CreateRoomOutput) string {
		return contents(t, listMessages(t, srv, map[string]any{"roomIdentifier": aws.ToString(room.Arn)}).Messages)
	}

	t.Run("kept messages are listed newest first, byte for byte as members received them", func(t *testing.T) {
		room := newRoom(t, c, &ivschat.CreateRoomInput{Tags: map[string]string{"ivschatd:history": "10"}})
		m := newMember(room, "alice")
		var sent []string
		for _, s := range []string{"one", "two", "three"} {
			sent = append([]string{string(m.say(s))}, sent...)
		}
		got := listMessages(t, srv, map[string]any{"roomIdentifier": aws.ToString(room.Arn)})
		if len(got.Messages) != 3 || got.NextToken != "" {
			t.Fatalf("got %d messages, token %q", len(got.Messages), got.NextToken)
		}
		for i, p := range got.Messages {
			if string(p) != sent[i] {
				t.Fatalf("message %d is\n%s\nmembers received\n%s", i, p, sent[i])
			}
		}
	})
	t.Run("past N the oldest go", func(t *testing.T) {
		room := newRoom(t, c, &ivschat.CreateRoomInput{Tags: map[string]string{"ivschatd:history": "2"}})
		m := newMember(room, "alice")
		for _, s := range []string{"a", "b", "c", "d"} {
			m.say(s)
		}
		if got := list(room); got != "d c" {
			t.Fatalf("kept %q", got)
		}
	})
	t.Run("a room without history keeps nothing and lists nothing", func(t *testing.T) {
		room := newRoom(t, c, nil)
		newMember(room, "alice").say("x")
		got := listMessages(t, srv, map[string]any{"roomIdentifier": aws.ToString(room.Arn)})
		if len(got.Messages) != 0 || got.NextToken != "" {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("a message deleted by a member or through DeleteMessage is no longer kept, and no older one comes back", func(t *testing.T) {
		room := newRoom(t, c, &ivschat.CreateRoomInput{Tags: map[string]string{"ivschatd:history": "3"}})
		m := newMember(room, "alice")
		var ids []string
		for _, s := range []string{"a", "b", "c", "d"} {
			var f frame
			_ = json.Unmarshal(m.say(s), &f)
			ids = append(ids, f.Id)
		}
		m.send(map[string]any{"Action": "DELETE_MESSAGE", "RequestId": "del", "Id": ids[2]})
		if f := m.next(); f.EventName != "aws:DELETE_MESSAGE" {
			t.Fatalf("got %+v", f)
		}
		if got := list(room); got != "d b" {
			t.Fatalf("after a member's deletion: %q", got)
		}
		_, err := c.DeleteMessage(ctx, &ivschat.DeleteMessageInput{RoomIdentifier: room.Arn, Id: aws.String(ids[3])})
		mustNoErr(t, err)
		m.next()
		if got := list(room); got != "b" {
			t.Fatalf("after DeleteMessage: %q", got)
		}
	})
	t.Run("events are not kept", func(t *testing.T) {
		room := newRoom(t, c, &ivschat.CreateRoomInput{Tags: map[string]string{"ivschatd:history": "3"}})
		m := newMember(room, "alice")
		_, err := c.SendEvent(ctx, &ivschat.SendEventInput{RoomIdentifier: room.Arn, EventName: aws.String("app:poll")})
		mustNoErr(t, err)
		m.next()
		m.say("a")
		if got := list(room); got != "a" {
			t.Fatalf("kept %q", got)
		}
	})
	t.Run("lowering ivschatd:history trims at once; removing it drops everything", func(t *testing.T) {
		room := newRoom(t, c, &ivschat.CreateRoomInput{Tags: map[string]string{"ivschatd:history": "5"}})
		m := newMember(room, "alice")
		for _, s := range []string{"a", "b", "c", "d"} {
			m.say(s)
		}
		_, err := c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: room.Arn, Tags: map[string]string{"ivschatd:history": "2"}})
		mustNoErr(t, err)
		if got := list(room); got != "d c" {
			t.Fatalf("after lowering: %q", got)
		}
		_, err = c.UntagResource(ctx, &ivschat.UntagResourceInput{ResourceArn: room.Arn, TagKeys: []string{"ivschatd:history"}})
		mustNoErr(t, err)
		if got := list(room); got != "" {
			t.Fatalf("after removing: %q", got)
		}
		m.say("e") // the member's node took the change: nothing is kept
		_, err = c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: room.Arn, Tags: map[string]string{"ivschatd:history": "5"}})
		mustNoErr(t, err)
		if got := list(room); got != "" {
			t.Fatalf("history tagged again starts empty, got %q", got)
		}
		m.say("f")
		if got := list(room); got != "f" {
			t.Fatalf("kept %q", got)
		}
	})
	t.Run("pages of maxResults follow each other with nextToken, newest first", func(t *testing.T) {
		room := newRoom(t, c, &ivschat.CreateRoomInput{Tags: map[string]string{"ivschatd:history": "10"}})
		m := newMember(room, "alice")
		for i := range 5 {
			m.say(fmt.Sprint(i))
		}
		arn := aws.ToString(room.Arn)
		var all []string
		token := ""
		for pages := 0; ; pages++ {
			in := map[string]any{"roomIdentifier": arn, "maxResults": 2}
			if token != "" {
				in["nextToken"] = token
			}
			p := listMessages(t, srv, in)
			all = append(all, contents(t, p.Messages))
			if token = p.NextToken; token == "" {
				break
			}
			if pages > 5 {
				t.Fatal("the pages do not end")
			}
		}
		if got := strings.Join(all, " "); got != "4 3 2 1 0" {
			t.Fatalf("pages %q", got)
		}
		first := listMessages(t, srv, map[string]any{"roomIdentifier": arn, "maxResults": 2})
		other := newRoom(t, c, &ivschat.CreateRoomInput{Tags: map[string]string{"ivschatd:history": "10"}})
		extensionCall(t, srv, "ListRoomMessages", map[string]any{"roomIdentifier": aws.ToString(other.Arn), "nextToken": first.NextToken}, devSigning()).
			wantAWSError(t, http.StatusBadRequest, "ValidationException")
	})
	t.Run("deleting the room drops its history", func(t *testing.T) {
		room := newRoom(t, c, &ivschat.CreateRoomInput{Tags: map[string]string{"ivschatd:history": "10"}})
		newMember(room, "alice").say("a")
		_, err := c.DeleteRoom(ctx, &ivschat.DeleteRoomInput{Identifier: room.Arn})
		mustNoErr(t, err)
		extensionCall(t, srv, "ListRoomMessages", map[string]any{"roomIdentifier": aws.ToString(room.Arn)}, devSigning()).
			wantAWSError(t, http.StatusNotFound, "ResourceNotFoundException")
	})
}

// ListRoomMessages refuses bad input with the control plane's errors, naming the field.
func TestListRoomMessagesErrors(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	room := newRoom(t, c, &ivschat.CreateRoomInput{Tags: map[string]string{"ivschatd:history": "10"}})
	arn := aws.ToString(room.Arn)
	missing := strings.TrimSuffix(arn, idOf(arn)) + "AbCdEfGhIjKl"
	otherAccount := strings.Replace(arn, ":123456789012:", ":210987654321:", 1)
	tests := []struct {
		rule   string
		in     map[string]any
		status int
		code   string
		field  string
	}{
		{"a missing roomIdentifier is a ValidationException", map[string]any{}, 400, "ValidationException", "roomIdentifier"},
		{"a room identifier that is not a room ARN is a ValidationException", map[string]any{"roomIdentifier": "room1"}, 400, "ValidationException", "roomIdentifier"},
		{"maxResults 0 is a ValidationException", map[string]any{"roomIdentifier": arn, "maxResults": 0}, 400, "ValidationException", "maxResults"},
		{"maxResults 101 is a ValidationException", map[string]any{"roomIdentifier": arn, "maxResults": 101}, 400, "ValidationException", "maxResults"},
		{"maxResults that is not an integer is a ValidationException", map[string]any{"roomIdentifier": arn, "maxResults": "5"}, 400, "ValidationException", "maxResults"},
		{"a nextToken this server did not issue is a ValidationException", map[string]any{"roomIdentifier": arn, "nextToken": "forged"}, 400, "ValidationException", "nextToken"},
		{"a nextToken of 1025 characters is a ValidationException", map[string]any{"roomIdentifier": arn, "nextToken": strings.Repeat("t", 1025)}, 400, "ValidationException", "nextToken"},
		{"a room that does not exist is a ResourceNotFoundException", map[string]any{"roomIdentifier": missing}, 404, "ResourceNotFoundException", ""},
		{"another account's room is a ResourceNotFoundException", map[string]any{"roomIdentifier": otherAccount}, 404, "ResourceNotFoundException", ""},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			m := extensionCall(t, srv, "ListRoomMessages", tc.in, devSigning()).wantAWSError(t, tc.status, tc.code)
			if tc.field != "" {
				fields, _ := m["fieldList"].([]any)
				if len(fields) != 1 || fields[0].(map[string]any)["name"] != tc.field {
					t.Fatalf("fieldList %v, want %s", m["fieldList"], tc.field)
				}
			}
		})
	}
	t.Run("maxResults 100 is allowed", func(t *testing.T) {
		listMessages(t, srv, map[string]any{"roomIdentifier": arn, "maxResults": 100})
	})
}

// Only delivered messages are kept: one the review handler denies is not, one it rewrites is
// kept as delivered.
func TestHistoryKeepsWhatTheReviewDelivered(t *testing.T) {
	hs := httptest.NewServer(&reviewHandler{})
	defer hs.Close()
	srv := startServer(t, func(cfg *server.Config) {
		cfg.Review.HTTPEndpoints = map[string]string{reviewFunction: hs.URL}
	})
	c := devClient(srv)
	room := newRoom(t, c, &ivschat.CreateRoomInput{Tags: map[string]string{"ivschatd:history": "10"},
		MessageReviewHandler: &types.MessageReviewHandler{Uri: aws.String(reviewFunction)}})
	m := join(t, srv, newToken(t, c, room.Arn, "alice", capSend))
	for _, content := range []string{"fine", "deny me", "rewrite me"} {
		m.send(map[string]any{"Action": "SEND_MESSAGE", "RequestId": content, "Content": content})
		m.next()
	}
	if got := contents(t, listMessages(t, srv, map[string]any{"roomIdentifier": aws.ToString(room.Arn)}).Messages); got != "rewritten fine" {
		t.Fatalf("kept %q", got)
	}
}

// A new connection to a room with ivschatd:replay first receives the last N kept messages,
// byte for byte as first delivered, oldest first, then the live ones.
func TestReplay(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	ctx := context.Background()
	room := newRoom(t, c, &ivschat.CreateRoomInput{MaximumMessageRatePerSecond: aws.Int32(100),
		Tags: map[string]string{"ivschatd:history": "10", "ivschatd:replay": "3"}})
	sender := join(t, srv, newToken(t, c, room.Arn, "alice", capSend))
	var sent [][]byte
	for _, s := range []string{"a", "b", "c", "d"} {
		sent = append(sent, sender.say(s))
	}
	t.Run("the last N kept messages come first, byte for byte, oldest first, then live ones", func(t *testing.T) {
		late := join(t, srv, newToken(t, c, room.Arn, "bob"))
		for _, want := range sent[1:] {
			if got := late.nextRaw(); string(got) != string(want) {
				t.Fatalf("replayed\n%s\nfirst delivered as\n%s", got, want)
			}
		}
		live := sender.say("e")
		if got := late.nextRaw(); string(got) != string(live) {
			t.Fatalf("after the replay got %s, want the live %s", got, live)
		}
	})
	t.Run("a deleted message is not replayed", func(t *testing.T) {
		var f frame
		_ = json.Unmarshal(sent[3], &f)
		_, err := c.DeleteMessage(ctx, &ivschat.DeleteMessageInput{RoomIdentifier: room.Arn, Id: aws.String(f.Id)})
		mustNoErr(t, err)
		sender.next()
		late := join(t, srv, newToken(t, c, room.Arn, "carol"))
		if got := contentsOf(t, late, 3); got != "b c e" {
			t.Fatalf("replayed %q", got)
		}
	})
	t.Run("removing ivschatd:history stops replay", func(t *testing.T) {
		_, err := c.UntagResource(ctx, &ivschat.UntagResourceInput{ResourceArn: room.Arn, TagKeys: []string{"ivschatd:history"}})
		mustNoErr(t, err)
		late := join(t, srv, newToken(t, c, room.Arn, "dave"))
		sender.say("f")
		if got := contentsOf(t, late, 1); got != "f" {
			t.Fatalf("got %q, want only the live message", got)
		}
	})
	t.Run("ivschatd:replay 0 replays nothing", func(t *testing.T) {
		room := newRoom(t, c, &ivschat.CreateRoomInput{Tags: map[string]string{"ivschatd:history": "10", "ivschatd:replay": "0"}})
		sender := join(t, srv, newToken(t, c, room.Arn, "alice", capSend))
		sender.say("old")
		late := join(t, srv, newToken(t, c, room.Arn, "bob"))
		sender.say("new")
		if got := contentsOf(t, late, 1); got != "new" {
			t.Fatalf("got %q", got)
		}
	})
}

// contentsOf reads n payloads and lists their Content.
func contentsOf(t testing.TB, m *member, n int) string {
	t.Helper()
	var out []string
	for range n {
		out = append(out, m.next().Content)
	}
	return strings.Join(out, " ")
}

// Members who connect while messages are being sent get every message once, in order: the
// replayed ones, then the live ones, with none missing between them and none twice.
func TestReplayWhileMessagesFlow(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	const total, replay = 200, 20
	room := newRoom(t, c, &ivschat.CreateRoomInput{MaximumMessageRatePerSecond: aws.Int32(100),
		Tags: map[string]string{"ivschatd:history": "50", "ivschatd:replay": fmt.Sprint(replay)}})
	sender := join(t, srv, newToken(t, c, room.Arn, "alice", capSend))
	for i := range replay {
		sender.say(fmt.Sprint(i))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := replay; i < total; {
			// One at a time, each sent once the previous is delivered: the room's order is the
			// sender's. A send over the room's rate is refused (429) and sent again.
			_ = sender.ws.WriteJSON(map[string]any{"Action": "SEND_MESSAGE", "Content": fmt.Sprint(i)})
			_ = sender.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			var f frame
			if err := sender.ws.ReadJSON(&f); err != nil {
				return
			}
			if f.Type == "MESSAGE" {
				i++
			} else {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}()
	var joiners []*member
	for i := 0; i < 8; i++ {
		joiners = append(joiners, join(t, srv, newToken(t, c, room.Arn, fmt.Sprint("late", i))))
		time.Sleep(20 * time.Millisecond)
	}
	<-done
	for i, m := range joiners {
		t.Run(fmt.Sprintf("joiner %d gets a gapless run ending with the last message", i), func(t *testing.T) {
			m.t = t
			first := -1
			for want := -1; want != total-1; {
				f := m.next()
				var n int
				if _, err := fmt.Sscan(f.Content, &n); err != nil || f.Type != "MESSAGE" {
					t.Fatalf("got %+v", f)
				}
				if first < 0 {
					first, want = n, n
				} else if want++; n != want {
					t.Fatalf("after message %d got %d (first %d)", want-1, n, first)
				}
			}
			if first > total-replay {
				t.Fatalf("the run began at %d: fewer than %d replayed", first, replay)
			}
		})
	}
}

// BenchmarkConnectReplay is a member's connect to a room that replays 0 or 50 messages, up to
// its last replayed message; the process's CPU per connect (server and client, both in this
// process) is reported beside the time.
func BenchmarkConnectReplay(b *testing.B) {
	srv := startServer(b, nil)
	c := devClient(srv)
	for _, replay := range []int{0, 50} {
		b.Run(fmt.Sprintf("replay=%d", replay), func(b *testing.B) {
			room := newRoom(b, c, &ivschat.CreateRoomInput{MaximumMessageRatePerSecond: aws.Int32(100),
				Tags: map[string]string{"ivschatd:history": "50", "ivschatd:replay": fmt.Sprint(replay)}})
			sender := join(b, srv, newToken(b, c, room.Arn, "sender", capSend))
			for i := range 50 {
				sender.say(fmt.Sprint(i))
				time.Sleep(10 * time.Millisecond) // under the room's rate
			}
			tokens := make([]string, b.N)
			for i := range tokens {
				tokens[i] = newToken(b, c, room.Arn, "viewer")
			}
			b.ResetTimer()
			cpu0 := processCPU()
			for i := range b.N {
				ws, _, err := dial(srv, tokens[i])
				if err != nil {
					b.Fatal(err)
				}
				for range replay {
					if _, _, err := ws.ReadMessage(); err != nil {
						b.Fatal(err)
					}
				}
				ws.Close()
			}
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/connect")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "connects/s")
		})
	}
}

// A room's kept messages are in the store: after a restart of the node they are listed and
// replayed as before, byte for byte.
func TestHistorySurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	start := func() *server.Server {
		cfg := server.DefaultConfig()
		cfg.Addr, cfg.AdminAddr, cfg.DataDir = "127.0.0.1:0", "127.0.0.1:0", dir
		return startNode(t, cfg)
	}
	first := start()
	c := devClient(first)
	room := newRoom(t, c, &ivschat.CreateRoomInput{Tags: map[string]string{"ivschatd:history": "5", "ivschatd:replay": "5"}})
	m := join(t, first, newToken(t, c, room.Arn, "alice", capSend))
	sent := [][]byte{m.say("before"), m.say("the restart")}
	m.ws.Close()
	stopNode(t, first)

	second := start()
	defer stopNode(t, second)
	c = devClient(second)
	got := listMessages(t, second, map[string]any{"roomIdentifier": aws.ToString(room.Arn)})
	if len(got.Messages) != 2 || string(got.Messages[0]) != string(sent[1]) || string(got.Messages[1]) != string(sent[0]) {
		t.Fatalf("after the restart ListRoomMessages gives %s", got.Messages)
	}
	late := join(t, second, newToken(t, c, room.Arn, "bob"))
	for _, want := range sent {
		if got := late.nextRaw(); string(got) != string(want) {
			t.Fatalf("replayed after the restart\n%s\nfirst delivered as\n%s", got, want)
		}
	}
}
