package adversarial

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"
	"github.com/gorilla/websocket"

	"github.com/ivschatd/ivschatd/internal/api"
	"github.com/ivschatd/ivschatd/internal/server"
	"github.com/ivschatd/ivschatd/test/sdkclient"
)

// Attacks on the HTTP layer the control plane and the WebSocket handshake share.

// stalledBody sends a control-plane call's headers and the first sent bytes of a body of the
// declared size, then goes silent. The signature is not valid: the headers are all that
// counts until the body has arrived.
func stalledBody(t testing.TB, addr, keyID string, declared int, body []byte) (net.Conn, error) {
	date := time.Now().UTC().Format("20060102T150405Z")
	auth := fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s/%s/ivschat/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=%s",
		keyID, date[:8], region, strings.Repeat("0", 64))
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	head := fmt.Sprintf("POST /CreateRoom HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nX-Amz-Date: %s\r\nAuthorization: %s\r\n\r\n",
		addr, declared, date, auth)
	if _, err := io.WriteString(conn, head); err != nil {
		conn.Close()
		return nil, err
	}
	// The server may answer before the body, and stop reading it: the answer is what counts.
	go func() { _, _ = conn.Write(body) }()
	return conn, nil
}

// response reads one HTTP response from a raw socket.
func response(conn net.Conn, within time.Duration) (*http.Response, error) {
	_ = conn.SetReadDeadline(time.Now().Add(within))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

// endsSilently reports how a socket the server should drop ends: nil if the server closed it
// without sending a byte.
func endsSilently(conn net.Conn, within time.Duration) error {
	_ = conn.SetReadDeadline(time.Now().Add(within))
	n, err := io.Copy(io.Discard, conn)
	switch {
	case err != nil && !isReset(err):
		return fmt.Errorf("not closed: %v", err)
	case n > 0:
		return fmt.Errorf("the server sent %d bytes", n)
	}
	return nil
}

func isReset(err error) bool { return err != nil && strings.Contains(err.Error(), "connection reset") }

func attackSlowBodies(t *testing.T, e *env) {
	// The attack of issue 12 defect 1: most of a declared 1 MiB body, then silence, from a
	// client that knows a key id (it need not know its secret).
	t.Run("stalled bodies get 408 at the body deadline, or 503 at once past the bound of bodies in flight", func(t *testing.T) {
		t.Parallel()
		const sockets = 200
		body := make([]byte, 960<<10)
		body[0] = '{'
		type result struct {
			resp *http.Response
			err  error
		}
		results := make(chan result, sockets)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 64)
		for range sockets {
			wg.Go(func() {
				sem <- struct{}{}
				conn, err := stalledBody(t, e.addr, keyA, api.MaxBodyBytes, body)
				<-sem
				if err != nil {
					results <- result{err: err}
					return
				}
				defer conn.Close()
				// The whole of what the server sends, up to its close.
				_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
				got, err := io.ReadAll(conn)
				if err != nil && !isReset(err) {
					results <- result{err: fmt.Errorf("the socket stayed open: %v", err)}
					return
				}
				resp, perr := http.ReadResponse(bufio.NewReader(bytes.NewReader(got)), nil)
				if perr != nil {
					perr = fmt.Errorf("%v after %q (%v)", perr, got, err)
				}
				results <- result{resp, perr}
			})
		}
		wg.Wait()
		close(results)
		codes := map[string]int{}
		unanswered := 0
		for r := range results {
			switch {
			case r.err == nil:
				codes[fmt.Sprint(r.resp.StatusCode, " ", r.resp.Header.Get("x-amzn-ErrorType"))]++
			case strings.Contains(r.err.Error(), `unexpected EOF after ""`):
				unanswered++
			default:
				t.Errorf("a stalled body: %v", r.err)
			}
		}
		// The bound is on bodies held at once: a held body gives its place back at its deadline,
		// so more than the bound's worth may time out over the attack, but some are refused.
		timedOut, refused := codes["408 RequestTimeoutException"], codes["503 ServiceUnavailableException"]
		if timedOut+refused+unanswered != sockets || refused == 0 || timedOut == 0 {
			t.Fatalf("answers %v; want 408 for the held bodies and 503 for those past the bound", codes)
		}
		// Open finding: under this load about one socket in 200 is closed by the server with no
		// answer at all (a clean close, or a reset), and the server logs nothing. The socket is
		// still released; the exact answer is missing. Bounded here so that it cannot grow unseen.
		if unanswered > sockets/50 {
			t.Fatalf("%d of %d stalled bodies were closed without an answer (answers %v)", unanswered, sockets, codes)
		}
		t.Logf("answers %v, %d closed without an answer", codes, unanswered)
	})
	t.Run("a stalled body with an unknown key id gets 403 at once, unread", func(t *testing.T) {
		t.Parallel()
		for range 50 {
			conn, err := stalledBody(t, e.addr, "AKIDNOBODY", api.MaxBodyBytes, make([]byte, 1<<10))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := response(conn, time.Minute)
			conn.Close()
			if err != nil || resp.StatusCode != http.StatusForbidden || resp.Header.Get("x-amzn-ErrorType") != "UnrecognizedClientException" {
				t.Fatalf("got %v %v, want 403 UnrecognizedClientException (not the body deadline's 408)", resp, err)
			}
		}
	})
}

