package e2e

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ivschatd/ivschatd/internal/server"
	"github.com/ivschatd/ivschatd/test/sdkclient"
)

// frame is any payload the messaging API delivers: MESSAGE, EVENT or ERROR.
type frame struct {
	Type         string
	Id           string
	RequestId    string
	Content      string
	EventName    string
	Attributes   map[string]string
	SendTime     string
	ErrorCode    int
	ErrorMessage string
	Sender       *struct {
		UserId     string
		Attributes map[string]string
	}
}

// newToken mints a chat token with the Go SDK, with exactly the capabilities given.
var newToken = sdkclient.NewToken

// wsURL is the messaging endpoint of a node.
func wsURL(srv *server.Server) string { return srv.WSURL() }

// dial opens a WebSocket with the token as the subprotocol, as the SDKs do.
func dial(srv *server.Server, token string) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{Subprotocols: []string{token}, HandshakeTimeout: 5 * time.Second}
	return d.Dial(wsURL(srv), nil)
}

// member is a connected test client.
type member struct {
	t  testing.TB
	ws *websocket.Conn
}

func join(t testing.TB, srv *server.Server, token string) *member {
	t.Helper()
	ws, resp, err := dial(srv, token)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (HTTP %d)", err, status)
	}
	t.Cleanup(func() { ws.Close() })
	return &member{t: t, ws: ws}
}

func (m *member) send(v any) {
	m.t.Helper()
	if err := m.ws.WriteJSON(v); err != nil {
		m.t.Fatalf("send: %v", err)
	}
}

// next reads the next payload, failing the test after a few seconds.
func (m *member) next() frame {
	m.t.Helper()
	_ = m.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := m.ws.ReadMessage()
	if err != nil {
		m.t.Fatalf("read: %v", err)
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		m.t.Fatalf("payload %q: %v", data, err)
	}
	return f
}

// closed waits for the server to end the connection and returns the close error.
func (m *member) closed() error {
	m.t.Helper()
	_ = m.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := m.ws.ReadMessage(); err != nil {
			return err
		}
	}
}
