package engine

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// Slow mode (ivschatd:user-rate) counts a user's sends to a room in one record per user and
// room in a KV bucket: the send times of the user's messages lately, on every node. A node
// admits a send by writing the record with the send added, on the condition that it is still
// the revision the node read (compare-and-set): of nodes admitting at once, one write wins and
// the others read the record again and decide anew. Every admission is therefore counted before
// the next is decided, whichever node makes it, and the limit holds exactly, over a sliding
// window of up to an hour. (A user sends rarely, so a write per send costs little here; the
// room's own rate, which every send of a room meets, is leased in slices: budget.go.)
//
// Each node keeps the last revision it read or wrote of the records it admits for. A send that
// this copy already shows over the limit is refused without asking the bucket (the record can
// only hold more admissions than the copy, not fewer); any other send costs one conditional
// write, and a read from the stream leader and another write for each race it loses.

// rateMemory is how many windows a send time stays in the record. More than one, so that a
// node whose send time is a little earlier than one already recorded (it read its clock first
// but wrote second) still counts that one.
const rateMemory = 2

// rateRetries bounds the conditional writes of one admission: each lost race means that
// another node admitted a send, so a room at its limit stops losing races quickly.
const rateRetries = 32

// roomRates holds this node's copies of the rate records of the rooms it admits for.
type roomRates struct {
	kv jetstream.KeyValue
	nc *nats.Conn
	// what names the limit in errors: the room rate, or slow mode.
	what string

	rooms perRoom[roomRate, *roomRate]
}

// roomRate is this node's copy of one room's record. Its lock serializes this node's
// admissions to the room: they would only race each other for the record.
type roomRate struct {
	mu       sync.Mutex
	revision uint64  // of the record as last read or written; 0: no record
	times    []int64 // send times in the record, unix nanoseconds
	used     time.Time
}

func newRoomRates(nc *nats.Conn, kv jetstream.KeyValue, what string) *roomRates {
	return &roomRates{nc: nc, kv: kv, what: what}
}

// AdmitMessage decides whether a message sent to the room at now fits under limit sends per
// second, counted for the room across the cluster (budget.go), and if so counts it. An error
// means this node had no share of the room's budget for that second and the engine did not
// hand one out before ctx ended; the send is then not admitted.
func (e *Engine) AdmitMessage(ctx context.Context, account, roomID string, limit int, now time.Time) (bool, error) {
	return e.budgets.admit(ctx, key(account, roomID), limit, now)
}

// AdmitUserMessage is slow mode: it decides whether a user's message to the room at now fits
// under limit sends per period for that user, counted across the cluster by the same
// compare-and-set as the room rate, and if so records it. When it does not, retry is when the
// user's next message will.
func (e *Engine) AdmitUserMessage(ctx context.Context, account, roomID, userID string, limit int, per time.Duration, now time.Time) (ok bool, retry time.Time, err error) {
	return e.userRates.admitWithin(ctx, key(account, chat.RoomUserKey(roomID, userID)), limit, per, now)
}

// admitWithin admits a send under limit sends in any window; the record remembers sends for
// rateMemory windows.
func (r *roomRates) admitWithin(ctx context.Context, k string, limit int, window time.Duration, now time.Time) (bool, time.Time, error) {
	if limit < 1 {
		return false, time.Time{}, nil
	}
	room := r.rooms.get(k, now)
	room.mu.Lock()
	defer room.mu.Unlock()
	room.used = now
	t := now.UnixNano()
	for attempt := range rateRetries {
		if room.count(t, window) >= limit {
			return false, room.nextAdmission(t, limit, window), nil
		}
		next := append(room.keep(t, rateMemory*window), t)
		rev, err := r.kv.Update(ctx, k, encodeTimes(next), room.revision)
		if err == nil {
			room.revision, room.times = rev, next
			return true, time.Time{}, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
			return false, time.Time{}, fmt.Errorf("engine: %s: %w", r.what, err)
		}
		// Another node admitted a send meanwhile (or the record expired): read it again. A node
		// that just won holds the record's revision and would win every race at once; a loser
		// that lost before waits a moment, so that it is not starved by nodes that keep winning.
		if attempt > 0 {
			time.Sleep(time.Duration(rand.Int64N(int64(attempt) * int64(500*time.Microsecond))))
		}
		if err := r.read(ctx, room, k); err != nil {
			return false, time.Time{}, fmt.Errorf("engine: %s: %w", r.what, err)
		}
	}
	return false, time.Time{}, fmt.Errorf("engine: %s: too many concurrent admissions; retry", r.what)
}

