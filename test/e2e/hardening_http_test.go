package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ivschatd/ivschatd/internal/api"
	"github.com/ivschatd/ivschatd/internal/server"
)

// Attacks on the control plane's HTTP layer by clients that hold no secret: slow bodies,
// bodies with credentials that cannot succeed, and more bodies in flight than the server holds.

// stalledCall is a control-plane request on a raw socket whose body stops short of the size
// its headers declare.
type stalledCall struct {
	KeyID, Region string
	// Authorization, when set, is sent in place of the one built from KeyID and Region.
	Authorization string
	Date          time.Time
	Declared      int // Content-Length
	Sent          int // bytes of the body actually sent
}

// open sends the call's headers and the first Sent bytes of its body, then leaves the socket
// open without sending more. The signature is not valid: nothing here gets that far.
func (c stalledCall) open(t testing.TB, srv *server.Server) net.Conn {
	t.Helper()
	if c.KeyID == "" {
		c.KeyID = api.DevAccessKeyID
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.Date.IsZero() {
		c.Date = time.Now()
	}
	date := c.Date.UTC().Format("20060102T150405Z")
	auth := c.Authorization
	if auth == "" {
		auth = fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s/%s/ivschat/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=%s",
			c.KeyID, date[:8], c.Region, strings.Repeat("0", 64))
	}
	addr := strings.TrimPrefix(srv.URL(), "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	head := fmt.Sprintf("POST /CreateRoom HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nX-Amz-Date: %s\r\nAuthorization: %s\r\n\r\n",
		addr, c.Declared, date, auth)
	body := append([]byte("{"), make([]byte, max(c.Sent-1, 0))...)
	for i := 1; i < len(body); i++ {
		body[i] = ' '
	}
	if _, err := conn.Write(append([]byte(head), body[:c.Sent]...)); err != nil {
		t.Fatalf("sending %d bytes of the body: %v", c.Sent, err)
	}
	return conn
}

