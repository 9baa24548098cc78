package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A room's maximumMessageRatePerSecond is a budget of sends for each second of the clock (the
// Unix second a send is stamped with), shared by every node. The budget of a second is one
// record in the room-rate bucket: how many of its sends have been handed out. A node leases a
// slice of it, by a compare-and-set of the record that adds the slice, and admits sends stamped
// with that second from its slice, without asking the engine, until the slice is used up. A
// node leases the next slice while it still holds a few sends of the current one, and the next
// second's first slice during the current second, so a busy room's sends do not wait for the
// engine; only a node's first send to a room, or one that finds its slice used up before the
// next arrived, waits for a lease.
//
// The engine hands out at most the limit for each second, and a node admits only sends stamped
// with the second of its slice: at most limit sends are stamped with any one second, in the
// whole cluster, from a room's first message. The window is the clock's second, not a sliding
// one: a room that uses its whole budget late in one second and early in the next admits up to
// twice its limit within a span of one second. Sends a node leased and did not use are lost to
// the room for that second (at most a slice per node). With nodes' clocks apart by d, a second
// stamped by one node may begin d later than by another (keep them in sync with NTP).

// budgetSlices is the share of a room's limit one lease takes at most: a quarter, so that the
// nodes of a busy room each lease a few times a second, and a node lets few sends go unused.
const budgetSlices = 4

// leaseTimeout bounds a lease. A send that waits for one longer than its caller allows is
// refused with a specific error; the lease goes on for the sends after it. After a lease
// failed, sends are refused at once for leaseRetryAfter, and then a lease is tried again.
const (
	leaseTimeout    = time.Second
	leaseRetryAfter = 250 * time.Millisecond
)

// roomBudgets holds this node's slices of the budgets of the rooms it admits for.
type roomBudgets struct {
	kv   jetstream.KeyValue
	nc   *nats.Conn
	life context.Context

	rooms perRoom[roomBudget, *roomBudget]
}

// roomBudget is this node's share of one room's budget: its slices of the current second and
// the next, and what it last knew of the two records they come from (a second and the next
// have different keys, by the second's parity, so that both can be leased at once).
type roomBudget struct {
	mu     sync.Mutex
	used   time.Time
	slices [2]slice
	recs   [2]budgetRecord
	// demand counts the sends to the room in the current second and the one before, admitted
	// or not: what the next lease is sized by.
	demandSecond   int64
	demand, before int
}

// slice is the sends of one second this node may still admit.
type slice struct {
	second int64
	have   int
	// full means the room's budget for the second is all handed out.
	full bool
	// leased means a lease for the second was asked for (so the next second's is asked once).
	leased bool
	// leasing is closed when the lease in flight ends; nil when none is.
	leasing chan struct{}
	// err is why the last lease failed (at failed); nil after one that did not.
	err    error
	failed time.Time
}

// budgetRecord is a record of the room-rate bucket as last read or written: the second whose
// budget it counts, and how much of it is handed out.
type budgetRecord struct {
	revision uint64 // 0: no record
	second   int64
	granted  int
}

func newRoomBudgets(life context.Context, nc *nats.Conn, kv jetstream.KeyValue) *roomBudgets {
	return &roomBudgets{kv: kv, nc: nc, life: life}
}

// admit decides whether a send to the room stamped now fits in the room's budget for its
// second. An error means the engine did not hand out a slice before ctx ended; the send is
// then not admitted.
func (r *roomBudgets) admit(ctx context.Context, k string, limit int, now time.Time) (bool, error) {
	if limit < 1 {
		return false, nil
	}
	sec := now.Unix()
	b := r.rooms.get(k, now)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used = now
	b.count(sec)
	for {
		s := b.slice(sec)
		if s.have > 0 {
			s.have--
			r.prefetch(b, k, limit, sec)
			return true, nil
		}
		if s.full {
			return false, nil
		}
		if s.leasing == nil {
			if s.err != nil && time.Since(s.failed) < leaseRetryAfter {
				// A lease just failed: the sends right after it are told so at once, rather
				// than each waiting for the engine in trouble.
				return false, s.err
			}
			r.lease(b, k, limit, sec)
		}
		wait := s.leasing
		b.mu.Unlock()
		select {
		case <-wait:
			b.mu.Lock()
		case <-ctx.Done():
			b.mu.Lock()
			return false, fmt.Errorf("engine: room rate: no share of the room's budget within the time allowed: %w", ctx.Err())
		}
	}
}

// count adds a send to the demand of its second.
func (b *roomBudget) count(sec int64) {
	switch {
	case sec == b.demandSecond:
	case sec == b.demandSecond+1:
		b.before, b.demand = b.demand, 0
	case sec > b.demandSecond:
		b.before, b.demand = 0, 0
	default:
		return // a send stamped before the second being counted: counted there already
	}
	b.demandSecond = sec
	b.demand++
}

