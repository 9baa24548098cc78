package gateway

import (
	"context"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// replay gives a connection that has just joined its room the room's last n kept messages
// (ivschatd:replay) before anything live, none missing and none twice:
//
//  1. The connection is a member already (join), so every message that reaches this node from
//     now on is queued for it, behind the handshake.
//  2. The history is read after that. A message is kept before it is sent to the room, so
//     every message that reached this node before step 1 is in it.
//  3. The replayed messages go in front of the queue, leaving out those already in the queue.
//  4. A replayed message may still be on its way to this node (kept, not yet arrived): the
//     connection skips the live copy of a replayed id for replaySkipFor.
//
// It reports false if the history could not be read.
func (g *Gateway) replay(ctx context.Context, c *conn, n int) bool {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.HandshakeTimeout)
	defer cancel()
	kept, err := g.service.RoomHistory(ctx, c.hub.key)
	if err != nil {
		g.log.Error("reading a room's history to replay", "room", c.token.RoomARN, "error", err)
		return false
	}
	g.metrics.Delivered(c.replayFirst(kept, n))
	return true
}

// replaySkipFor is how long a connection skips live copies of the messages it was replayed:
// far longer than a message takes from being kept to reaching every node.
const replaySkipFor = 30 * time.Second

// replayFirst puts the last n of kept in front of the frames queued so far (the connection's
// handshake is not complete, so everything delivered to it waits in its queue), without those
// queued already, and returns how many it put there.
func (c *conn) replayFirst(kept []*chat.KeptMessage, n int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return 0
	}
	queued := map[string]bool{}
	for _, piece := range c.pending {
		eachFrame(piece, func(f []byte) {
			if id := chat.MessageIDOf(framePayload(f)); id != "" {
				queued[id] = true
			}
		})
	}
	replayed := chat.Replayed(kept, n, queued)
	if len(replayed) == 0 {
		return 0
	}
	frames := make([][]byte, 0, len(replayed)+len(c.pending))
	c.replayed = make(map[string]bool, len(replayed))
	for _, m := range replayed {
		frames = append(frames, frame(opText, m.Payload))
		c.replayed[m.ID] = true
	}
	c.replayedUntil = time.Now().Add(replaySkipFor)
	c.pending = append(frames, c.pending...)
	c.queued += len(replayed)
	return len(replayed)
}

// withoutReplayed leaves out of pieces (whole frames) the live copies of messages the
// connection was replayed, and returns what is left and how many frames that is; past
// replaySkipFor it forgets the replayed messages. Called with c.mu held, only while
// c.replayed is set.
//
//go:noinline
func (c *conn) withoutReplayed(pieces [][]byte, frames int) ([][]byte, int) {
	if time.Now().After(c.replayedUntil) {
		c.replayed = nil
		return pieces, frames
	}
	var out [][]byte
	skipped := 0
	for _, piece := range pieces {
		start, at := 0, 0
		eachFrame(piece, func(f []byte) {
			if id := chat.MessageIDOf(framePayload(f)); id != "" && c.replayed[id] {
				delete(c.replayed, id)
				if at > start {
					out = append(out, piece[start:at])
				}
				skipped++
				start = at + len(f)
			}
			at += len(f)
		})
		if start < len(piece) {
			out = append(out, piece[start:])
		}
	}
	if skipped == 0 {
		return pieces, frames
	}
	return out, frames - skipped
}

// eachFrame calls fn with each whole frame of b, a run of frames built by frame.
func eachFrame(b []byte, fn func(f []byte)) {
	for len(b) >= 2 {
		hdr, n := 2, int(b[1]&0x7f)
		switch n {
		case 126:
			if len(b) < 4 {
				return
			}
			hdr, n = 4, int(b[2])<<8|int(b[3])
		case 127:
			if len(b) < 10 {
				return
			}
			hdr, n = 10, 0
			for _, x := range b[2:10] {
				n = n<<8 | int(x)
			}
		}
		if n < 0 || len(b) < hdr+n {
			return
		}
		fn(b[:hdr+n])
		b = b[hdr+n:]
	}
}

// framePayload is the payload of a frame built by frame.
func framePayload(f []byte) []byte {
	switch n := f[1] & 0x7f; {
	case n < 126:
		return f[2:]
	case n == 126:
		return f[4:]
	default:
		return f[10:]
	}
}
