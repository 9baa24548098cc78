// Package cluster tests ivschatd as a cluster: three NATS servers with JetStream started in
// the test on loopback ports, three ivschatd processes built from the tree on top of them, the
// official Go SDK for the control plane and WebSocket members spread over the nodes.
package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"
	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ivschatd/ivschatd/internal/api"
	"github.com/ivschatd/ivschatd/test/sdkclient"
)

// ---------------------------------------------------------------- NATS

// natsCluster is a NATS cluster with JetStream: one natsnode process (the nats-server
// library, see cmd/natsnode) per server, so that a server can be killed with SIGKILL.
type natsCluster struct {
	servers []*natsServer
}

type natsServer struct {
	name    string
	cmd     *exec.Cmd
	url     string
	monitor string // http://127.0.0.1:P, the server's monitoring endpoint
	stdin   io.Closer
	stderr  *sdkclient.LockedBuffer
	exited  chan struct{}
}

// startNATSCluster starts n servers on loopback, each routed to all the others, and waits
// until JetStream can place a stream on all of them.
func startNATSCluster(t testing.TB, bin string, n int) *natsCluster {
	t.Helper()
	c := &natsCluster{}
	// JetStream clustering wants every server's routes configured up front, so the route
	// ports are chosen before any server starts.
	ports := freePorts(t, n)
	monitors := freePorts(t, n)
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	for i := range n {
		s := &natsServer{name: fmt.Sprintf("nats-%d", i+1), stderr: &sdkclient.LockedBuffer{}, exited: make(chan struct{}),
			monitor: fmt.Sprintf("http://127.0.0.1:%d", monitors[i])}
		s.cmd = exec.Command(bin, "--name", s.name, "--cluster-port", fmt.Sprint(ports[i]),
			"--routes", strings.Join(routes, ","), "--store-dir", t.TempDir(), "--log", "--http-port", fmt.Sprint(monitors[i]))
		s.cmd.Stderr = s.stderr
		stdin, err := s.cmd.StdinPipe() // natsnode exits when this closes, even if the test dies
		if err != nil {
			t.Fatal(err)
		}
		s.stdin = stdin
		s.url = startAndRead(t, s.cmd, "natsnode listening on ", s.exited, s.stderr)
		t.Cleanup(func() {
			s.kill()
			if t.Failed() {
				t.Logf("%s log:\n%s", s.name, tail(s.stderr.String(), 3000))
			}
		})
		c.servers = append(c.servers, s)
	}
	nc, err := nats.Connect(c.urls())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	mustNoErr(t, err)
	waitFor(t, 60*time.Second, "JetStream placing a stream on every server", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "warmup", Subjects: []string{"warmup"},
			Replicas: n, Storage: jetstream.MemoryStorage})
		return err == nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mustNoErr(t, js.DeleteStream(ctx, "warmup"))
	return c
}

// freePorts finds n loopback ports that nothing listens on.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// urls is the comma-separated client URLs of every server, as --nats-url takes them.
func (c *natsCluster) urls() string {
	var out []string
	for _, s := range c.servers {
		out = append(out, s.url)
	}
	return strings.Join(out, ",")
}

// roomSubscriptions counts the client subscriptions to a room's subject on every server of
// the cluster, from their monitoring endpoints (/connz): how many copies of each of the room's
// messages the cluster hands out to clients.
func (c *natsCluster) roomSubscriptions(t testing.TB, roomID string) int {
	t.Helper()
	n := 0
	for _, s := range c.servers {
		resp, err := http.Get(s.monitor + "/connz?subs=1&limit=1024")
		mustNoErr(t, err)
		var connz struct {
			Connections []struct {
				Subscriptions []string `json:"subscriptions_list"`
			} `json:"connections"`
		}
		err = json.NewDecoder(resp.Body).Decode(&connz)
		resp.Body.Close()
		mustNoErr(t, err)
		for _, conn := range connz.Connections {
			for _, sub := range conn.Subscriptions {
				if strings.HasPrefix(sub, "ivschat.room.") && strings.HasSuffix(sub, "."+roomID) {
					n++
				}
			}
		}
	}
	return n
}

