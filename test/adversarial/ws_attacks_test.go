package adversarial

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/gorilla/websocket"
)

// Attacks through the WebSocket messaging endpoint. Each member joins the busy room (unless it
// needs a room of its own), so that whatever it does happens next to the control member.

// clientFrame frames a payload as a client must: masked. fin false starts or continues a
// fragmented message.
func clientFrame(fin bool, op byte, payload []byte) []byte {
	var b bytes.Buffer
	first := op
	if fin {
		first |= 0x80
	}
	b.WriteByte(first)
	switch n := len(payload); {
	case n < 126:
		b.WriteByte(0x80 | byte(n))
	case n < 1<<16:
		b.WriteByte(0x80 | 126)
		_ = binary.Write(&b, binary.BigEndian, uint16(n))
	default:
		b.WriteByte(0x80 | 127)
		_ = binary.Write(&b, binary.BigEndian, uint64(n))
	}
	mask := []byte{0x11, 0x22, 0x33, 0x44}
	b.Write(mask)
	for i, c := range payload {
		b.WriteByte(c ^ mask[i%4])
	}
	return b.Bytes()
}

const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opPing         = 0x9
)

func repeatFrames(n int, f []byte) []byte { return bytes.Repeat(f, n) }

func attackGarbageFrames(t *testing.T, e *env) {
	huge := []byte{0x81, 0xFF, 0x3F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4} // declares 2^62 bytes
	for _, tc := range []struct {
		rule  string
		bytes []byte
		code  int
	}{
		{"an unmasked frame closes with 1002", []byte{0x81, 0x02, '{', '}'}, websocket.CloseProtocolError},
		{"a reserved opcode closes with 1002", []byte{0x83, 0x80, 1, 2, 3, 4}, websocket.CloseProtocolError},
		{"a continuation with no message started closes with 1002", []byte{0x80, 0x80, 1, 2, 3, 4}, websocket.CloseProtocolError},
		{"RSV bits close with 1002", []byte{0xC1, 0x80, 1, 2, 3, 4}, websocket.CloseProtocolError},
		{"a close frame with a one-byte payload closes with 1002", clientFrame(true, 0x8, []byte{1}), websocket.CloseProtocolError},
		{"a fragmented control frame closes with 1002", clientFrame(false, opPing, nil), websocket.CloseProtocolError},
		{"text that is not UTF-8 closes with 1007", clientFrame(true, opText, []byte{'{', 0xff, 0xfe, '}'}), websocket.CloseInvalidFramePayloadData},
		{"a frame over the size limit closes with 1009", clientFrame(true, opText, bytes.Repeat([]byte("x"), maxFrameBytes+1)), websocket.CloseMessageTooBig},
		{"a frame header declaring 2^62 bytes closes with 1009 before any arrive", huge, websocket.CloseMessageTooBig},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			t.Parallel()
			ws := e.join(t, token(t, e.a, e.busy, "garbage"))
			if _, err := ws.UnderlyingConn().Write(tc.bytes); err != nil {
				t.Fatal(err)
			}
			if code := closeCode(t, ws, time.Minute); code != tc.code {
				t.Fatalf("closed with %d, want %d", code, tc.code)
			}
		})
	}
	t.Run("a binary frame gets ERROR 400 and the connection stays", func(t *testing.T) {
		t.Parallel()
		ws := e.join(t, token(t, e.a, e.busy, "binary"))
		if err := ws.WriteMessage(websocket.BinaryMessage, []byte(`{"Action":"SEND_MESSAGE"}`)); err != nil {
			t.Fatal(err)
		}
		p := nextError(t, ws)
		if p.ErrorCode != 400 || !strings.Contains(p.ErrorMessage, "binary") {
			t.Fatalf("got %+v, want ERROR 400 about binary frames", p)
		}
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"Action":"NOPE","RequestId":"after"}`)); err != nil {
			t.Fatal(err)
		}
		if p := nextError(t, ws); p.RequestId != "after" {
			t.Fatalf("after the binary frame got %+v", p)
		}
	})
}

// nextError reads the member's frames until an ERROR arrives (the busy room's traffic flows
// past it meanwhile).
func nextError(t testing.TB, ws *websocket.Conn) payload {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(time.Minute))
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("no ERROR: %v", err)
		}
		var p payload
		if err := json.Unmarshal(data, &p); err != nil {
			t.Fatalf("payload %q: %v", data, err)
		}
		if p.Type == "ERROR" {
			return p
		}
	}
}

// answers sends n requests in one write and collects the answer to each, by RequestId.
func answers(t *testing.T, ws *websocket.Conn, n int, request func(id string) string) (map[string]payload, time.Duration) {
	t.Helper()
	var batch bytes.Buffer
	for i := range n {
		batch.Write(clientFrame(true, opText, []byte(request(fmt.Sprint("mine/", i)))))
	}
	began := time.Now()
	if _, err := ws.UnderlyingConn().Write(batch.Bytes()); err != nil {
		t.Fatal(err)
	}
	got := map[string]payload{}
	_ = ws.SetReadDeadline(time.Now().Add(time.Minute))
	for len(got) < n {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("after %d of %d answers: %v", len(got), n, err)
		}
		var p payload
		if err := json.Unmarshal(data, &p); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(p.RequestId, "mine/") {
			continue // the room's traffic
		}
		if _, dup := got[p.RequestId]; dup {
			t.Fatalf("request %s answered twice", p.RequestId)
		}
		got[p.RequestId] = p
	}
	return got, time.Since(began)
}

func attackFloods(t *testing.T, e *env) {
	t.Run("a message flood past the room's rate gets ERROR 429 for what the rate does not admit", func(t *testing.T) {
		t.Parallel()
		room := newRoom(t, e.a, &ivschat.CreateRoomInput{MaximumMessageRatePerSecond: aws.Int32(floodRoomRate)})
		ws := e.join(t, token(t, e.a, room, "flooder"))
		const n = 200
		got, took := answers(t, ws, n, func(id string) string {
			return fmt.Sprintf(`{"Action":"SEND_MESSAGE","RequestId":%q,"Content":"flood"}`, id)
		})
		delivered, byRoomRate := 0, 0
		for _, p := range got {
			switch {
			case p.Type == "MESSAGE":
				delivered++
			case p.Type == "ERROR" && p.ErrorCode == 429:
				if strings.Contains(p.ErrorMessage, "room") {
					byRoomRate++
				}
			default:
				t.Fatalf("answer %+v, want MESSAGE or ERROR 429", p)
			}
		}
		// At most the room's rate in any second of the flood (a sliding window).
		if most := floodRoomRate * (int(took/time.Second) + 2); delivered > most || delivered == 0 {
			t.Fatalf("%d delivered in %s, want 1 to %d", delivered, took, most)
		}
		if byRoomRate == 0 {
			t.Fatal("no ERROR 429 named the room's rate")
		}
	})
	t.Run("a request flood past the connection's rate gets ERROR 429 for what the rate does not admit", func(t *testing.T) {
		t.Parallel()
		ws := e.join(t, token(t, e.a, e.busy, "requester"))
		const n = 200
		got, took := answers(t, ws, n, func(id string) string { return fmt.Sprintf(`{"Action":"NOPE","RequestId":%q}`, id) })
		handled, limited := 0, 0
		for _, p := range got {
			switch {
			case p.Type == "ERROR" && p.ErrorCode == 400:
				handled++
			case p.Type == "ERROR" && p.ErrorCode == 429 && strings.Contains(p.ErrorMessage, "connection"):
				limited++
			default:
				t.Fatalf("answer %+v, want ERROR 400 or ERROR 429 for the connection", p)
			}
		}
		// A burst of one second's worth, then the rate.
		if most := connectionRate + int(float64(connectionRate)*took.Seconds()) + 1; handled > most || limited == 0 {
			t.Fatalf("%d handled and %d refused in %s; want at most %d handled", handled, limited, took, most)
		}
	})
}

// Frame floods: frames that carry no request still cost the server work; every frame counts
// against the connection's budget (issue 12 defect 2).
func attackFrameFloods(t *testing.T, e *env) {
	for _, tc := range []struct {
		rule   string
		frames []byte
	}{
		{"endless empty continuation frames close with 1008",
			append(clientFrame(false, opText, []byte(`{"Action":`)), repeatFrames(5000, clientFrame(false, opContinuation, nil))...)},
		{"a flood of pings closes with 1008", repeatFrames(5000, clientFrame(true, opPing, []byte("p")))},
		{"a flood of binary frames closes with 1008", repeatFrames(5000, clientFrame(true, opBinary, []byte("b")))},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			t.Parallel()
			ws := e.join(t, token(t, e.a, e.busy, "frames"))
			go func() { _, _ = ws.UnderlyingConn().Write(tc.frames) }() // the server may stop reading midway
			if code := closeCode(t, ws, time.Minute); code != websocket.ClosePolicyViolation {
				t.Fatalf("closed with %d, want 1008", code)
			}
		})
	}
	t.Run("a fragmented message kept open with pings closes with 1008", func(t *testing.T) {
		t.Parallel()
		ws := e.join(t, token(t, e.a, e.busy, "dribbler"))
		raw := ws.UnderlyingConn()
		if _, err := raw.Write(clientFrame(false, opText, []byte(`{"Action":`))); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Second):
					if _, err := raw.Write(clientFrame(true, opPing, nil)); err != nil {
						return
					}
				}
			}
		}()
		if code := closeCode(t, ws, time.Minute); code != websocket.ClosePolicyViolation {
			t.Fatalf("closed with %d, want 1008", code)
		}
	})
}

func attackSlowMembers(t *testing.T, e *env) {
	t.Run("a member that never reads is dropped once its queue is full", func(t *testing.T) {
		t.Parallel()
		d := websocket.Dialer{Subprotocols: []string{token(t, e.a, e.busy, "never-reads")}, HandshakeTimeout: 30 * time.Second,
			NetDialContext: (&net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
				// A small receive buffer, so that the server's writes back up within seconds.
				return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
			}}).DialContext}
		ws, resp, err := d.Dial("ws://"+e.addr, nil)
		if err != nil {
			t.Fatalf("join: %v (%s)", err, status(resp))
		}
		defer ws.Close()
		raw := ws.UnderlyingConn()
		if !serverHolds(t, raw) {
			t.Fatal("the server's side of the member's socket is not in the socket table")
		}
		eventually(t, 2*time.Minute, "the server still holds the member that never reads", func() bool { return !serverHolds(t, raw) })
		// What was sent before the drop is still readable, then the connection ends.
		_ = raw.SetReadDeadline(time.Now().Add(time.Minute))
		if _, err := io.Copy(io.Discard, raw); err != nil && !isReset(err) {
			t.Fatalf("after the drop: %v", err)
		}
	})
	t.Run("a member that never answers a ping is dropped after two ping intervals, without a close frame", func(t *testing.T) {
		t.Parallel()
		ws := e.join(t, token(t, e.a, e.busy, "never-pongs"))
		joined := time.Now()
		var pings int
		ws.SetPingHandler(func(string) error { pings++; return nil })
		code := closeCode(t, ws, 2*time.Minute)
		if took := time.Since(joined); code != websocket.CloseAbnormalClosure || pings == 0 || took < 2*pingInterval-time.Second {
			t.Fatalf("ended with %d after %s and %d pings; want 1006 (no close frame) after at least %s of pings", code, took, pings, 2*pingInterval)
		}
	})
}

func attackTokenReplays(t *testing.T, e *env) {
	wantRefused := func(t *testing.T, tok string, code int, says string) {
		t.Helper()
		ws, resp, err := e.dial(tok)
		if err == nil {
			ws.Close()
			t.Fatalf("the handshake succeeded, want HTTP %d", code)
		}
		if resp == nil || resp.StatusCode != code {
			t.Fatalf("handshake: %v (%s), want HTTP %d", err, status(resp), code)
		}
		if says != "" {
			body := make([]byte, 512)
			n, _ := resp.Body.Read(body)
			if !strings.Contains(string(body[:n]), says) {
				t.Fatalf("refusal %q does not say %q", body[:n], says)
			}
		}
	}
	t.Run("a token used once is refused with 403 when replayed", func(t *testing.T) {
		t.Parallel()
		tok := token(t, e.a, e.busy, "replayed")
		e.join(t, tok).Close()
		wantRefused(t, tok, http.StatusForbidden, "already been used")
	})
	t.Run("a token raced by many handshakes admits exactly one; the others get 403", func(t *testing.T) {
		t.Parallel()
		tok := token(t, e.a, e.busy, "raced")
		const racers = 16
		var mu sync.Mutex
		statuses := map[int]int{}
		var wg sync.WaitGroup
		for range racers {
			wg.Go(func() {
				ws, resp, err := e.dial(tok)
				code := 101
				if err != nil {
					code = 0
					if resp != nil {
						code = resp.StatusCode
					}
				} else {
					ws.Close()
				}
				mu.Lock()
				statuses[code]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if statuses[101] != 1 || statuses[http.StatusForbidden] != racers-1 {
			t.Fatalf("handshake results %v, want one 101 and %d 403", statuses, racers-1)
		}
	})
	t.Run("a token of a deleted room is refused with 404", func(t *testing.T) {
		t.Parallel()
		room := newRoom(t, e.b, nil)
		tok := token(t, e.b, room, "late")
		if err := throughBusy(t, func() error {
			_, err := e.b.DeleteRoom(context.Background(), &ivschat.DeleteRoomInput{Identifier: room.Arn})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, tok, http.StatusNotFound, "")
	})
	t.Run("an altered token is refused with 401", func(t *testing.T) {
		t.Parallel()
		tok := []byte(token(t, e.a, e.busy, "forger"))
		i := len(tok) / 2
		tok[i] = map[bool]byte{true: 'B', false: 'A'}[tok[i] == 'A']
		wantRefused(t, string(tok), http.StatusUnauthorized, "")
	})
	t.Run("a token that was never issued is refused with 401", func(t *testing.T) {
		t.Parallel()
		wantRefused(t, strings.Repeat("A", 200), http.StatusUnauthorized, "")
	})
}

// attackMemberFlood joins many members at once into one room and drops them all without a
// close handshake.
func attackMemberFlood(t *testing.T, e *env) {
	const members = 300
	room := newRoom(t, e.b, nil)
	tokens := make([]string, members)
	for i := range tokens {
		tokens[i] = token(t, e.b, room, fmt.Sprint("crowd-", i))
	}
	conns := make([]*websocket.Conn, members)
	var wg sync.WaitGroup
	errs := make(chan error, members)
	sem := make(chan struct{}, 32)
	for i := range tokens {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ws, resp, err := e.dial(tokens[i])
			if err != nil {
				errs <- fmt.Errorf("member %d: %v (%s)", i, err, status(resp))
				return
			}
			conns[i] = ws
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, ws := range conns {
		if ws != nil {
			_ = ws.UnderlyingConn().Close()
		}
	}
}
