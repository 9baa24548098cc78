package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"

	"github.com/ivschatd/ivschatd/internal/server"
)

// TestMetricsCountWhatHappened drives a node through the official clients and reads back from
// /metrics what each step must have counted.
func TestMetricsCountWhatHappened(t *testing.T) {
	handler := &reviewHandler{}
	hs := httptest.NewServer(handler)
	defer hs.Close()
	srv := startServer(t, func(cfg *server.Config) {
		cfg.Review.HTTPEndpoints = map[string]string{reviewFunction: hs.URL}
	})
	c := devClient(srv)
	ctx := context.Background()
	room := newRoom(t, c, &ivschat.CreateRoomInput{MaximumMessageRatePerSecond: aws.Int32(100)})
	reviewed := newRoom(t, c, &ivschat.CreateRoomInput{MaximumMessageRatePerSecond: aws.Int32(100),
		MessageReviewHandler: &types.MessageReviewHandler{Uri: aws.String(reviewFunction), FallbackResult: types.FallbackResultDeny}})

	alice := join(t, srv, newToken(t, c, room.Arn, "alice", capSend, capDelete))
	bob := join(t, srv, newToken(t, c, room.Arn, "bob"))
	reused := newToken(t, c, room.Arn, "carol")
	join(t, srv, reused)
	if _, resp, err := dial(srv, reused); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a reused token connected: %v", err)
	}
	if _, _, err := dial(srv, "not-a-token"); err == nil {
		t.Fatal("a garbage token connected")
	}
	watcher := join(t, srv, newToken(t, c, reviewed.Arn, "dave", capSend))

	alice.send(map[string]any{"Action": "SEND_MESSAGE", "RequestId": "1", "Content": "hello"})
	alice.next()
	bob.next()
	alice.send(map[string]any{"Action": "SEND_MESSAGE", "RequestId": "2", "Content": ""})
	alice.next()
	bob.send(map[string]any{"Action": "SEND_MESSAGE", "RequestId": "3", "Content": "no capability"})
	bob.next()
	alice.send(map[string]any{"Action": "DELETE_MESSAGE", "RequestId": "4", "Id": "AbCdEfGhIjKl"})
	alice.next()
	bob.next()
	watcher.send(map[string]any{"Action": "SEND_MESSAGE", "RequestId": "5", "Content": "fine"})
	watcher.next()
	watcher.send(map[string]any{"Action": "SEND_MESSAGE", "RequestId": "6", "Content": "deny me"})
	watcher.next()
	watcher.send(map[string]any{"Action": "SEND_MESSAGE", "RequestId": "7", "Content": "crash"})
	watcher.next()
	_, err := c.SendEvent(ctx, &ivschat.SendEventInput{RoomIdentifier: room.Arn, EventName: aws.String("app:ping")})
	mustNoErr(t, err)
	alice.next()
	bob.next()
	resp, err := http.Post(srv.URL()+"/NoSuchOperation", "application/json", nil)
	mustNoErr(t, err)
	resp.Body.Close()

	got := scrape(t, srv)
	for _, tt := range []struct {
		series string
		want   float64
	}{
		{`ivschatd_connections`, 4},
		{`ivschatd_rooms_active`, 2},
		{`ivschatd_connects_total{result="accepted"}`, 4},
		{`ivschatd_connects_total{result="token_reused"}`, 1},
		{`ivschatd_connects_total{result="token_invalid"}`, 1},
		{`ivschatd_messages_total{outcome="delivered"}`, 2},
		{`ivschatd_messages_total{outcome="invalid"}`, 1},
		{`ivschatd_messages_total{outcome="forbidden"}`, 1},
		{`ivschatd_messages_total{outcome="denied"}`, 1},
		{`ivschatd_messages_total{outcome="review_failed"}`, 1},
		{`ivschatd_messages_total{outcome="rate_limited"}`, 0},
		{`ivschatd_events_total{source="delete_message"}`, 1},
		{`ivschatd_events_total{source="api"}`, 1},
		// hello to 3 members, the delete event to 3, the SendEvent to 3, "fine" to 1.
		{`ivschatd_deliveries_total`, 10},
		{`ivschatd_slow_consumer_drops_total`, 0},
		{`ivschatd_review_duration_seconds_count{result="allowed"}`, 1},
		{`ivschatd_review_duration_seconds_count{result="denied"}`, 1},
		{`ivschatd_review_duration_seconds_count{result="fallback"}`, 1},
		{`ivschatd_review_fallbacks_total`, 1},
		{`ivschatd_api_requests_total{code="200",operation="SendEvent"}`, 1},
		{`ivschatd_api_requests_total{code="200",operation="CreateRoom"}`, 2},
		{`ivschatd_api_requests_total{code="404",operation="unknown"}`, 1},
		{`ivschatd_api_request_duration_seconds_count{operation="CreateChatToken"}`, 4},
		{`ivschatd_chatlog_pending_records{destination="s3"}`, 0},
	} {
		t.Run(fmt.Sprintf("%s is %v", tt.series, tt.want), func(t *testing.T) {
			v, found := got[tt.series]
			if !found {
				t.Fatalf("no series %s", tt.series)
			}
			if v != tt.want {
				t.Errorf("%s = %v, want %v", tt.series, v, tt.want)
			}
		})
	}

	t.Run("the gauges follow members leaving", func(t *testing.T) {
		_ = watcher.ws.Close()
		eventually(t, 10*time.Second, func() error {
			got := scrape(t, srv)
			if got["ivschatd_connections"] != 3 || got["ivschatd_rooms_active"] != 1 {
				return fmt.Errorf("connections %v, rooms %v", got["ivschatd_connections"], got["ivschatd_rooms_active"])
			}
			return nil
		})
	})
}

func TestMetricsCountChatLogRecords(t *testing.T) {
	local := t.TempDir()
	srv := startServer(t, withChatlog("http://127.0.0.1:1", testCredentials, map[string]string{"local-logs": local}))
	c := devClient(srv)
	ch := newChatter(t, srv, c, loggingConfiguration(t, c, s3Destination("local-logs")))
	ch.say(3)
	// Nothing listens at the S3 endpoint: this bucket refuses every record.
	down := newChatter(t, srv, c, loggingConfiguration(t, c, s3Destination("unreachable")))
	down.say(1)
	eventually(t, 20*time.Second, func() error {
		got := scrape(t, srv)
		if v := got[`ivschatd_chatlog_shipped_records_total{destination="s3"}`]; v != 3 {
			return fmt.Errorf("shipped %v records, want 3", v)
		}
		if v := got[`ivschatd_chatlog_failures_total{destination="s3"}`]; v < 1 {
			return fmt.Errorf("%v records refused, want the unreachable bucket's", v)
		}
		if v := got[`ivschatd_chatlog_pending_records{destination="s3"}`]; v != 1 {
			return fmt.Errorf("%v records pending, want the unreachable bucket's one", v)
		}
		return nil
	})
}
