package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/server"
)

// The server invokes review handlers and writes chat logs with the operator's AWS credentials,
// so a room may name only functions and destinations its account owns or the operator allows
// it (issue 12, defect 3).

const (
	tenantA, tenantB = "111111111111", "222222222222"
	foreignAccount   = "999999999999"
	ownFunction      = "arn:aws:lambda:us-east-1:" + tenantA + ":function:moderate"
	foreignFunction  = "arn:aws:lambda:us-east-1:" + foreignAccount + ":function:moderate"
)

// invocations counts the review requests each function's HTTP endpoint received.
type invocations struct {
	mu    sync.Mutex
	count map[string]int
	h     reviewHandler
}

// endpoints serves one path per function and maps each function ARN to it.
func (iv *invocations) endpoints(t testing.TB, functions ...string) map[string]string {
	iv.count = map[string]int{}
	mux := http.NewServeMux()
	m := map[string]string{}
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	for i, fn := range functions {
		path := "/" + string(rune('a'+i))
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			iv.mu.Lock()
			iv.count[fn]++
			iv.mu.Unlock()
			iv.h.ServeHTTP(w, r)
		})
		m[fn] = hs.URL + path
	}
	return m
}

func (iv *invocations) of(fn string) int {
	iv.mu.Lock()
	defer iv.mu.Unlock()
	return iv.count[fn]
}

// wantReviewedBy sends a message the handler rewrites and checks that fn reviewed it: the
// member gets the rewritten message, and fn has been invoked once in all.
func wantReviewedBy(t testing.TB, iv *invocations, m *member, fn string) {
	t.Helper()
	m.send(map[string]any{"Action": "SEND_MESSAGE", "RequestId": "r1", "Content": "rewrite me"})
	if f := m.next(); f.Type != "MESSAGE" || f.Content != "rewritten" {
		t.Fatalf("got %+v, want the message as the handler rewrote it", f)
	}
	if n := iv.of(fn); n != 1 {
		t.Fatalf("%s invoked %d times, want 1", fn, n)
	}
}

// wantAccessDenied checks a refusal: a 403 AccessDeniedException whose message names the resource.
func wantAccessDenied(t testing.TB, err error, resource string) {
	t.Helper()
	ad := as[*types.AccessDeniedException](t, err)
	if !strings.Contains(aws.ToString(ad.Message), resource) {
		t.Fatalf("message %q does not name %s", aws.ToString(ad.Message), resource)
	}
}

