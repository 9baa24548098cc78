package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/server"
	"github.com/ivschatd/ivschatd/internal/sigv4"
)

// reviewHandler is a message review handler that decides by the message's content, and
// records every request it gets.
type reviewHandler struct {
	mu       sync.Mutex
	requests []chat.ReviewRequest
}

func (h *reviewHandler) decide(req chat.ReviewRequest) (int, string) {
	h.mu.Lock()
	h.requests = append(h.requests, req)
	h.mu.Unlock()
	answer := func(v any) (int, string) {
		b, _ := json.Marshal(v)
		return http.StatusOK, string(b)
	}
	switch req.Content {
	case "deny me":
		return answer(map[string]any{"ReviewResult": "DENY", "Content": req.Content, "Attributes": map[string]string{"Reason": "off-topic"}})
	case "rewrite me":
		return answer(map[string]any{"ReviewResult": "ALLOW", "Content": "rewritten", "Attributes": map[string]string{"reviewed": "yes"}})
	case "sleep":
		time.Sleep(600 * time.Millisecond)
	case "garbage":
		return http.StatusOK, "this is not JSON"
	case "crash":
		return http.StatusInternalServerError, "boom"
	case "unknown result":
		return answer(map[string]any{"ReviewResult": "MAYBE", "Content": req.Content})
	case "too long":
		return answer(map[string]any{"ReviewResult": "ALLOW", "Content": strings.Repeat("x", 501)})
	}
	return answer(map[string]any{"ReviewResult": "ALLOW", "Content": req.Content, "Attributes": req.Attributes})
}

func (h *reviewHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req chat.ReviewRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	status, body := h.decide(req)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

const reviewFunction = "arn:aws:lambda:us-east-1:123456789012:function:moderate"

func TestReviewThroughAnHTTPHandler(t *testing.T) {
	handler := &reviewHandler{}
	hs := httptest.NewServer(handler)
	defer hs.Close()
	srv := startServer(t, func(cfg *server.Config) {
		cfg.Review.HTTPEndpoints = map[string]string{reviewFunction: hs.URL}
	})
	c := devClient(srv)
	// The rooms allow 100 messages a second, so that the rate never answers for the handler.
	allowRoom := newRoom(t, c, &ivschat.CreateRoomInput{MaximumMessageRatePerSecond: aws.Int32(100),
		MessageReviewHandler: &types.MessageReviewHandler{Uri: aws.String(reviewFunction)}})
	denyRoom := newRoom(t, c, &ivschat.CreateRoomInput{MaximumMessageRatePerSecond: aws.Int32(100),
		MessageReviewHandler: &types.MessageReviewHandler{Uri: aws.String(reviewFunction), FallbackResult: types.FallbackResultDeny}})
	alice := join(t, srv, newToken(t, c, allowRoom.Arn, "alice", capSend))
	strict := join(t, srv, newToken(t, c, denyRoom.Arn, "alice", capSend))

	for _, tc := range []struct {
		name     string
		m        *member
		content  string
		wantCode int    // 0: delivered
		wantText string // delivered content
	}{
		{"an allowed message is delivered as sent", alice, "hello", 0, "hello"},
		{"a rewritten message is delivered as the handler returned it", alice, "rewrite me", 0, "rewritten"},
		{"a denied message gets 406 with the handler's reason", alice, "deny me", 406, ""},
		{"a handler past the timeout gets the fallback ALLOW", alice, "sleep", 0, "sleep"},
		{"garbage from the handler gets the fallback ALLOW", alice, "garbage", 0, "garbage"},
		{"a failing handler gets the fallback ALLOW", alice, "crash", 0, "crash"},
		{"an unknown ReviewResult gets the fallback", alice, "unknown result", 0, "unknown result"},
		{"content over the room's length from the handler gets the fallback", alice, "too long", 0, "too long"},
		{"a handler past the timeout gets the fallback DENY as 406", strict, "sleep", 406, ""},
		{"garbage gets the fallback DENY as 406", strict, "garbage", 406, ""},
		{"the DENY fallback room still delivers allowed messages", strict, "fine", 0, "fine"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.m.send(map[string]any{"Action": "SEND_MESSAGE", "RequestId": tc.name, "Content": tc.content, "Attributes": map[string]string{"a": "1"}})
			f := tc.m.next()
			if tc.wantCode != 0 {
				if f.Type != "ERROR" || f.ErrorCode != tc.wantCode || f.RequestId != tc.name {
					t.Fatalf("got %+v", f)
				}
				if tc.content == "deny me" && !strings.Contains(f.ErrorMessage, "off-topic") {
					t.Fatalf("message %q lacks the reason", f.ErrorMessage)
				}
				return
			}
			if f.Type != "MESSAGE" || f.Content != tc.wantText {
				t.Fatalf("got %+v", f)
			}
			if tc.content == "rewrite me" && f.Attributes["reviewed"] != "yes" {
				t.Fatalf("attributes %v", f.Attributes)
			}
		})
	}

	t.Run("the handler gets the message id, room, attributes and sender", func(t *testing.T) {
		alice.send(map[string]any{"Action": "SEND_MESSAGE", "RequestId": "shape", "Content": "shape", "Attributes": map[string]string{"k": "v"}})
		delivered := alice.next()
		handler.mu.Lock()
		last := handler.requests[len(handler.requests)-1]
		handler.mu.Unlock()
		if last.MessageID != delivered.Id || last.RoomARN != *allowRoom.Arn || last.Attributes["k"] != "v" ||
			last.Sender.UserID != "alice" || last.Sender.IP != "127.0.0.1" || last.Content != "shape" {
			t.Fatalf("review request %+v for delivered %+v", last, delivered)
		}
	})
	t.Run("a slow review does not hold up other senders", func(t *testing.T) {
		bob := join(t, srv, newToken(t, c, allowRoom.Arn, "bob", capSend))
		alice.send(map[string]any{"Action": "SEND_MESSAGE", "RequestId": "slow", "Content": "sleep"})
		bob.send(map[string]any{"Action": "SEND_MESSAGE", "RequestId": "quick", "Content": "quick"})
		// Alice sent first; had her review held the room, her message would come first.
		if f := bob.next(); f.RequestId != "quick" {
			t.Fatalf("got %+v", f)
		}
		for f := alice.next(); f.RequestId != "slow"; f = alice.next() {
		}
		bob.next()
	})
}

