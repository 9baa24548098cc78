package gateway

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// conn is one member's WebSocket. Its reader goroutine handles the client's requests. Frames
// for the client are written by its room's shard writer straight into the socket while the
// socket takes them (fanout.go). Only what a socket would not take waits in the member's own
// bounded queue, written by a writer goroutine of its own that runs while the queue is not
// empty, everything pending in one vectored write; so an idle member holds no writer and no
// queue memory, and a member that falls behind catches up in few syscalls.
type conn struct {
	gw    *Gateway
	raw   net.Conn
	rc    syscall.RawConn // raw's descriptor, for the shard writer's non-blocking writes; nil for TLS
	hub   *hub
	token *chat.Token
	ip    string
	// expirySlot is the connection's place among the node's expiries, guarded by their
	// lock (expiry.go); 0 while not watched.
	expirySlot int
	// since is when the handshake was accepted (Unix ns), for ListRoomUsers' connectedAt.
	since int64
	// counted says the connection is counted in its room's presence (ivschatd:presence-events).
	counted bool

	// shard is the member's place in its room's fan-out, set once when it joins; slot,
	// joinGen, joinAt and joinFrames are guarded by shard.mu, ownIdx is the shard writer's.
	shard      *fanShard
	slot       int
	joinGen    uint64
	joinAt     int
	joinFrames int
	ownIdx     []int32

	mu sync.Mutex // guards the fields below
	// pending holds what the socket has not taken yet, for the member's own writer (pieces of
	// the shard's buffers, each one or more whole frames, or the rest of one); queued counts
	// its frames; spare is the writer's batch, kept for reuse.
	pending, spare [][]byte
	queued         int
	attached       bool   // the handshake is done and raw is set
	writing        bool   // the member's own writer goroutine is running
	closeQueued    bool   // a close frame is queued or written: nothing more is sent
	dead           bool   // torn down
	why            string // why the connection ends, for the log; the first reason given stays
	// endRequest cancels the context of the request being handled, if any.
	endRequest context.CancelFunc
	// replayed are the ids of the messages the connection was replayed, whose live copies it
	// skips until replayedUntil (replay.go); nil when there are none.
	replayed      map[string]bool
	replayedUntil time.Time

	once      sync.Once
	isClosing atomic.Bool // a close frame is queued or sent
	// closeSent and peerClosed are the two halves of the close handshake: whichever side
	// completes it second ends the connection.
	closeSent, peerClosed atomic.Bool
	limit                 bucket // per-connection request rate; used by the reader only
	// messageDue is when the fragmented message being read must be complete (zero: none);
	// the read deadline never runs past it. Used by the reader only.
	messageDue time.Time
}