func TestCrossAccountResources(t *testing.T) {
	var iv invocations
	endpoints := iv.endpoints(t, ownFunction, foreignFunction)
	srv := startServer(t, func(cfg *server.Config) {
		withCredentials(t, map[string]chat.Allowance{
			tenantA: {S3: []string{"bucket-a"}},
			tenantB: {Lambda: []string{"arn:aws:lambda:*:" + foreignAccount + ":function:*"},
				S3: []string{"shared-*"}, Logs: []string{"/shared/*"}, Firehose: []string{"shared-stream"}},
		},
			testPrincipal{AccessKeyID: "AKIDA", SecretAccessKey: "secret-a", AccountID: tenantA},
			testPrincipal{AccessKeyID: "AKIDB", SecretAccessKey: "secret-b", AccountID: tenantB})(cfg)
		cfg.Review.HTTPEndpoints = endpoints
	})
	ctx := context.Background()
	a, b := client(srv, "AKIDA", "secret-a"), client(srv, "AKIDB", "secret-b")
	handler := func(uri string) *types.MessageReviewHandler {
		return &types.MessageReviewHandler{Uri: aws.String(uri), FallbackResult: types.FallbackResultAllow}
	}
	logs := func(group string) types.DestinationConfiguration {
		return &types.DestinationConfigurationMemberCloudWatchLogs{Value: types.CloudWatchLogsDestinationConfiguration{LogGroupName: aws.String(group)}}
	}
	firehose := func(stream string) types.DestinationConfiguration {
		return &types.DestinationConfigurationMemberFirehose{Value: types.FirehoseDestinationConfiguration{DeliveryStreamName: aws.String(stream)}}
	}
	roomA := newRoom(t, a, &ivschat.CreateRoomInput{Name: aws.String("a"), MaximumMessageRatePerSecond: aws.Int32(100)})
	lcA, err := a.CreateLoggingConfiguration(ctx, &ivschat.CreateLoggingConfigurationInput{Name: aws.String("a"), DestinationConfiguration: s3Destination("bucket-a")})
	mustNoErr(t, err)

	t.Run("refused", func(t *testing.T) {
		for _, tc := range []struct {
			rule     string
			resource string
			call     func() error
		}{
			{"CreateRoom naming another account's function", foreignFunction, func() error {
				_, err := a.CreateRoom(ctx, &ivschat.CreateRoomInput{MessageReviewHandler: handler(foreignFunction)})
				return err
			}},
			{"UpdateRoom naming another account's function", foreignFunction, func() error {
				_, err := a.UpdateRoom(ctx, &ivschat.UpdateRoomInput{Identifier: roomA.Arn, MessageReviewHandler: handler(foreignFunction)})
				return err
			}},
			{"CreateLoggingConfiguration to a bucket allowed to another account", "shared-logs", func() error {
				_, err := a.CreateLoggingConfiguration(ctx, &ivschat.CreateLoggingConfigurationInput{DestinationConfiguration: s3Destination("shared-logs")})
				return err
			}},
			{"CreateLoggingConfiguration to a log group not allowed", "/shared/chat", func() error {
				_, err := a.CreateLoggingConfiguration(ctx, &ivschat.CreateLoggingConfigurationInput{DestinationConfiguration: logs("/shared/chat")})
				return err
			}},
			{"CreateLoggingConfiguration to a delivery stream not allowed", "shared-stream", func() error {
				_, err := a.CreateLoggingConfiguration(ctx, &ivschat.CreateLoggingConfigurationInput{DestinationConfiguration: firehose("shared-stream")})
				return err
			}},
			{"UpdateLoggingConfiguration to a bucket not allowed", "shared-logs", func() error {
				_, err := a.UpdateLoggingConfiguration(ctx, &ivschat.UpdateLoggingConfigurationInput{Identifier: lcA.Arn, DestinationConfiguration: s3Destination("shared-logs")})
				return err
			}},
			{"a bucket is not B's because its name matches nothing B was given", "other-bucket", func() error {
				_, err := b.CreateLoggingConfiguration(ctx, &ivschat.CreateLoggingConfigurationInput{DestinationConfiguration: s3Destination("other-bucket")})
				return err
			}},
		} {
			t.Run(tc.rule+" is a 403 AccessDeniedException naming it", func(t *testing.T) {
				wantAccessDenied(t, tc.call(), tc.resource)
			})
		}
	})

	t.Run("a refusal changes nothing", func(t *testing.T) {
		r, err := a.GetRoom(ctx, &ivschat.GetRoomInput{Identifier: roomA.Arn})
		mustNoErr(t, err)
		if r.MessageReviewHandler != nil {
			t.Fatalf("room has handler %s", aws.ToString(r.MessageReviewHandler.Uri))
		}
		lc, err := a.GetLoggingConfiguration(ctx, &ivschat.GetLoggingConfigurationInput{Identifier: lcA.Arn})
		mustNoErr(t, err)
		if d, ok := lc.DestinationConfiguration.(*types.DestinationConfigurationMemberS3); !ok || aws.ToString(d.Value.BucketName) != "bucket-a" {
			t.Fatalf("destination is %#v", lc.DestinationConfiguration)
		}
		rooms, err := a.ListRooms(ctx, &ivschat.ListRoomsInput{})
		mustNoErr(t, err)
		if len(rooms.Rooms) != 1 {
			t.Fatalf("account A has %d rooms, want 1", len(rooms.Rooms))
		}
	})

	t.Run("an account names its own function without an allowance, and the handler reviews its messages", func(t *testing.T) {
		_, err := a.UpdateRoom(ctx, &ivschat.UpdateRoomInput{Identifier: roomA.Arn, MessageReviewHandler: handler(ownFunction)})
		mustNoErr(t, err)
		wantReviewedBy(t, &iv, join(t, srv, newToken(t, a, roomA.Arn, "alice", capSend)), ownFunction)
	})

	t.Run("the allowance lets B name the other account's function and destinations", func(t *testing.T) {
		r := newRoom(t, b, &ivschat.CreateRoomInput{MaximumMessageRatePerSecond: aws.Int32(100), MessageReviewHandler: handler(foreignFunction)})
		for _, d := range []types.DestinationConfiguration{s3Destination("shared-logs"), logs("/shared/chat"), firehose("shared-stream")} {
			_, err := b.CreateLoggingConfiguration(ctx, &ivschat.CreateLoggingConfigurationInput{DestinationConfiguration: d})
			mustNoErr(t, err)
		}
		wantReviewedBy(t, &iv, join(t, srv, newToken(t, b, r.Arn, "bob", capSend)), foreignFunction)
	})
}

