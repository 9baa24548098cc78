package engine

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// recordingHandler keeps every log record's text, for tests that check what was logged.
type recordingHandler struct {
	mu   sync.Mutex
	text strings.Builder
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler            { return h }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.text.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		h.text.WriteString(" " + a.String())
		return true
	})
	h.text.WriteString("\n")
	return nil
}

func (h *recordingHandler) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.text.String()
}

// damage rewrites the first message block of a bucket's stream in a stopped node's data dir.
func damage(t *testing.T, dir, bucket string, change func([]byte) []byte) {
	t.Helper()
	blk := filepath.Join(dir, "jetstream", "jetstream", "$G", "streams", streamOf(bucket), "msgs", "1.blk")
	b, err := os.ReadFile(blk)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blk, change(b), 0o600); err != nil {
		t.Fatal(err)
	}
}

// flipAfter flips three bytes inside the payload of the nth record holding marker.
func flipAfter(marker string, nth int) func([]byte) []byte {
	return func(b []byte) []byte {
		at := -1
		for range nth {
			i := bytes.Index(b[at+1:], []byte(marker))
			if i < 0 {
				panic("marker not in block")
			}
			at += i + 1
		}
		for i := at + len(marker); i < at+len(marker)+3; i++ {
			b[i] ^= 0x5a
		}
		return b
	}
}

func TestDamagedStore(t *testing.T) {
	const rooms = 20
	for _, tc := range []struct {
		name      string
		bucket    string
		change    func([]byte) []byte
		survivors int
		logged    string
	}{
		{"flipped bytes in one room record lose that room only", bucketRooms, flipAfter(`"name":"room-`, 7), rooms - 1,
			"a stream lists records that cannot be read"},
		{"a torn tail of the rooms store loses the last record only", bucketRooms,
			func(b []byte) []byte { return b[:len(b)-30] }, rooms - 1, "the last records of a stream were lost"},
		{"flipped bytes in the only sealing key: a new key is made", bucketKeys, flipAfter(`"secret":"`, 1), rooms,
			"the last records of a stream were lost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			e, err := Open(context.Background(), Config{DataDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for range rooms {
				id := chat.NewID()
				if err := e.Rooms.Create(context.Background(), acct, id, &chat.Room{Resource: chat.Resource{Name: "room-" + id}}); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			e.Close()
			damage(t, dir, tc.bucket, tc.change)

			log := &recordingHandler{}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			e, err = Open(ctx, Config{DataDir: dir, Log: slog.New(log)})
			if err != nil {
				t.Fatalf("Open after the damage: %v (after %v)\nlog:\n%s", err, time.Since(start), log)
			}
			defer e.Close()
			found := 0
			for _, id := range ids {
				if _, ok := e.Rooms.Get(context.Background(), acct, id); ok {
					found++
				}
			}
			if found != tc.survivors {
				t.Errorf("%d rooms of %d survived; want %d", found, rooms, tc.survivors)
			}
			logged := log.String()
			if !strings.Contains(logged, tc.logged) || !strings.Contains(logged, "stream="+streamOf(tc.bucket)) ||
				!strings.Contains(logged, e.streamDir(streamOf(tc.bucket))) {
				t.Errorf("the log does not say which stream and files were damaged (want %q):\n%s", tc.logged, logged)
			}
			for range 3 {
				start := time.Now()
				if err := e.Rooms.Sync(context.Background()); err != nil {
					t.Fatalf("Sync after the damage: %v", err)
				}
				if took := time.Since(start); took > time.Second {
					t.Errorf("Sync took %v; a read waits for it", took)
				}
			}
			id := chat.NewID()
			if err := e.Rooms.Create(context.Background(), acct, id, &chat.Room{Resource: chat.Resource{Name: "after"}}); err != nil {
				t.Fatalf("create after the damage: %v", err)
			}
			if err := e.RotateSealingKey(context.Background()); err != nil {
				t.Fatalf("rotate after the damage: %v", err)
			}
		})
	}
}
