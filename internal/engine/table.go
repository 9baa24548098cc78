package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrNotFound means no resource has the key (in this account).
var ErrNotFound = errors.New("engine: not found")

// ErrExists means a create found the key taken.
var ErrExists = errors.New("engine: already exists")

// Table is a JetStream KV bucket of JSON resources keyed by account and id, with an in-memory
// index that a KV watch keeps current. The index serves reads and lists; every write goes to
// the bucket first and is applied to the index at once, so a node sees its own writes.
type Table[T any] struct {
	kv    jetstream.KeyValue
	guard *writeGuard

	mu sync.RWMutex
	// rows holds live resources by account, then id.
	rows map[string]map[string]*T
	// revs holds the last revision applied per key, deletions included, so that a late watch
	// update never undoes a newer local write.
	revs map[string]uint64

	// watched is the highest revision the watch has delivered; caughtUp is closed and
	// replaced each time it grows, waking Sync.
	watchMu  sync.Mutex
	watched  uint64
	caughtUp chan struct{}
	// stuck is the revision a Sync last waited for in vain (the watch had stalled).
	stuck uint64
	// leaderFailed is when the stream leader last failed to answer Sync (Unix ns), or 0.
	leaderFailed atomic.Int64

	// watchCtx ends every watch; rewatched is when a stalled watch was last replaced, and
	// rewatchMu is held while a replacement is being made.
	watchCtx  context.Context
	rewatchMu sync.Mutex

	// lostLast, when not 0, is a last sequence the stream listed at load but could not read;
	// while it is still the last, Sync waits for lostReadable, the last revision loaded.
	lostLast, lostReadable uint64
	watcher                jetstream.KeyWatcher
	rewatched              time.Time
}

func openTable[T any](ctx, watchCtx context.Context, ld loader, kv jetstream.KeyValue, guard *writeGuard) (*Table[T], error) {
	t := &Table[T]{kv: kv, guard: guard, rows: map[string]map[string]*T{}, revs: map[string]uint64{}, caughtUp: make(chan struct{}),
		watchCtx: watchCtx}
	w, err := kv.WatchAll(watchCtx)
	if err != nil {
		return nil, fmt.Errorf("engine: watch %s: %w", kv.Bucket(), err)
	}
	applied, lost, err := ld.load(ctx, kv.Bucket(), w, func(entry jetstream.KeyValueEntry) {
		t.apply(entry)
		t.advance(entry.Revision())
	})
	if err != nil {
		return nil, err
	}
	t.lostLast, t.lostReadable = lost, applied
	t.watcher = w
	go t.follow(w)
	return t, nil
}

func (t *Table[T]) follow(w jetstream.KeyWatcher) {
	for entry := range w.Updates() {
		if entry != nil {
			t.apply(entry)
			t.advance(entry.Revision())
		}
	}
}

// advance records that the watch has delivered everything up to rev.
func (t *Table[T]) advance(rev uint64) {
	t.watchMu.Lock()
	defer t.watchMu.Unlock()
	if rev > t.watched {
		t.watched = rev
		close(t.caughtUp)
		t.caughtUp = make(chan struct{})
	}
}

// rewatch replaces a watch that has stopped delivering. The watch is an ordered consumer on
// one NATS server; when that server dies, the client library notices only after missing
// heartbeats for about ten seconds. A new watch replays the bucket's current values (the
// revisions already applied are skipped) and follows from there.
func (t *Table[T]) rewatch() {
	if !t.rewatchMu.TryLock() {
		return // one is being made
	}
	defer t.rewatchMu.Unlock()
	if time.Since(t.rewatched) < rewatchEvery || t.watchCtx.Err() != nil {
		return
	}
	w, err := t.kv.WatchAll(t.watchCtx)
	if err != nil {
		return // during an election: the next stalled Sync tries again
	}
	t.rewatched = time.Now()
	if t.watcher != nil {
		_ = t.watcher.Stop()
	}
	t.watcher = w
	go t.follow(w)
}

// restartWatch replaces the watch now, whatever its state: the server that held it restarted.
func (t *Table[T]) restartWatch() {
	t.rewatchMu.Lock()
	t.rewatched = time.Time{}
	t.rewatchMu.Unlock()
	t.rewatch()
}

const (
	// syncTimeout bounds how long a read waits for the index to catch up with the bucket. The
	// watch trails the bucket by milliseconds; one that is this far behind has stalled.
	syncTimeout = 800 * time.Millisecond
	// leaderTimeout bounds the wait for the stream leader's last revision. It answers in
	// milliseconds; no answer means it is gone and its replicas are electing another (for
	// seconds), and the read is better served from the index now than late.
	leaderTimeout = 500 * time.Millisecond
	// stallAfter is how far behind the watch may stay before Sync replaces it: it normally
	// trails the bucket by a few milliseconds.
	stallAfter = 250 * time.Millisecond
	// rewatchEvery spaces replacements of the watch.
	rewatchEvery = 5 * time.Second
)

