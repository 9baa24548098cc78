package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/gorilla/websocket"

	"github.com/ivschatd/ivschatd/internal/server"
)

// maskedFrame is one frame as a client writes it (RFC 6455 §5.2), for attacks the client
// library would not send.
func maskedFrame(op byte, fin bool, payload []byte) []byte {
	first := op
	if fin {
		first |= 0x80
	}
	b := []byte{first}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	default:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	}
	mask := [4]byte{9, 8, 7, 6}
	b = append(b, mask[:]...)
	for i, c := range payload {
		b = append(b, c^mask[i%4])
	}
	return b
}

const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opPing         = 0x9
)

// attack writes the opening bytes once, then the repeated bytes over and over, until the
// server's answer has been read or the socket fails; it returns how the connection ended.
// A flood pauses a millisecond between writes (still hundreds of thousands of frames a
// second): the server reads on for a bounded number of bytes after its close frame, and a
// client that outruns that bound gets a reset before it has read the close.
func attack(t *testing.T, m *member, opening, repeated []byte, pause time.Duration) error {
	t.Helper()
	raw := m.ws.UnderlyingConn()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := raw.Write(opening); err != nil {
			return
		}
		for {
			select {
			case <-stop:
				return
			case <-time.After(max(pause, time.Millisecond)):
			}
			_ = raw.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := raw.Write(repeated); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					continue
				}
				return
			}
		}
	}()
	// The attack runs for as long as the server lets it; the read deadline of closed() is
	// what a server that never reacts runs into.
	err := m.closed()
	close(stop)
	wg.Wait()
	return err
}

func TestFrameFloodsAreClosed(t *testing.T) {
	srv := startServer(t, func(cfg *server.Config) { cfg.Gateway.MessageTimeout = 2 * time.Second })
	c := devClient(srv)
	room := newRoom(t, c, nil)
	bystander := join(t, srv, newToken(t, c, room.Arn, "bystander"))

	// The attack of issue 12: a text frame with FIN=0, then endless empty continuations with a
	// ping now and then to keep the read deadline moving.
	var continuations []byte
	for i := range 1000 {
		continuations = append(continuations, maskedFrame(opContinuation, false, nil)...)
		if i%100 == 99 {
			continuations = append(continuations, maskedFrame(opPing, true, []byte("alive"))...)
		}
	}
	for _, tc := range []struct {
		rule              string
		opening, repeated []byte
		pause             time.Duration
	}{
		{
			rule:     "endless empty continuations of an unfinished message close with 1008",
			opening:  maskedFrame(opText, false, []byte(`{"Action":`)),
			repeated: continuations,
		},
		{
			rule:     "a ping flood closes with 1008",
			repeated: bytes.Repeat(maskedFrame(opPing, true, []byte("ping")), 200),
		},
		{
			rule:     "a flood of binary frames closes with 1008",
			repeated: bytes.Repeat(maskedFrame(opBinary, true, []byte{1, 2, 3}), 200),
		},
		{
			rule:     "a flood of empty text frames closes with 1008",
			repeated: bytes.Repeat(maskedFrame(opText, true, nil), 200),
		},
		{
			rule:     "a message kept open with pings closes with 1008 at its deadline",
			opening:  maskedFrame(opText, false, []byte(`{"Action":`)),
			repeated: maskedFrame(opPing, true, nil),
			pause:    200 * time.Millisecond,
		},
		{
			rule:     "a message begun and then left closes with 1008 at its deadline",
			opening:  maskedFrame(opText, false, []byte(`{"Action":`)),
			repeated: nil,
			pause:    time.Second,
		},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			m := join(t, srv, newToken(t, c, room.Arn, "attacker", capSend))
			if err := attack(t, m, tc.opening, tc.repeated, tc.pause); !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
				t.Fatalf("got %v, want close 1008", err)
			}
		})
		t.Run("after "+tc.rule+", the room is unaffected", func(t *testing.T) {
			id, err := c.SendEvent(context.Background(), &ivschat.SendEventInput{RoomIdentifier: room.Arn, EventName: aws.String("still-here")})
			if err != nil {
				t.Fatal(err)
			}
			if f := bystander.next(); f.EventName != "still-here" || f.Id != *id.Id {
				t.Fatalf("got %+v", f)
			}
		})
	}
}

// A client that behaves like the SDKs (requests in text frames, some of them fragmented,
// pings of its own, pongs to the server's) never runs into the frame limits, even when it
// sends more requests than the room's rate admits.
func TestClientsLikeTheSDKsAreNotLimitedByFrames(t *testing.T) {
	srv := startServer(t, func(cfg *server.Config) { cfg.Gateway.PingInterval = time.Second })
	c := devClient(srv)
	room := newRoom(t, c, &ivschat.CreateRoomInput{MaximumMessageRatePerSecond: aws.Int32(100)})
	m := join(t, srv, newToken(t, c, room.Arn, "chatty", capSend))
	pongs := make(chan struct{}, 100)
	m.ws.SetPongHandler(func(string) error { pongs <- struct{}{}; return nil })
	for round := range 3 {
		// A burst of 60 requests, one of them in four fragments, and a ping.
		for i := range 60 {
			id := strconv.Itoa(round*100 + i)
			if i == 30 {
				msg := []byte(`{"Action":"SEND_MESSAGE","RequestId":"` + id + `","Content":"in four parts"}`)
				q := len(msg) / 4
				parts := maskedFrame(opText, false, msg[:q])
				parts = append(parts, maskedFrame(opContinuation, false, msg[q:2*q])...)
				parts = append(parts, maskedFrame(opContinuation, false, msg[2*q:3*q])...)
				parts = append(parts, maskedFrame(opContinuation, true, msg[3*q:])...)
				if _, err := m.ws.UnderlyingConn().Write(parts); err != nil {
					t.Fatal(err)
				}
				continue
			}
			m.send(sendMessage(id, "hello"))
		}
		if err := m.ws.WriteControl(websocket.PingMessage, []byte("sdk"), time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		for range 60 {
			if f := m.next(); f.Type != "MESSAGE" && f.ErrorCode != 429 {
				t.Fatalf("round %d: got %+v, want a MESSAGE or ERROR 429", round, f)
			}
		}
		time.Sleep(500 * time.Millisecond) // the server pings meanwhile; the client answers
	}
	m.send(sendMessage("last", "still connected"))
	for {
		if f := m.next(); f.RequestId == "last" {
			if f.Type != "MESSAGE" {
				t.Fatalf("got %+v", f)
			}
			break
		}
	}
	if len(pongs) != 3 {
		t.Fatalf("the server answered %d of the client's 3 pings", len(pongs))
	}
}
