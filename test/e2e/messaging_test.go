package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"
	"github.com/gorilla/websocket"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/server"
	"github.com/ivschatd/ivschatd/test/sdkclient"
)

const (
	capSend       = types.ChatTokenCapabilitySendMessage
	capDelete     = types.ChatTokenCapabilityDeleteMessage
	capDisconnect = types.ChatTokenCapabilityDisconnectUser
)

func sendMessage(requestID, content string) map[string]any {
	return map[string]any{"Action": "SEND_MESSAGE", "RequestId": requestID, "Content": content}
}

func TestHandshake(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	room := newRoom(t, c, nil)

	t.Run("the token is echoed as the subprotocol", func(t *testing.T) {
		token := newToken(t, c, room.Arn, "u")
		ws, resp, err := dial(srv, token)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != token || ws.Subprotocol() != token {
			t.Fatalf("subprotocol %q, want the token", got)
		}
	})

	used := newToken(t, c, room.Arn, "u")
	join(t, srv, used)
	gone := newRoom(t, c, nil)
	goneToken := newToken(t, c, gone.Arn, "u")
	if _, err := c.DeleteRoom(context.Background(), &ivschat.DeleteRoomInput{Identifier: gone.Arn}); err != nil {
		t.Fatal(err)
	}
	valid := newToken(t, c, room.Arn, "u")
	forged := valid[:len(valid)-4] + "AAAA"
	for _, tc := range []struct {
		name   string
		token  string
		status int
	}{
		{"a missing token is refused with 401", "", http.StatusUnauthorized},
		{"a malformed token is refused with 401", "not-a-token", http.StatusUnauthorized},
		{"a forged token is refused with 401", forged, http.StatusUnauthorized},
		{"an already used token is refused with 403", used, http.StatusForbidden},
		{"a token for a deleted room is refused with 404", goneToken, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
			if tc.token != "" {
				d.Subprotocols = []string{tc.token}
			}
			_, resp, err := d.Dial(wsURL(srv), nil)
			if err == nil || resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("got %v, %v; want HTTP %d", resp, err, tc.status)
			}
		})
	}

	t.Run("an expired token is refused with 401", func(t *testing.T) {
		short := startServer(t, func(cfg *server.Config) { cfg.TokenLifetime = 300 * time.Millisecond })
		sc := devClient(short)
		r := newRoom(t, sc, nil)
		token := newToken(t, sc, r.Arn, "u")
		time.Sleep(400 * time.Millisecond)
		_, resp, err := dial(short, token)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("got %v, %v", resp, err)
		}
	})

	t.Run("of connections racing with one token exactly one opens", func(t *testing.T) {
		token := newToken(t, c, room.Arn, "racer")
		var wg sync.WaitGroup
		var mu sync.Mutex
		opened := 0
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ws, _, err := dial(srv, token)
				if err == nil {
					mu.Lock()
					opened++
					mu.Unlock()
					defer ws.Close()
				}
			}()
		}
		wg.Wait()
		if opened != 1 {
			t.Fatalf("%d connections opened", opened)
		}
	})
}

