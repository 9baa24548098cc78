package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"

	"github.com/ivschatd/ivschatd/internal/server"
)

// base64URL is the alphabet of a token that is a valid WebSocket subprotocol: base64url, no padding.
var base64URL = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// within checks that got lies in [from+d, to+d], allowing the millisecond truncation of the wire.
func within(t *testing.T, what string, got *time.Time, from, to time.Time, d time.Duration) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s missing", what)
	}
	lo, hi := from.Add(d).Add(-time.Millisecond), to.Add(d).Add(time.Millisecond)
	if got.Before(lo) || got.After(hi) {
		t.Fatalf("%s %v, want between %v and %v", what, got.UTC(), lo.UTC(), hi.UTC())
	}
}

func TestCreateChatToken(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	ctx := context.Background()
	room := newRoom(t, c, nil)

	for _, tc := range []struct {
		rule    string
		minutes *int32
		session time.Duration
	}{
		{"sessionDurationInMinutes defaults to 60", nil, 60 * time.Minute},
		{"sessionDurationInMinutes 1 gives a session of 1 minute", aws.Int32(1), time.Minute},
		{"sessionDurationInMinutes 180 gives a session of 180 minutes", aws.Int32(180), 180 * time.Minute},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			before := time.Now()
			out, err := c.CreateChatToken(ctx, &ivschat.CreateChatTokenInput{RoomIdentifier: room.Arn, UserId: aws.String("user-1"),
				SessionDurationInMinutes: tc.minutes})
			mustNoErr(t, err)
			after := time.Now()
			if tok := aws.ToString(out.Token); !base64URL.MatchString(tok) || len(tok) < 32 {
				t.Fatalf("token %q is not base64url without padding", tok)
			}
			within(t, "tokenExpirationTime", out.TokenExpirationTime, before, after, 60*time.Minute)
			within(t, "sessionExpirationTime", out.SessionExpirationTime, before, after, tc.session)
		})
	}

	t.Run("every call issues a different token", func(t *testing.T) {
		seen := map[string]bool{}
		for range 20 {
			out, err := c.CreateChatToken(ctx, &ivschat.CreateChatTokenInput{RoomIdentifier: room.Arn, UserId: aws.String("same")})
			mustNoErr(t, err)
			if seen[*out.Token] {
				t.Fatal("token issued twice")
			}
			seen[*out.Token] = true
		}
	})

	t.Run("capabilities, attributes of 1 KB and a userId of 128 code points are accepted", func(t *testing.T) {
		_, err := c.CreateChatToken(ctx, &ivschat.CreateChatTokenInput{RoomIdentifier: room.Arn,
			UserId:       aws.String(strings.Repeat("ü", 128)),
			Capabilities: []types.ChatTokenCapability{types.ChatTokenCapabilitySendMessage, types.ChatTokenCapabilityDeleteMessage, types.ChatTokenCapabilityDisconnectUser},
			Attributes:   map[string]string{"k": strings.Repeat("v", 1023)}})
		mustNoErr(t, err)
	})

	t.Run("a room that does not exist is ResourceNotFound", func(t *testing.T) {
		_, err := c.CreateChatToken(ctx, &ivschat.CreateChatTokenInput{RoomIdentifier: aws.String(arnOfRoom("AAAAAAAAAAAA")), UserId: aws.String("u")})
		wantNotFound(t, err, "AAAAAAAAAAAA")
	})

	t.Run("a deleted room is ResourceNotFound", func(t *testing.T) {
		gone := newRoom(t, c, nil)
		_, err := c.DeleteRoom(ctx, &ivschat.DeleteRoomInput{Identifier: gone.Arn})
		mustNoErr(t, err)
		_, err = c.CreateChatToken(ctx, &ivschat.CreateChatTokenInput{RoomIdentifier: gone.Arn, UserId: aws.String("u")})
		wantNotFound(t, err, aws.ToString(gone.Id))
	})

	t.Run("a room ARN of another region is ResourceNotFound", func(t *testing.T) {
		other := strings.Replace(aws.ToString(room.Arn), "us-east-1", "eu-west-1", 1)
		_, err := c.CreateChatToken(ctx, &ivschat.CreateChatTokenInput{RoomIdentifier: aws.String(other), UserId: aws.String("u")})
		wantNotFound(t, err, aws.ToString(room.Id))
	})

	for _, tc := range []struct {
		rule   string
		in     ivschat.CreateChatTokenInput
		fields []string
	}{
		{"an empty userId is refused", ivschat.CreateChatTokenInput{UserId: aws.String("")}, []string{"userId"}},
		{"a userId over 128 code points is refused", ivschat.CreateChatTokenInput{UserId: aws.String(strings.Repeat("ü", 129))}, []string{"userId"}},
		{"sessionDurationInMinutes 0 is refused", ivschat.CreateChatTokenInput{UserId: aws.String("u"), SessionDurationInMinutes: aws.Int32(0)}, []string{"sessionDurationInMinutes"}},
		{"sessionDurationInMinutes 181 is refused", ivschat.CreateChatTokenInput{UserId: aws.String("u"), SessionDurationInMinutes: aws.Int32(181)}, []string{"sessionDurationInMinutes"}},
		{"an unknown capability is refused", ivschat.CreateChatTokenInput{UserId: aws.String("u"), Capabilities: []types.ChatTokenCapability{"VIEW_MESSAGE"}}, []string{"capabilities"}},
		{"attributes over 1 KB are refused", ivschat.CreateChatTokenInput{UserId: aws.String("u"), Attributes: map[string]string{"k": strings.Repeat("v", 1024)}}, []string{"attributes"}},
		{"a logging configuration ARN is not a room", ivschat.CreateChatTokenInput{UserId: aws.String("u"), RoomIdentifier: aws.String(arnOfLC("AAAAAAAAAAAA"))}, []string{"roomIdentifier"}},
		{"a bare room id is not an ARN", ivschat.CreateChatTokenInput{UserId: aws.String("u"), RoomIdentifier: aws.String("AAAAAAAAAAAA")}, []string{"roomIdentifier"}},
		{"every failing member is named at once", ivschat.CreateChatTokenInput{UserId: aws.String(""), SessionDurationInMinutes: aws.Int32(999),
			Capabilities: []types.ChatTokenCapability{"X"}}, []string{"userId", "sessionDurationInMinutes", "capabilities"}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			in := tc.in
			if in.RoomIdentifier == nil {
				in.RoomIdentifier = room.Arn
			}
			_, err := c.CreateChatToken(ctx, &in)
			wantValidation(t, err, tc.fields...)
		})
	}
}

