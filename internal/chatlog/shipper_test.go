package chatlog

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/engine"
)

// The shipper against a real embedded engine, with destinations replaced by recorders that
// keep the real destinations' batch limits and grouping.

const account = "123456789012"

var (
	bucket   = chat.Destination{S3: &chat.S3Destination{BucketName: "bucket"}}
	logGroup = chat.Destination{CloudWatchLogs: &chat.CloudWatchLogsDestination{LogGroupName: "/ivs/chat"}}
	stream   = chat.Destination{Firehose: &chat.FirehoseDestination{DeliveryStreamName: "stream"}}
)

// recorder stands in for a destination: it keeps every call and what each call carried.
type recorder struct {
	sink // the real destination's limits, grouping and sizes
	// fail, if set, decides the outcome of a call (numbered from 1).
	fail func(call int, b *batch) error

	mu      sync.Mutex
	calls   []*batch
	shipped map[string]int // record → times accepted
}

func newRecorder(real sink) *recorder { return &recorder{sink: real, shipped: map[string]int{}} }

func (r *recorder) ship(_ context.Context, b *batch) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, b)
	var err error
	if r.fail != nil {
		err = r.fail(len(r.calls), b)
	}
	partial := false
	for _, it := range b.items {
		partial = partial || it.failed
	}
	for _, it := range b.items {
		if err == nil || (partial && !it.failed) {
			r.shipped[string(it.x.Data)]++
		}
	}
	return err
}

// check waits until every record was accepted exactly once.
func (r *recorder) check(t *testing.T, records []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		missing, dup := 0, 0
		for _, rec := range records {
			switch n := r.shipped[rec]; {
			case n == 0:
				missing++
			case n > 1:
				dup++
			}
		}
		total := len(r.shipped)
		r.mu.Unlock()
		if dup > 0 || total > len(records) {
			t.Fatalf("%d records accepted more than once, %d accepted in all for %d sent", dup, total, len(records))
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records not accepted", missing, len(records))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testConfig() Config {
	c := DefaultConfig()
	c.S3BatchInterval = 100 * time.Millisecond
	c.BatchInterval = 100 * time.Millisecond
	c.RetryMin, c.RetryMax = 50*time.Millisecond, 200*time.Millisecond
	c.AckWait = 5 * time.Second
	return c
}

// startTest runs a shipper with the given destinations on a fresh embedded engine.
func startTest(t testing.TB, cfg Config, ss *sinks) *engine.Engine {
	t.Helper()
	e := openEngine(t)
	startShipper(t, e, cfg, ss)
	return e
}

// openEngine opens a fresh embedded engine; when the test ends it is closed and no goroutine
// of the shipper may be left.
func openEngine(t testing.TB) *engine.Engine {
	t.Helper()
	e, err := engine.Open(context.Background(), engine.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.Close()
		buf := make([]byte, 1<<20)
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "chatlog.(*worker)") || strings.Contains(g, "chatlog.(*Shipper)") || strings.Contains(g, "RouteChatLogs") {
				t.Errorf("shipper goroutine left after Stop:\n%s", g)
			}
		}
	})
	return e
}

// startShipper runs a shipper (a node) on an engine until the test ends.
func startShipper(t testing.TB, e *engine.Engine, cfg Config, ss *sinks) *Shipper {
	t.Helper()
	s := newShipper(e, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), ss)
	s.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	return s
}

