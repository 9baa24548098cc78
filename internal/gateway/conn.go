package gateway

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// conn is one member's WebSocket. The reader goroutine handles the client's requests; the
// writer goroutine is the only one that writes data frames, from a bounded queue.
type conn struct {
	gw    *Gateway
	ws    *websocket.Conn
	raw   net.Conn
	hub   *hub
	token *chat.Token
	ip    string
	out   chan []byte
	done  chan struct{}
	once  sync.Once
	// rawMu orders attach against a teardown that starts before the handshake ends.
	rawMu  sync.Mutex
	expiry *time.Timer

	closing   sync.Once
	isClosing atomic.Bool
	limit     bucket // per-connection request rate; used by the reader only
}

// enqueue queues a frame without blocking; false means the queue is full.
func (c *conn) enqueue(f []byte) bool {
	select {
	case <-c.done:
		return true
	default:
	}
	select {
	case c.out <- f:
		return true
	default:
		return false
	}
}

// closeWith ends the connection cleanly: the close frame follows every frame queued before
// it, and the client gets a moment to answer it.
func (c *conn) closeWith(code int, reason string) {
	c.closing.Do(func() {
		c.isClosing.Store(true)
		if !c.enqueue(closeFrame(code, reason)) {
			c.abort("outbound queue full while closing")
		}
	})
}

// abort drops the connection at once, without a close handshake.
func (c *conn) abort(reason string) {
	c.teardown()
}

// teardown releases everything the connection holds; it runs once.
func (c *conn) teardown() {
	c.once.Do(func() {
		close(c.done)
		c.rawMu.Lock()
		if c.expiry != nil {
			c.expiry.Stop()
		}
		if c.raw != nil {
			_ = c.raw.Close()
		}
		c.rawMu.Unlock()
		if c.hub != nil {
			c.hub.leave(c)
		}
		c.gw.connections.Add(-1)
		c.gw.wg.Done()
	})
}

// attach gives the connection its socket once the handshake is done; false if the
// connection was torn down meanwhile, in which case the socket is closed.
func (c *conn) attach(ws *websocket.Conn) bool {
	c.rawMu.Lock()
	defer c.rawMu.Unlock()
	select {
	case <-c.done:
		_ = ws.Close()
		return false
	default:
	}
	c.ws, c.raw = ws, ws.UnderlyingConn()
	c.expiry = time.AfterFunc(time.Until(c.token.SessionExpirationTime), func() {
		c.sendError("", "", chat.CodeUnauthorized, "the chat session has expired; connect again with a new token")
		c.closeWith(closeNormal, "session expired")
	})
	return true
}

// maxBatch bounds how many queued frames one write carries.
const maxBatch = 64

// writeLoop writes queued frames. When a client falls behind, everything pending goes out
// in one vectored write instead of one syscall per frame.
func (c *conn) writeLoop() {
	batch := make([][]byte, 0, 8)
	for {
		var f []byte
		select {
		case f = <-c.out:
		case <-c.done:
			return
		}
		batch = append(batch[:0], f)
	drain:
		for len(batch) < maxBatch {
			select {
			case f = <-c.out:
				batch = append(batch, f)
			default:
				break drain
			}
		}
		closing := false
		for i, b := range batch {
			if isClose(b) {
				batch, closing = batch[:i+1], true
				break
			}
		}
		_ = c.raw.SetWriteDeadline(time.Now().Add(c.gw.cfg.WriteTimeout))
		bufs := net.Buffers(batch)
		if _, err := bufs.WriteTo(c.raw); err != nil {
			c.teardown()
			return
		}
		if closing {
			// Wait for the client's close frame, but not forever.
			_ = c.raw.SetReadDeadline(time.Now().Add(c.gw.cfg.CloseGrace))
			return
		}
	}
}

// readLoop reads and handles requests until the connection ends.
func (c *conn) readLoop() {
	defer c.teardown()
	c.ws.SetReadLimit(int64(c.gw.cfg.MaxFrameBytes))
	c.ws.SetPingHandler(func(data string) error {
		c.extendReadDeadline()
		if !c.enqueue(frame(opPong, []byte(data))) {
			c.abort("outbound queue full")
		}
		return nil
	})
	// Control frames do not surface from ReadMessage, so they extend the deadline here: a
	// member that only listens proves it is alive by its pongs.
	c.ws.SetPongHandler(func(string) error {
		c.extendReadDeadline()
		return nil
	})
	c.ws.SetCloseHandler(func(code int, text string) error {
		// Answer the close right away, straight on the socket: nothing else will be sent.
		_ = c.raw.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.raw.Write(closeFrame(code, ""))
		return nil
	})
	for {
		c.extendReadDeadline()
		kind, data, err := c.ws.ReadMessage()
		if err != nil {
			if err == websocket.ErrReadLimit {
				// The reader has sent close 1009. Swallow the rest of the frame for a moment so
				// that the client reads the close instead of a reset.
				_ = c.raw.SetReadDeadline(time.Now().Add(c.gw.cfg.CloseGrace))
				_, _ = io.Copy(io.Discard, io.LimitReader(c.raw, int64(4*c.gw.cfg.MaxFrameBytes)+1<<20))
			}
			return
		}
		if kind == websocket.BinaryMessage {
			c.sendError("", "", chat.CodeBadRequest, "binary frames are not supported: send JSON requests in text frames")
			continue
		}
		if !utf8.Valid(data) {
			c.closeWith(closeInvalidData, "text frame is not valid UTF-8")
			continue
		}
		c.handle(data)
	}
}

// extendReadDeadline gives the peer two ping intervals to show it is alive, unless the
// connection is closing, when the close grace stands.
func (c *conn) extendReadDeadline() {
	if !c.isClosing.Load() {
		_ = c.raw.SetReadDeadline(time.Now().Add(c.gw.cfg.PingInterval * 2))
	}
}

// sendError queues an ERROR frame for this connection only.
func (c *conn) sendError(id, requestID string, code int, message string) {
	if id == "" {
		id = chat.NewID()
	}
	if !c.enqueue(frame(opText, chat.Encode(chat.NewError(id, requestID, code, message)))) {
		c.abort("outbound queue full")
	}
}
