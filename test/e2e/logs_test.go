package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"

	"github.com/ivschatd/ivschatd/internal/api"
	"github.com/ivschatd/ivschatd/internal/server"
	"github.com/ivschatd/ivschatd/test/sdkclient"
)

// jsonLines are the JSON log lines written to b so far.
func jsonLines(t testing.TB, b *sdkclient.LockedBuffer) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

func TestLogs(t *testing.T) {
	logs := &sdkclient.LockedBuffer{}
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.AdminAddr, cfg.DataDir = "127.0.0.1:0", "", t.TempDir()
	srv, err := server.Start(context.Background(), cfg, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	c := devClient(srv)
	ctx := context.Background()

	room, err := c.CreateRoom(ctx, &ivschat.CreateRoomInput{})
	mustNoErr(t, err)
	roomRequestID, _ := awsmiddleware.GetRequestIDMetadata(room.ResultMetadata)
	token := newToken(t, c, room.Arn, "alice-logs", capSend)
	const content = "the content of a private message"
	m := join(t, srv, token)
	m.send(map[string]any{"Action": "SEND_MESSAGE", "RequestId": "r1", "Content": content, "Attributes": map[string]string{"secret": "attribute value"}})
	m.next()
	_ = m.ws.Close()
	_, err = c.GetRoom(ctx, &ivschat.GetRoomInput{Identifier: awssdk.String("no-such-room")})
	if err == nil {
		t.Fatal("GetRoom of a missing room succeeded")
	}

	find := func(msg string, match func(map[string]any) bool) map[string]any {
		var found map[string]any
		eventually(t, 10*time.Second, func() error {
			for _, l := range jsonLines(t, logs) {
				if l["msg"] == msg && match(l) {
					found = l
					return nil
				}
			}
			return fmt.Errorf("no %q line in\n%s", msg, logs.String())
		})
		return found
	}

	t.Run("a control-plane request is one line at info with operation, account, status, duration in milliseconds and the request id returned", func(t *testing.T) {
		l := find("request", func(l map[string]any) bool { return l["operation"] == "CreateRoom" })
		if l["level"] != "INFO" || l["account"] != "123456789012" || l["status"] != float64(200) || l["request_id"] != roomRequestID {
			t.Errorf("line %v; request id returned %q", l, roomRequestID)
		}
		if ms, ok := l["duration_ms"].(float64); !ok || ms < 0 || ms > 60_000 {
			t.Errorf("duration_ms %v, want milliseconds as a number", l["duration_ms"])
		}
	})
	t.Run("a refused request says its status", func(t *testing.T) {
		l := find("request", func(l map[string]any) bool { return l["operation"] == "GetRoom" })
		if l["status"] != float64(400) {
			t.Errorf("line %v", l)
		}
	})
	t.Run("a connect is logged at debug with room and user", func(t *testing.T) {
		l := find("member connected", func(l map[string]any) bool { return l["user"] == "alice-logs" })
		if l["level"] != "DEBUG" || l["room"] != *room.Arn {
			t.Errorf("line %v", l)
		}
	})
	t.Run("a disconnect is logged at debug with room, user and reason", func(t *testing.T) {
		l := find("member disconnected", func(l map[string]any) bool { return l["user"] == "alice-logs" })
		if l["level"] != "DEBUG" || l["room"] != *room.Arn || l["reason"] == "" || l["reason"] == nil {
			t.Errorf("line %v", l)
		}
	})
	t.Run("no token, secret or message content is logged", func(t *testing.T) {
		all := logs.String()
		for _, secret := range []string{token, api.DevSecretAccessKey, content, "attribute value"} {
			if strings.Contains(all, secret) {
				t.Errorf("the log holds %q:\n%s", secret, all)
			}
		}
	})
}