func attackStalledHandshakes(t *testing.T, e *env) {
	for _, tc := range []struct {
		rule   string
		sent   string
		answer string // "": closed without a byte
	}{
		{"a connection that sends nothing is closed at the header deadline, unanswered", "", ""},
		{"half a WebSocket handshake is closed at the header deadline, unanswered", "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", ""},
		// Go's server answers a request line cut short by the deadline as malformed.
		{"half a request line is closed at the header deadline with 400", "POST /CreateRo", "HTTP/1.1 400 Bad Request"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			t.Parallel()
			const sockets = 100
			conns := make([]net.Conn, 0, sockets)
			for range sockets {
				conn, err := net.Dial("tcp", e.addr)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				if _, err := io.WriteString(conn, tc.sent); err != nil {
					t.Fatal(err)
				}
				conns = append(conns, conn)
			}
			for i, conn := range conns {
				_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
				got, err := io.ReadAll(conn)
				if err != nil && !isReset(err) {
					t.Fatalf("socket %d: not closed: %v", i, err)
				}
				if !strings.HasPrefix(string(got), tc.answer) || (tc.answer == "" && len(got) > 0) {
					t.Fatalf("socket %d got %q, want %q", i, got, tc.answer)
				}
			}
		})
	}
}

func attackConnectionFlood(t *testing.T, e *env) {
	t.Run("thousands of idle connections are all closed at the header deadline while members and calls are served", func(t *testing.T) {
		t.Parallel()
		const sockets = 2000
		conns := make([]net.Conn, 0, sockets)
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for range sockets {
			conn, err := net.Dial("tcp", e.addr)
			if err != nil {
				t.Fatalf("after %d sockets: %v", len(conns), err)
			}
			conns = append(conns, conn)
		}
		// While they are open, a new member joins and a call is answered.
		e.join(t, token(t, e.a, e.busy, "during-flood")).Close()
		if err := throughBusy(t, func() error { _, err := e.a.ListRooms(context.Background(), &ivschat.ListRoomsInput{}); return err }); err != nil {
			t.Fatalf("ListRooms during the flood: %v", err)
		}
		for i, c := range conns {
			eventually(t, time.Minute, fmt.Sprintf("idle socket %d of %d is still open", i+1, sockets), func() bool { return closedByPeer(t, c) })
		}
	})
}

func attackMalformedHTTP(t *testing.T, e *env) {
	for _, tc := range []struct {
		rule   string
		sent   string
		status int
	}{
		{"bytes that are not HTTP get 400", "\x16\x03\x01\x00\xa5garbage\r\n\r\n", http.StatusBadRequest},
		{"headers over 64 KiB get 431", "POST /ListRooms HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("a", 70<<10) + "\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", e.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			go func() { _, _ = io.WriteString(conn, tc.sent) }()
			resp, err := response(conn, time.Minute)
			if err != nil || resp.StatusCode != tc.status {
				t.Fatalf("got %v %v, want %d", resp, err, tc.status)
			}
		})
	}
}