// want is how many sends the next lease asks for: half of the sends this node saw in a second
// lately, at least one and at most a slice of the limit.
func (b *roomBudget) want(limit int) int {
	n := (max(b.demand, b.before) + 1) / 2
	return max(1, min(n, (limit+budgetSlices-1)/budgetSlices))
}

// slice returns this node's slice of a second, empty if it holds none of it yet. A slot holds
// a second or the next; a lease still in flight for a second gone by is forgotten.
func (b *roomBudget) slice(sec int64) *slice {
	s := &b.slices[sec&1]
	switch {
	case s.second == sec:
	case s.second > sec:
		// A send stamped two seconds before one already admitted: its second is over.
		return &slice{second: sec, full: true}
	default:
		*s = slice{second: sec}
	}
	return s
}

// prefetch leases ahead after an admission: more of this second while a few sends of the slice
// are left (for a node that sends more than a couple a second), and the next second's first
// slice.
func (r *roomBudgets) prefetch(b *roomBudget, k string, limit int, sec int64) {
	want := b.want(limit)
	if s := b.slice(sec); want > 1 && s.leasing == nil && !s.full && s.have <= want/2 {
		r.lease(b, k, limit, sec)
	}
	if next := b.slice(sec + 1); next.leasing == nil && !next.leased {
		r.lease(b, k, limit, sec+1)
	}
}

// lease asks the engine for a slice of a second, in the background; b.mu is held. Sends that
// find the slice empty wait for it.
func (r *roomBudgets) lease(b *roomBudget, k string, limit int, sec int64) {
	s := b.slice(sec)
	done := make(chan struct{})
	s.leasing, s.leased = done, true
	want := b.want(limit)
	rec := b.recs[sec&1]
	go func() {
		ctx, cancel := context.WithTimeout(r.life, leaseTimeout)
		got, after, err := r.take(ctx, budgetKey(k, sec), limit, sec, want, rec)
		cancel()
		b.mu.Lock()
		defer b.mu.Unlock()
		if after.revision > b.recs[sec&1].revision {
			b.recs[sec&1] = after
		}
		if s := &b.slices[sec&1]; s.second == sec && s.leasing == done {
			s.have += got
			s.full = err == nil && (got == 0 || after.second == sec && after.granted >= limit)
			s.err, s.failed = err, time.Now()
			s.leasing = nil
		}
		close(done)
	}()
}

// budgetKey is the key of the record of a room's budget for a second: a second and the next
// have their own.
func budgetKey(room string, sec int64) string {
	if sec&1 == 0 {
		return room + ".even"
	}
	return room + ".odd"
}

// take hands out up to want sends of a second's budget by compare-and-set of its record, given
// the record as last known; it returns how many it got (0 when the budget is all handed out)
// and the record as it left it.
func (r *roomBudgets) take(ctx context.Context, key string, limit int, sec int64, want int, rec budgetRecord) (int, budgetRecord, error) {
	for attempt := range rateRetries {
		granted := 0
		switch {
		case rec.second == sec:
			granted = rec.granted
		case rec.second > sec:
			// The record counts a later second already: this one is over.
			return 0, rec, nil
		}
		if granted >= limit {
			return 0, rec, nil
		}
		got := min(want, limit-granted)
		next := budgetRecord{second: sec, granted: granted + got}
		rev, err := r.kv.Update(ctx, key, encodeBudget(next), rec.revision)
		if err == nil {
			next.revision = rev
			return got, next, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
			return 0, rec, fmt.Errorf("engine: room rate: %w", err)
		}
		// Another node leased meanwhile: read the record from the stream leader and try again.
		if attempt > 0 {
			time.Sleep(time.Duration(rand.Int64N(int64(attempt) * int64(500*time.Microsecond))))
		}
		revision, data, err := readLast(ctx, r.nc, r.kv.Bucket(), key)
		if err != nil {
			return 0, rec, fmt.Errorf("engine: room rate: %w", err)
		}
		rec = decodeBudget(revision, data)
	}
	return 0, rec, errors.New("engine: room rate: too many nodes leasing at once; retry")
}

func (b *roomBudget) idle(now time.Time) bool {
	if !b.mu.TryLock() {
		return false
	}
	defer b.mu.Unlock()
	return now.Sub(b.used) > rateSweep && b.slices[0].leasing == nil && b.slices[1].leasing == nil
}

// encodeBudget writes a record as its second and count, big-endian.
func encodeBudget(rec budgetRecord) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(rec.second))
	return binary.BigEndian.AppendUint32(b, uint32(rec.granted))
}

// decodeBudget reads a record; one this version cannot read counts as none.
func decodeBudget(revision uint64, data []byte) budgetRecord {
	rec := budgetRecord{revision: revision}
	if len(data) == 12 {
		rec.second = int64(binary.BigEndian.Uint64(data))
		rec.granted = int(binary.BigEndian.Uint32(data[8:]))
	}
	return rec
}