// streamLeader is the index of the server leading a stream, -1 if none is known.
func (c *natsCluster) streamLeader(t *testing.T, stream string) int {
	t.Helper()
	nc, err := nats.Connect(c.urls())
	if err != nil {
		return -1
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return -1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return -1
	}
	if info := s.CachedInfo(); info.Cluster != nil {
		for i, srv := range c.servers {
			if srv.name == info.Cluster.Leader {
				return i
			}
		}
	}
	return -1
}

// kill ends a server with SIGKILL, as a machine that fails: no leadership is handed over.
func (s *natsServer) kill() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = syscall.Kill(s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.exited
	_ = s.stdin.Close()
}

// startAndRead starts a command and returns the first word after prefix on a line of its
// standard output; exited is closed when the process ends.
func startAndRead(t testing.TB, cmd *exec.Cmd, prefix string, exited chan struct{}, stderr *sdkclient.LockedBuffer) string {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), prefix); ok {
				found <- strings.Fields(rest)[0]
			}
		}
	}()
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case u := <-found:
		return u
	case <-exited:
		t.Fatalf("%s exited before listening: %s", cmd.Path, stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not say where it listens within 60s: %s", cmd.Path, stderr.String())
	}
	return ""
}

// ---------------------------------------------------------------- ivschatd nodes

// buildBinaries compiles ./cmd/ivschatd and ./test/cluster/cmd/natsnode from this tree and
// returns their paths.
func buildBinaries(t testing.TB) (ivschatd, natsnode string) {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", dir+"/", "./cmd/ivschatd", "./test/cluster/cmd/natsnode")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return filepath.Join(dir, "ivschatd"), filepath.Join(dir, "natsnode")
}

// node is one ivschatd process.
type node struct {
	name   string
	cmd    *exec.Cmd
	url    string // control plane, http://127.0.0.1:PORT
	ws     string // messaging, ws://127.0.0.1:PORT
	ivs    *ivschat.Client
	stderr *sdkclient.LockedBuffer
	exited chan struct{}
}