// enqueue queues a frame for this member alone, after everything queued for it so far,
// without blocking; false means the queue is full and the client must be dropped. A member
// of a room queues through its shard, whose writer drops it if it has fallen too far behind.
func (c *conn) enqueue(f []byte) bool {
	if c.shard != nil {
		c.shard.send(c, f)
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead || c.closeQueued {
		return true
	}
	if c.queued >= c.gw.cfg.QueueFrames {
		return false
	}
	c.pending = append(c.pending, f)
	c.queued++
	c.closeQueued = isClose(f)
	c.startWriter()
	return true
}

// startWriter starts the member's own writer if frames wait and none runs; c.mu is held.
func (c *conn) startWriter() {
	if c.attached && !c.writing && len(c.pending) > 0 {
		c.writing = true
		go c.flush()
	}
}

// closeWritten completes our half of the close handshake once the close frame is written: if
// the client's close came first, the connection is done (true); otherwise the client has the
// close grace to answer.
func (c *conn) closeWritten() (done bool) {
	c.closeSent.Store(true)
	if c.peerClosed.Load() {
		return true
	}
	_ = c.raw.SetReadDeadline(time.Now().Add(c.gw.cfg.CloseGrace))
	return false
}

// closeWith ends the connection cleanly: the close frame follows every frame queued before
// it, and the client gets a moment to answer it.
func (c *conn) closeWith(code int, reason string) {
	if c.isClosing.Swap(true) {
		return
	}
	if reason == "" {
		c.because("closed by the client")
	} else {
		c.because(reason)
	}
	if !c.enqueue(closeFrame(code, reason)) {
		c.dropSlow("outbound queue full while closing")
	}
}

// abort drops the connection at once, without a close handshake.
func (c *conn) abort(reason string) {
	c.because(reason)
	c.teardown()
}

// dropSlow drops a member whose outbound queue is full.
func (c *conn) dropSlow(reason string) {
	c.gw.metrics.SlowConsumersDropped(1)
	c.abort(reason)
}

// lost records that the socket ended under the read loop. (Not inlined: the idle read loop's
// frame stays small.)
//
//go:noinline
func (c *conn) lost(err error) {
	c.because("the socket ended or the client stopped answering: " + err.Error())
}

// because records why the connection ends, unless a reason was given already.
func (c *conn) because(reason string) {
	c.mu.Lock()
	if c.why == "" {
		c.why = reason
	}
	c.mu.Unlock()
}

// teardown releases everything the connection holds; it runs once.
func (c *conn) teardown() {
	c.once.Do(func() {
		c.mu.Lock()
		c.dead = true
		c.pending, c.spare = nil, nil
		if c.endRequest != nil {
			c.endRequest()
		}
		c.gw.expiries.remove(c)
		if c.raw != nil {
			_ = c.raw.Close()
		}
		why := c.why
		c.mu.Unlock()
		if c.hub != nil {
			c.hub.leave(c)
		}
		if c.counted {
			c.gw.uncount(c)
		}
		c.gw.connections.Add(-1)
		if c.gw.log.Enabled(context.Background(), slog.LevelDebug) {
			if why == "" {
				why = "the connection ended"
			}
			c.gw.log.Debug("member disconnected", "room", c.token.RoomARN, "user", c.token.UserID, "reason", why)
		}
		c.gw.wg.Done()
	})
}

// requestContext is the context of one request's work (its review, its chat-log record):
// canceled when the request is done or the connection is torn down. It is made per request
// rather than per connection, so an idle member holds none.
func (c *conn) requestContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	c.mu.Lock()
	if c.dead {
		cancel()
	} else {
		c.endRequest = cancel
	}
	c.mu.Unlock()
	return ctx, func() {
		c.mu.Lock()
		c.endRequest = nil
		c.mu.Unlock()
		cancel()
	}
}

// attach gives the connection its socket once the handshake is done; false if the
// connection was torn down meanwhile, in which case the socket is closed. Frames queued
// during the handshake start flowing now.
func (c *conn) attach(raw net.Conn) bool {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		_ = raw.Close()
		return false
	}
	c.raw, c.attached = raw, true
	if sc, ok := raw.(syscall.Conn); ok {
		c.rc, _ = sc.SyscallConn()
	}
	c.gw.expiries.add(c)
	c.startWriter()
	c.mu.Unlock()
	return true
}

// expire ends the connection when its chat session is over.
func (c *conn) expire() {
	c.sendError("", "", chat.KindUnauthenticated, "the chat session has expired; connect again with a new token")
	c.closeWith(closeNormal, "session expired")
}

// maxSpare is the largest batch capacity a connection keeps between bursts.
const maxSpare = 64

// flush is the member's own writer, while its socket would not take everything at once: it
// writes what is queued, in one vectored write at a time, until nothing is left, then exits.
func (c *conn) flush() {
	for {
		c.mu.Lock()
		if c.dead || len(c.pending) == 0 {
			c.writing = false
			if cap(c.spare) > maxSpare {
				c.spare = nil
			}
			c.mu.Unlock()
			return
		}
		batch := c.pending
		c.pending, c.queued = c.spare[:0], 0
		// Nothing is queued after a close frame, so a batch taken once it is queued ends with it.
		closing := c.closeQueued
		c.mu.Unlock()

		_ = c.raw.SetWriteDeadline(time.Now().Add(c.gw.cfg.WriteTimeout))
		bufs := net.Buffers(batch)
		_, err := bufs.WriteTo(c.raw)
		clear(batch) // frames are shared: drop the references, keep the array
		c.mu.Lock()
		c.spare = batch[:0]
		c.mu.Unlock()
		if err != nil {
			c.teardown()
			return
		}
		if closing {
			// The writer stays marked as running, so that no other starts.
			if c.closeWritten() {
				c.teardown()
			}
			return
		}
	}
}