// perRoom holds a node's state for each room it admits sends for, created on first use; now
// and then it drops the state of rooms that sent nothing for rateSweep (their records expire
// in the bucket too).
type perRoom[T any, P interface {
	*T
	// idle reports, without waiting for the state's lock, whether it may be dropped at now.
	idle(now time.Time) bool
}] struct {
	mu        sync.Mutex
	rooms     map[string]P
	lastSweep time.Time
}

func (p *perRoom[T, P]) get(k string, now time.Time) P {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Sub(p.lastSweep) > rateSweep {
		p.lastSweep = now
		for name, room := range p.rooms {
			if room.idle(now) {
				delete(p.rooms, name)
			}
		}
	}
	room := p.rooms[k]
	if room == nil {
		if p.rooms == nil {
			p.rooms = map[string]P{}
		}
		room = new(T)
		p.rooms[k] = room
	}
	return room
}

func (room *roomRate) idle(now time.Time) bool {
	if !room.mu.TryLock() {
		return false
	}
	defer room.mu.Unlock()
	return now.Sub(room.used) > rateSweep
}

// rateSweep is how long a room's copy is kept without sends; the bucket keeps a record for
// rateRecordTTL without writes.
const (
	rateSweep     = time.Minute
	rateRecordTTL = time.Minute
)

// count is how many recorded sends fall in the window before t (or after it: another node's
// clock may have read a later time first).
func (room *roomRate) count(t int64, window time.Duration) int {
	n := 0
	for _, s := range room.times {
		if s > t-int64(window) {
			n++
		}
	}
	return n
}

// nextAdmission is when a send will fit again, for a record at or over limit at t: when the
// limit-th most recent send in the window leaves it.
func (room *roomRate) nextAdmission(t int64, limit int, window time.Duration) time.Time {
	var in []int64
	for _, s := range room.times {
		if s > t-int64(window) {
			in = append(in, s)
		}
	}
	slices.Sort(in)
	return time.Unix(0, in[len(in)-limit]+int64(window))
}

// keep returns the recorded send times still worth remembering at t, in a new slice.
func (room *roomRate) keep(t int64, memory time.Duration) []int64 {
	out := make([]int64, 0, len(room.times)+1)
	for _, s := range room.times {
		if s > t-int64(memory) {
			out = append(out, s)
		}
	}
	return out
}

// read fetches a room's record from the bucket's stream leader.
func (r *roomRates) read(ctx context.Context, room *roomRate, k string) error {
	revision, data, err := readLast(ctx, r.nc, r.kv.Bucket(), k)
	if err != nil {
		return err
	}
	room.revision, room.times = revision, decodeTimes(data)
	return nil
}

// readLast fetches a key's last value from its bucket's stream leader; revision 0 means no
// record. The KV client's own read may be answered by any replica, and a replica a write
// behind would make every compare-and-set after it lose again.
func readLast(ctx context.Context, nc *nats.Conn, bucket, k string) (revision uint64, data []byte, err error) {
	req, err := json.Marshal(map[string]string{"last_by_subj": "$KV." + bucket + "." + k})
	if err != nil {
		return 0, nil, err
	}
	msg, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.KV_"+bucket, req)
	if err != nil {
		return 0, nil, err
	}
	var resp struct {
		Message *struct {
			Seq  uint64 `json:"seq"`
			Data []byte `json:"data"`
		} `json:"message"`
		Error *struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return 0, nil, err
	}
	switch {
	case resp.Error != nil && resp.Error.Code == 404:
		return 0, nil, nil // no record: nothing sent lately
	case resp.Error != nil:
		return 0, nil, fmt.Errorf("reading the record: %s", resp.Error.Description)
	case resp.Message == nil:
		return 0, nil, errors.New("reading the record: empty answer")
	}
	return resp.Message.Seq, resp.Message.Data, nil
}

// encodeTimes writes send times as big-endian unix nanoseconds.
func encodeTimes(times []int64) []byte {
	b := make([]byte, 0, 8*len(times))
	for _, t := range times {
		b = binary.BigEndian.AppendUint64(b, uint64(t))
	}
	return b
}

func decodeTimes(b []byte) []int64 {
	times := make([]int64, 0, len(b)/8)
	for ; len(b) >= 8; b = b[8:] {
		times = append(times, int64(binary.BigEndian.Uint64(b)))
	}
	return times
}
