package bench

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Baseline is the raw broadcaster that stands for what this machine can do: the same
// handshake shape as ivschatd (an HTTP upgrade with the token as the echoed subprotocol),
// rooms named by the token, and no chat logic at all. A text frame from a member is wrapped
// once in a MESSAGE-shaped envelope of about the size ivschatd sends, framed once, and the
// same bytes are queued to every member of its room. A connection has no writer goroutine
// while it has nothing to write: one is started when a frame is queued and exits when the
// queue is empty, writing everything pending in one vectored write. An idle connection is
// one reader goroutine, a small read buffer and its entry in the room.
type Baseline struct {
	ln    net.Listener
	mu    sync.Mutex
	rooms map[string]*baseRoom
	wg    sync.WaitGroup
}

type baseRoom struct {
	mu      sync.RWMutex
	members map[*baseConn]struct{}
}

type baseConn struct {
	c       net.Conn
	user    string
	mu      sync.Mutex
	pending [][]byte
	writing bool
	dead    bool
}

// baseQueue bounds a connection's queue as ivschatd's default does.
const baseQueue = 512

// StartBaseline listens on addr and serves until Close.
func StartBaseline(addr string) (*Baseline, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	b := &Baseline{ln: ln, rooms: map[string]*baseRoom{}}
	go b.accept()
	return b, nil
}

// URL is the baseline's address as an http URL.
func (b *Baseline) URL() string { return "http://" + b.ln.Addr().String() }

// Close stops listening and drops every connection.
func (b *Baseline) Close() {
	_ = b.ln.Close()
	b.mu.Lock()
	for _, r := range b.rooms {
		r.mu.RLock()
		for c := range r.members {
			_ = c.c.Close()
		}
		r.mu.RUnlock()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *Baseline) accept() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.wg.Add(1)
		go b.serve(c)
	}
}

// BaselineToken is the baseline's "token": just the room and the user, in characters a
// subprotocol may carry.
func BaselineToken(room, user string) string { return "b." + room + "." + user }

func (b *Baseline) serve(nc net.Conn) {
	defer b.wg.Done()
	defer nc.Close()
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReaderSize(nc, 1024)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	token := strings.TrimSpace(strings.Split(req.Header.Get("Sec-WebSocket-Protocol"), ",")[0])
	parts := strings.Split(token, ".")
	key := req.Header.Get("Sec-WebSocket-Key")
	if len(parts) != 3 || parts[0] != "b" || key == "" || !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
		_, _ = io.WriteString(nc, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return
	}
	sum := sha1.Sum([]byte(key + wsGUID))
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(sum[:]) + "\r\nSec-WebSocket-Protocol: " + token + "\r\n\r\n"
	c := &baseConn{c: nc, user: parts[2]}
	room := b.join(parts[1], c)
	defer b.leave(parts[1], room, c)
	if _, err := io.WriteString(nc, resp); err != nil {
		return
	}
	_ = nc.SetReadDeadline(time.Time{})

	var hdr [14]byte
	var payload []byte
	for {
		if _, err := io.ReadFull(br, hdr[:2]); err != nil {
			return
		}
		op := hdr[0] & 0x0F
		masked := hdr[1]&0x80 != 0
		n := int(hdr[1] & 0x7F)
		switch n {
		case 126:
			if _, err := io.ReadFull(br, hdr[2:4]); err != nil {
				return
			}
			n = int(binary.BigEndian.Uint16(hdr[2:4]))
		case 127:
			return // nothing this large is sent
		}
		if !masked || n > 16<<10 {
			return
		}
		var mask [4]byte
		if _, err := io.ReadFull(br, mask[:]); err != nil {
			return
		}
		if cap(payload) < n {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(br, payload); err != nil {
			return
		}
		for i := range payload {
			payload[i] ^= mask[i&3]
		}
		switch op {
		case 0x1:
			room.broadcast(envelope(c.user, payload))
		case 0x9:
			c.enqueue(serverFrame(0xA, payload))
		case 0x8:
			c.enqueue(serverFrame(0x8, payload[:min(2, len(payload))]))
			time.Sleep(100 * time.Millisecond) // let the close go out
			return
		}
	}
}

func (b *Baseline) join(name string, c *baseConn) *baseRoom {
	b.mu.Lock()
	r := b.rooms[name]
	if r == nil {
		r = &baseRoom{members: map[*baseConn]struct{}{}}
		b.rooms[name] = r
	}
	b.mu.Unlock()
	r.mu.Lock()
	r.members[c] = struct{}{}
	r.mu.Unlock()
	return r
}

func (b *Baseline) leave(name string, r *baseRoom, c *baseConn) {
	r.mu.Lock()
	delete(r.members, c)
	r.mu.Unlock()
	c.mu.Lock()
	c.dead = true
	c.pending = nil
	c.mu.Unlock()
}

// envelope wraps a request in a payload of about the size and shape of an ivschatd MESSAGE,
// and frames it: once per publish.
func envelope(user string, request []byte) []byte {
	const head = `{"Type":"MESSAGE","Id":"AbCdEfGhIjKl","SendTime":"2026-01-01T00:00:00.000000000Z","Sender":{"UserId":"`
	n := len(head) + len(user) + len(`","Attributes":{}},"Request":`) + len(request) + 1
	p := make([]byte, 0, n+4)
	p = append(p, 0x81)
	if n < 126 {
		p = append(p, byte(n))
	} else {
		p = append(p, 126, byte(n>>8), byte(n))
	}
	p = append(p, head...)
	p = append(p, user...)
	p = append(p, `","Attributes":{}},"Request":`...)
	p = append(p, request...)
	return append(p, '}')
}

func serverFrame(op byte, payload []byte) []byte {
	p := make([]byte, 0, 2+len(payload))
	p = append(p, 0x80|op, byte(len(payload)))
	return append(p, payload...)
}

// broadcast queues one frame to every member.
func (r *baseRoom) broadcast(f []byte) {
	r.mu.RLock()
	for c := range r.members {
		c.enqueue(f)
	}
	r.mu.RUnlock()
}

// enqueue adds a frame to the connection's queue and starts its writer if none runs. A
// connection whose queue is full is dropped.
func (c *baseConn) enqueue(f []byte) {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return
	}
	if len(c.pending) >= baseQueue {
		c.dead = true
		c.pending = nil
		c.mu.Unlock()
		_ = c.c.Close()
		return
	}
	c.pending = append(c.pending, f)
	if c.writing {
		c.mu.Unlock()
		return
	}
	c.writing = true
	c.mu.Unlock()
	go c.flush()
}

// flush writes everything pending, several frames per syscall, until the queue is empty.
func (c *baseConn) flush() {
	var batch [][]byte
	for {
		c.mu.Lock()
		if len(c.pending) == 0 || c.dead {
			c.writing = false
			c.pending = nil
			c.mu.Unlock()
			return
		}
		batch, c.pending = c.pending, batch[:0]
		c.mu.Unlock()
		_ = c.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		bufs := net.Buffers(batch)
		if _, err := bufs.WriteTo(c.c); err != nil {
			_ = c.c.Close()
			c.mu.Lock()
			c.dead, c.writing, c.pending = true, false, nil
			c.mu.Unlock()
			return
		}
		clear(batch)
	}
}
