package gateway

import (
	"errors"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Fan-out. A room's members on this node are spread over a few shards (2 × GOMAXPROCS, so that
// every core can write). A frame for the whole room is appended once to each shard's pending
// buffer. A shard's writer goroutine, running while something is pending, takes everything
// pending as one buffer and writes it to each of its members in turn with one non-blocking
// write: while a member's socket takes the bytes, the member has no queue and no goroutine of
// its own. A socket that would block (or a member whose handshake is still in flight) gets
// what it did not take in its own queue, written by its own writer goroutine (conn.flush)
// until it has caught up; a member whose queue would pass QueueFrames is dropped, by the
// writer, so a slow reader never holds up the others.
//
// A frame for one member (an ERROR, a pong, a close) goes through the member's shard too,
// marked with where it falls among the shared frames, so that every member gets its frames in
// the order they were queued.

// fanShard is some of a room's members and the frames waiting for them.
type fanShard struct {
	mu      sync.Mutex
	members []*conn // each member's place here is its slot
	pending []byte  // whole frames for every member, in order
	frames  int     // how many frames pending holds
	own     []ownFrame
	// gen counts the batches taken; a member that joined during batch gen gets only what was
	// queued after it joined.
	gen     uint64
	writing bool
	spare   []byte // a taken buffer that no member kept, for reuse

	// Used by the writer only.
	batch  []*conn
	after  []afterBatch
	pieces [1][]byte
	// out, wrote and werr are a non-blocking write's argument and results; writeOnce is the
	// method value handed to RawConn.Write, made once, so that a write allocates nothing.
	out       [][]byte
	wrote     int
	werr      error
	writeOnce func(fd uintptr) bool
}

// ownFrame is a frame for one member, queued when pending held at bytes (frames frames).
type ownFrame struct {
	c      *conn
	at     int
	frames int
	f      []byte
}

// afterBatch is what the writer does once a batch is written, outside every lock: drop a
// member that fell behind, or end one whose socket failed or whose close is complete.
type afterBatch struct {
	c    *conn
	slow bool
}

// fanShardsPerHub spreads a room over enough writers to keep every core busy.
var fanShardsPerHub = 2 * runtime.GOMAXPROCS(0)

// fanBlock members join one shard before the next shard gets any: a small room has one
// writer, not one per core.
const fanBlock = 16

// maxSpareBuffer is the largest taken buffer a shard keeps for the next batch.
const maxSpareBuffer = 64 << 10

func newFanShards() []*fanShard {
	s := make([]*fanShard, fanShardsPerHub)
	for i := range s {
		s[i] = &fanShard{}
		s[i].writeOnce = s[i].writeFD
	}
	return s
}

// add makes c a member: it gets every frame queued from now on.
func (s *fanShard) add(c *conn) {
	s.mu.Lock()
	c.shard, c.slot = s, len(s.members)
	c.joinGen, c.joinAt, c.joinFrames = s.gen, len(s.pending), s.frames
	s.members = append(s.members, c)
	s.mu.Unlock()
}

// remove ends c's membership; frames already taken by the writer find it dead.
func (s *fanShard) remove(c *conn) {
	s.mu.Lock()
	if c.slot >= 0 && c.slot < len(s.members) && s.members[c.slot] == c {
		last := s.members[len(s.members)-1]
		s.members[c.slot], last.slot = last, c.slot
		s.members[len(s.members)-1] = nil
		s.members = s.members[:len(s.members)-1]
		c.slot = -1
	}
	s.mu.Unlock()
}

// broadcast queues f for every member; it returns how many members there are.
func (s *fanShard) broadcast(f []byte) int {
	s.mu.Lock()
	n := len(s.members)
	if n == 0 {
		s.mu.Unlock()
		return 0
	}
	s.pending = append(s.pending, f...)
	s.frames++
	start := s.kick()
	s.mu.Unlock()
	if start {
		go s.run()
	}
	return n
}

// send queues f for c alone, after everything queued for c so far.
func (s *fanShard) send(c *conn, f []byte) {
	s.mu.Lock()
	s.own = append(s.own, ownFrame{c: c, at: len(s.pending), frames: s.frames, f: f})
	start := s.kick()
	s.mu.Unlock()
	if start {
		go s.run()
	}
}

// kick marks the writer as running and reports whether it must be started; s.mu is held.
func (s *fanShard) kick() bool {
	if s.writing {
		return false
	}
	s.writing = true
	return true
}

// run is the shard's writer: it takes everything pending and writes it to each member in
// turn, until nothing is pending.
func (s *fanShard) run() {
	for {
		s.mu.Lock()
		if len(s.pending) == 0 && len(s.own) == 0 {
			s.writing = false
			s.mu.Unlock()
			return
		}
		buf, frames, own, gen := s.pending, s.frames, s.own, s.gen
		s.pending, s.frames, s.own, s.spare = s.spare[:0], 0, nil, nil
		s.gen++
		s.batch = append(s.batch[:0], s.members...)
		s.mu.Unlock()

		kept := false
		for i, o := range own {
			o.c.ownIdx = append(o.c.ownIdx, int32(i)) // its own frames, in order
		}
		for _, c := range s.batch {
			if c.ownIdx != nil {
				continue // below, with its own frames
			}
			start, startFrames := 0, 0
			if c.joinGen == gen {
				start, startFrames = c.joinAt, c.joinFrames
			}
			if start == len(buf) {
				continue
			}
			s.pieces[0] = buf[start:]
			k, after := s.deliver(c, s.pieces[:1], frames-startFrames, false)
			kept = kept || k
			if after != nil {
				s.after = append(s.after, *after)
			}
		}
		if len(own) > 0 {
			kept = s.deliverOwn(buf, frames, gen, own) || kept
		}
		clear(s.batch)
		for _, a := range s.after {
			if a.slow {
				a.c.dropSlow("outbound queue full: the client is not reading")
			} else {
				a.c.teardown()
			}
		}
		clear(s.after)
		s.after = s.after[:0]
		if !kept && cap(buf) <= maxSpareBuffer {
			s.mu.Lock()
			s.spare = buf[:0]
			s.mu.Unlock()
		}
	}
}

// deliverOwn writes the batch to the members that also have frames of their own in it, each
// frame in its place; it reports whether a member kept a reference to buf.
func (s *fanShard) deliverOwn(buf []byte, frames int, gen uint64, own []ownFrame) (kept bool) {
	for _, o := range own {
		c := o.c
		if c.ownIdx == nil {
			continue // done with an earlier frame of its own
		}
		idx := c.ownIdx
		c.ownIdx = nil
		prev, prevFrames := 0, 0
		if c.joinGen == gen {
			prev, prevFrames = c.joinAt, c.joinFrames
		}
		var pieces [][]byte
		n := 0
		closing := false
		for _, j := range idx {
			m := own[j]
			if m.at > prev {
				pieces = append(pieces, buf[prev:m.at])
				n += m.frames - prevFrames
				prev, prevFrames = m.at, m.frames
			}
			pieces = append(pieces, m.f)
			n++
			if isClose(m.f) {
				closing = true // nothing follows a close frame
				break
			}
		}
		if !closing && prev < len(buf) {
			pieces = append(pieces, buf[prev:])
			n += frames - prevFrames
		}
		k, after := s.deliver(c, pieces, n, closing)
		kept = kept || k
		if after != nil {
			s.after = append(s.after, *after)
		}
	}
	return kept
}

// deliver writes frames to c's socket at once when nothing of c's waits and the socket takes
// them; what it does not take waits in c's queue for its own writer. closing says the last
// piece is a close frame. It reports whether c kept a reference to the pieces' memory, and
// what the writer must do after the batch.
func (s *fanShard) deliver(c *conn, pieces [][]byte, frames int, closing bool) (kept bool, after *afterBatch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead || c.closeQueued {
		return false, nil
	}
	if c.replayed != nil {
		if pieces, frames = c.withoutReplayed(pieces, frames); frames == 0 {
			return false, nil
		}
	}
	if !c.attached || c.writing || len(c.pending) > 0 {
		if c.queued+frames > c.gw.cfg.QueueFrames {
			return false, &afterBatch{c: c, slow: true}
		}
		c.pending = append(c.pending, pieces...)
		c.queued += frames
		c.closeQueued = closing
		c.startWriter()
		return true, nil
	}
	n, err := s.tryWrite(c.rc, pieces)
	if err != nil {
		if c.why == "" {
			c.why = "the socket failed: " + err.Error()
		}
		return false, &afterBatch{c: c}
	}
	for len(pieces) > 0 && n >= len(pieces[0]) {
		n -= len(pieces[0])
		pieces = pieces[1:]
	}
	if len(pieces) == 0 {
		if closing {
			c.closeQueued = true
			if c.closeWritten() {
				return false, &afterBatch{c: c}
			}
		}
		return false, nil
	}
	// The socket would block: the rest waits for the member's own writer.
	c.pending = append(c.pending, pieces[0][n:])
	c.pending = append(c.pending, pieces[1:]...)
	c.queued = frames
	c.closeQueued = closing
	c.startWriter()
	return true, nil
}

// tryWrite writes what the socket takes at once, without waiting for it to become writable.
// A socket without a descriptor of its own (TLS) takes nothing here: its member is served by
// its own writer.
func (s *fanShard) tryWrite(rc syscall.RawConn, pieces [][]byte) (int, error) {
	if rc == nil {
		return 0, nil
	}
	s.out = pieces
	err := rc.Write(s.writeOnce)
	s.out = nil
	if err != nil {
		return 0, err
	}
	switch {
	case s.werr == nil:
		return s.wrote, nil
	case errors.Is(s.werr, syscall.EAGAIN), errors.Is(s.werr, syscall.EINTR):
		return 0, nil
	}
	return 0, s.werr
}

// writeFD makes one write system call with whatever s.out holds; returning true tells the
// runtime not to wait for the socket to become writable.
func (s *fanShard) writeFD(fd uintptr) bool {
	if len(s.out) == 1 {
		s.wrote, s.werr = syscall.Write(int(fd), s.out[0])
	} else {
		s.wrote, s.werr = unix.Writev(int(fd), s.out)
	}
	return true
}