// startNode runs ivschatd on a loopback port against the NATS cluster and waits until it
// says where it listens and answers /healthz. The process is killed when the test ends.
func startNode(t testing.TB, bin, name, natsURLs string, extra ...string) *node {
	t.Helper()
	args := append([]string{"--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--nats-url", natsURLs, "--replicas", "3",
		"--data-dir", t.TempDir()}, extra...)
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IVSCHATD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	n := &node{name: name, cmd: cmd, stderr: &sdkclient.LockedBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = n.stderr
	t.Cleanup(func() {
		n.kill()
		if t.Failed() {
			t.Logf("%s log:\n%s", n.name, tail(n.stderr.String(), 4000))
		}
	})
	n.url = startAndRead(t, cmd, "ivschatd listening on ", n.exited, n.stderr)
	n.ws = "ws://" + strings.TrimPrefix(n.url, "http://")
	resp, err := http.Get(n.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s healthz: %d", name, resp.StatusCode)
	}
	n.ivs = sdkClient(n.url)
	return n
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// kill ends the process with SIGKILL, by its pid, and waits for it.
func (n *node) kill() {
	select {
	case <-n.exited:
		return
	default:
	}
	_ = syscall.Kill(n.cmd.Process.Pid, syscall.SIGKILL)
	<-n.exited
}

// sdkClient is the official Go SDK client for a node, with the development credentials.
func sdkClient(endpoint string) *ivschat.Client {
	return sdkclient.IVSChat(endpoint, "us-east-1", api.DevAccessKeyID, api.DevSecretAccessKey, "")
}

// ---------------------------------------------------------------- control plane helpers

var mustNoErr = sdkclient.MustNoErr

// newRoom creates a room and ends the test if the call fails.
var newRoom = sdkclient.NewRoom

// newToken mints a chat token with the Go SDK; every capability unless some are given.
func newToken(t testing.TB, c *ivschat.Client, roomARN *string, user string, caps ...types.ChatTokenCapability) string {
	t.Helper()
	if len(caps) == 0 {
		caps = sdkclient.AllCapabilities
	}
	return sdkclient.NewToken(t, c, roomARN, user, caps...)
}

func isNotFound(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf)
}

// waitFor polls cond until it holds, failing the test after d.
var waitFor = sdkclient.WaitFor

// ---------------------------------------------------------------- members

// payload is any frame the messaging API delivers: MESSAGE, EVENT or ERROR.
type payload struct {
	Type         string
	Id           string
	RequestId    string
	Content      string
	EventName    string
	Attributes   map[string]string
	ErrorCode    int
	ErrorMessage string
	SendTime     time.Time
	Sender       *struct{ UserId string }
}

// member is a WebSocket client of one node. A reader goroutine queues every payload, so that
// a test can wait for what it expects with a deadline and see how the connection ended.
type member struct {
	t      testing.TB
	name   string
	ws     *websocket.Conn
	frames chan payload
	done   chan struct{}
	err    error // how reading ended; set before done closes
}

// dial opens a WebSocket to a node with a token as the subprotocol, as the SDKs do; it
// returns the HTTP status of a refusal.
func dial(t testing.TB, wsURL, token, name string) (*member, int, error) {
	d := websocket.Dialer{Subprotocols: []string{token}, HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(wsURL, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, status, err
	}
	m := &member{t: t, name: name, ws: ws, frames: make(chan payload, 8192), done: make(chan struct{})}
	t.Cleanup(func() { ws.Close() })
	go m.read()
	return m, http.StatusSwitchingProtocols, nil
}

// join dials and fails the test if the node refuses.
func join(t testing.TB, n *node, token, name string) *member {
	t.Helper()
	m, status, err := dial(t, n.ws, token, name)
	if err != nil {
		t.Fatalf("%s: dial %s: %v (HTTP %d)", name, n.name, err, status)
	}
	return m
}

func (m *member) read() {
	defer close(m.done)
	for {
		_, data, err := m.ws.ReadMessage()
		if err != nil {
			m.err = err
			return
		}
		var p payload
		if err := json.Unmarshal(data, &p); err != nil {
			m.err = fmt.Errorf("payload %q: %w", data, err)
			return
		}
		m.frames <- p
	}
}

func (m *member) send(v any) {
	m.t.Helper()
	_ = m.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := m.ws.WriteJSON(v); err != nil {
		m.t.Fatalf("%s: send: %v", m.name, err)
	}
}

func (m *member) sendMessage(content string) {
	m.t.Helper()
	m.send(map[string]any{"Action": "SEND_MESSAGE", "RequestId": content, "Content": content})
}

// await skips payloads until one matches, failing the test after d.
func (m *member) await(d time.Duration, what string, match func(payload) bool) payload {
	m.t.Helper()
	p, ok := m.poll(d, match)
	if !ok {
		m.t.Fatalf("%s: no %s within %v (connection: %v)", m.name, what, d, m.ended())
	}
	return p
}

// poll is await without failing.
func (m *member) poll(d time.Duration, match func(payload) bool) (payload, bool) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case p := <-m.frames:
			if match(p) {
				return p, true
			}
		case <-timer.C:
			return payload{}, false
		}
	}
}

// ended reports how the connection ended, or "open".
func (m *member) ended() string {
	select {
	case <-m.done:
		return m.err.Error()
	default:
		return "open"
	}
}

// closed waits for the connection to end and returns the read error that ended it.
func (m *member) closed(d time.Duration) error {
	m.t.Helper()
	select {
	case <-m.done:
		return m.err
	case <-time.After(d):
		m.t.Fatalf("%s: connection still open after %v", m.name, d)
		return nil
	}
}

// isOpen reports whether the connection has not ended.
func (m *member) isOpen() bool {
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

func message(content string) func(payload) bool {
	return func(p payload) bool { return p.Type == "MESSAGE" && p.Content == content }
}

func event(name string) func(payload) bool {
	return func(p payload) bool { return p.Type == "EVENT" && p.EventName == name }
}

func errorCode(code int) func(payload) bool {
	return func(p payload) bool { return p.Type == "ERROR" && p.ErrorCode == code }
}
