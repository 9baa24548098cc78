package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"
)

// sendAndRead sends a message and returns the first payload the sender gets back.
func sendAndRead(m *member, requestID string) frame {
	m.t.Helper()
	m.send(map[string]any{"Action": "SEND_MESSAGE", "RequestId": requestID, "Content": "hi"})
	return m.next()
}

// Slow mode (ivschatd:user-rate) refuses a user's sends beyond M per S seconds with ERROR
// 429 saying when the user may send again. A window of an hour keeps the test off the clock.
func TestSlowMode(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	ctx := context.Background()
	room := newRoom(t, c, &ivschat.CreateRoomInput{Tags: map[string]string{"ivschatd:user-rate": "2/3600"}})
	sender := func(user string) *member {
		return join(t, srv, newToken(t, c, room.Arn, user, types.ChatTokenCapabilitySendMessage))
	}
	alice1, alice2, bob := sender("alice"), sender("alice"), sender("bob")

	t.Run("a user's sends up to the rate are delivered", func(t *testing.T) {
		if f := sendAndRead(alice1, "a1"); f.Type != "MESSAGE" {
			t.Fatalf("got %+v", f)
		}
		alice2.next()
		bob.next()
	})
	t.Run("the user's connections share one limit", func(t *testing.T) {
		if f := sendAndRead(alice2, "a2"); f.Type != "MESSAGE" {
			t.Fatalf("got %+v", f)
		}
		alice1.next()
		bob.next()
		f := sendAndRead(alice1, "a3")
		if f.Type != "ERROR" || f.ErrorCode != 429 || f.RequestId != "a3" {
			t.Fatalf("got %+v, want ERROR 429", f)
		}
		if !strings.Contains(f.ErrorMessage, "slow mode") || !strings.Contains(f.ErrorMessage, "you may send again at ") {
			t.Fatalf("message %q does not say slow mode and when", f.ErrorMessage)
		}
	})
	t.Run("another user is not held back", func(t *testing.T) {
		if f := sendAndRead(bob, "b1"); f.Type != "MESSAGE" {
			t.Fatalf("got %+v", f)
		}
		alice1.next()
		alice2.next()
	})
	t.Run("removing the tag switches slow mode off at once for connected members", func(t *testing.T) {
		_, err := c.UntagResource(ctx, &ivschat.UntagResourceInput{ResourceArn: room.Arn, TagKeys: []string{"ivschatd:user-rate"}})
		mustNoErr(t, err)
		if f := sendAndRead(alice1, "a4"); f.Type != "MESSAGE" {
			t.Fatalf("got %+v", f)
		}
		alice2.next()
		bob.next()
	})
	t.Run("setting the tag switches slow mode on for connected members", func(t *testing.T) {
		_, err := c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: room.Arn, Tags: map[string]string{"ivschatd:user-rate": "1/3600"}})
		mustNoErr(t, err)
		if f := sendAndRead(bob, "b2"); f.Type != "ERROR" || f.ErrorCode != 429 {
			t.Fatalf("got %+v, want ERROR 429 (bob sent within the hour)", f)
		}
	})
	t.Run("a room without the tag never says slow mode", func(t *testing.T) {
		plain := newRoom(t, c, &ivschat.CreateRoomInput{MaximumMessageRatePerSecond: aws.Int32(1)})
		m := join(t, srv, newToken(t, c, plain.Arn, "carol", types.ChatTokenCapabilitySendMessage))
		// Sends in a burst until the room rate refuses one (a loaded machine may space them).
		for i := range 20 {
			f := sendAndRead(m, fmt.Sprint("c", i))
			if f.Type == "ERROR" {
				if f.ErrorCode != 429 || strings.Contains(f.ErrorMessage, "slow mode") {
					t.Fatalf("got %+v, want the room rate's 429", f)
				}
				return
			}
		}
		t.Fatal("20 sends in a burst to a 1/s room were all admitted")
	})
}