// answer reads the response on a stalled socket, waiting at most until deadline.
func answer(conn net.Conn, deadline time.Time) (*http.Response, error) {
	_ = conn.SetReadDeadline(deadline)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

// wantClosed checks that the server closed the socket after its answer.
func wantClosed(t testing.TB, conn net.Conn, deadline time.Time) {
	t.Helper()
	_ = conn.SetReadDeadline(deadline)
	if n, err := conn.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		t.Fatalf("after the answer the socket gave %d bytes, %v; want it closed", n, err)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

func wantAnswer(t testing.TB, resp *http.Response, err error, status int, code string) {
	t.Helper()
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	if resp.StatusCode != status || resp.Header.Get("x-amzn-ErrorType") != code {
		t.Fatalf("answer %d %q, want %d %s", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), status, code)
	}
}

func TestSlowBodiesAreCutOffByTheBodyDeadline(t *testing.T) {
	srv := startServer(t, func(cfg *server.Config) { cfg.API.BodyTimeout = time.Second })
	// The attack of issue 12: most of a declared 1 MiB body, then silence, on many sockets.
	const sockets = 16
	conns := make([]net.Conn, sockets)
	for i := range conns {
		conns[i] = stalledCall{Declared: api.MaxBodyBytes, Sent: 960 << 10}.open(t, srv)
	}
	deadline := time.Now().Add(60 * time.Second)
	for i, conn := range conns {
		resp, err := answer(conn, deadline)
		if err != nil {
			t.Fatalf("socket %d of %d: no answer before the test's deadline: %v", i+1, sockets, err)
		}
		wantAnswer(t, resp, err, http.StatusRequestTimeout, "RequestTimeoutException")
		wantClosed(t, conn, deadline)
	}
	// A signed call that arrives whole is served as before.
	if r := send(t, srv, rawRequest{Method: "POST", Path: "/ListRooms", Body: []byte(`{}`)}, devSigning()); r.Status != http.StatusOK {
		t.Fatalf("ListRooms after the attack: %d %s", r.Status, r.Body)
	}
}

func TestCallsThatCannotSucceedAreRefusedBeforeTheirBodyIsRead(t *testing.T) {
	srv := startServer(t, nil)
	date := time.Now().UTC().Format("20060102")
	for _, tc := range []struct {
		rule string
		call stalledCall
		code string
	}{
		{"an unknown access key id is refused without reading the body",
			stalledCall{KeyID: "AKIDUNKNOWN"}, "UnrecognizedClientException"},
		{"a credential scoped to another region is refused without reading the body",
			stalledCall{Region: "eu-west-1"}, "InvalidSignatureException"},
		{"an X-Amz-Date 20 minutes old is refused without reading the body",
			stalledCall{Date: time.Now().Add(-20 * time.Minute)}, "InvalidSignatureException"},
		{"a second Credential in Authorization is refused without reading the body",
			stalledCall{Authorization: "AWS4-HMAC-SHA256 Credential=" + api.DevAccessKeyID + "/" + date + "/us-east-1/ivschat/aws4_request, " +
				"Credential=AKIDOTHER/" + date + "/us-east-1/ivschat/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("0", 64)},
			"IncompleteSignatureException"},
		{"a declared body larger than 1 MiB is refused without reading it",
			stalledCall{Declared: 100 << 20}, "ValidationException"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			t.Parallel()
			if tc.call.Declared == 0 {
				tc.call.Declared = api.MaxBodyBytes
			}
			conn := tc.call.open(t, srv)
			deadline := time.Now().Add(30 * time.Second)
			resp, err := answer(conn, deadline)
			status := http.StatusForbidden
			if tc.code == "ValidationException" {
				status = http.StatusBadRequest
			}
			wantAnswer(t, resp, err, status, tc.code)
			wantClosed(t, conn, deadline)
		})
	}
}

func TestUnverifiedBodiesInFlightAreBounded(t *testing.T) {
	const held = 4
	srv := startServer(t, func(cfg *server.Config) {
		cfg.API.MaxPendingBodyBytes = held * api.MaxBodyBytes
		cfg.API.BodyTimeout = 10 * time.Minute // only the bound may answer here
	})
	type result struct {
		i    int
		resp *http.Response
		err  error
	}
	results := make(chan result, held+1)
	conns := make([]net.Conn, held+1)
	deadline := time.Now().Add(60 * time.Second)
	for i := range conns {
		conns[i] = stalledCall{Declared: api.MaxBodyBytes, Sent: 1 << 10}.open(t, srv)
		go func() {
			resp, err := answer(conns[i], deadline)
			results <- result{i, resp, err}
		}()
	}
	// Which of the five the server refuses depends on the order it reads their headers in;
	// exactly one is refused, at once.
	first := <-results
	wantAnswer(t, first.resp, first.err, http.StatusServiceUnavailable, "ServiceUnavailableException")
	if first.resp.Header.Get("Retry-After") == "" {
		t.Error("the refusal has no Retry-After")
	}
	select {
	case r := <-results:
		t.Fatalf("socket %d was answered too (%v, %v) while %d bodies were held", r.i, r.resp, r.err, held)
	case <-time.After(200 * time.Millisecond):
	}
	// Full, the bound refuses a well-formed signed call as well: memory is what it protects.
	send(t, srv, rawRequest{Method: "POST", Path: "/ListRooms", Body: []byte(`{}`)}, devSigning()).
		wantAWSError(t, http.StatusServiceUnavailable, "ServiceUnavailableException")
	// A held body that goes away gives its bytes back.
	for i, conn := range conns {
		if i != first.i {
			conn.Close()
			break
		}
	}
	for {
		r := send(t, srv, rawRequest{Method: "POST", Path: "/ListRooms", Body: []byte(`{}`)}, devSigning())
		if r.Status == http.StatusOK {
			break
		}
		r.wantAWSError(t, http.StatusServiceUnavailable, "ServiceUnavailableException")
		if time.Now().After(deadline) {
			t.Fatal("the bytes of a closed socket's body were never given back")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDevelopmentCredentialsServeOnlyLoopbackHostNames(t *testing.T) {
	srv := startServer(t, func(cfg *server.Config) { cfg.WSAddr = "127.0.0.1:0" })
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL(), "http://"))
	c := devClient(srv)
	list := rawRequest{Method: "POST", Path: "/ListRooms", Body: []byte(`{}`)}
	for _, tc := range []struct {
		host   string
		served bool
	}{
		{"localhost:" + port, true},
		{"localhost", true},
		{"127.0.0.1:" + port, true},
		{"[::1]:" + port, true},
		{"chat.localhost:" + port, true},
		{"attacker.example", false},
		{"attacker.example:" + port, false},
		{"localhost.attacker.example:" + port, false},
		{"127.0.0.1.attacker.example", false},
		{"10.1.2.3:" + port, false},
	} {
		rule := "a request signed for Host " + tc.host + " is refused with 403"
		if tc.served {
			rule = "a request for Host " + tc.host + " is served"
		}
		t.Run(rule, func(t *testing.T) {
			create := rawRequest{Method: "POST", Path: "/CreateRoom", Body: []byte(`{"name":"rebound"}`), Host: tc.host}
			r := send(t, srv, create, devSigning())
			if tc.served {
				if r.Status != http.StatusOK {
					t.Fatalf("CreateRoom for Host %s: %d %s", tc.host, r.Status, r.Body)
				}
				return
			}
			m := r.wantAWSError(t, http.StatusForbidden, "AccessDeniedException")
			if msg := m["message"].(string); !strings.Contains(msg, "loopback") || !strings.Contains(msg, "rebound") {
				t.Fatalf("the refusal does not say why: %q", msg)
			}
			req := list
			req.Host = tc.host
			send(t, srv, req, devSigning()).wantAWSError(t, http.StatusForbidden, "AccessDeniedException")
		})
	}
	t.Run("a refused request changes nothing", func(t *testing.T) {
		before, err := c.ListRooms(t.Context(), nil)
		mustNoErr(t, err)
		send(t, srv, rawRequest{Method: "POST", Path: "/CreateRoom", Body: []byte(`{}`), Host: "attacker.example"}, devSigning())
		after, err := c.ListRooms(t.Context(), nil)
		mustNoErr(t, err)
		if len(after.Rooms) != len(before.Rooms) {
			t.Fatalf("rooms %d → %d after a refused CreateRoom", len(before.Rooms), len(after.Rooms))
		}
	})

	room := newRoom(t, c, nil)
	for _, listener := range []struct{ name, url string }{
		{"the main listener", "ws://" + strings.TrimPrefix(srv.URL(), "http://")},
		{"the --ws-addr listener", srv.WSURL()},
	} {
		t.Run("a WebSocket handshake for Host attacker.example on "+listener.name+" is refused with 403", func(t *testing.T) {
			token := newToken(t, c, room.Arn, "alice")
			d := websocket.Dialer{Subprotocols: []string{token}, HandshakeTimeout: 10 * time.Second}
			_, resp, err := d.Dial(listener.url, http.Header{"Host": {"attacker.example"}})
			if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("handshake for attacker.example: %v, %v", resp, err)
			}
			body, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(body), "loopback") {
				t.Fatalf("the refusal does not say why: %q", body)
			}
			// The refusal happened before the token was looked at: it still opens a session.
			ws, _, err := d.Dial(listener.url, http.Header{"Host": {"localhost"}})
			if err != nil {
				t.Fatalf("handshake for localhost with the same token: %v", err)
			}
			ws.Close()
		})
	}
}