func TestChatTokenLifetimeIsConfigurable(t *testing.T) {
	srv := startServer(t, func(cfg *server.Config) { cfg.TokenLifetime = 5 * time.Minute })
	c := devClient(srv)
	room := newRoom(t, c, nil)
	before := time.Now()
	out, err := c.CreateChatToken(context.Background(), &ivschat.CreateChatTokenInput{RoomIdentifier: room.Arn, UserId: aws.String("u")})
	mustNoErr(t, err)
	within(t, "tokenExpirationTime", out.TokenExpirationTime, before, time.Now(), 5*time.Minute)
	within(t, "sessionExpirationTime", out.SessionExpirationTime, before, time.Now(), 60*time.Minute)
}

func TestMessagingOperations(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	ctx := context.Background()
	room := newRoom(t, c, nil)
	missing := aws.String(arnOfRoom("AAAAAAAAAAAA"))

	t.Run("SendEvent returns a fresh 12-character id", func(t *testing.T) {
		seen := map[string]bool{}
		for range 5 {
			out, err := c.SendEvent(ctx, &ivschat.SendEventInput{RoomIdentifier: room.Arn, EventName: aws.String("app:poll"),
				Attributes: map[string]string{"question": "¿sí?"}})
			mustNoErr(t, err)
			if id := aws.ToString(out.Id); !isID(id) || seen[id] {
				t.Fatalf("id %q (seen before: %v)", id, seen[id])
			}
			seen[aws.ToString(out.Id)] = true
		}
	})

	t.Run("DeleteMessage returns a 12-character operation id of its own", func(t *testing.T) {
		out, err := c.DeleteMessage(ctx, &ivschat.DeleteMessageInput{RoomIdentifier: room.Arn, Id: aws.String("WhO6MW6iRdS5"), Reason: aws.String(strings.Repeat("r", 256))})
		mustNoErr(t, err)
		if id := aws.ToString(out.Id); !isID(id) || id == "WhO6MW6iRdS5" {
			t.Fatalf("id %q", id)
		}
	})

	t.Run("DisconnectUser succeeds for a user with no connection", func(t *testing.T) {
		_, err := c.DisconnectUser(ctx, &ivschat.DisconnectUserInput{RoomIdentifier: room.Arn, UserId: aws.String("nobody"), Reason: aws.String("bye")})
		mustNoErr(t, err)
	})

	for _, tc := range []struct {
		rule string
		call func() error
	}{
		{"SendEvent to a missing room", func() error {
			_, err := c.SendEvent(ctx, &ivschat.SendEventInput{RoomIdentifier: missing, EventName: aws.String("e")})
			return err
		}},
		{"DeleteMessage in a missing room", func() error {
			_, err := c.DeleteMessage(ctx, &ivschat.DeleteMessageInput{RoomIdentifier: missing, Id: aws.String("WhO6MW6iRdS5")})
			return err
		}},
		{"DisconnectUser in a missing room", func() error {
			_, err := c.DisconnectUser(ctx, &ivschat.DisconnectUserInput{RoomIdentifier: missing, UserId: aws.String("u")})
			return err
		}},
	} {
		t.Run(tc.rule+" is ResourceNotFound", func(t *testing.T) { wantNotFound(t, tc.call(), "AAAAAAAAAAAA") })
	}

	for _, tc := range []struct {
		rule   string
		call   func() error
		fields []string
	}{
		{"SendEvent with an empty eventName", func() error {
			_, err := c.SendEvent(ctx, &ivschat.SendEventInput{RoomIdentifier: room.Arn, EventName: aws.String("")})
			return err
		}, []string{"eventName"}},
		{"SendEvent with an eventName of 101 characters", func() error {
			_, err := c.SendEvent(ctx, &ivschat.SendEventInput{RoomIdentifier: room.Arn, EventName: aws.String(strings.Repeat("e", 101))})
			return err
		}, []string{"eventName"}},
		{"SendEvent with attributes over 1 KB", func() error {
			_, err := c.SendEvent(ctx, &ivschat.SendEventInput{RoomIdentifier: room.Arn, EventName: aws.String("e"), Attributes: map[string]string{"k": strings.Repeat("v", 1024)}})
			return err
		}, []string{"attributes"}},
		{"DeleteMessage with an id of 11 characters", func() error {
			_, err := c.DeleteMessage(ctx, &ivschat.DeleteMessageInput{RoomIdentifier: room.Arn, Id: aws.String("WhO6MW6iRdS")})
			return err
		}, []string{"id"}},
		{"DeleteMessage with an id outside [a-zA-Z0-9]", func() error {
			_, err := c.DeleteMessage(ctx, &ivschat.DeleteMessageInput{RoomIdentifier: room.Arn, Id: aws.String("WhO6MW6iRd-5")})
			return err
		}, []string{"id"}},
		{"DeleteMessage with a reason of 257 characters", func() error {
			_, err := c.DeleteMessage(ctx, &ivschat.DeleteMessageInput{RoomIdentifier: room.Arn, Id: aws.String("WhO6MW6iRdS5"), Reason: aws.String(strings.Repeat("r", 257))})
			return err
		}, []string{"reason"}},
		{"DeleteMessage with an empty reason", func() error {
			_, err := c.DeleteMessage(ctx, &ivschat.DeleteMessageInput{RoomIdentifier: room.Arn, Id: aws.String("WhO6MW6iRdS5"), Reason: aws.String("")})
			return err
		}, []string{"reason"}},
		{"DisconnectUser with an empty userId", func() error {
			_, err := c.DisconnectUser(ctx, &ivschat.DisconnectUserInput{RoomIdentifier: room.Arn, UserId: aws.String("")})
			return err
		}, []string{"userId"}},
		{"DisconnectUser with a reason of 257 characters", func() error {
			_, err := c.DisconnectUser(ctx, &ivschat.DisconnectUserInput{RoomIdentifier: room.Arn, UserId: aws.String("u"), Reason: aws.String(strings.Repeat("r", 257))})
			return err
		}, []string{"reason"}},
		{"SendEvent with a room identifier that is not an ARN", func() error {
			_, err := c.SendEvent(ctx, &ivschat.SendEventInput{RoomIdentifier: aws.String("room"), EventName: aws.String("e")})
			return err
		}, []string{"roomIdentifier"}},
	} {
		t.Run(tc.rule+" is a ValidationException", func(t *testing.T) { wantValidation(t, tc.call(), tc.fields...) })
	}
}
