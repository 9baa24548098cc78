package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"math/big"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/gorilla/websocket"

	"github.com/ivschatd/ivschatd/internal/api"
	"github.com/ivschatd/ivschatd/internal/server"
	"github.com/ivschatd/ivschatd/test/sdkclient"
	"github.com/ivschatd/ivschatd/test/testca"
)

// tlsClient is the official Go SDK client over HTTPS, trusting only the test CA.
func tlsClient(endpoint string, ca *testca.CA) *ivschat.Client {
	return ivschat.New(ivschat.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(api.DevAccessKeyID, api.DevSecretAccessKey, ""),
		Retryer:      sdkclient.Retryer(),
		HTTPClient:   &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}},
	})
}

func wssDial(url, token string, ca *testca.CA) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{Subprotocols: []string{token}, HandshakeTimeout: 5 * time.Second, TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}
	return d.Dial(url, nil)
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca, err := testca.New(dir)
	mustNoErr(t, err)
	pair, err := ca.Issue(dir, "server")
	mustNoErr(t, err)
	srv := startServer(t, func(c *server.Config) {
		c.TLSCertFile, c.TLSKeyFile = pair.CertFile, pair.KeyFile
		c.WSAddr = "127.0.0.1:0"
	})
	for _, u := range []string{srv.URL(), srv.AdminURL()} {
		if !strings.HasPrefix(u, "https://") {
			t.Fatalf("URL %s is not https", u)
		}
	}
	c := tlsClient(srv.URL(), ca)
	ctx := context.Background()

	t.Run("aws-sdk-go-v2 calls the control plane over HTTPS", func(t *testing.T) {
		room, err := c.CreateRoom(ctx, &ivschat.CreateRoomInput{})
		mustNoErr(t, err)
		_, err = c.GetRoom(ctx, &ivschat.GetRoomInput{Identifier: room.Arn})
		mustNoErr(t, err)
	})
	t.Run("members exchange messages over WSS on the main listener and on --ws-addr", func(t *testing.T) {
		room, err := c.CreateRoom(ctx, &ivschat.CreateRoomInput{})
		mustNoErr(t, err)
		main := strings.Replace(srv.URL(), "https://", "wss://", 1)
		var members []*websocket.Conn
		for _, url := range []string{main, srv.WSURL()} {
			tok := newToken(t, c, room.Arn, "u", capSend)
			ws, _, err := wssDial(url, tok, ca)
			mustNoErr(t, err)
			defer ws.Close()
			members = append(members, ws)
		}
		mustNoErr(t, members[0].WriteJSON(map[string]any{"Action": "SEND_MESSAGE", "RequestId": "1", "Content": "over tls"}))
		for _, m := range members {
			_ = m.SetReadDeadline(time.Now().Add(5 * time.Second))
			var got struct{ Content string }
			mustNoErr(t, m.ReadJSON(&got))
			if got.Content != "over tls" {
				t.Errorf("got %q", got.Content)
			}
		}
	})
	t.Run("the admin listener serves HTTPS", func(t *testing.T) {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}}
		resp, err := hc.Get(srv.AdminURL() + "/readyz")
		mustNoErr(t, err)
		defer resp.Body.Close()
		var rd struct{ Ready bool }
		if err := json.NewDecoder(resp.Body).Decode(&rd); err != nil || !rd.Ready {
			t.Errorf("readyz over https: %d %v %+v", resp.StatusCode, err, rd)
		}
	})
	t.Run("a client that does not trust the certificate is refused", func(t *testing.T) {
		_, err := http.Get(srv.URL() + "/healthz")
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("err %v", err)
		}
	})
}

func TestTLSReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	ca, err := testca.New(dir)
	mustNoErr(t, err)
	first, err := ca.Issue(dir, "server")
	mustNoErr(t, err)
	ch := sdkclient.StartNode(t, sdkclient.BuildIVSChatd(t), t.TempDir(), nil, "--tls-cert", first.CertFile, "--tls-key", first.KeyFile)
	if !strings.HasPrefix(ch.URL, "https://") {
		t.Fatalf("listening on %s", ch.URL)
	}
	c := tlsClient(ch.URL, ca)
	room, err := c.CreateRoom(context.Background(), &ivschat.CreateRoomInput{})
	mustNoErr(t, err)
	wss := strings.Replace(ch.URL, "https://", "wss://", 1)
	live, _, err := wssDial(wss, newToken(t, c, room.Arn, "stays", capSend), ca)
	mustNoErr(t, err)
	defer live.Close()
	if got := servedSerial(t, ch.URL, ca); got.Cmp(first.Serial) != 0 {
		t.Fatalf("serving serial %v, want %v", got, first.Serial)
	}

	second, err := ca.Issue(dir, "server") // the same files, a new pair
	mustNoErr(t, err)
	mustNoErr(t, ch.Cmd.Process.Signal(syscall.SIGHUP))

	t.Run("new handshakes get the new certificate", func(t *testing.T) {
		eventually(t, 20*time.Second, func() error {
			if got := servedSerial(t, ch.URL, ca); got.Cmp(second.Serial) != 0 {
				return errorSerial(got, second.Serial)
			}
			return nil
		})
	})
	t.Run("a WebSocket opened before stays open", func(t *testing.T) {
		mustNoErr(t, live.WriteJSON(map[string]any{"Action": "SEND_MESSAGE", "RequestId": "1", "Content": "still here"}))
		_ = live.SetReadDeadline(time.Now().Add(5 * time.Second))
		var got struct{ Content string }
		mustNoErr(t, live.ReadJSON(&got))
		if got.Content != "still here" {
			t.Errorf("got %q", got.Content)
		}
	})
	t.Run("the control plane answers with the new certificate", func(t *testing.T) {
		_, err := tlsClient(ch.URL, ca).GetRoom(context.Background(), &ivschat.GetRoomInput{Identifier: room.Arn})
		mustNoErr(t, err)
	})
}

// servedSerial is the serial of the certificate a new TLS handshake is shown.
func servedSerial(t testing.TB, url string, ca *testca.CA) *big.Int {
	t.Helper()
	conn, err := tls.Dial("tcp", strings.TrimPrefix(url, "https://"), &tls.Config{RootCAs: ca.Pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber
}

type serialError struct{ got, want *big.Int }

func (e serialError) Error() string {
	return "serving serial " + e.got.String() + ", want " + e.want.String()
}

func errorSerial(got, want *big.Int) error { return serialError{got, want} }
