package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ivschatd/ivschatd/internal/api"
	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/engine"
	"github.com/ivschatd/ivschatd/internal/service"
)

const (
	accountA = "111111111111"
	accountB = "222222222222"
	keyA     = "AKIACONSOLEA"
	secretA  = "secret-of-a"
	keyB     = "AKIACONSOLEB"
	secretB  = "secret-of-b"
	keyRead  = "AKIACONSOLEREAD"
	secretRd = "secret-of-reader"
	origin   = "http://admin.test"
)

// clock is a settable time for session expiry.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newConsole serves a signing-in console over a real service on an embedded engine, with
// principals in two accounts and one that may only list rooms.
func newConsole(t *testing.T, open bool) (*Handler, *clock) {
	t.Helper()
	eng, err := engine.Open(context.Background(), engine.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(eng.Close)
	tap := chat.NewTap(engine.NewBroker(eng))
	svc := service.New(eng, tap, service.DefaultConfig())
	ps := api.Principals{}
	for _, p := range []*api.Principal{
		{AccessKeyID: keyA, SecretAccessKey: secretA, AccountID: accountA},
		{AccessKeyID: keyB, SecretAccessKey: secretB, AccountID: accountB},
		{AccessKeyID: keyRead, SecretAccessKey: secretRd, AccountID: accountA, Actions: []string{"ivschat:ListRooms", "ivschat:GetRoom"}},
	} {
		if err := ps.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	if open {
		_ = ps.Add(&api.Principal{AccessKeyID: api.DevAccessKeyID, SecretAccessKey: api.DevSecretAccessKey, AccountID: accountA})
	}
	c := &clock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	return New(Config{Service: svc, Tap: tap, Principals: ps, Open: open, WSURL: "ws://127.0.0.1:8080", Now: c.Now}), c
}

type request struct {
	method, path, body string
	header             map[string]string
}

func do(h http.Handler, r request) *httptest.ResponseRecorder {
	req := httptest.NewRequest(r.method, "http://admin.test"+r.path, strings.NewReader(r.body))
	req.Host = "admin.test"
	for k, v := range r.header {
		if k == "Host" {
			req.Host = v
			continue
		}
		if k == "RemoteAddr" {
			req.RemoteAddr = v
			continue
		}
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// signedIn signs a principal in and returns its cookie header and CSRF token.
func signedIn(t *testing.T, h http.Handler, key, secret string) (cookie, csrf string) {
	t.Helper()
	w := do(h, request{method: "POST", path: "/console/sign-in", body: `{"accessKeyId":"` + key + `","secretAccessKey":"` + secret + `"}`,
		header: map[string]string{"Origin": origin, "Content-Type": "application/json"}})
	if w.Code != http.StatusOK {
		t.Fatalf("sign-in of %s: %d %s", key, w.Code, w.Body)
	}
	var v sessionView
	_ = json.Unmarshal(w.Body.Bytes(), &v)
	c := w.Result().Cookies()[0]
	return c.Name + "=" + c.Value, v.CSRFToken
}

func errorType(w *httptest.ResponseRecorder) string { return w.Header().Get("x-amzn-ErrorType") }

func TestSignIn(t *testing.T) {
	h, c := newConsole(t, false)
	tests := []struct {
		name       string
		body       string
		origin     string
		wantStatus int
	}{
		{"a wrong secret is refused", `{"accessKeyId":"` + keyA + `","secretAccessKey":"wrong"}`, origin, http.StatusUnauthorized},
		{"an unknown access key id is refused", `{"accessKeyId":"AKIANOBODY","secretAccessKey":"` + secretA + `"}`, origin, http.StatusUnauthorized},
		{"another principal's secret is refused", `{"accessKeyId":"` + keyA + `","secretAccessKey":"` + secretB + `"}`, origin, http.StatusUnauthorized},
		{"a body that is not the sign-in is refused", `[1]`, origin, http.StatusBadRequest},
		{"a sign-in posted by another site is refused (login CSRF)", `{"accessKeyId":"` + keyA + `","secretAccessKey":"` + secretA + `"}`, "http://evil.test", http.StatusForbidden},
		{"the right key and secret sign in", `{"accessKeyId":"` + keyA + `","secretAccessKey":"` + secretA + `"}`, origin, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(h, request{method: "POST", path: "/console/sign-in", body: tt.body, header: map[string]string{"Origin": tt.origin}})
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d (%s), want %d", w.Code, w.Body, tt.wantStatus)
			}
			cookies := w.Result().Cookies()
			if tt.wantStatus != http.StatusOK {
				if len(cookies) != 0 {
					t.Fatalf("a refused sign-in set cookies %v", cookies)
				}
				return
			}
			if len(cookies) != 1 {
				t.Fatalf("cookies %v, want the session cookie", cookies)
			}
			ck := cookies[0]
			if ck.Name != CookieName || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" {
				t.Fatalf("cookie %+v, want %s HttpOnly SameSite=Strict Path=/", ck, CookieName)
			}
			if want := c.Now().Add(DefaultSessionLifetime); !ck.Expires.Equal(want.Truncate(time.Second)) {
				t.Fatalf("cookie expires %v, want %v", ck.Expires, want)
			}
			if strings.Contains(w.Body.String(), secretA) {
				t.Fatal("the sign-in answer repeats the secret")
			}
		})
	}
}

func TestFailedSignInsAreLimitedPerClientAddress(t *testing.T) {
	h, c := newConsole(t, false)
	right := `{"accessKeyId":"` + keyA + `","secretAccessKey":"` + secretA + `"}`
	wrong := `{"accessKeyId":"` + keyA + `","secretAccessKey":"wrong"}`
	signIn := func(from, body string) *httptest.ResponseRecorder {
		return do(h, request{method: "POST", path: "/console/sign-in", body: body, header: map[string]string{"Origin": origin, "RemoteAddr": from}})
	}
	const guesser = "198.51.100.7:40000"
	t.Run("a right secret does not count against the allowance", func(t *testing.T) {
		for i := 0; i < 2*signInBurst; i++ {
			if w := signIn(guesser, right); w.Code != http.StatusOK {
				t.Fatalf("sign-in %d: %d %s", i, w.Code, w.Body)
			}
		}
	})
	t.Run("the first failures are answered as wrong keys", func(t *testing.T) {
		for i := 0; i < signInBurst; i++ {
			if w := signIn(guesser, wrong); w.Code != http.StatusUnauthorized {
				t.Fatalf("failure %d: %d %s", i, w.Code, w.Body)
			}
		}
	})
	t.Run("past the allowance even the right secret waits, with Retry-After", func(t *testing.T) {
		w := signIn(guesser, right)
		if w.Code != http.StatusTooManyRequests || errorType(w) != "ThrottlingException" {
			t.Fatalf("%d %s %s, want 429 ThrottlingException", w.Code, errorType(w), w.Body)
		}
		if ra := w.Header().Get("Retry-After"); ra != "12" {
			t.Fatalf("Retry-After %q, want 12", ra)
		}
		if !strings.Contains(w.Body.String(), "too many failed sign-ins") || len(w.Result().Cookies()) != 0 {
			t.Fatalf("body %s cookies %v", w.Body, w.Result().Cookies())
		}
	})
	t.Run("another address is not held back", func(t *testing.T) {
		if w := signIn("203.0.113.9:5000", right); w.Code != http.StatusOK {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("addresses of one IPv6 /64 share an allowance", func(t *testing.T) {
		for i := 0; i < signInBurst; i++ {
			signIn(fmt.Sprintf("[2001:db8:1:2::%x]:443", i+1), wrong)
		}
		if w := signIn("[2001:db8:1:2::ffff]:443", right); w.Code != http.StatusTooManyRequests {
			t.Fatalf("%d %s, want 429", w.Code, w.Body)
		}
		if w := signIn("[2001:db8:1:3::1]:443", right); w.Code != http.StatusOK {
			t.Fatalf("the next /64: %d %s", w.Code, w.Body)
		}
	})
	t.Run("one more try comes back after the refill time", func(t *testing.T) {
		c.advance(signInRefill)
		if w := signIn(guesser, wrong); w.Code != http.StatusUnauthorized {
			t.Fatalf("%d %s, want 401", w.Code, w.Body)
		}
		if w := signIn(guesser, right); w.Code != http.StatusTooManyRequests {
			t.Fatalf("%d %s, want 429 again", w.Code, w.Body)
		}
	})
}

func TestSignInLimiterMemoryIsBounded(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	l := newSignInLimiter(func() time.Time { return now })
	for i := 0; i < maxSignInClients+100; i++ {
		l.failed(fmt.Sprintf("10.%d.%d.%d:1", i>>16&255, i>>8&255, i&255))
	}
	if n := len(l.by); n > maxSignInClients {
		t.Fatalf("%d addresses remembered, want at most %d", n, maxSignInClients)
	}
}

func TestStateChangingRequestsNeedTheSessionsCSRFTokenAndOrigin(t *testing.T) {
	h, _ := newConsole(t, false)
	cookie, csrf := signedIn(t, h, keyA, secretA)
	_, otherCSRF := signedIn(t, h, keyA, secretA)
	tests := []struct {
		name       string
		header     map[string]string
		wantStatus int
	}{
		{"without a session", map[string]string{"Origin": origin, CSRFHeader: csrf}, http.StatusUnauthorized},
		{"from another origin", map[string]string{"Cookie": cookie, "Origin": "http://evil.test", CSRFHeader: csrf}, http.StatusForbidden},
		{"from another scheme of this host", map[string]string{"Cookie": cookie, "Origin": "https://admin.test", CSRFHeader: csrf}, http.StatusForbidden},
		{"cross-site by Sec-Fetch-Site, without Origin", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "cross-site", CSRFHeader: csrf}, http.StatusForbidden},
		{"without the CSRF token", map[string]string{"Cookie": cookie, "Origin": origin}, http.StatusForbidden},
		{"with a wrong CSRF token", map[string]string{"Cookie": cookie, "Origin": origin, CSRFHeader: "x" + csrf}, http.StatusForbidden},
		{"with another session's CSRF token", map[string]string{"Cookie": cookie, "Origin": origin, CSRFHeader: otherCSRF}, http.StatusForbidden},
		{"with the session, its token, from its origin", map[string]string{"Cookie": cookie, "Origin": origin, CSRFHeader: csrf}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(h, request{method: "POST", path: "/console/api/CreateRoom", body: `{"name":"r"}`, header: tt.header})
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d (%s), want %d", w.Code, w.Body, tt.wantStatus)
			}
		})
	}
	t.Run("only one room was made", func(t *testing.T) {
		w := do(h, request{method: "POST", path: "/console/api/ListRooms", body: `{}`, header: map[string]string{"Cookie": cookie, "Origin": origin, CSRFHeader: csrf}})
		var out struct{ Rooms []any }
		_ = json.Unmarshal(w.Body.Bytes(), &out)
		if len(out.Rooms) != 1 {
			t.Fatalf("%d rooms: %s", len(out.Rooms), w.Body)
		}
	})
}

func TestSessionsEnd(t *testing.T) {
	h, c := newConsole(t, false)
	session := func(cookie string) int {
		return do(h, request{method: "GET", path: "/console/session", header: map[string]string{"Cookie": cookie}}).Code
	}
	t.Run("at their expiry", func(t *testing.T) {
		cookie, _ := signedIn(t, h, keyA, secretA)
		c.advance(DefaultSessionLifetime - time.Second)
		if got := session(cookie); got != http.StatusOK {
			t.Fatalf("a second before expiry: %d", got)
		}
		c.advance(time.Second)
		if got := session(cookie); got != http.StatusUnauthorized {
			t.Fatalf("at expiry: %d, want 401", got)
		}
	})
	t.Run("at sign-out, which clears the cookie", func(t *testing.T) {
		cookie, csrf := signedIn(t, h, keyA, secretA)
		if w := do(h, request{method: "POST", path: "/console/sign-out", header: map[string]string{"Cookie": cookie, "Origin": "http://evil.test", CSRFHeader: csrf}}); w.Code != http.StatusForbidden {
			t.Fatalf("a forged sign-out: %d, want 403", w.Code)
		}
		w := do(h, request{method: "POST", path: "/console/sign-out", header: map[string]string{"Cookie": cookie, "Origin": origin, CSRFHeader: csrf}})
		if w.Code != http.StatusNoContent || len(w.Result().Cookies()) != 1 || w.Result().Cookies()[0].MaxAge >= 0 {
			t.Fatalf("sign-out: %d, cookies %v", w.Code, w.Result().Cookies())
		}
		if got := session(cookie); got != http.StatusUnauthorized {
			t.Fatalf("after sign-out: %d, want 401", got)
		}
	})
	t.Run("signing in again ends the old session of the browser", func(t *testing.T) {
		old, _ := signedIn(t, h, keyA, secretA)
		w := do(h, request{method: "POST", path: "/console/sign-in", body: `{"accessKeyId":"` + keyB + `","secretAccessKey":"` + secretB + `"}`,
			header: map[string]string{"Origin": origin, "Cookie": old}})
		if w.Code != http.StatusOK {
			t.Fatal(w.Code)
		}
		if got := session(old); got != http.StatusUnauthorized {
			t.Fatalf("the replaced session answers %d, want 401", got)
		}
	})
}

func TestThePrincipalsActionsAndAccountBound(t *testing.T) {
	h, _ := newConsole(t, false)
	cookieA, csrfA := signedIn(t, h, keyA, secretA)
	post := func(cookie, csrf, op, body string) *httptest.ResponseRecorder {
		return do(h, request{method: "POST", path: "/console/api/" + op, body: body, header: map[string]string{"Cookie": cookie, "Origin": origin, CSRFHeader: csrf}})
	}
	w := post(cookieA, csrfA, "CreateRoom", `{"name":"of-a"}`)
	var room struct{ ARN, ID string }
	_ = json.Unmarshal(w.Body.Bytes(), &room)
	if w.Code != http.StatusOK || room.ID == "" {
		t.Fatalf("CreateRoom: %d %s", w.Code, w.Body)
	}
	cookieB, csrfB := signedIn(t, h, keyB, secretB)
	cookieR, csrfR := signedIn(t, h, keyRead, secretRd)
	tests := []struct {
		name             string
		cookie, csrf, op string
		body             string
		wantStatus       int
		wantType         string
	}{
		{"another account's room is not found", cookieB, csrfB, "GetRoom", `{"identifier":"` + room.ARN + `"}`, http.StatusNotFound, "ResourceNotFoundException"},
		{"another account cannot delete it", cookieB, csrfB, "DeleteRoom", `{"identifier":"` + room.ARN + `"}`, http.StatusNotFound, "ResourceNotFoundException"},
		{"another account cannot mint tokens for it", cookieB, csrfB, "CreateChatToken", `{"roomIdentifier":"` + room.ARN + `","userId":"u"}`, http.StatusNotFound, "ResourceNotFoundException"},
		{"an allowed action is served", cookieR, csrfR, "GetRoom", `{"identifier":"` + room.ARN + `"}`, http.StatusOK, ""},
		{"an action the principal lacks is denied", cookieR, csrfR, "DeleteRoom", `{"identifier":"` + room.ARN + `"}`, http.StatusForbidden, "AccessDeniedException"},
		{"an unknown operation is a validation error", cookieA, csrfA, "DropTables", `{}`, http.StatusBadRequest, "ValidationException"},
		{"the API's own validation answers", cookieA, csrfA, "CreateRoom", `{"maximumMessageLength":9999}`, http.StatusBadRequest, "ValidationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := post(tt.cookie, tt.csrf, tt.op, tt.body)
			if w.Code != tt.wantStatus || errorType(w) != tt.wantType {
				t.Fatalf("%d %s (%s), want %d %s", w.Code, errorType(w), w.Body, tt.wantStatus, tt.wantType)
			}
		})
	}
	t.Run("the live room stream of another account's room is not found", func(t *testing.T) {
		w := do(h, request{method: "GET", path: "/console/live/rooms/" + room.ID, header: map[string]string{"Cookie": cookieB}})
		if w.Code != http.StatusNotFound {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("the session lists only what the principal may do", func(t *testing.T) {
		w := do(h, request{method: "GET", path: "/console/session", header: map[string]string{"Cookie": cookieR}})
		var v sessionView
		_ = json.Unmarshal(w.Body.Bytes(), &v)
		if strings.Join(v.Allowed, ",") != "GetRoom,ListRooms" || v.AccountID != accountA {
			t.Fatalf("session %+v", v)
		}
	})
}

func TestOpenConsole(t *testing.T) {
	h, _ := newConsole(t, true)
	tests := []struct {
		name       string
		r          request
		wantStatus int
	}{
		{"serves loopback hosts without sign-in", request{method: "GET", path: "/console/session", header: map[string]string{"Host": "127.0.0.1:8081"}}, http.StatusOK},
		{"still refuses a cross-origin POST", request{method: "POST", path: "/console/api/CreateRoom", body: `{}`,
			header: map[string]string{"Host": "localhost:8081", "Origin": "http://evil.test"}}, http.StatusForbidden},
		{"still needs the CSRF token", request{method: "POST", path: "/console/api/CreateRoom", body: `{}`,
			header: map[string]string{"Host": "localhost:8081", "Origin": "http://localhost:8081"}}, http.StatusForbidden},
		{"serves the pages", request{method: "GET", path: "/demo", header: map[string]string{"Host": "localhost:8081"}}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(h, tt.r)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d (%s), want %d", w.Code, w.Body, tt.wantStatus)
			}
		})
	}
}