func TestSendMessage(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	room := newRoom(t, c, &ivschat.CreateRoomInput{MaximumMessageLength: aws.Int32(5)})
	sender, err := c.CreateChatToken(context.Background(), &ivschat.CreateChatTokenInput{RoomIdentifier: room.Arn,
		UserId: aws.String("alice"), Capabilities: []types.ChatTokenCapability{capSend}, Attributes: map[string]string{"role": "host"}})
	if err != nil {
		t.Fatal(err)
	}
	alice := join(t, srv, *sender.Token)
	bob := join(t, srv, newToken(t, c, room.Arn, "bob"))

	t.Run("every member gets the message, the sender included", func(t *testing.T) {
		alice.send(map[string]any{"Action": "SEND_MESSAGE", "RequestId": "r1", "Content": "héllo", "Attributes": map[string]string{"k": "v"}})
		a, b := alice.next(), bob.next()
		if a.Id != b.Id || !chat.IsID(a.Id) {
			t.Fatalf("ids %q and %q", a.Id, b.Id)
		}
		if b.Type != "MESSAGE" || b.Content != "héllo" || b.RequestId != "r1" || b.Attributes["k"] != "v" {
			t.Fatalf("got %+v", b)
		}
		if b.Sender.UserId != "alice" || b.Sender.Attributes["role"] != "host" {
			t.Fatalf("sender %+v", b.Sender)
		}
		if _, err := time.Parse(time.RFC3339Nano, b.SendTime); err != nil {
			t.Fatalf("SendTime %q: %v", b.SendTime, err)
		}
	})
	t.Run("absent RequestId and Attributes arrive as empty values", func(t *testing.T) {
		alice.send(map[string]any{"Action": "SEND_MESSAGE", "Content": "x"})
		alice.next()
		_, data, err := bob.ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`"RequestId":""`, `"Attributes":{}`} {
			if !strings.Contains(string(data), want) {
				t.Fatalf("%s lacks %s", data, want)
			}
		}
	})

	errorCases := []struct {
		name string
		who  *member
		send any
		code int
	}{
		{"content longer than the room allows is a 400", alice, sendMessage("long", "123456"), 400},
		{"content length counts code points, not bytes", nil, nil, 0},
		{"empty content is a 400", alice, sendMessage("empty", ""), 400},
		{"attributes over 1 KB are a 413", alice, map[string]any{"Action": "SEND_MESSAGE", "RequestId": "big", "Content": "x",
			"Attributes": map[string]string{"k": strings.Repeat("v", 1100)}}, 413},
		{"a non-string attribute value is a 400", alice, map[string]any{"Action": "SEND_MESSAGE", "RequestId": "typ", "Content": "x",
			"Attributes": map[string]any{"k": 1}}, 400},
		{"an unknown action is a 400", alice, map[string]any{"Action": "SHOUT", "RequestId": "unk"}, 400},
		{"sending without the SEND_MESSAGE capability is a 403", bob, sendMessage("nocap", "hi"), 403},
		{"deleting without the DELETE_MESSAGE capability is a 403", bob, map[string]any{"Action": "DELETE_MESSAGE", "RequestId": "nodel", "Id": "AAAAAAAAAAAA"}, 403},
		{"disconnecting without the DISCONNECT_USER capability is a 403", bob, map[string]any{"Action": "DISCONNECT_USER", "RequestId": "nodis", "UserId": "alice"}, 403},
	}
	for _, tc := range errorCases {
		if tc.who == nil {
			t.Run(tc.name, func(t *testing.T) {
				alice.send(sendMessage("cp", "ééééé"))
				if f := alice.next(); f.Type != "MESSAGE" {
					t.Fatalf("5 two-byte characters in a room of length 5: got %+v", f)
				}
				bob.next()
			})
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			tc.who.send(tc.send)
			f := tc.who.next()
			wantReq := tc.send.(map[string]any)["RequestId"]
			if f.Type != "ERROR" || f.ErrorCode != tc.code || f.RequestId != wantReq || f.ErrorMessage == "" || !chat.IsID(f.Id) {
				t.Fatalf("got %+v, want ERROR %d for %v", f, tc.code, wantReq)
			}
		})
	}

	t.Run("bad frames get a 400 and the connection stays open", func(t *testing.T) {
		for _, bad := range [][]byte{[]byte("not json"), []byte(`[1,2]`), []byte(`{"Action":`), []byte(`"x"`)} {
			if err := alice.ws.WriteMessage(websocket.TextMessage, bad); err != nil {
				t.Fatal(err)
			}
			if f := alice.next(); f.Type != "ERROR" || f.ErrorCode != 400 {
				t.Fatalf("%q: got %+v", bad, f)
			}
		}
		if err := alice.ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		if f := alice.next(); f.Type != "ERROR" || f.ErrorCode != 400 {
			t.Fatalf("binary frame: got %+v", f)
		}
		alice.send(sendMessage("after", "ok"))
		if f := alice.next(); f.Type != "MESSAGE" || f.RequestId != "after" {
			t.Fatalf("after bad frames: got %+v", f)
		}
		bob.next()
	})
}