func TestConfiguredCredentialsServeAnyHostName(t *testing.T) {
	srv := startServer(t, withPrincipals(t, testPrincipal{AccessKeyID: "AKIDOPERATOR", SecretAccessKey: "operator-secret", AccountID: defaultAccount}))
	s := signing{KeyID: "AKIDOPERATOR", Secret: "operator-secret", Region: "us-east-1", Service: "ivschat"}
	r := send(t, srv, rawRequest{Method: "POST", Path: "/ListRooms", Body: []byte(`{}`), Host: "chat.example.com"}, s)
	if r.Status != http.StatusOK {
		t.Fatalf("ListRooms for Host chat.example.com with configured credentials: %d %s", r.Status, r.Body)
	}
}

func TestDevelopmentCredentialsAreRefusedOnANonLoopbackAddressBeforeBinding(t *testing.T) {
	// Hold a port on every interface: a server that tried to bind it would fail with
	// "address already in use" instead of the refusal.
	held, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	_, port, _ := net.SplitHostPort(held.Addr().String())
	for _, tc := range []struct {
		rule   string
		change func(*server.Config)
	}{
		{"--addr 0.0.0.0 is refused", func(cfg *server.Config) { cfg.Addr = "0.0.0.0:" + port }},
		{"--addr with no host is refused", func(cfg *server.Config) { cfg.Addr = ":" + port }},
		{"--addr of a DNS name is refused", func(cfg *server.Config) { cfg.Addr = "example.com:" + port }},
		{"--ws-addr 0.0.0.0 is refused", func(cfg *server.Config) { cfg.Addr = "127.0.0.1:0"; cfg.WSAddr = "0.0.0.0:" + port }},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			cfg := server.DefaultConfig()
			cfg.DataDir = t.TempDir()
			tc.change(&cfg)
			srv, err := server.Start(t.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err == nil {
				_ = srv.Shutdown(t.Context())
				t.Fatal("the server started")
			}
			if !strings.Contains(err.Error(), "development credentials") || strings.Contains(err.Error(), "in use") {
				t.Fatalf("error %q; want the refusal, before any listen", err)
			}
		})
	}
}

func TestRequestHeadersAreBoundedAt64KiB(t *testing.T) {
	srv := startServer(t, nil)
	for _, tc := range []struct {
		rule   string
		size   int
		status int
	}{
		{"a call with 8 KiB of extra headers is served", 8 << 10, http.StatusOK},
		{"a call with 100 KiB of headers is refused with 431", 100 << 10, http.StatusRequestHeaderFieldsTooLarge},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			r := send(t, srv, rawRequest{Method: "POST", Path: "/ListRooms", Body: []byte(`{}`),
				Header: map[string]string{"X-Padding": strings.Repeat("p", tc.size)}}, devSigning())
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d", r.Status, tc.status)
			}
		})
	}
}