// send records n records of a room for the destinations and returns them.
func send(t testing.TB, e *engine.Engine, room string, n, size int, dests ...chat.Destination) []string {
	t.Helper()
	pad := strings.Repeat("x", size)
	out := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 16 {
				payload := chat.Encode(chat.NewEvent(chat.NewID(), "", "e", map[string]string{"pad": pad}, time.Now()))
				rec := chat.NewLogRecord(payload, time.Now())
				if err := e.RecordChatLog(context.Background(), &engine.ChatLogRecord{Account: account, Region: "us-east-1", RoomID: room,
					Destinations: dests, Data: rec}); err != nil {
					errs <- err
					return
				}
				out[i] = string(rec)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBatchesStayWithinDestinationLimits(t *testing.T) {
	cfg := testConfig()
	cfg.S3BatchBytes = 20000
	ss := &sinks{s3: newRecorder(&s3Sink{cfg: cfg}), cloudWatchLogs: newRecorder(&cloudWatchSink{interval: cfg.BatchInterval}),
		firehose: newRecorder(&firehoseSink{interval: cfg.BatchInterval})}
	e := startTest(t, cfg, ss)

	// Many small records: Firehose calls stop at 500 records (CloudWatch Logs' 10,000 is the
	// same rule with another number).
	small := send(t, e, "RRRRRRRRRRR1", 1200, 10, stream)
	// Big records: CloudWatch Logs calls stop at 1 MiB, Firehose's at 4 MiB.
	big := send(t, e, "RRRRRRRRRRR2", 100, 60000, logGroup, stream)
	// S3 objects stop at the configured size.
	objects := send(t, e, "RRRRRRRRRRR3", 300, 300, bucket)

	ss.cloudWatchLogs.(*recorder).check(t, big)
	ss.firehose.(*recorder).check(t, append(append([]string{}, small...), big...))
	ss.s3.(*recorder).check(t, objects)

	for _, c := range []struct {
		name         string
		r            *recorder
		count, bytes int
		extra        int
		oneRoom      bool
	}{
		{"CloudWatch Logs", ss.cloudWatchLogs.(*recorder), 10000, 1048576, 26, true},
		{"Firehose", ss.firehose.(*recorder), 500, 4 << 20, 1, false},
		{"S3", ss.s3.(*recorder), 1 << 30, cfg.S3BatchBytes, 1, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if len(c.r.calls) < 2 {
				t.Fatalf("%d calls: the records were not split", len(c.r.calls))
			}
			for _, b := range c.r.calls {
				size := 0
				for _, it := range b.items {
					size += len(it.x.Data) + c.extra
					if c.oneRoom && it.x.RoomID != b.room {
						t.Fatalf("a call carries rooms %s and %s", b.room, it.x.RoomID)
					}
				}
				if len(b.items) > c.count || size > c.bytes {
					t.Fatalf("a call of %d records, %d bytes: over %d records or %d bytes", len(b.items), size, c.count, c.bytes)
				}
			}
		})
	}
}

func TestOnlyRefusedRecordsAreRetried(t *testing.T) {
	cfg := testConfig()
	r := newRecorder(&firehoseSink{interval: cfg.BatchInterval})
	r.fail = func(call int, b *batch) error {
		if call > 1 {
			return nil
		}
		for i, it := range b.items {
			it.failed = i%3 == 0
		}
		return errors.New("ServiceUnavailableException for some records")
	}
	e := startTest(t, cfg, &sinks{firehose: r})
	records := send(t, e, "RRRRRRRRRRR1", 30, 10, stream)
	r.check(t, records)
	r.mu.Lock()
	defer r.mu.Unlock()
	sent := 0
	for _, b := range r.calls {
		sent += len(b.items)
	}
	if first := len(r.calls[0].items); sent != first+(first+2)/3+(30-first) {
		t.Fatalf("%d records sent in %d calls: the accepted ones were sent again", sent, len(r.calls))
	}
}

func TestOneDestinationsOutageHoldsUpNoOther(t *testing.T) {
	cfg := testConfig()
	var down atomic.Bool
	down.Store(true)
	failing := newRecorder(&s3Sink{cfg: cfg})
	failing.fail = func(int, *batch) error {
		if down.Load() {
			return errors.New("connection refused")
		}
		return nil
	}
	healthy := newRecorder(&cloudWatchSink{interval: cfg.BatchInterval})
	e := startTest(t, cfg, &sinks{s3: failing, cloudWatchLogs: healthy})

	lost := send(t, e, "RRRRRRRRRRR1", 50, 10, bucket)
	flowing := send(t, e, "RRRRRRRRRRR2", 50, 10, logGroup)
	healthy.check(t, flowing)
	// The bucket's records are retried with a growing delay meanwhile.
	time.Sleep(600 * time.Millisecond)
	failing.mu.Lock()
	attempts := len(failing.calls)
	failing.mu.Unlock()
	if attempts < 2 || attempts > 20 {
		t.Fatalf("%d attempts in 600ms, want a few with backoff", attempts)
	}
	more := send(t, e, "RRRRRRRRRRR2", 10, 10, logGroup)
	healthy.check(t, append(flowing, more...))
	down.Store(false)
	failing.check(t, lost)
}

func TestNodesShipEachRecordOnce(t *testing.T) {
	cfg := testConfig()
	e := openEngine(t)
	// Two shippers on one engine pull from the same consumers, as nodes of a cluster do.
	r := newRecorder(&s3Sink{cfg: cfg})
	startShipper(t, e, cfg, &sinks{s3: r})
	startShipper(t, e, cfg, &sinks{s3: r})
	records := send(t, e, "RRRRRRRRRRR1", 200, 10, bucket)
	records = append(records, send(t, e, "RRRRRRRRRRR2", 200, 10, bucket)...)
	r.check(t, records)
}

func TestStopShipsWhatItHolds(t *testing.T) {
	cfg := testConfig()
	cfg.S3BatchInterval = time.Hour
	e := openEngine(t)
	r := newRecorder(&s3Sink{cfg: cfg})
	s := newShipper(e, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), &sinks{s3: r})
	s.Start()
	records := send(t, e, "RRRRRRRRRRR1", 50, 10, bucket)
	time.Sleep(1500 * time.Millisecond) // discovered and fetched, held for an hour
	r.mu.Lock()
	early := len(r.calls)
	r.mu.Unlock()
	if early != 0 {
		t.Fatalf("%d calls before the batch interval", early)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.Stop(ctx)
	r.check(t, records)
}

func TestBackoff(t *testing.T) {
	w := &worker{s: &Shipper{cfg: Config{RetryMin: time.Second, RetryMax: 10 * time.Second}}}
	for failures, want := range []time.Duration{0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
		if failures == 0 {
			continue
		}
		w.failures = failures
		got := w.backoff()
		if got > want || got < want-want/10 {
			t.Errorf("after %d failures: %s, want %s less at most a tenth", failures, got, want)
		}
	}
}
