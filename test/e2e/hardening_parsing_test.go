package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"

	"github.com/ivschatd/ivschatd/internal/server"
	"github.com/ivschatd/ivschatd/test/sdkclient"
)

// Input that a lenient parser would take in a changed form or take at all: lone UTF-16
// surrogates, reserved tag keys. Every refusal leaves what is stored as it was.

func TestLoneSurrogateEscapesAreRefused(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	room := newRoom(t, c, &ivschat.CreateRoomInput{Tags: map[string]string{"k": "v"}})
	arn := aws.ToString(room.Arn)
	before := snapshot(t, c, arn)
	for _, tc := range []struct {
		rule string
		req  rawRequest
	}{
		{"a lone high surrogate in a tag value is a ValidationException",
			rawRequest{Method: "POST", Path: tagsPath(arn), Body: []byte(`{"tags":{"k":"a\ud800"}}`)}},
		{"a lone low surrogate in a tag key is a ValidationException",
			rawRequest{Method: "POST", Path: tagsPath(arn), Body: []byte(`{"tags":{"\udc00":"v"}}`)}},
		{"a high surrogate followed by another high one is a ValidationException",
			rawRequest{Method: "POST", Path: tagsPath(arn), Body: []byte(`{"tags":{"k":"\ud83d\ud83d"}}`)}},
		{"a lone surrogate in a chat token attribute is a ValidationException",
			rawRequest{Method: "POST", Path: "/CreateChatToken", Body: []byte(`{"roomIdentifier":"` + arn + `","userId":"u","attributes":{"a":"\udfff"}}`)}},
		{"a lone surrogate in CreateRoom tags is a ValidationException",
			rawRequest{Method: "POST", Path: "/CreateRoom", Body: []byte(`{"tags":{"k":"\ud800"}}`)}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			m := send(t, srv, tc.req, devSigning()).wantAWSError(t, http.StatusBadRequest, "ValidationException")
			if msg, _ := m["message"].(string); !strings.Contains(msg, "surrogate") {
				t.Fatalf("the message does not say why: %q", msg)
			}
		})
	}
	if after := snapshot(t, c, arn); after != before {
		t.Fatalf("state changed:\nbefore %s\nafter  %s", before, after)
	}
	t.Run("a surrogate pair is stored as the character it encodes", func(t *testing.T) {
		r := send(t, srv, rawRequest{Method: "POST", Path: tagsPath(arn), Body: []byte(`{"tags":{"emoji":"\ud83d\ude00"}}`)}, devSigning())
		if r.Status != http.StatusOK {
			t.Fatalf("TagResource: %d %s", r.Status, r.Body)
		}
		out, err := c.ListTagsForResource(context.Background(), &ivschat.ListTagsForResourceInput{ResourceArn: room.Arn})
		mustNoErr(t, err)
		if out.Tags["emoji"] != "😀" {
			t.Fatalf("stored %q", out.Tags["emoji"])
		}
	})
}

func TestTagKeysBeginningWithAWSAreRefused(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	ctx := context.Background()
	room := newRoom(t, c, nil)
	before := snapshot(t, c, aws.ToString(room.Arn))
	reserved := map[string]string{"aws:cloudformation:stack-name": "s"}
	t.Run("TagResource refuses a key beginning with aws:", func(t *testing.T) {
		_, err := c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: room.Arn, Tags: reserved})
		wantValidation(t, err, "tags.aws:cloudformation:stack-name")
	})
	t.Run("TagResource refuses the prefix in any case", func(t *testing.T) {
		_, err := c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: room.Arn, Tags: map[string]string{"AWS:x": "v"}})
		wantValidation(t, err, "tags.AWS:x")
	})
	t.Run("CreateRoom refuses a key beginning with aws:", func(t *testing.T) {
		_, err := c.CreateRoom(ctx, &ivschat.CreateRoomInput{Tags: reserved})
		wantValidation(t, err, "tags.aws:cloudformation:stack-name")
	})
	t.Run("CreateLoggingConfiguration refuses a key beginning with aws:", func(t *testing.T) {
		_, err := c.CreateLoggingConfiguration(ctx, &ivschat.CreateLoggingConfigurationInput{
			DestinationConfiguration: s3Destination("chat-logs"), Tags: reserved})
		wantValidation(t, err, "tags.aws:cloudformation:stack-name")
	})
	if after := snapshot(t, c, aws.ToString(room.Arn)); after != before {
		t.Fatalf("state changed:\nbefore %s\nafter  %s", before, after)
	}
	t.Run("a value beginning with aws: is accepted", func(t *testing.T) {
		_, err := c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: room.Arn, Tags: map[string]string{"source": "aws:thing"}})
		mustNoErr(t, err)
	})
}

func TestAbandonedHandshakesAreNotLoggedAsErrors(t *testing.T) {
	var logs sdkclient.LockedBuffer
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.AdminAddr, cfg.DataDir = "127.0.0.1:0", "127.0.0.1:0", t.TempDir()
	srv, err := server.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	c := devClient(srv)
	room := newRoom(t, c, nil)
	addr := strings.TrimPrefix(srv.URL(), "http://")
	// The attack: a whole handshake with a valid token, and the socket shut at once, so the
	// server's check of the token runs after the client is gone.
	for i := range 20 {
		token := newToken(t, c, room.Arn, fmt.Sprintf("u%d", i))
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: %s\r\n\r\n", token)
		conn.(*net.TCPConn).CloseWrite()
		conn.Close()
	}
	// A handshake that completes shows the server is past the abandoned ones.
	join(t, srv, newToken(t, c, room.Arn, "last"))
	time.Sleep(100 * time.Millisecond)
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "level=ERROR") {
			t.Fatalf("an abandoned handshake was logged as an error: %s", line)
		}
	}
}
