package adversarial

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"
	"github.com/gorilla/websocket"
	"golang.org/x/sys/unix"

	"github.com/ivschatd/ivschatd/internal/api"
	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/server"
	"github.com/ivschatd/ivschatd/test/sdkclient"
)

const (
	region           = "us-east-1"
	accountA         = "111111111111"
	accountB         = "222222222222"
	foreignFunction  = "arn:aws:lambda:us-east-1:999999999999:function:steal"
	keyA, secretA    = "AKIDTENANTA", "secret-a"
	keyB, secretB    = "AKIDTENANTB", "secret-b"
	pingInterval     = 10 * time.Second
	headerTimeout    = 10 * time.Second
	bodyTimeout      = 3 * time.Second
	connectionRate   = 20
	maxFrameBytes    = 16 << 10
	busyRoomRate     = 100
	floodRoomRate    = 5
	pendingBodyLimit = 64 * api.MaxBodyBytes
)

// env is the node under attack and what the attacks share.
type env struct {
	node *server.Server
	addr string // host:port of node
	// a and b are the official Go SDK clients of the two tenants.
	a, b *ivschat.Client
	// transports of every SDK client, so that their idle connections can be closed before
	// goroutines are counted.
	mu         sync.Mutex
	transports []*http.Transport
	busy       *ivschat.CreateRoomOutput // account A's room that the control member watches
	reviews    atomic.Int64              // review requests the foreign function's endpoint got
}

// startNode runs the node under attack: two tenants, limits set low enough that every attack
// reaches them within seconds.
func startNode(t *testing.T) *env {
	t.Helper()
	e := &env{}
	reviewer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.reviews.Add(1)
		_, _ = io.WriteString(w, `{"ReviewResult":"ALLOW","Content":"stolen"}`)
	}))
	t.Cleanup(reviewer.Close)
	creds := map[string]any{
		"principals": []map[string]string{
			{"accessKeyId": keyA, "secretAccessKey": secretA, "accountId": accountA},
			{"accessKeyId": keyB, "secretAccessKey": secretB, "accountId": accountB},
		},
		"accounts": map[string]any{accountA: map[string]any{"allow": chat.Allowance{S3: []string{"bucket-a"}}}},
	}
	path := filepath.Join(t.TempDir(), "credentials.json")
	b, _ := json.Marshal(creds)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.AdminAddr, cfg.DataDir, cfg.CredentialsFile = "127.0.0.1:0", "127.0.0.1:0", t.TempDir(), path
	cfg.ReadHeaderTimeout = headerTimeout
	cfg.API.BodyTimeout = bodyTimeout
	cfg.API.MaxPendingBodyBytes = pendingBodyLimit
	cfg.Gateway.PingInterval = pingInterval
	cfg.Gateway.ConnectionRequestRate = connectionRate
	cfg.Gateway.MaxFrameBytes = maxFrameBytes
	cfg.Review.HTTPEndpoints = map[string]string{foreignFunction: reviewer.URL}
	e.node = start(t, cfg)
	e.addr = strings.TrimPrefix(e.node.URL(), "http://")
	e.a = e.client(e.node.URL(), keyA, secretA)
	e.b = e.client(e.node.URL(), keyB, secretB)
	return e
}