// attackCrossAccount has tenant B reach for tenant A's busy room and for resources of an
// account no tenant owns.
func attackCrossAccount(t *testing.T, e *env) {
	ctx := context.Background()
	busy := e.busy.Arn
	for _, tc := range []struct {
		rule string
		code string
		call func() error
	}{
		{"GetRoom of A's room is ResourceNotFoundException", "ResourceNotFoundException", func() error {
			_, err := e.b.GetRoom(ctx, &ivschat.GetRoomInput{Identifier: busy})
			return err
		}},
		{"UpdateRoom of A's room is ResourceNotFoundException", "ResourceNotFoundException", func() error {
			_, err := e.b.UpdateRoom(ctx, &ivschat.UpdateRoomInput{Identifier: busy, MaximumMessageRatePerSecond: aws.Int32(1)})
			return err
		}},
		{"DeleteRoom of A's room is ResourceNotFoundException", "ResourceNotFoundException", func() error {
			_, err := e.b.DeleteRoom(ctx, &ivschat.DeleteRoomInput{Identifier: busy})
			return err
		}},
		{"CreateChatToken for A's room is ResourceNotFoundException", "ResourceNotFoundException", func() error {
			_, err := e.b.CreateChatToken(ctx, &ivschat.CreateChatTokenInput{RoomIdentifier: busy, UserId: aws.String("spy")})
			return err
		}},
		{"DisconnectUser of A's control member is ResourceNotFoundException", "ResourceNotFoundException", func() error {
			_, err := e.b.DisconnectUser(ctx, &ivschat.DisconnectUserInput{RoomIdentifier: busy, UserId: aws.String("control")})
			return err
		}},
		{"SendEvent into A's room is ResourceNotFoundException", "ResourceNotFoundException", func() error {
			_, err := e.b.SendEvent(ctx, &ivschat.SendEventInput{RoomIdentifier: busy, EventName: aws.String("spoof")})
			return err
		}},
		{"A's room id under B's own account is ResourceNotFoundException", "ResourceNotFoundException", func() error {
			_, err := e.b.GetRoom(ctx, &ivschat.GetRoomInput{Identifier: aws.String(strings.Replace(aws.ToString(busy), accountA, accountB, 1))})
			return err
		}},
		{"a room naming another account's Lambda function is AccessDeniedException", "AccessDeniedException", func() error {
			_, err := e.b.CreateRoom(ctx, &ivschat.CreateRoomInput{MessageReviewHandler: &types.MessageReviewHandler{Uri: aws.String(foreignFunction)}})
			return err
		}},
		{"a logging configuration to a bucket given to A is AccessDeniedException", "AccessDeniedException", func() error {
			_, err := e.b.CreateLoggingConfiguration(ctx, &ivschat.CreateLoggingConfigurationInput{
				DestinationConfiguration: &types.DestinationConfigurationMemberS3{Value: types.S3DestinationConfiguration{BucketName: aws.String("bucket-a")}}})
			return err
		}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			t.Parallel()
			if err := throughBusy(t, tc.call); errorCode(err) != tc.code {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
		})
	}
}

// attackDNSRebinding drives a node that accepts the development key pair through a name that
// resolves to it, as a web page whose DNS name was rebound to 127.0.0.1 does (issue 12
// defect 4). The development pair never runs beside other principals, so this one attack has
// a node of its own, started beside the other.
func attackDNSRebinding(t *testing.T, dev *server.Server, e *env) {
	addr := strings.TrimPrefix(dev.URL(), "http://")
	_, port, _ := net.SplitHostPort(addr)
	rebound := func(host string) *ivschat.Client {
		tr := e.transport()
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
		return ivschat.New(ivschat.Options{Region: region, BaseEndpoint: aws.String("http://" + net.JoinHostPort(host, port)),
			Retryer: sdkclient.Retryer(), Credentials: staticCredentials(api.DevAccessKeyID, api.DevSecretAccessKey),
			HTTPClient: &http.Client{Transport: tr}})
	}
	t.Run("a signed call for another Host is refused with 403 AccessDeniedException", func(t *testing.T) {
		t.Parallel()
		_, err := rebound("attacker.example").CreateRoom(context.Background(), &ivschat.CreateRoomInput{})
		if errorCode(err) != "AccessDeniedException" {
			t.Fatalf("got %v, want AccessDeniedException", err)
		}
	})
	t.Run("a WebSocket handshake for another Host is refused with 403", func(t *testing.T) {
		t.Parallel()
		d := websocket.Dialer{Subprotocols: []string{"whatever"}, HandshakeTimeout: 30 * time.Second,
			NetDialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			}}
		ws, resp, err := d.Dial("ws://attacker.example:"+port, nil)
		if err == nil {
			ws.Close()
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("handshake: %v (%s), want 403", err, status(resp))
		}
	})
	t.Run("loopback names are served", func(t *testing.T) {
		t.Parallel()
		for _, host := range []string{"localhost", "127.0.0.1"} {
			if _, err := rebound(host).ListRooms(context.Background(), &ivschat.ListRoomsInput{}); err != nil {
				t.Fatalf("ListRooms at %s: %v", host, err)
			}
		}
	})
}
