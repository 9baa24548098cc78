package bench

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// Baseline is the raw broadcaster that stands for what this machine can do: the fastest
// WebSocket fan-out we can write without chat logic, not a copy of ivschatd's design. It
// takes the same handshake shape as ivschatd (an upgrade with the token as the echoed
// subprotocol, here naming the room and the user), parsed by hand on the raw connection.
//
// Fan-out: a room's members are spread over 2 × GOMAXPROCS shards. A text frame from a
// member is wrapped once in a MESSAGE-shaped envelope of about ivschatd's size, framed once,
// and appended to the pending buffer of every shard of its room. A shard's writer goroutine
// (running while the shard has something pending) takes everything pending as one buffer and
// writes it to each of its members in turn with one non-blocking write: no goroutine and no
// queue per member while the socket takes the bytes. Only a socket that would block gets a
// queue of its own and a writer goroutine until it has caught up; a member more than
// baseQueue frames behind is dropped.
//
// An idle member is one reader goroutine on a small stack waiting for one byte, and its
// place in a shard; a read buffer is borrowed from a pool only while frames arrive.
type Baseline struct {
	ln     net.Listener
	shards int
	mu     sync.Mutex
	rooms  map[string]*baseRoom
	conns  map[*baseConn]struct{}
	wg     sync.WaitGroup
}

type baseRoom struct {
	shards []*baseShard
	joined int // members ever joined, to spread them over the shards; guarded by Baseline.mu
}

// baseShard is some of a room's members and the frames pending for all of them.
type baseShard struct {
	mu      sync.Mutex
	members []*baseConn
	pending []byte // frames not yet taken by the writer
	frames  int    // how many frames pending holds
	spare   []byte // a taken buffer no member kept, for reuse
	writing bool
	batch   []*baseConn // the writer's copy of members
}

type baseConn struct {
	c     net.Conn
	rc    syscall.RawConn
	user  string
	room  *baseRoom
	shard *baseShard
	idx   int // place in shard.members; guarded by shard.mu

	mu sync.Mutex // guards the fields below
	// backlog is what a socket that would block has not taken yet; a writer goroutine of the
	// member's own runs while it is not empty.
	backlog       [][]byte
	backlogFrames int
	writing       bool
	dead          bool
	// out, wrote and werr are the non-blocking write's argument and results; write is the
	// method value handed to RawConn.Write, made once so that a write allocates nothing.
	out   []byte
	wrote int
	werr  error
	write func(fd uintptr) bool
}

// baseQueue is how many frames a member may fall behind before it is dropped, as in ivschatd.
const baseQueue = 512

// StartBaseline listens on addr and serves until Close.
func StartBaseline(addr string) (*Baseline, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	b := &Baseline{ln: ln, shards: 2 * runtime.GOMAXPROCS(0), rooms: map[string]*baseRoom{}, conns: map[*baseConn]struct{}{}}
	go b.accept()
	return b, nil
}

// URL is the baseline's address as an http URL.
func (b *Baseline) URL() string { return "http://" + b.ln.Addr().String() }

// Close stops listening and drops every connection.
func (b *Baseline) Close() {
	_ = b.ln.Close()
	b.mu.Lock()
	for c := range b.conns {
		_ = c.c.Close()
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
		go b.handshake(c)
	}
}

// BaselineToken is the baseline's "token": just the room and the user, in characters a
// subprotocol may carry.
func BaselineToken(room, user string) string { return "b." + room + "." + user }

var handshakeBufs = sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}

