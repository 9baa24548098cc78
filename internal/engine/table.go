package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
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
	kv jetstream.KeyValue

	mu sync.RWMutex
	// rows holds live resources by account, then id.
	rows map[string]map[string]*T
	// revs holds the last revision applied per key, deletions included, so that a late watch
	// update never undoes a newer local write.
	revs map[string]uint64
}

func openTable[T any](ctx, watchCtx context.Context, kv jetstream.KeyValue) (*Table[T], error) {
	t := &Table[T]{kv: kv, rows: map[string]map[string]*T{}, revs: map[string]uint64{}}
	w, err := kv.WatchAll(watchCtx)
	if err != nil {
		return nil, fmt.Errorf("engine: watch %s: %w", kv.Bucket(), err)
	}
	// The watch first replays every current value, then a nil marks the end of the replay.
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("engine: load %s: %w", kv.Bucket(), ctx.Err())
		case entry, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("engine: watch %s closed while loading", kv.Bucket())
			}
			if entry == nil {
				go t.follow(w)
				return t, nil
			}
			t.apply(entry)
		}
	}
}

func (t *Table[T]) follow(w jetstream.KeyWatcher) {
	for entry := range w.Updates() {
		if entry != nil {
			t.apply(entry)
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
// A miss is checked against the bucket, so that a resource another node created a moment
// ago is found before the watch brings it.
func (t *Table[T]) Get(account, id string) (*T, bool) {
	t.mu.RLock()
	v, ok := t.rows[account][id]
	t.mu.RUnlock()
	if ok {
		return v, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	entry, err := t.kv.Get(ctx, key(account, id))
	if err != nil {
		return nil, false
	}
	v = new(T)
	if json.Unmarshal(entry.Value(), v) != nil {
		return nil, false
	}
	if !t.set(account, id, v, entry.Revision()) {
		return nil, false // older than a deletion this node has already seen
	}
	return v, true
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
	rev, err := t.kv.Create(ctx, key(account, id), b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return ErrExists
	}
	if err != nil {
		return fmt.Errorf("engine: create in %s: %w", t.kv.Bucket(), err)
	}
	t.set(account, id, v, rev)
	return nil
}

// Update applies change to the stored resource atomically: change runs on the latest value
// and is retried, until ctx ends, if another writer got there first. An error from change
// aborts the update.
func (t *Table[T]) Update(ctx context.Context, account, id string, change func(*T) (*T, error)) (*T, error) {
	k := key(account, id)
	for attempt := 0; ; attempt++ {
		entry, err := t.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
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
		rev, err := t.kv.Update(ctx, k, b, entry.Revision())
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
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("engine: read %s: %w", t.kv.Bucket(), err)
	}
	if err := t.kv.Delete(ctx, k, jetstream.LastRevision(entry.Revision())); err != nil {
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

func isWrongRevision(err error) bool { return errors.Is(err, jetstream.ErrKeyRevisionMismatch) }