func TestReviewThroughTheLambdaInvokeAPI(t *testing.T) {
	handler := &reviewHandler{}
	verifier := &sigv4.Verifier{Service: "lambda", Region: "us-east-1", Lookup: func(id string) (sigv4.Credentials, bool) {
		return sigv4.Credentials{SecretAccessKey: "lambda-secret"}, id == "lambda-key"
	}}
	var mu sync.Mutex
	var problems []string
	lambda := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fail := func(format string) {
			mu.Lock()
			problems = append(problems, format)
			mu.Unlock()
			w.Header().Set("X-Amzn-ErrorType", "AccessDeniedException")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"message":"`+format+`"}`)
		}
		if _, err := verifier.Verify(r, body); err != nil {
			fail("signature: " + err.Error())
			return
		}
		want := "/2015-03-31/functions/" + url.PathEscape(reviewFunction) + "/invocations"
		if r.Method != http.MethodPost || (r.URL.EscapedPath() != want && r.URL.Path != "/2015-03-31/functions/"+reviewFunction+"/invocations") {
			fail("request: " + r.Method + " " + r.URL.EscapedPath())
			return
		}
		var req chat.ReviewRequest
		if err := json.Unmarshal(body, &req); err != nil {
			fail("payload: " + err.Error())
			return
		}
		status, answer := handler.decide(req)
		if status != http.StatusOK {
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
		}
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, answer)
	}))
	defer lambda.Close()
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", lambda.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "lambda-key")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "lambda-secret")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")

	// This test is about the request the Invoke API gets; the timeout is tested above, and a
	// first call under the race detector can take longer than 200 ms.
	srv := startServer(t, func(cfg *server.Config) { cfg.Review.Timeout = 5 * time.Second })
	c := devClient(srv)
	room := newRoom(t, c, &ivschat.CreateRoomInput{MessageReviewHandler: &types.MessageReviewHandler{Uri: aws.String(reviewFunction), FallbackResult: types.FallbackResultDeny}})
	m := join(t, srv, newToken(t, c, room.Arn, "alice", capSend))
	for _, tc := range []struct {
		name, content string
		wantCode      int
		wantContent   string
	}{
		{"a signed Invoke allows a message", "hello", 0, "hello"},
		{"a signed Invoke rewrites a message", "rewrite me", 0, "rewritten"},
		{"a signed Invoke denies a message", "deny me", 406, ""},
		{"a function error applies the fallback", "crash", 406, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m.send(map[string]any{"Action": "SEND_MESSAGE", "RequestId": tc.name, "Content": tc.content})
			f := m.next()
			if tc.wantCode != 0 && (f.Type != "ERROR" || f.ErrorCode != tc.wantCode) {
				t.Fatalf("got %+v", f)
			}
			if tc.wantCode == 0 && (f.Type != "MESSAGE" || f.Content != tc.wantContent) {
				t.Fatalf("got %+v", f)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Fatalf("the Invoke stand-in refused requests: %v", problems)
	}
}