// start runs a node until the test ends.
func start(t *testing.T, cfg server.Config) *server.Server {
	t.Helper()
	srv, err := server.Start(context.Background(), cfg, discardLog())
	if err != nil {
		t.Fatalf("start ivschatd: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// client is the official Go SDK client for a key pair, on a transport of its own.
func (e *env) client(url, key, secret string) *ivschat.Client {
	tr := e.transport()
	return ivschat.New(ivschat.Options{
		Region: region, BaseEndpoint: aws.String(url), Retryer: sdkclient.Retryer(),
		Credentials: staticCredentials(key, secret), HTTPClient: &http.Client{Transport: tr},
	})
}

// transport is a fresh HTTP transport, kept for closeIdle.
func (e *env) transport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	e.mu.Lock()
	e.transports = append(e.transports, tr)
	e.mu.Unlock()
	return tr
}

func (e *env) closeIdle() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, tr := range e.transports {
		tr.CloseIdleConnections()
	}
}

// throughBusy calls fn until it gets an answer other than the node's 503 (unverified bodies
// in flight are at their bound while the slow-body attack runs): what a client does with a
// 503, and the SDKs retry it too.
func throughBusy(t testing.TB, fn func() error) error {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := fn()
		if errorCode(err) != "ServiceUnavailableException" || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func errorCode(err error) string {
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// newRoom creates a room, through the slow-body attack's 503s.
func newRoom(t testing.TB, c *ivschat.Client, in *ivschat.CreateRoomInput) *ivschat.CreateRoomOutput {
	t.Helper()
	var out *ivschat.CreateRoomOutput
	if err := throughBusy(t, func() (err error) { out, err = c.CreateRoom(context.Background(), in); return err }); err != nil {
		t.Fatalf("CreateRoom: %v", err)
	}
	return out
}

// token mints a chat token, through the slow-body attack's 503s.
func token(t testing.TB, c *ivschat.Client, room *ivschat.CreateRoomOutput, user string) string {
	t.Helper()
	var out *ivschat.CreateChatTokenOutput
	err := throughBusy(t, func() (err error) {
		out, err = c.CreateChatToken(context.Background(), &ivschat.CreateChatTokenInput{RoomIdentifier: room.Arn, UserId: aws.String(user),
			Capabilities: []types.ChatTokenCapability{types.ChatTokenCapabilitySendMessage}})
		return err
	})
	if err != nil {
		t.Fatalf("CreateChatToken: %v", err)
	}
	return aws.ToString(out.Token)
}

// dial opens a WebSocket with the token as its subprotocol, as the messaging SDKs do.
func (e *env) dial(tok string) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{Subprotocols: []string{tok}, HandshakeTimeout: 30 * time.Second}
	return d.Dial("ws://"+e.addr, nil)
}

// join dials and ends the test if the handshake fails.
func (e *env) join(t testing.TB, tok string) *websocket.Conn {
	t.Helper()
	ws, resp, err := e.dial(tok)
	if err != nil {
		t.Fatalf("join: %v (%s)", err, status(resp))
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

func status(resp *http.Response) string {
	if resp == nil {
		return "no response"
	}
	return resp.Status
}

// payload is what a member reads: MESSAGE, EVENT or ERROR.
type payload struct {
	Type         string
	Id           string
	RequestId    string
	EventName    string
	Content      string
	Attributes   map[string]string
	ErrorCode    int
	ErrorMessage string
}

// closeCode reads until the server ends the connection and returns the close code it sent
// (1006: the connection ended without a close frame).
func closeCode(t testing.TB, ws *websocket.Conn, within time.Duration) int {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(within))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		t.Fatalf("the connection did not end with a close: %v", err)
	}
}

// tcpState is the kernel's TCP state of a socket, read without consuming anything from it.
func tcpState(t testing.TB, c net.Conn) uint8 {
	t.Helper()
	sc, ok := c.(syscall.Conn)
	if !ok {
		t.Fatalf("%T has no file descriptor", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info *unix.TCPInfo
	var serr error
	if err := raw.Control(func(fd uintptr) { info, serr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil || serr != nil {
		t.Fatalf("TCP_INFO: %v %v", err, serr)
	}
	return info.State
}

// closedByPeer reports whether the server has ended a socket (its FIN or RST arrived), even
// while unread data waits in the socket.
func closedByPeer(t testing.TB, c net.Conn) bool {
	s := tcpState(t, c)
	return s == unix.BPF_TCP_CLOSE_WAIT || s == unix.BPF_TCP_CLOSE
}

// serverHolds reports whether the server still has its side of a client's loopback socket
// established, from the kernel's socket table. A server that drops a member whose receive
// window is full cannot get its FIN through, so the client's own socket cannot tell.
func serverHolds(t testing.TB, c net.Conn) bool {
	t.Helper()
	local, remote := c.LocalAddr().(*net.TCPAddr), c.RemoteAddr().(*net.TCPAddr)
	table, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	// Each line: sl local_address rem_address st ..., addresses as hex IP:port.
	serverSide := fmt.Sprintf(":%04X", remote.Port)
	clientSide := fmt.Sprintf(":%04X", local.Port)
	for _, line := range strings.Split(string(table), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && strings.HasSuffix(f[1], serverSide) && strings.HasSuffix(f[2], clientSide) {
			return f[3] == "01" // TCP_ESTABLISHED
		}
	}
	return false
}

// eventually polls cond until it holds, failing the test after d.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// raiseFileLimit lifts the soft limit on open files to the hard one: the connection flood
// holds a few thousand sockets on each side.
func raiseFileLimit(t testing.TB, need uint64) {
	t.Helper()
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Fatal(err)
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			t.Fatal(err)
		}
	}
	if l.Cur < need {
		t.Fatalf("RLIMIT_NOFILE is %d; the suite needs %d open files", l.Cur, need)
	}
}

// usage is what the process holds: goroutines, and the heap in use after a collection.
type usage struct {
	goroutines int
	heap       uint64
}

func (u usage) String() string {
	return fmt.Sprintf("%d goroutines, %.1f MiB heap", u.goroutines, float64(u.heap)/(1<<20))
}

func measure() usage {
	runtime.GC()
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return usage{goroutines: runtime.NumGoroutine(), heap: m.HeapInuse}
}

// heapPeak samples the heap in use until stopped and returns the highest sample.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}
