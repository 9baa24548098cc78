// Package sdkclient builds the official Go SDK clients the test suites drive ivschatd with,
// and the helpers they share around them.
package sdkclient

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"
)

// IVSChat is the ivschat client for one endpoint, region and key pair (sessionToken may be
// empty), with the Retryer below.
func IVSChat(endpoint, region, accessKeyID, secret, sessionToken string) *ivschat.Client {
	return ivschat.New(ivschat.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(accessKeyID, secret, sessionToken),
		Retryer:      Retryer(),
	})
}

// Retryer retries a call only when its connection failed, as the SDK's default retryer
// does. The SDK's request body and net/http's request writer race: even against a bare
// httptest server, about one call in twenty reports a write error after the answer came,
// and about one in a few thousand then fails with "use of closed network connection"
// while reading a 200 response, which the SDK treats as transient. Throttling, 5xx and
// every other answer are returned on the first attempt, so a test sees exactly what the
// server said.
func Retryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 3
		o.Retryables = []retry.IsErrorRetryable{retry.NoRetryCanceledError{}, retry.RetryableConnectionError{}}
		o.RateLimiter = ratelimit.None
	})
}

// NewRoom creates a room (with in, or every default when in is nil) and ends the test if
// the call fails.
func NewRoom(t testing.TB, c *ivschat.Client, in *ivschat.CreateRoomInput) *ivschat.CreateRoomOutput {
	t.Helper()
	if in == nil {
		in = &ivschat.CreateRoomInput{}
	}
	out, err := c.CreateRoom(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateRoom: %v", err)
	}
	return out
}

// AllCapabilities are every capability a chat token can grant.
var AllCapabilities = []types.ChatTokenCapability{types.ChatTokenCapabilitySendMessage,
	types.ChatTokenCapabilityDeleteMessage, types.ChatTokenCapabilityDisconnectUser}

// NewToken mints a chat token with exactly the capabilities given and ends the test if the
// call fails.
func NewToken(t testing.TB, c *ivschat.Client, roomARN *string, user string, caps ...types.ChatTokenCapability) string {
	t.Helper()
	out, err := c.CreateChatToken(context.Background(), &ivschat.CreateChatTokenInput{RoomIdentifier: roomARN, UserId: &user, Capabilities: caps})
	if err != nil {
		t.Fatalf("CreateChatToken: %v", err)
	}
	return *out.Token
}

// MustNoErr ends the test on an error.
func MustNoErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// WaitFor polls cond until it holds, failing the test after d.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
