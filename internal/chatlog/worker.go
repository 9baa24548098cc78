package chatlog

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/engine"
)

// item is one record in a batch.
type item struct {
	x *engine.ChatLogEntry
	// at is the record's event_timestamp.
	at   time.Time
	size int
	// failed marks a record its destination refused while others of the batch went through.
	failed bool
}

// batch is what one call to a destination carries: records of one room for S3 and CloudWatch
// Logs, of any rooms for Firehose.
type batch struct {
	group                 string
	dest                  chat.Destination
	account, region, room string
	items                 []*item
	bytes                 int
	since, touched        time.Time
}

// worker ships one destination's records from this node.
type worker struct {
	s      *Shipper
	key    string
	cancel context.CancelFunc
	// seen is when discovery last saw records waiting for the destination (UnixNano); idle says
	// the worker holds nothing and its last fetch was empty.
	seen atomic.Int64
	idle atomic.Bool

	sink     sink
	groups   map[string]*batch
	held     int
	failures int
	pause    time.Time
}

func (w *worker) run(ctx context.Context) {
	defer w.finish()
	var q *engine.ChatLogQueue
	for ctx.Err() == nil {
		if q == nil {
			var err error
			q, err = w.s.engine.OpenChatLogQueue(ctx, w.key, engine.ChatLogQueueConfig{AckWait: w.s.cfg.AckWait, MaxPending: maxPending})
			if err != nil {
				if ctx.Err() == nil {
					w.s.log.Warn("chat log: opening a destination's queue", "key", w.key, "err", err)
				}
				engine.Sleep(ctx, w.s.cfg.RetryMin)
				continue
			}
		}
		now := time.Now()
		w.touch(now)
		if now.Before(w.pause) {
			engine.Sleep(ctx, min(w.pause.Sub(now), w.s.cfg.AckWait/4))
			continue
		}
		w.flushDue(now)
		if w.held >= maxHeld {
			w.flush(w.oldest())
			continue
		}
		xs, err := q.Fetch(ctx, min(maxHeld-w.held, fetchMax), w.wait(now))
		if err != nil {
			if ctx.Err() == nil {
				w.s.log.Debug("chat log: fetching records", "key", w.key, "err", err)
				q = nil // Reopen: the consumer may have been removed.
				engine.Sleep(ctx, w.s.cfg.RetryMin)
			}
			continue
		}
		for _, x := range xs {
			w.add(x)
		}
		w.idle.Store(len(xs) == 0 && w.held == 0)
	}
}

// wait is how long a fetch may wait for records: until the next batch is due, a second at most.
func (w *worker) wait(now time.Time) time.Duration {
	wait := time.Second
	for _, b := range w.groups {
		if d := b.since.Add(w.sink.limits().interval).Sub(now); d < wait {
			wait = d
		}
	}
	return max(wait, 10*time.Millisecond)
}

func (w *worker) add(x *engine.ChatLogEntry) {
	if w.sink == nil {
		w.sink = w.s.sinks.forKind(x.Destination)
	}
	at, ok := chat.LogRecordTime(x.Data)
	if !ok {
		at = time.Now().UTC()
	}
	it := &item{x: x, at: at, size: w.sink.size(x)}
	lim := w.sink.limits()
	key := w.sink.group(x)
	b := w.groups[key]
	if b != nil && (len(b.items)+1 > lim.count || b.bytes+it.size > lim.bytes) {
		w.flush(b)
		b = nil
	}
	if b == nil {
		now := time.Now()
		b = &batch{group: key, dest: x.Destination, account: x.Account, region: x.Region, room: x.RoomID, since: now, touched: now}
		w.groups[key] = b
	}
	b.items = append(b.items, it)
	b.bytes += it.size
	w.held++
	if len(b.items) >= lim.count || b.bytes >= lim.bytes {
		w.flush(b)
	}
}

func (w *worker) flushDue(now time.Time) {
	if w.sink == nil {
		return
	}
	interval := w.sink.limits().interval
	for _, b := range w.groups {
		if now.Sub(b.since) >= interval {
			w.flush(b)
			if now.Before(w.pause) {
				return // The destination is failing: the rest waits for the pause to end.
			}
		}
	}
}

func (w *worker) oldest() *batch {
	var o *batch
	for _, b := range w.groups {
		if o == nil || b.since.Before(o.since) {
			o = b
		}
	}
	return o
}

// touch keeps the records of batches held longer than half the ack wait from being handed out
// again (only when batches are meant to be held that long).
func (w *worker) touch(now time.Time) {
	half := w.s.cfg.AckWait / 2
	for _, b := range w.groups {
		if now.Sub(b.touched) >= half {
			for _, it := range b.items {
				_ = it.x.Touch()
			}
			b.touched = now
		}
	}
}

// flush ships a batch, acknowledges what the destination accepted and hands the rest back to
// the stream with a delay that grows while the destination keeps failing.
func (w *worker) flush(b *batch) {
	delete(w.groups, b.group)
	w.held -= len(b.items)
	ctx, cancel := context.WithTimeout(w.s.hard, callTimeout)
	err := w.sink.ship(ctx, b)
	cancel()
	kind, _ := b.dest.Kind()
	if err == nil {
		for _, it := range b.items {
			_ = it.x.Ack()
		}
		w.s.cfg.Metrics.ChatLogShipped(kind, len(b.items))
		if w.failures > 0 {
			_, name := b.dest.Kind()
			w.s.log.Info("chat log: destination accepts records again", "destination", kind, "name", name)
			w.failures = 0
		}
		return
	}
	partial := false
	for _, it := range b.items {
		partial = partial || it.failed
	}
	w.failures++
	delay := w.backoff()
	failed := 0
	for _, it := range b.items {
		if partial && !it.failed {
			_ = it.x.Ack()
			continue
		}
		failed++
		_ = it.x.Retry(delay)
	}
	w.s.cfg.Metrics.ChatLogShipped(kind, len(b.items)-failed)
	w.s.cfg.Metrics.ChatLogFailed(kind, failed)
	w.pause = time.Now().Add(delay)
	_, name := b.dest.Kind()
	w.s.log.Warn("chat log: destination refused records; they wait in the stream", "destination", kind, "name", name,
		"room", b.room, "records", failed, "retry_in", delay.Round(time.Millisecond), "err", err)
}

// backoff doubles from RetryMin to RetryMax with the destination's consecutive failures, with
// a tenth of jitter so that nodes do not retry in step.
func (w *worker) backoff() time.Duration {
	d := w.s.cfg.RetryMin
	for i := 1; i < w.failures && d < w.s.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, w.s.cfg.RetryMax)
	return d - time.Duration(rand.Int64N(int64(d)/10+1))
}

// finish ships what is held while Stop's context allows, and hands the rest back at once.
func (w *worker) finish() {
	for _, b := range w.groups {
		if w.s.hard.Err() == nil && !time.Now().Before(w.pause) {
			w.flush(b)
			continue
		}
		for _, it := range b.items {
			_ = it.x.Retry(0)
		}
	}
	w.groups = map[string]*batch{}
	w.held = 0
}