func TestWithdrawnAllowance(t *testing.T) {
	var iv invocations
	endpoints := iv.endpoints(t, foreignFunction)
	dir := t.TempDir()
	principal := testPrincipal{AccessKeyID: "AKIDB", SecretAccessKey: "secret-b", AccountID: tenantB}
	other := testPrincipal{AccessKeyID: "AKIDA", SecretAccessKey: "secret-a", AccountID: tenantA}
	start := func(allow map[string]chat.Allowance) *server.Server {
		cfg := server.DefaultConfig()
		cfg.Addr, cfg.AdminAddr, cfg.DataDir = "127.0.0.1:0", "127.0.0.1:0", dir
		withCredentials(t, allow, principal, other)(&cfg)
		cfg.Review.HTTPEndpoints = endpoints
		return startNode(t, cfg)
	}
	srv := start(map[string]chat.Allowance{tenantB: {Lambda: []string{foreignFunction}}})
	c := client(srv, "AKIDB", "secret-b")
	lenient := newRoom(t, c, &ivschat.CreateRoomInput{MessageReviewHandler: &types.MessageReviewHandler{Uri: aws.String(foreignFunction), FallbackResult: types.FallbackResultAllow}})
	strict := newRoom(t, c, &ivschat.CreateRoomInput{MessageReviewHandler: &types.MessageReviewHandler{Uri: aws.String(foreignFunction), FallbackResult: types.FallbackResultDeny}})
	stopNode(t, srv)

	// The operator withdraws the allowance and restarts: the rooms still name the function.
	srv = start(nil)
	defer stopNode(t, srv)
	c = client(srv, "AKIDB", "secret-b")
	for _, tc := range []struct {
		rule     string
		room     *ivschat.CreateRoomOutput
		wantCode int
	}{
		{"a room whose fallback is ALLOW delivers the message unreviewed", lenient, 0},
		{"a room whose fallback is DENY rejects it with 406", strict, 406},
	} {
		t.Run(tc.rule+", and the function is not invoked", func(t *testing.T) {
			m := join(t, srv, newToken(t, c, tc.room.Arn, "bob", capSend))
			m.send(map[string]any{"Action": "SEND_MESSAGE", "RequestId": "r1", "Content": "rewrite me"})
			f := m.next()
			switch {
			case tc.wantCode == 0 && (f.Type != "MESSAGE" || f.Content != "rewrite me"):
				t.Fatalf("got %+v, want the message as sent", f)
			case tc.wantCode != 0 && (f.Type != "ERROR" || f.ErrorCode != tc.wantCode):
				t.Fatalf("got %+v, want ERROR %d", f, tc.wantCode)
			}
			if n := iv.of(foreignFunction); n != 0 {
				t.Fatalf("function invoked %d times after the allowance was withdrawn", n)
			}
		})
	}
	t.Run("the room cannot be given the function again", func(t *testing.T) {
		_, err := c.UpdateRoom(context.Background(), &ivschat.UpdateRoomInput{Identifier: lenient.Arn,
			MessageReviewHandler: &types.MessageReviewHandler{Uri: aws.String(foreignFunction)}})
		wantAccessDenied(t, err, foreignFunction)
	})
}

func TestSingleAccountReachesEverything(t *testing.T) {
	var iv invocations
	endpoints := iv.endpoints(t, foreignFunction)
	srv := startServer(t, func(cfg *server.Config) { cfg.Review.HTTPEndpoints = endpoints })
	c := devClient(srv)
	ctx := context.Background()
	// With one account, the development pair's here, the account is the operator's: a function's
	// ARN may name another account (the default --account-id is a placeholder), and every
	// destination is its own, exactly as before allowances existed.
	r := newRoom(t, c, &ivschat.CreateRoomInput{MessageReviewHandler: &types.MessageReviewHandler{Uri: aws.String(foreignFunction)}})
	for _, d := range []types.DestinationConfiguration{s3Destination("any-bucket"),
		&types.DestinationConfigurationMemberCloudWatchLogs{Value: types.CloudWatchLogsDestinationConfiguration{LogGroupName: aws.String("/any/group")}},
		&types.DestinationConfigurationMemberFirehose{Value: types.FirehoseDestinationConfiguration{DeliveryStreamName: aws.String("any-stream")}}} {
		_, err := c.CreateLoggingConfiguration(ctx, &ivschat.CreateLoggingConfigurationInput{DestinationConfiguration: d})
		mustNoErr(t, err)
	}
	wantReviewedBy(t, &iv, join(t, srv, newToken(t, c, r.Arn, "alice", capSend)), foreignFunction)
}
