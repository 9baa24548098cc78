package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"
)

// loader loads a bucket into memory from a new watch's replay, and says what of a damaged
// store could not be loaded.
type loader struct {
	js  jetstream.JetStream
	log *slog.Logger
	// dirOf is where a stream's files are, for the log; "" for an external server.
	dirOf func(stream string) string
}

// streamOf is the name of a KV bucket's stream.
func streamOf(bucket string) string { return "KV_" + bucket }

// load applies the replay of w, a new watch of bucket, and returns the highest revision
// applied, and lost: the stream's last sequence if its message is gone, else 0.
//
// A damaged store may list messages that its server cannot read (a flipped byte in a block
// file, a torn tail). The server's consumers skip them, but then the replay never reports
// its end, and the stream's last sequence may be one no watch will deliver. So the load ends
// once the last readable message is applied (at once if none is), and it logs the stream,
// its files and how much was left out.
func (ld loader) load(ctx context.Context, bucket string, w jetstream.KeyWatcher, apply func(jetstream.KeyValueEntry)) (applied, lost uint64, err error) {
	name := streamOf(bucket)
	stream, err := ld.js.Stream(ctx, name)
	if err != nil {
		return 0, 0, fmt.Errorf("engine: load %s: %w", bucket, err)
	}
	last, lastErr := lastReadable(ctx, stream, bucket)
	var count uint64
	done := lastErr == nil && last == 0
	for !done {
		select {
		case <-ctx.Done():
			return 0, 0, fmt.Errorf("engine: load %s: %w", bucket, ctx.Err())
		case entry, ok := <-w.Updates():
			if !ok {
				return 0, 0, fmt.Errorf("engine: watch %s closed while loading", bucket)
			}
			if entry == nil {
				done = true
				break
			}
			apply(entry)
			applied = max(applied, entry.Revision())
			count++
			done = lastErr == nil && applied >= last
		}
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("engine: load %s: %w", bucket, err)
	}
	// With one revision kept per key, every message listed is a key's current value or
	// deletion, and the replay brings each one it can read.
	if listed := info.State.Msgs; listed > count && info.State.LastSeq <= applied {
		ld.log.Error("engine: a stream lists records that cannot be read; starting without them",
			"stream", name, "files", ld.dirOf(name), "listed", listed, "loaded", count)
	}
	if info.State.LastSeq > applied {
		if _, err := stream.GetMsg(ctx, info.State.LastSeq); errors.Is(err, jetstream.ErrMsgNotFound) {
			ld.log.Error("engine: the last records of a stream were lost (a torn tail or a damaged block); starting with what survives",
				"stream", name, "files", ld.dirOf(name), "last_listed", info.State.LastSeq, "last_loaded", applied,
				"listed", info.State.Msgs, "loaded", count)
			lost = info.State.LastSeq
		}
	}
	return applied, lost, nil
}

// lastReadable is the sequence of the last message of a bucket's stream that its server can
// read, 0 if none.
func lastReadable(ctx context.Context, stream jetstream.Stream, bucket string) (uint64, error) {
	m, err := stream.GetLastMsgForSubject(ctx, "$KV."+bucket+".>")
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return m.Sequence, nil
}