// Sync waits until the index holds every write the bucket had acknowledged when Sync was
// called, whichever node made it: it asks the bucket's stream leader for its last revision
// and waits for the watch to deliver it. Reads that must see other nodes' writes (the
// control plane's) call it first; the watch alone lags by a few milliseconds. An error means
// the index may be stale (the leader did not answer, or the watch did not catch up in time).
func (t *Table[T]) Sync(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	if failed := t.leaderFailed.Load(); failed != 0 && time.Since(time.Unix(0, failed)) < leaderTimeout {
		// The leader did not answer a moment ago: an election is under way. Reads are
		// served from the index at once meanwhile, rather than each waiting.
		return fmt.Errorf("engine: sync %s: the stream leader did not answer %v ago", t.kv.Bucket(), time.Since(time.Unix(0, failed)).Round(time.Millisecond))
	}
	lctx, lcancel := context.WithTimeout(ctx, leaderTimeout)
	status, err := t.kv.Status(lctx)
	lcancel()
	if err != nil {
		t.leaderFailed.Store(time.Now().UnixNano())
		return fmt.Errorf("engine: sync %s: %w", t.kv.Bucket(), err)
	}
	bs, ok := status.(*jetstream.KeyValueBucketStatus)
	if !ok || bs.StreamInfo() == nil {
		return fmt.Errorf("engine: sync %s: no stream state", t.kv.Bucket())
	}
	target := bs.StreamInfo().State.LastSeq
	if target == t.lostLast {
		target = t.lostReadable
	}
	t.watchMu.Lock()
	watched, stuck := t.watched, t.stuck
	t.watchMu.Unlock()
	if stuck > watched && target > watched {
		// An earlier Sync waited for the stalled watch in vain; until the watch passes what
		// it waited for, reads are served from the index at once rather than each waiting.
		go t.rewatch()
		return fmt.Errorf("engine: sync %s: the watch is stalled at revision %d of %d", t.kv.Bucket(), watched, target)
	}
	stalled := time.NewTimer(stallAfter)
	defer stalled.Stop()
	for {
		t.watchMu.Lock()
		watched, caughtUp := t.watched, t.caughtUp
		t.watchMu.Unlock()
		if watched >= target {
			return nil
		}
		select {
		case <-caughtUp:
		case <-stalled.C:
			go t.rewatch() // creating a watch may itself wait on an election
		case <-ctx.Done():
			t.watchMu.Lock()
			t.stuck = max(t.stuck, target)
			t.watchMu.Unlock()
			return fmt.Errorf("engine: sync %s: at revision %d of %d: %w", t.kv.Bucket(), watched, target, ctx.Err())
		}
	}
}

func (t *Table[T]) apply(entry jetstream.KeyValueEntry) {
	account, id, ok := splitKey(entry.Key())
	if !ok {
		return
	}
	var v *T
	if entry.Operation() == jetstream.KeyValuePut {
		v = new(T)
		if err := json.Unmarshal(entry.Value(), v); err != nil {
			return // A value this version cannot read is left out of the index, not fatal.
		}
	}
	t.set(account, id, v, entry.Revision())
}

// set applies a value (nil: deleted) at a revision, unless a newer one is known; it reports
// whether it applied.
func (t *Table[T]) set(account, id string, v *T, rev uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := key(account, id)
	if rev <= t.revs[k] {
		return false
	}
	t.revs[k] = rev
	if v == nil {
		delete(t.rows[account], id)
		return true
	}
	byID := t.rows[account]
	if byID == nil {
		byID = map[string]*T{}
		t.rows[account] = byID
	}
	byID[id] = v
	return true
}

// Get returns a resource from the index. The returned value is shared: do not modify it.
// A miss is checked against the bucket, so that a resource another node created a moment ago
// is found before the watch brings it: first a read of the key, which any replica may answer;
// if that finds nothing (the replica may lag), the index is synced with the leader and
// looked up again.
func (t *Table[T]) Get(ctx context.Context, account, id string) (*T, bool) {
	if v, ok := t.lookup(account, id); ok {
		return v, true
	}
	ctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	if entry, err := t.kv.Get(ctx, key(account, id)); err == nil {
		v := new(T)
		if json.Unmarshal(entry.Value(), v) != nil {
			return nil, false
		}
		if !t.set(account, id, v, entry.Revision()) {
			// The watch applied this revision, or a newer one, in the meantime: the index
			// has the answer (the resource, or its deletion).
			return t.lookup(account, id)
		}
		return v, true
	}
	if t.Sync(ctx) != nil {
		return nil, false
	}
	return t.lookup(account, id)
}

func (t *Table[T]) lookup(account, id string) (*T, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	v, ok := t.rows[account][id]
	return v, ok
}

// List returns every resource of an account, in no particular order.
func (t *Table[T]) List(account string) []*T {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]*T, 0, len(t.rows[account]))
	for _, v := range t.rows[account] {
		out = append(out, v)
	}
	return out
}

// Count returns how many resources an account has.
func (t *Table[T]) Count(account string) int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.rows[account])
}

