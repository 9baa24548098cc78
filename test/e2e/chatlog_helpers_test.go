package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/ivschatd/ivschatd/internal/server"
	"github.com/ivschatd/ivschatd/test/sdkclient"
)

// Helpers of the chat-logging tests: destinations (gofakes3 in process, moto_server as a
// child), reading records back through the destinations' own APIs, and checking them against
// what WebSocket clients received.

// testRegion is where destinations live in the tests.
const testRegion = "us-east-1"

// fakeS3 is gofakes3 on a loopback port that can be stopped and started again on the same
// port with the same contents, and that can refuse every access key but one.
type fakeS3 struct {
	t       testing.TB
	backend *s3mem.Backend
	handler http.Handler
	addr    string

	mu  sync.Mutex
	srv *http.Server

	// onlyKey, when set, is the one access key accepted; others get 403 InvalidAccessKeyId.
	onlyKey  atomic.Pointer[string]
	requests atomic.Int64
	refused  atomic.Int64
}

func newFakeS3(t testing.TB) *fakeS3 {
	t.Helper()
	f := &fakeS3{t: t, backend: s3mem.New()}
	f.handler = gofakes3.New(f.backend, gofakes3.WithAutoBucket(false)).Server()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	f.serve(ln)
	t.Cleanup(f.stop)
	return f
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	if want := f.onlyKey.Load(); want != nil && !strings.Contains(r.Header.Get("Authorization"), "Credential="+*want+"/") {
		f.refused.Add(1)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>`)
		return
	}
	f.handler.ServeHTTP(w, r)
}

func (f *fakeS3) serve(ln net.Listener) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.srv = &http.Server{Handler: f}
	go func() { _ = f.srv.Serve(ln) }()
}

func (f *fakeS3) url() string { return "http://" + f.addr }

// stop closes the listener and every connection: the destination is down.
func (f *fakeS3) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.srv != nil {
		_ = f.srv.Close()
		f.srv = nil
	}
}

// start listens on the same port again.
func (f *fakeS3) start() {
	f.t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 100; i++ {
		if ln, err = net.Listen("tcp", f.addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		f.t.Fatalf("fake S3 back on %s: %v", f.addr, err)
	}
	f.serve(ln)
}

func (f *fakeS3) createBucket(name string) {
	f.t.Helper()
	if err := f.backend.CreateBucket(name); err != nil {
		f.t.Fatal(err)
	}
}

// testCredentials are what the tests sign destination calls with.
var testCredentials = credentials.NewStaticCredentialsProvider("AKIDCHATLOGTEST", "chatlog-test-secret", "")

// awsAt points ivschatd's destination clients at one endpoint, as AWS_ENDPOINT_URL would,
// without touching the test process's environment.
func awsAt(endpoint string, creds aws.CredentialsProvider) func(*aws.Config) {
	return func(c *aws.Config) {
		c.BaseEndpoint = aws.String(endpoint)
		c.Credentials = creds
		c.Region = testRegion
		c.RetryMaxAttempts = 1
	}
}

// withChatlog sets short batching and retry times and points destinations at endpoint.
func withChatlog(endpoint string, creds aws.CredentialsProvider, localDirs map[string]string) func(*server.Config) {
	return func(cfg *server.Config) {
		c := &cfg.Chatlog
		c.S3PathStyle = true
		c.S3LocalDirs = localDirs
		c.S3BatchInterval = 200 * time.Millisecond
		c.BatchInterval = 200 * time.Millisecond
		c.RetryMin = 100 * time.Millisecond
		c.RetryMax = 400 * time.Millisecond
		c.AckWait = 5 * time.Second
		c.AWS = awsAt(endpoint, creds)
	}
}

// s3Reader is an S3 client of the tests, path-style, at one endpoint.
func s3Reader(endpoint string) *s3.Client {
	return s3.New(s3.Options{Region: testRegion, BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: testCredentials, Retryer: sdkclient.Retryer()})
}

// s3LogKey is the key layout of chat-log objects.
var s3LogKey = regexp.MustCompile(`^AWSLogs/(\d{12})/IVSChatLogs/1\.0/([a-z0-9-]+)/room_([A-Za-z0-9]{12})/(\d{4})/(\d{2})/(\d{2})/(\d{2})/(\d{12})_IVSChatLogs_1\.0_([a-z0-9-]+)_room_([A-Za-z0-9]{12})_(\d{8}T\d{4}Z)_[0-9a-f]+\.log\.gz$`)

// checkS3Key checks a chat-log object's key against the layout and returns its room.
func checkS3Key(t testing.TB, key string) (roomID string) {
	t.Helper()
	m := s3LogKey.FindStringSubmatch(key)
	if m == nil {
		t.Fatalf("object key %q does not follow AWSLogs/<account>/IVSChatLogs/1.0/<region>/room_<id>/YYYY/MM/DD/HH/<account>_IVSChatLogs_1.0_<region>_room_<id>_<YYYYMMDDTHHmmZ>_<unique>.log.gz", key)
	}
	if m[1] != defaultAccount || m[8] != defaultAccount || m[2] != testRegion || m[9] != testRegion || m[3] != m[10] {
		t.Fatalf("object key %q: account, region or room differ from %s, %s and each other", key, defaultAccount, testRegion)
	}
	if m[11][:11] != m[4]+m[5]+m[6]+"T"+m[7] {
		t.Fatalf("object key %q: the file's time is not in the folder's hour", key)
	}
	return m[3]
}

// s3Lines lists every chat-log object of a bucket and returns the records of a room ("": of
// every room), one per line.
func s3Lines(t testing.TB, c *s3.Client, bucket, roomID string) ([][]byte, error) {
	t.Helper()
	ctx := context.Background()
	var lines [][]byte
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("AWSLogs/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if room := checkS3Key(t, key); roomID != "" && room != roomID {
				continue
			}
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				return nil, err
			}
			body, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil {
				return nil, err
			}
			lines = append(lines, gunzipLines(t, key, body)...)
		}
	}
	return lines, nil
}

// localLines reads the chat-log files under a local bucket directory.
func localLines(t testing.TB, dir, roomID string) [][]byte {
	t.Helper()
	var lines [][]byte
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		key := filepath.ToSlash(rel)
		if strings.HasPrefix(d.Name(), ".") {
			return nil // a file being written
		}
		if room := checkS3Key(t, key); room != roomID {
			return nil
		}
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, gunzipLines(t, key, body)...)
		return nil
	})
	return lines
}

func gunzipLines(t testing.TB, key string, body []byte) [][]byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s is not gzip: %v", key, err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return splitLines(t, key, raw)
}

// splitLines splits newline-delimited records; every record ends with a newline.
func splitLines(t testing.TB, what string, raw []byte) [][]byte {
	t.Helper()
	if len(raw) > 0 && raw[len(raw)-1] != '\n' {
		t.Fatalf("%s does not end with a newline", what)
	}
	var lines [][]byte
	for _, l := range bytes.Split(raw, []byte{'\n'}) {
		if len(l) > 0 {
			lines = append(lines, l)
		}
	}
	return lines
}

// logRecord is a chat-log record as read back.
type logRecord struct {
	EventTimestamp string          `json:"event_timestamp"`
	Type           string          `json:"type"`
	Version        string          `json:"version"`
	Payload        json.RawMessage `json:"payload"`
}

var eventTimestamp = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

// recordsByID parses and checks records, and indexes them by their payload's Id. Records of
// the same payload are counted in dups.
func recordsByID(t testing.TB, lines [][]byte) (byID map[string]logRecord, dups int) {
	t.Helper()
	byID = map[string]logRecord{}
	for _, l := range lines {
		var r logRecord
		dec := json.NewDecoder(bytes.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("record %s: %v", l, err)
		}
		var p struct{ Type, Id string }
		if err := json.Unmarshal(r.Payload, &p); err != nil {
			t.Fatalf("payload of %s: %v", l, err)
		}
		if !eventTimestamp.MatchString(r.EventTimestamp) || r.Version != "1.0" || r.Type != p.Type || (r.Type != "MESSAGE" && r.Type != "EVENT") {
			t.Fatalf("record %s: want event_timestamp in UTC ms, version 1.0, type MESSAGE or EVENT as in the payload", l)
		}
		if _, ok := byID[p.Id]; ok {
			dups++
		}
		byID[p.Id] = r
	}
	return byID, dups
}

// received is every MESSAGE and EVENT a client got, exactly as it got them, by Id.
type received map[string][]byte

// take reads the next frame of a member, which must be a MESSAGE or an EVENT, and keeps it.
func (rc received) take(t testing.TB, m *member) []byte {
	t.Helper()
	_ = m.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := m.ws.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var p struct{ Type, Id string }
	if err := json.Unmarshal(data, &p); err != nil || (p.Type != "MESSAGE" && p.Type != "EVENT") {
		t.Fatalf("got %s, want a MESSAGE or an EVENT", data)
	}
	rc[p.Id] = data
	return data
}

// compare checks that the records are exactly the payloads received, no more, no fewer.
func (rc received) compare(byID map[string]logRecord) error {
	var missing, extra, differ []string
	for id, payload := range rc {
		r, ok := byID[id]
		switch {
		case !ok:
			missing = append(missing, id)
		case !bytes.Equal(r.Payload, payload):
			differ = append(differ, fmt.Sprintf("%s: logged %s, received %s", id, r.Payload, payload))
		}
	}
	for id := range byID {
		if _, ok := rc[id]; !ok {
			extra = append(extra, id)
		}
	}
	if len(missing)+len(extra)+len(differ) == 0 {
		return nil
	}
	sort.Strings(missing)
	return fmt.Errorf("%d of %d payloads not logged %v; %d records of payloads nobody received %v; %d differ %v",
		len(missing), len(rc), missing, len(extra), extra, len(differ), differ)
}

// eventually calls check until it returns nil, failing the test with its last error after d.
func eventually(t testing.TB, d time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// loggingConfiguration creates a logging configuration for a destination.
func loggingConfiguration(t testing.TB, c *ivschat.Client, d types.DestinationConfiguration) string {
	t.Helper()
	out, err := c.CreateLoggingConfiguration(context.Background(), &ivschat.CreateLoggingConfigurationInput{DestinationConfiguration: d})
	mustNoErr(t, err)
	return aws.ToString(out.Arn)
}

// chatter is a room with a member who may send, delete and disconnect, keeping every payload
// it receives.
type chatter struct {
	t    testing.TB
	c    *ivschat.Client
	room *ivschat.CreateRoomOutput
	m    *member
	got  received
	n    int
}

func newChatter(t testing.TB, srv *server.Server, c *ivschat.Client, configs ...string) *chatter {
	t.Helper()
	room := newRoom(t, c, &ivschat.CreateRoomInput{LoggingConfigurationIdentifiers: configs, MaximumMessageRatePerSecond: aws.Int32(100)})
	m := join(t, srv, newToken(t, c, room.Arn, "alice", capSend, capDelete, capDisconnect))
	return &chatter{t: t, c: c, room: room, m: m, got: received{}}
}

func (ch *chatter) roomID() string { return idOf(aws.ToString(ch.room.Arn)) }

// say sends messages and waits for each to come back.
func (ch *chatter) say(n int) {
	ch.t.Helper()
	for i := 0; i < n; i++ {
		ch.n++
		ch.m.send(map[string]any{"Action": "SEND_MESSAGE", "RequestId": fmt.Sprintf("r%d", ch.n), "Content": fmt.Sprintf("message %d ✓", ch.n),
			"Attributes": map[string]string{"n": fmt.Sprint(ch.n)}})
		ch.got.take(ch.t, ch.m)
	}
}

// everything sends messages and every kind of event: a deletion over the socket, an
// application event, a deletion and a disconnection through the control plane.
func (ch *chatter) everything(srv *server.Server) {
	ch.t.Helper()
	ctx := context.Background()
	ch.say(3)
	var first struct{ Id string }
	for _, p := range ch.got {
		_ = json.Unmarshal(p, &first)
		break
	}
	ch.m.send(map[string]any{"Action": "DELETE_MESSAGE", "RequestId": "del", "Id": first.Id, "Reason": "spam"})
	ch.got.take(ch.t, ch.m)
	_, err := ch.c.SendEvent(ctx, &ivschat.SendEventInput{RoomIdentifier: ch.room.Arn, EventName: aws.String("app:poll"), Attributes: map[string]string{"q": "tea?"}})
	mustNoErr(ch.t, err)
	ch.got.take(ch.t, ch.m)
	_, err = ch.c.DeleteMessage(ctx, &ivschat.DeleteMessageInput{RoomIdentifier: ch.room.Arn, Id: aws.String(first.Id)})
	mustNoErr(ch.t, err)
	ch.got.take(ch.t, ch.m)
	bob := join(ch.t, srv, newToken(ch.t, ch.c, ch.room.Arn, "bob"))
	_, err = ch.c.DisconnectUser(ctx, &ivschat.DisconnectUserInput{RoomIdentifier: ch.room.Arn, UserId: aws.String("bob"), Reason: aws.String("bye")})
	mustNoErr(ch.t, err)
	ch.got.take(ch.t, ch.m)
	_ = bob.closed()
	ch.say(2)
}

// moto is a moto_server child process on a loopback port.
type moto struct {
	cmd *exec.Cmd
	url string
}

// startMoto runs moto_server, which the machine image's Python provides, on a free port.
func startMoto(t testing.TB) *moto {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		t.Fatal("moto_server is not on PATH: the chat-log tests need it for S3, CloudWatch Logs and Firehose (pip install 'moto[server]')")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "-p", fmt.Sprint(port), "-H", "127.0.0.1")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start moto_server: %v", err)
	}
	m := &moto{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		// moto_server may be a shim that runs Python as its child: stop the group, by its id.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(m.url + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return m
		}
		select {
		case err := <-exited:
			t.Fatalf("moto_server exited: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto_server did not answer on port %d within 60s: %v\n%s", port, err, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