// handshake reads the upgrade request by hand, answers it, and starts the member's read loop
// on a fresh goroutine, whose stack stays small: this one grew for the parsing.
func (b *Baseline) handshake(nc net.Conn) {
	bp := handshakeBufs.Get().(*[]byte)
	buf := *bp
	defer handshakeBufs.Put(bp)
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, end := 0, -1
	for end < 0 {
		if n == len(buf) {
			break
		}
		m, err := nc.Read(buf[n:])
		if err != nil {
			break
		}
		n += m
		end = bytes.Index(buf[:n], []byte("\r\n\r\n"))
	}
	var key, proto []byte
	upgrade := false
	if end >= 0 {
		for _, line := range bytes.Split(buf[:end], []byte("\r\n"))[1:] {
			name, value, ok := bytes.Cut(line, []byte(":"))
			if !ok {
				continue
			}
			value = bytes.TrimSpace(value)
			switch {
			case bytes.EqualFold(name, []byte("Sec-WebSocket-Key")):
				key = value
			case bytes.EqualFold(name, []byte("Sec-WebSocket-Protocol")):
				proto, _, _ = bytes.Cut(value, []byte(","))
				proto = bytes.TrimSpace(proto)
			case bytes.EqualFold(name, []byte("Upgrade")):
				upgrade = bytes.EqualFold(value, []byte("websocket"))
			}
		}
	}
	parts := bytes.Split(proto, []byte("."))
	if len(parts) != 3 || string(parts[0]) != "b" || len(key) == 0 || !upgrade {
		_, _ = io.WriteString(nc, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		_ = nc.Close()
		b.wg.Done()
		return
	}
	h := sha1.New()
	h.Write(key)
	h.Write([]byte(wsGUID))
	var sum [sha1.Size]byte
	resp := append(buf[n:n], "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	resp = base64.StdEncoding.AppendEncode(resp, h.Sum(sum[:0]))
	resp = append(resp, "\r\nSec-WebSocket-Protocol: "...)
	resp = append(resp, proto...)
	resp = append(resp, "\r\n\r\n"...)
	var early []byte
	if end+4 < n {
		early = bytes.Clone(buf[end+4 : n])
	}
	c := &baseConn{c: nc, user: string(parts[2])}
	c.write = c.writeFD
	if sc, ok := nc.(syscall.Conn); ok {
		c.rc, _ = sc.SyscallConn()
	}
	room := string(parts[1])
	b.join(room, c)
	if _, err := nc.Write(resp); err != nil {
		b.leave(c)
		b.wg.Done()
		return
	}
	_ = nc.SetReadDeadline(time.Time{})
	go b.serve(c, early)
}

// serve reads the member's frames until the connection ends.
func (b *Baseline) serve(c *baseConn, early []byte) {
	defer b.wg.Done()
	defer b.leave(c)
	r := &idleReader{c: c.c, early: early}
	defer r.release()
	var hdr [14]byte
	var payload []byte
	for {
		if err := r.wait(); err != nil {
			return
		}
		if _, err := io.ReadFull(r, hdr[:2]); err != nil {
			return
		}
		op := hdr[0] & 0x0F
		masked := hdr[1]&0x80 != 0
		n := int(hdr[1] & 0x7F)
		switch n {
		case 126:
			if _, err := io.ReadFull(r, hdr[2:4]); err != nil {
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
		if _, err := io.ReadFull(r, mask[:]); err != nil {
			return
		}
		if cap(payload) < n {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			return
		}
		for i := range payload {
			payload[i] ^= mask[i&3]
		}
		switch op {
		case 0x1:
			c.room.broadcast(envelope(c.user, payload))
		case 0x9:
			c.deliver(serverFrame(0xA, payload), 1)
		case 0x8:
			c.deliver(serverFrame(0x8, payload[:min(2, len(payload))]), 1)
			time.Sleep(100 * time.Millisecond) // let the close go out
			return
		}
		if len(payload) > 1024 {
			payload = nil
		}
	}
}

// idleReader waits for a client's next byte with one byte of its own, and borrows a
// buffer from a pool only while frames arrive.
type idleReader struct {
	c     net.Conn
	early []byte
	ahead [1]byte
	has   bool
	buf   *bufio.Reader
}

var frameBufs = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 512) }}

func (r *idleReader) wait() error {
	if r.has || len(r.early) > 0 {
		return nil
	}
	if r.buf != nil {
		if r.buf.Buffered() > 0 {
			return nil
		}
		r.release()
	}
	n, err := r.c.Read(r.ahead[:])
	r.has = n == 1
	if r.has {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

func (r *idleReader) Read(p []byte) (int, error) {
	switch {
	case len(p) == 0:
		return 0, nil
	case len(r.early) > 0:
		n := copy(p, r.early)
		r.early = r.early[n:]
		return n, nil
	case r.has:
		p[0], r.has = r.ahead[0], false
		return 1, nil
	}
	if r.buf == nil {
		r.buf = frameBufs.Get().(*bufio.Reader)
		r.buf.Reset(r.c)
	}
	return r.buf.Read(p)
}

func (r *idleReader) release() {
	if r.buf != nil {
		r.buf.Reset(nil)
		frameBufs.Put(r.buf)
		r.buf = nil
	}
}

// join puts a member in the next shard of its room, round robin.
func (b *Baseline) join(name string, c *baseConn) {
	b.mu.Lock()
	r := b.rooms[name]
	if r == nil {
		r = &baseRoom{shards: make([]*baseShard, b.shards)}
		for i := range r.shards {
			r.shards[i] = &baseShard{}
		}
		b.rooms[name] = r
	}
	s := r.shards[r.joined%len(r.shards)]
	r.joined++
	b.conns[c] = struct{}{}
	b.mu.Unlock()
	s.mu.Lock()
	c.room, c.shard, c.idx = r, s, len(s.members)
	s.members = append(s.members, c)
	s.mu.Unlock()
}

func (b *Baseline) leave(c *baseConn) {
	s := c.shard
	s.mu.Lock()
	last := s.members[len(s.members)-1]
	s.members[c.idx], last.idx = last, c.idx
	s.members[len(s.members)-1] = nil
	s.members = s.members[:len(s.members)-1]
	s.mu.Unlock()
	b.mu.Lock()
	delete(b.conns, c)
	b.mu.Unlock()
	c.mu.Lock()
	c.dead, c.backlog = true, nil
	c.mu.Unlock()
	_ = c.c.Close()
}

// broadcast appends one frame to every shard of the room that has members.
func (r *baseRoom) broadcast(f []byte) {
	for _, s := range r.shards {
		s.mu.Lock()
		if len(s.members) == 0 {
			s.mu.Unlock()
			continue
		}
		s.pending = append(s.pending, f...)
		s.frames++
		start := !s.writing
		s.writing = true
		s.mu.Unlock()
		if start {
			go s.run()
		}
	}
}

// maxSpareBuffer is the largest taken buffer a shard keeps for reuse.
const maxSpareBuffer = 64 << 10

// run is the shard's writer: it takes everything pending as one buffer and writes it to
// each member in turn, until nothing is pending.
func (s *baseShard) run() {
	for {
		s.mu.Lock()
		if len(s.pending) == 0 {
			s.writing = false
			s.mu.Unlock()
			return
		}
		buf, frames := s.pending, s.frames
		s.pending, s.frames, s.spare = s.spare[:0], 0, nil
		s.batch = append(s.batch[:0], s.members...)
		s.mu.Unlock()
		kept := false
		for _, c := range s.batch {
			if c.deliver(buf, frames) {
				kept = true
			}
		}
		clear(s.batch)
		if !kept && cap(buf) <= maxSpareBuffer {
			s.mu.Lock()
			s.spare = buf[:0]
			s.mu.Unlock()
		}
	}
}

// deliver writes frames to the member's socket at once if it has nothing queued and the
// socket takes them; what it does not take waits in the member's own queue. It reports
// whether the member kept a reference to buf.
func (c *baseConn) deliver(buf []byte, frames int) (kept bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return false
	}
	if c.writing {
		if c.backlogFrames+frames > baseQueue {
			c.drop()
			return false
		}
		c.backlog = append(c.backlog, buf)
		c.backlogFrames += frames
		return true
	}
	n, err := c.tryWrite(buf)
	if err != nil {
		c.drop()
		return false
	}
	if n == len(buf) {
		return false
	}
	c.backlog = append(c.backlog, buf[n:])
	c.backlogFrames = frames
	c.writing = true
	go c.flush()
	return true
}

// tryWrite writes what the socket takes without waiting; a socket without a descriptor
// (none here) takes nothing, so its member is served by its own writer.
func (c *baseConn) tryWrite(buf []byte) (int, error) {
	if c.rc == nil {
		return 0, nil
	}
	c.out = buf
	if err := c.rc.Write(c.write); err != nil {
		return 0, err
	}
	c.out = nil
	switch {
	case c.werr == nil:
		return c.wrote, nil
	case errors.Is(c.werr, syscall.EAGAIN), errors.Is(c.werr, syscall.EINTR):
		return max(c.wrote, 0), nil
	}
	return 0, c.werr
}

// writeFD is one write system call, whatever it takes: returning true tells the runtime not
// to wait for the socket to become writable.
func (c *baseConn) writeFD(fd uintptr) bool {
	c.wrote, c.werr = syscall.Write(int(fd), c.out)
	return true
}

// drop ends a member that cannot keep up or whose socket failed; c.mu is held.
func (c *baseConn) drop() {
	c.dead, c.backlog, c.writing = true, nil, false
	_ = c.c.Close()
}

// flush is the member's own writer while its socket would block: everything queued in one
// vectored write at a time, until the queue is empty.
func (c *baseConn) flush() {
	var batch [][]byte
	for {
		c.mu.Lock()
		if len(c.backlog) == 0 || c.dead {
			c.writing = false
			c.backlog, c.backlogFrames = nil, 0
			c.mu.Unlock()
			return
		}
		batch, c.backlog, c.backlogFrames = c.backlog, batch[:0], 0
		c.mu.Unlock()
		_ = c.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		bufs := net.Buffers(batch)
		if _, err := bufs.WriteTo(c.c); err != nil {
			c.mu.Lock()
			c.drop()
			c.mu.Unlock()
			return
		}
		clear(batch)
	}
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