// Create stores a new resource; ErrExists if the id is taken.
func (t *Table[T]) Create(ctx context.Context, account, id string, v *T) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var rev uint64
	err = t.guard.write(ctx, func(ctx context.Context) (err error) {
		rev, err = t.kv.Create(ctx, key(account, id), b)
		return err
	})
	if errors.Is(err, jetstream.ErrKeyExists) {
		return ErrExists
	}
	if err != nil {
		return fmt.Errorf("engine: create in %s: %w", t.kv.Bucket(), err)
	}
	t.set(account, id, v, rev)
	return nil
}

// Peek returns a resource from the index only, without asking the bucket about a miss: for
// lookups on hot paths where a miss is the common answer and the watch's delay (milliseconds)
// is acceptable.
func (t *Table[T]) Peek(account, id string) (*T, bool) { return t.lookup(account, id) }

// Put stores a resource, replacing any under the id. A positive ttl makes the engine delete
// it that long after (rounded up to the second, the engine's precision); zero keeps it.
func (t *Table[T]) Put(ctx context.Context, account, id string, v *T, ttl time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var opts []jetstream.KVCreateOpt
	if ttl > 0 {
		opts = append(opts, jetstream.KeyTTL(ttl.Truncate(time.Second)+time.Second))
	}
	k := key(account, id)
	for {
		// A key's TTL is set when it is created, so a replacement deletes the old one first.
		var rev uint64
		err := t.guard.write(ctx, func(ctx context.Context) (err error) {
			rev, err = t.kv.Create(ctx, k, b, opts...)
			return err
		})
		if errors.Is(err, jetstream.ErrKeyExists) && ctx.Err() == nil {
			if err := t.guard.write(ctx, func(ctx context.Context) error { return t.kv.Delete(ctx, k) }); err != nil {
				return fmt.Errorf("engine: replace in %s: %w", t.kv.Bucket(), err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("engine: put in %s: %w", t.kv.Bucket(), err)
		}
		t.set(account, id, v, rev)
		return nil
	}
}

// Update applies change to the stored resource atomically: change runs on the latest value
// and is retried, until ctx ends, if another writer got there first. An error from change
// aborts the update.
func (t *Table[T]) Update(ctx context.Context, account, id string, change func(*T) (*T, error)) (*T, error) {
	k := key(account, id)
	for attempt := 0; ; attempt++ {
		entry, err := t.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			if t.existsElsewhere(ctx, account, id) {
				continue
			}
			return nil, ErrNotFound
		}
		if err != nil {
			return nil, fmt.Errorf("engine: read %s: %w", t.kv.Bucket(), err)
		}
		cur := new(T)
		if err := json.Unmarshal(entry.Value(), cur); err != nil {
			return nil, fmt.Errorf("engine: decode %s/%s: %w", t.kv.Bucket(), k, err)
		}
		next, err := change(cur)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(next)
		if err != nil {
			return nil, err
		}
		var rev uint64
		err = t.guard.write(ctx, func(ctx context.Context) (err error) {
			rev, err = t.kv.Update(ctx, k, b, entry.Revision())
			return err
		})
		if err != nil && isWrongRevision(err) && ctx.Err() == nil {
			// Another writer got there first. One writer wins every round, so retrying until
			// the caller gives up always ends; a short random pause thins out a crowd.
			if attempt > 2 {
				time.Sleep(time.Duration(rand.Int64N(int64(min(attempt, 10)) * int64(time.Millisecond))))
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("engine: update %s: %w", t.kv.Bucket(), err)
		}
		t.set(account, id, next, rev)
		return next, nil
	}
}

// Delete removes a resource; ErrNotFound if there is none.
func (t *Table[T]) Delete(ctx context.Context, account, id string) error {
	k := key(account, id)
	entry, err := t.kv.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		if t.existsElsewhere(ctx, account, id) {
			return t.Delete(ctx, account, id)
		}
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("engine: read %s: %w", t.kv.Bucket(), err)
	}
	if err := t.guard.write(ctx, func(ctx context.Context) error {
		return t.kv.Delete(ctx, k, jetstream.LastRevision(entry.Revision()))
	}); err != nil {
		if isWrongRevision(err) {
			return t.Delete(ctx, account, id)
		}
		return fmt.Errorf("engine: delete from %s: %w", t.kv.Bucket(), err)
	}
	// The delete marker's revision is not returned; the next revision is a safe lower bound
	// because the watch will deliver the real one, which is at least as high.
	t.set(account, id, nil, entry.Revision()+1)
	return nil
}

// existsElsewhere tells a real miss from a stale one. Reads of the bucket are served by any
// of its replicas, and one that lags may not have a key the leader has acknowledged; once
// the index has caught up with the leader, it knows. A true answer means: read again.
func (t *Table[T]) existsElsewhere(ctx context.Context, account, id string) bool {
	if ctx.Err() != nil || t.Sync(ctx) != nil {
		return false
	}
	_, ok := t.lookup(account, id)
	if ok {
		time.Sleep(time.Millisecond) // give the lagging replica a moment
	}
	return ok
}

func isWrongRevision(err error) bool { return errors.Is(err, jetstream.ErrKeyRevisionMismatch) }
