package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// keyStore keeps the cluster's sealing keys in a KV bucket. Every node watches the bucket,
// so a key made by one node opens tokens on all of them.
type keyStore struct {
	kv       jetstream.KeyValue
	guard    *writeGuard
	rotation time.Duration
	keep     time.Duration

	mu   sync.Mutex
	keys map[string]chat.SealingKey
	ring atomic.Pointer[chat.Keyring]

	// refreshMu is held while the bucket is read directly; refreshed is when it last was.
	refreshMu sync.Mutex
	refreshed time.Time
}

func openKeyStore(ctx, watchCtx context.Context, ld loader, kv jetstream.KeyValue, guard *writeGuard, rotation, tokenLifetime time.Duration) (*keyStore, error) {
	// A superseded key must still open every token it sealed and every cursor it made.
	s := &keyStore{kv: kv, guard: guard, rotation: rotation, keep: 2*tokenLifetime + time.Hour, keys: map[string]chat.SealingKey{}}
	w, err := kv.WatchAll(watchCtx)
	if err != nil {
		return nil, fmt.Errorf("engine: watch keys: %w", err)
	}
	if _, _, err := ld.load(ctx, kv.Bucket(), w, s.apply); err != nil {
		return nil, err
	}
	if s.ring.Load() == nil {
		if err := s.rotate(ctx); err != nil {
			return nil, err
		}
	}
	go func() {
		for entry := range w.Updates() {
			if entry != nil {
				s.apply(entry)
			}
		}
	}()
	if rotation > 0 {
		go s.rotateEvery(watchCtx)
	}
	return s, nil
}

func (s *keyStore) apply(entry jetstream.KeyValueEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if entry.Operation() != jetstream.KeyValuePut {
		delete(s.keys, entry.Key())
	} else {
		var k chat.SealingKey
		if json.Unmarshal(entry.Value(), &k) != nil {
			return
		}
		s.keys[entry.Key()] = k
	}
	s.rebuild()
}

func (s *keyStore) rebuild() {
	list := make([]chat.SealingKey, 0, len(s.keys))
	for _, k := range s.keys {
		list = append(list, k)
	}
	if ring, err := chat.NewKeyring(list); err == nil {
		s.ring.Store(ring)
	}
}

func (s *keyStore) keyring() *chat.Keyring { return s.ring.Load() }

// rotate makes a new newest key and applies it locally before returning.
func (s *keyStore) rotate(ctx context.Context) error {
	k := chat.NewSealingKey(time.Now().UTC())
	b, _ := json.Marshal(k)
	name := fmt.Sprintf("sealing.%08x", k.ID)
	if err := s.guard.write(ctx, func(ctx context.Context) error {
		_, err := s.kv.Create(ctx, name, b)
		return err
	}); err != nil {
		return fmt.Errorf("engine: store sealing key: %w", err)
	}
	s.mu.Lock()
	s.keys[name] = k
	s.rebuild()
	s.mu.Unlock()
	return nil
}

// refreshEvery spaces direct reads of the bucket: a flood of tokens that do not open (forged,
// or sealed by no key at all) costs at most this many reads a second.
const refreshEvery = 100 * time.Millisecond

// refresh reads every key in the bucket, for a sealed value that may come from a key the watch
// has not brought yet: another node rotated a moment ago, or this node's watch is stalled
// after its NATS server went away. It returns once the keyring holds what the bucket held.
func (s *keyStore) refresh(ctx context.Context) {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	if time.Since(s.refreshed) < refreshEvery {
		return // a refresh has just run: its result stands
	}
	defer func() { s.refreshed = time.Now() }()
	names, err := s.kv.Keys(ctx)
	if err != nil {
		return
	}
	for _, name := range names {
		s.mu.Lock()
		_, known := s.keys[name]
		s.mu.Unlock()
		if known {
			continue
		}
		if entry, err := s.kv.Get(ctx, name); err == nil {
			s.apply(entry)
		}
	}
}

// rotateEvery makes a new key once the newest is older than the rotation period, and
// forgets keys superseded for longer than anything they sealed can live. Nodes racing to
// rotate each add a key; the newest wins everywhere, so the race is harmless.
func (s *keyStore) rotateEvery(ctx context.Context) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.mu.Lock()
		var newest time.Time
		for _, k := range s.keys {
			if k.Created.After(newest) {
				newest = k.Created
			}
		}
		var stale []string
		for name, k := range s.keys {
			if k.Created.Before(newest) && time.Since(newest) > s.keep {
				stale = append(stale, name)
			}
		}
		s.mu.Unlock()
		if time.Since(newest) > s.rotation {
			_ = s.rotate(ctx)
		}
		for _, name := range stale {
			_ = s.kv.Delete(ctx, name)
		}
	}
}