// readLoop reads and handles the client's messages until the connection ends. It waits for
// each message here, with a small frame of its own, and leaves the work to readOne: an idle
// member's goroutine is deep only by its wait, which keeps it on Go's smallest stack.
func (c *conn) readLoop(src io.Reader) {
	defer c.teardown()
	in := newInbound(src, c.gw.cfg.MaxFrameBytes, c.gw.cfg.frameLimits(), c)
	defer in.src.release()
	for {
		c.extendReadDeadline()
		if err := in.wait(); err != nil {
			c.lost(err)
			return
		}
		if !c.readOne(in) {
			return
		}
	}
}

// readOne reads and handles one message; false means the connection is over.
//
//go:noinline
func (c *conn) readOne(in *inbound) bool {
	msg, err := in.next()
	var failure *protocolFailure
	switch {
	case err == errPeerClosed:
		if !c.closeSent.Load() {
			c.lingerUntilClosed() // flush ends the connection once our answer is written
		}
		return false // otherwise the client answered our close: done
	case errors.As(err, &failure):
		c.closeWith(failure.code, failure.reason)
		c.lingerUntilClosed()
		return false
	case err != nil:
		return false
	}
	switch {
	case msg.op == ws.OpBinary:
		c.sendError("", "", chat.KindValidation, "binary frames are not supported: send JSON requests in text frames")
	case c.isClosing.Load():
		// a closing connection takes no more requests
	default:
		c.handle(msg.payload)
	}
	return true
}

// errPeerClosed ends the read loop when the client's close frame arrives.
var errPeerClosed = errors.New("the client closed the connection")

// onControl answers the client's control frames.
func (c *conn) onControl(f clientFrame) error {
	c.extendReadDeadline()
	switch f.op {
	case ws.OpPing:
		if !c.enqueue(frame(opPong, f.payload)) {
			c.dropSlow("outbound queue full")
		}
	case ws.OpClose:
		c.peerClosed.Store(true)
		// Echo the client's code, unless our own close is already on its way.
		code := 0
		if len(f.payload) >= 2 {
			code = int(binary.BigEndian.Uint16(f.payload))
		}
		c.closeWith(code, "")
		return errPeerClosed
	}
	return nil
}

// onMessageDue brings the read deadline forward to when the fragmented message just begun
// must be complete: a client that starts a message and goes quiet is closed then.
func (c *conn) onMessageDue(due time.Time) {
	c.messageDue = due
	if !due.IsZero() {
		c.extendReadDeadline()
	}
}

// lingerUntilClosed reads and drops whatever the client still sends while a close is under
// way: the client then reads our close frame rather than a reset. It returns when the
// connection is torn down or the close grace has passed.
func (c *conn) lingerUntilClosed() {
	_ = c.raw.SetReadDeadline(time.Now().Add(c.gw.cfg.CloseGrace))
	_, _ = io.Copy(io.Discard, io.LimitReader(c.raw, int64(4*c.gw.cfg.MaxFrameBytes)+1<<20))
}

// extendReadDeadline gives the peer two ping intervals to show it is alive, but no more
// than the open message has left, unless the connection is closing, when the close grace
// stands. (Not inlined: it would enlarge the read loop's frame, which an idle member keeps
// on its stack.)
//
//go:noinline
func (c *conn) extendReadDeadline() {
	if !c.isClosing.Load() {
		d := time.Now().Add(c.gw.cfg.PingInterval * 2)
		if !c.messageDue.IsZero() && c.messageDue.Before(d) {
			d = c.messageDue
		}
		_ = c.raw.SetReadDeadline(d)
	}
}

// sendError queues an ERROR frame for this connection only.
func (c *conn) sendError(id, requestID string, kind chat.Kind, message string) {
	if !c.enqueue(errorFrame(id, requestID, kind, message)) {
		c.dropSlow("outbound queue full")
	}
}
