package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// ErrStoreUnwritable is the answer to every write while the store cannot take writes (its
// disk is full or failing). It is a domain error with the internal kind, so that clients get
// a 500 InternalServerException saying so at once, rather than a timeout.
var ErrStoreUnwritable = &chat.Error{Kind: chat.KindInternal,
	Message: "the store cannot take writes right now (its disk is full or failing); retry later"}

// writeGuard knows whether the embedded store takes writes. When a write to a block file
// fails (the disk is full, or gone read-only), the NATS server marks the stream failed and
// from then on neither stores nor answers what is published to it: every write would wait
// for its timeout, until a restart. The guard hears of the failure from the server's log,
// cancels the writes in flight, refuses new ones at once, and restarts JetStream once the
// disk takes a write again, which reloads the streams from their files.
type writeGuard struct {
	mu sync.Mutex
	// fault says why the store stopped taking writes; nil while it takes them. ctx ends when
	// fault is set, with ErrStoreUnwritable as its cause, ending writes in flight.
	fault  error
	since  time.Time
	ctx    context.Context
	cancel context.CancelCauseFunc
	// recover, if set, is started once per fault to bring the store back.
	recover func(*writeGuard)
}

func newWriteGuard() *writeGuard {
	g := &writeGuard{}
	g.ctx, g.cancel = context.WithCancelCause(context.Background())
	return g
}

// err is the current fault, wrapped for callers: nil while the store takes writes.
func (g *writeGuard) err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fault == nil {
		return nil
	}
	return fmt.Errorf("%w (since %s: %v)", ErrStoreUnwritable, g.since.UTC().Format(time.RFC3339), g.fault)
}

// write runs one write unless the store is known not to take it, and ends it early if the
// store faults meanwhile; either way the error is ErrStoreUnwritable.
func (g *writeGuard) write(ctx context.Context, fn func(context.Context) error) error {
	g.mu.Lock()
	fault, faultCtx := g.fault, g.ctx
	g.mu.Unlock()
	if fault != nil {
		return g.err()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(faultCtx, func() { cancel(ErrStoreUnwritable) })
	defer stop()
	err := fn(ctx)
	if err != nil && errors.Is(context.Cause(ctx), ErrStoreUnwritable) {
		return g.err()
	}
	return err
}

// failed records that the store stopped taking writes (the first cause is kept).
func (g *writeGuard) failed(cause error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fault != nil {
		return
	}
	g.fault, g.since = cause, time.Now()
	g.cancel(ErrStoreUnwritable)
	if g.recover != nil {
		go g.recover(g)
	}
}

// recovered clears the fault: writes go through again.
func (g *writeGuard) recovered() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fault = nil
	g.ctx, g.cancel = context.WithCancelCause(context.Background())
}

// writeFailureLogs are what the NATS server logs, at error level, when a store write fails:
// a stream (or the whole server, in a cluster) then stops taking writes.
var writeFailureLogs = []string{
	"critical write error",
	"failed to store a msg",
	"no space left on device",
	"out of resources",
	"out of file resources",
	"permission denied",
	"read-only file system",
}

// isWriteFailureLog reports whether a NATS server error says its store stopped taking writes.
func isWriteFailureLog(msg string) bool {
	msg = strings.ToLower(msg)
	for _, s := range writeFailureLogs {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// diskTakesWrite writes, syncs and removes a small file in dir: whether the disk has room
// again, before JetStream is restarted on it.
func diskTakesWrite(dir string) error {
	f, err := os.CreateTemp(dir, ".write-probe-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.Write(make([]byte, 64<<10)); err != nil {
		return err
	}
	return f.Sync()
}