func TestBadFramesThatEndTheConnection(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	room := newRoom(t, c, nil)
	bystander := join(t, srv, newToken(t, c, room.Arn, "bystander"))
	for _, tc := range []struct {
		name  string
		frame []byte
		raw   bool // written to the socket as is, not framed by the client
		code  int
	}{
		{"a text frame of invalid UTF-8 closes with 1007", []byte{'{', 0xff, 0xfe, '}'}, false, websocket.CloseInvalidFramePayloadData},
		{"a frame over the size limit closes with 1009", []byte(`{"Content":"` + strings.Repeat("x", 64<<10) + `"}`), false, websocket.CloseMessageTooBig},
		{"an unmasked frame closes with 1002", []byte{0x81, 0x02, '{', '}'}, true, websocket.CloseProtocolError},
		{"a frame with a reserved opcode closes with 1002", []byte{0x83, 0x80, 1, 2, 3, 4}, true, websocket.CloseProtocolError},
		{"a continuation frame with no message started closes with 1002", []byte{0x80, 0x80, 1, 2, 3, 4}, true, websocket.CloseProtocolError},
		{"a frame with RSV bits set closes with 1002", []byte{0xC1, 0x80, 1, 2, 3, 4}, true, websocket.CloseProtocolError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := join(t, srv, newToken(t, c, room.Arn, "bad", capSend))
			write := func() error { return m.ws.WriteMessage(websocket.TextMessage, tc.frame) }
			if tc.raw {
				write = func() error { _, err := m.ws.UnderlyingConn().Write(tc.frame); return err }
			}
			if err := write(); err != nil {
				t.Fatal(err)
			}
			err := m.closed()
			if !websocket.IsCloseError(err, tc.code) {
				t.Fatalf("got %v, want close %d", err, tc.code)
			}
		})
	}
	t.Run("other members see no effect", func(t *testing.T) {
		id, err := c.SendEvent(context.Background(), &ivschat.SendEventInput{RoomIdentifier: room.Arn, EventName: aws.String("still-here")})
		if err != nil {
			t.Fatal(err)
		}
		if f := bystander.next(); f.EventName != "still-here" || f.Id != *id.Id {
			t.Fatalf("got %+v", f)
		}
	})
}

