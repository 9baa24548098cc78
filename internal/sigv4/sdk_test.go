package sigv4

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
)

// TestVerifySDKRequests points the real ivschat client at a server that verifies every
// request it receives.
func TestVerifySDKRequests(t *testing.T) {
	var mu sync.Mutex
	var failures []string
	seen := 0
	v := testVerifier(time.Now())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, err := v.Verify(r, body)
		mu.Lock()
		seen++
		if err != nil {
			failures = append(failures, r.Method+" "+r.RequestURI+": "+err.Error())
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.Header().Set("X-Amzn-ErrorType", verifyCode(err))
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"message":"signature"}`)
			return
		}
		_, _ = io.WriteString(w, `{}`)
	}))
	defer srv.Close()

	for _, creds := range []aws.Credentials{
		{AccessKeyID: testKeyID, SecretAccessKey: testSecret},
		{AccessKeyID: testTokenID, SecretAccessKey: testSecret, SessionToken: testToken},
	} {
		client := ivschat.New(ivschat.Options{
			Region:           testRegion,
			BaseEndpoint:     aws.String(srv.URL),
			Credentials:      credentials.StaticCredentialsProvider{Value: creds},
			RetryMaxAttempts: 1,
		})
		ctx := context.Background()
		arn := aws.String(testRoomARN)
		calls := map[string]func() error{
			"CreateRoom": func() error {
				_, err := client.CreateRoom(ctx, &ivschat.CreateRoomInput{Name: aws.String("lobby"), Tags: map[string]string{"ключ": "値 v"}})
				return err
			},
			"ListRooms with no members": func() error {
				_, err := client.ListRooms(ctx, &ivschat.ListRoomsInput{})
				return err
			},
			"ListTagsForResource": func() error {
				_, err := client.ListTagsForResource(ctx, &ivschat.ListTagsForResourceInput{ResourceArn: arn})
				return err
			},
			"TagResource": func() error {
				_, err := client.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"a b": "c"}})
				return err
			},
			"UntagResource with keys that sort differently once encoded": func() error {
				_, err := client.UntagResource(ctx, &ivschat.UntagResourceInput{ResourceArn: arn,
					TagKeys: []string{"a b", "ключ", "a/b", "a-b", "😀", "a+b", "a~b", "é", "a"}})
				return err
			},
		}
		for name, call := range calls {
			t.Run(name+" with "+creds.AccessKeyID, func(t *testing.T) {
				if err := call(); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			})
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if seen != 10 {
		t.Fatalf("server saw %d requests, want 10", seen)
	}
	for _, f := range failures {
		t.Error(f)
	}
}