func TestRoomMessageRate(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	room := newRoom(t, c, &ivschat.CreateRoomInput{MaximumMessageRatePerSecond: aws.Int32(2)})
	a := join(t, srv, newToken(t, c, room.Arn, "a", capSend))
	b := join(t, srv, newToken(t, c, room.Arn, "b", capSend))

	t.Run("senders of a room share its rate; the excess is a 429", func(t *testing.T) {
		a.send(sendMessage("1", "x"))
		b.send(sendMessage("2", "x"))
		a.next()
		a.next()
		b.next()
		b.next()
		a.send(sendMessage("3", "x"))
		if f := a.next(); f.Type != "ERROR" || f.ErrorCode != 429 || f.RequestId != "3" {
			t.Fatalf("got %+v", f)
		}
	})
	t.Run("an updated rate applies to live connections at once", func(t *testing.T) {
		time.Sleep(1100 * time.Millisecond)
		if _, err := c.UpdateRoom(context.Background(), &ivschat.UpdateRoomInput{Identifier: room.Arn, MaximumMessageRatePerSecond: aws.Int32(1)}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		a.send(sendMessage("4", "x"))
		if f := a.next(); f.Type != "MESSAGE" {
			t.Fatalf("got %+v", f)
		}
		b.next()
		a.send(sendMessage("5", "x"))
		if f := a.next(); f.Type != "ERROR" || f.ErrorCode != 429 {
			t.Fatalf("got %+v", f)
		}
	})
	t.Run("an updated maximum length applies at once", func(t *testing.T) {
		if _, err := c.UpdateRoom(context.Background(), &ivschat.UpdateRoomInput{Identifier: room.Arn, MaximumMessageLength: aws.Int32(1),
			MaximumMessageRatePerSecond: aws.Int32(100)}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		a.send(sendMessage("6", "xy"))
		if f := a.next(); f.Type != "ERROR" || f.ErrorCode != 400 {
			t.Fatalf("got %+v", f)
		}
	})
}

func TestModeration(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	ctx := context.Background()
	room := newRoom(t, c, nil)
	mod := join(t, srv, newToken(t, c, room.Arn, "mod", capSend, capDelete, capDisconnect))
	viewer := join(t, srv, newToken(t, c, room.Arn, "viewer"))

	t.Run("DELETE_MESSAGE sends aws:DELETE_MESSAGE to the whole room", func(t *testing.T) {
		mod.send(map[string]any{"Action": "DELETE_MESSAGE", "RequestId": "d1", "Id": "AbCdEf123456", "Reason": "spam"})
		for _, m := range []*member{mod, viewer} {
			f := m.next()
			if f.Type != "EVENT" || f.EventName != "aws:DELETE_MESSAGE" || f.RequestId != "d1" ||
				f.Attributes["MessageId"] != "AbCdEf123456" || f.Attributes["MessageID"] != "AbCdEf123456" || f.Attributes["Reason"] != "spam" {
				t.Fatalf("got %+v", f)
			}
		}
	})
	t.Run("DELETE_MESSAGE with a malformed id is a 400", func(t *testing.T) {
		mod.send(map[string]any{"Action": "DELETE_MESSAGE", "RequestId": "d2", "Id": "short"})
		if f := mod.next(); f.ErrorCode != 400 || f.RequestId != "d2" {
			t.Fatalf("got %+v", f)
		}
	})
	t.Run("the control plane's DeleteMessage and SendEvent send the same events", func(t *testing.T) {
		del, err := c.DeleteMessage(ctx, &ivschat.DeleteMessageInput{RoomIdentifier: room.Arn, Id: aws.String("AbCdEf123456"), Reason: aws.String("r")})
		if err != nil {
			t.Fatal(err)
		}
		if f := viewer.next(); f.Id != *del.Id || f.EventName != "aws:DELETE_MESSAGE" || f.Attributes["MessageID"] != "AbCdEf123456" {
			t.Fatalf("got %+v", f)
		}
		ev, err := c.SendEvent(ctx, &ivschat.SendEventInput{RoomIdentifier: room.Arn, EventName: aws.String("app:poll"), Attributes: map[string]string{"q": "?"}})
		if err != nil {
			t.Fatal(err)
		}
		if f := viewer.next(); f.Id != *ev.Id || f.EventName != "app:poll" || f.Attributes["q"] != "?" || f.RequestId != "" {
			t.Fatalf("got %+v", f)
		}
		mod.next()
		mod.next()
	})
	t.Run("DISCONNECT_USER tells the room, then closes every connection of the user cleanly", func(t *testing.T) {
		target1 := join(t, srv, newToken(t, c, room.Arn, "troll"))
		target2 := join(t, srv, newToken(t, c, room.Arn, "troll"))
		mod.send(map[string]any{"Action": "DISCONNECT_USER", "RequestId": "x1", "UserId": "troll", "Reason": "rude"})
		for _, m := range []*member{mod, viewer, target1, target2} {
			f := m.next()
			if f.EventName != "aws:DISCONNECT_USER" || f.Attributes["UserId"] != "troll" || f.Attributes["Reason"] != "rude" || f.RequestId != "x1" {
				t.Fatalf("got %+v", f)
			}
		}
		for _, m := range []*member{target1, target2} {
			if err := m.closed(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				t.Fatalf("target: %v", err)
			}
		}
	})
	t.Run("the control plane's DisconnectUser does the same", func(t *testing.T) {
		target := join(t, srv, newToken(t, c, room.Arn, "troll2"))
		if _, err := c.DisconnectUser(ctx, &ivschat.DisconnectUserInput{RoomIdentifier: room.Arn, UserId: aws.String("troll2")}); err != nil {
			t.Fatal(err)
		}
		if f := target.next(); f.EventName != "aws:DISCONNECT_USER" {
			t.Fatalf("got %+v", f)
		}
		if err := target.closed(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			t.Fatalf("target: %v", err)
		}
		viewer.next()
		mod.next()
	})
	t.Run("a deleted room sends ERROR 404 to every member and closes", func(t *testing.T) {
		if _, err := c.DeleteRoom(ctx, &ivschat.DeleteRoomInput{Identifier: room.Arn}); err != nil {
			t.Fatal(err)
		}
		for _, m := range []*member{mod, viewer} {
			if f := m.next(); f.Type != "ERROR" || f.ErrorCode != 404 {
				t.Fatalf("got %+v", f)
			}
			if err := m.closed(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				t.Fatalf("close: %v", err)
			}
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	room := newRoom(t, c, nil)
	// The API's shortest session is a minute; seal a shorter one with the node's own keys.
	now := time.Now()
	grant := &chat.Token{ID: chat.NewID(), RoomARN: *room.Arn, UserID: "brief",
		TokenExpirationTime: now.Add(time.Minute), SessionExpirationTime: now.Add(500 * time.Millisecond)}
	m := join(t, srv, srv.Engine().Keyring().SealToken(grant))
	t.Run("at session expiry the member gets ERROR 401 and a clean close", func(t *testing.T) {
		if f := m.next(); f.Type != "ERROR" || f.ErrorCode != 401 {
			t.Fatalf("got %+v", f)
		}
		if err := m.closed(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			t.Fatalf("close: %v", err)
		}
	})
}

func TestSlowAndDeadClients(t *testing.T) {
	// Pings are far apart here, so that only the full queue can drop the stalled member.
	srv := startServer(t, func(cfg *server.Config) {
		cfg.Gateway.QueueFrames = 64
		cfg.Gateway.WriteTimeout = 30 * time.Second
	})
	c := devClient(srv)
	room := newRoom(t, c, nil)
	reader := join(t, srv, newToken(t, c, room.Arn, "reader"))
	stalled := join(t, srv, newToken(t, c, room.Arn, "stalled")) // never reads
	_ = stalled

	t.Run("a client that stops reading is dropped while the others get everything", func(t *testing.T) {
		acct := srv.Service()
		roomObj, _, err := acct.CurrentRoom(context.Background(), chat.RoomKey{Account: "123456789012", ID: idOf(*room.Arn)})
		if err != nil {
			t.Fatal(err)
		}
		const events = 3000
		big := strings.Repeat("x", 8<<10)
		var received atomic.Int64
		go func() {
			for received.Load() < events {
				_ = reader.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, _, err := reader.ws.ReadMessage(); err != nil {
					return
				}
				received.Add(1)
			}
		}()
		for i := range events {
			// Publish no faster than the reading member reads: only the stalled one falls behind.
			waitFor(t, func() bool { return int64(i)-received.Load() <= 8 })
			if err := acct.Deliver(context.Background(), roomObj, chat.Encode(chat.NewEvent(chat.NewID(), "", "load", map[string]string{"i": big}, time.Now()))); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, func() bool { return received.Load() == events })
		waitFor(t, func() bool { return srv.Gateway().Connections() == 1 })
	})
	t.Run("a peer that does not answer pings is dropped, one that does stays", func(t *testing.T) {
		srv := startServer(t, func(cfg *server.Config) { cfg.Gateway.PingInterval = 300 * time.Millisecond })
		c := devClient(srv)
		room := newRoom(t, c, nil)
		join(t, srv, newToken(t, c, room.Arn, "deaf")) // never reads, so never answers a ping
		alive := join(t, srv, newToken(t, c, room.Arn, "alive"))
		go func() {
			for {
				if _, _, err := alive.ws.ReadMessage(); err != nil {
					return
				}
			}
		}()
		waitFor(t, func() bool { return srv.Gateway().Connections() == 1 })
		time.Sleep(time.Second) // several ping intervals
		if n := srv.Gateway().Connections(); n != 1 {
			t.Fatalf("%d connections, want the live one only", n)
		}
	})
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	sdkclient.WaitFor(t, 10*time.Second, "the condition", cond)
}

func TestShutdownAsksClientsToReconnect(t *testing.T) {
	srv := startServer(t, func(cfg *server.Config) { cfg.Gateway.DrainTimeout = 300 * time.Millisecond })
	c := devClient(srv)
	room := newRoom(t, c, nil)
	m := join(t, srv, newToken(t, c, room.Arn, "u"))
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	if f := m.next(); f.Type != "ERROR" || f.ErrorCode != 401 {
		t.Fatalf("got %+v", f)
	}
	if err := m.closed(); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("close: %v", err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown did not finish")
	}
}

func TestFloodOfRequestsIsLimitedPerConnection(t *testing.T) {
	srv := startServer(t, func(cfg *server.Config) { cfg.Gateway.ConnectionRequestRate = 5 })
	c := devClient(srv)
	room := newRoom(t, c, nil)
	m := join(t, srv, newToken(t, c, room.Arn, "flood", capSend))
	for range 20 {
		if err := m.ws.WriteMessage(websocket.TextMessage, []byte("garbage")); err != nil {
			t.Fatal(err)
		}
	}
	codes := map[int]int{}
	for range 20 {
		codes[m.next().ErrorCode]++
	}
	if codes[400] != 5 || codes[429] != 15 {
		t.Fatalf("codes %v, want 5×400 then 15×429", codes)
	}
}

func TestSeparateMessagingListener(t *testing.T) {
	srv := startServer(t, func(cfg *server.Config) { cfg.WSAddr = "127.0.0.1:0" })
	c := devClient(srv)
	room := newRoom(t, c, nil)
	t.Run("members connect on --ws-addr", func(t *testing.T) {
		if !strings.HasPrefix(srv.WSURL(), "ws://") || strings.TrimPrefix(srv.WSURL(), "ws") == strings.TrimPrefix(srv.URL(), "http") {
			t.Fatalf("WSURL %s, URL %s", srv.WSURL(), srv.URL())
		}
		m := join(t, srv, newToken(t, c, room.Arn, "u", capSend))
		m.send(sendMessage("1", "hi"))
		if f := m.next(); f.Type != "MESSAGE" {
			t.Fatalf("got %+v", f)
		}
	})
	t.Run("the messaging listener does not serve the control plane", func(t *testing.T) {
		resp, err := http.Post("http"+strings.TrimPrefix(srv.WSURL(), "ws")+"/ListRooms", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

func TestHandshakeThatNeverFinishesIsDropped(t *testing.T) {
	srv := startServer(t, func(cfg *server.Config) { cfg.ReadHeaderTimeout = 300 * time.Millisecond })
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Half a handshake, then silence.
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, conn); err != nil {
		t.Fatalf("the server did not close the connection: %v", err)
	}
	t.Run("the server stays healthy", func(t *testing.T) {
		resp, err := http.Get(srv.URL() + "/healthz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("healthz: %v %v", resp, err)
		}
		resp.Body.Close()
	})
}

func TestCloseHandshake(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	room := newRoom(t, c, nil)

	t.Run("a client's close is answered with its code and the server then ends the connection", func(t *testing.T) {
		m := join(t, srv, newToken(t, c, room.Arn, "leaver"))
		closed := make(chan int, 1)
		m.ws.SetCloseHandler(func(code int, _ string) error { closed <- code; return nil })
		start := time.Now()
		if err := m.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4000, "bye"), time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		_ = m.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			if _, _, err := m.ws.ReadMessage(); err != nil {
				break
			}
		}
		select {
		case code := <-closed:
			if code != 4000 {
				t.Fatalf("the server answered close %d, want 4000", code)
			}
		default:
			t.Fatal("the server sent no close frame")
		}
		// The socket itself must end too, without waiting for the close grace.
		var one [1]byte
		_ = m.ws.UnderlyingConn().SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := m.ws.UnderlyingConn().Read(one[:]); err == nil {
			t.Fatal("the server wrote after its close frame")
		}
		if waited := time.Since(start); waited > server.DefaultConfig().Gateway.CloseGrace {
			t.Fatalf("the server held the socket for %v after the handshake", waited)
		}
	})

	t.Run("a ping is answered with a pong carrying its payload", func(t *testing.T) {
		m := join(t, srv, newToken(t, c, room.Arn, "pinger"))
		pong := make(chan string, 1)
		m.ws.SetPongHandler(func(data string) error { pong <- data; return nil })
		if err := m.ws.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		go func() {
			_ = m.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _, _ = m.ws.ReadMessage()
		}()
		select {
		case got := <-pong:
			if got != "are you there" {
				t.Fatalf("pong payload %q", got)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no pong")
		}
	})
}

func TestBrokenHandshakeWithGoodToken(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	room := newRoom(t, c, nil)
	for _, tc := range []struct {
		rule        string
		change      func(r *http.Request)
		status      int
		wantVersion bool
	}{
		{"a method other than GET is a 405", func(r *http.Request) { r.Method = http.MethodPost }, http.StatusMethodNotAllowed, false},
		{"a missing Sec-WebSocket-Key is a 400", func(r *http.Request) { r.Header.Del("Sec-WebSocket-Key") }, http.StatusBadRequest, false},
		{"a Sec-WebSocket-Key that is not 16 bytes of base64 is a 400", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "short") }, http.StatusBadRequest, false},
		{"another protocol version is a 426 naming version 13", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Version", "8") }, http.StatusUpgradeRequired, true},
		{"a missing version is a 400", func(r *http.Request) { r.Header.Del("Sec-WebSocket-Version") }, http.StatusBadRequest, false},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/", nil)
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "websocket")
			req.Header.Set("Sec-WebSocket-Version", "13")
			req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
			req.Header.Set("Sec-WebSocket-Protocol", newToken(t, c, room.Arn, "u"))
			tc.change(req)
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || len(body) == 0 {
				t.Fatalf("got %d %q, want %d with a reason", resp.StatusCode, body, tc.status)
			}
			if got := resp.Header.Get("Sec-WebSocket-Version"); tc.wantVersion && got != "13" {
				t.Fatalf("Sec-WebSocket-Version %q, want 13", got)
			}
		})
	}
}

// A client that sends its first request in the same packet as the handshake, before the 101
// arrives, breaks RFC 6455's order but loses nothing: the request is read after the upgrade.
func TestRequestSentWithTheHandshakeIsRead(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	room := newRoom(t, c, nil)
	token := newToken(t, c, room.Arn, "eager", capSend)
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	handshake := "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Protocol: " + token + "\r\n\r\n"
	request := []byte(`{"Action":"SEND_MESSAGE","RequestId":"early","Content":"hi"}`)
	mask := [4]byte{1, 2, 3, 4}
	frame := append([]byte{0x81, 0x80 | byte(len(request))}, mask[:]...)
	for i, b := range request {
		frame = append(frame, b^mask[i%4])
	}
	if _, err := conn.Write(append([]byte(handshake), frame...)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got []byte
	buf := make([]byte, 4096)
	for !strings.Contains(string(got), `"RequestId":"early"`) {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("read: %v; so far %q", err, got)
		}
		got = append(got, buf[:n]...)
	}
	if !strings.HasPrefix(string(got), "HTTP/1.1 101 ") || !strings.Contains(string(got), `"Type":"MESSAGE"`) {
		t.Fatalf("got %q, want the 101 and then the MESSAGE", got)
	}
}
