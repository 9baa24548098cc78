package engine

import (
	"context"
	"maps"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
)

var (
	bucketA = chat.Destination{S3: &chat.S3Destination{BucketName: "bucket-a"}}
	groupB  = chat.Destination{CloudWatchLogs: &chat.CloudWatchLogsDestination{LogGroupName: "/ivs/chat#b"}}
	streamC = chat.Destination{Firehose: &chat.FirehoseDestination{DeliveryStreamName: "stream-c"}}
)

func record(t *testing.T, e *Engine, room string, data string, dests ...chat.Destination) {
	t.Helper()
	err := e.RecordChatLog(context.Background(), &ChatLogRecord{Account: acct, Region: "us-east-1", RoomID: room, Destinations: dests, Data: []byte(data)})
	if err != nil {
		t.Fatal(err)
	}
}

// drain fetches a destination's records until want arrived, acknowledging them.
func drain(t *testing.T, e *Engine, d chat.Destination, want int) []string {
	t.Helper()
	q, err := e.OpenChatLogQueue(context.Background(), d.Key(), ChatLogQueueConfig{AckWait: 2 * time.Second, MaxPending: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < want && time.Now().Before(deadline) {
		xs, err := q.Fetch(context.Background(), 100, 200*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range xs {
			if x.Account != acct || x.Region != "us-east-1" || x.RoomID == "" {
				t.Fatalf("entry %+v", x)
			}
			if x.Destination.Key() != d.Key() {
				t.Fatalf("entry for %s in the queue of %s", x.Destination.Key(), d.Key())
			}
			got = append(got, x.RoomID+":"+string(x.Data))
			if err := x.Ack(); err != nil {
				t.Fatal(err)
			}
		}
	}
	sort.Strings(got)
	return got
}

func TestChatLogQueues(t *testing.T) {
	e := openEngine(t, t.TempDir())
	ctx := context.Background()

	record(t, e, "RRRRRRRRRRR1", "one", bucketA)
	record(t, e, "RRRRRRRRRRR2", "two", bucketA, groupB, streamC)
	record(t, e, "RRRRRRRRRRR3", "none")
	stop := runRouter(e)
	defer stop()

	eventually(t, "every destination to have its records", func() bool {
		waiting, err := e.ChatLogWaiting(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]uint64{bucketA.Key(): 2, groupB.Key(): 1, streamC.Key(): 1}
		return maps.Equal(waiting, want)
	})
	if got := drain(t, e, bucketA, 2); !slices.Equal(got, []string{"RRRRRRRRRRR1:one", "RRRRRRRRRRR2:two"}) {
		t.Fatalf("bucket: %q", got)
	}
	for _, d := range []chat.Destination{groupB, streamC} {
		if got := drain(t, e, d, 1); !slices.Equal(got, []string{"RRRRRRRRRRR2:two"}) {
			t.Fatalf("%v: %q", d.Key(), got)
		}
	}
	eventually(t, "acknowledged records to leave the stream", func() bool {
		waiting, _ := e.ChatLogWaiting(ctx)
		return len(waiting) == 0
	})
}

func TestChatLogRetryAndRedelivery(t *testing.T) {
	e := openEngine(t, t.TempDir())
	ctx := context.Background()
	record(t, e, "RRRRRRRRRRR1", "r", bucketA)
	q, err := e.OpenChatLogQueue(ctx, bucketA.Key(), ChatLogQueueConfig{AckWait: 300 * time.Millisecond, MaxPending: 10})
	if err != nil {
		t.Fatal(err)
	}
	fetch1 := func() *ChatLogEntry {
		t.Helper()
		xs, err := q.Fetch(ctx, 1, 2*time.Second)
		if err != nil || len(xs) != 1 {
			t.Fatalf("fetch: %d entries, %v", len(xs), err)
		}
		return xs[0]
	}
	x := fetch1()
	if x.Deliveries != 1 {
		t.Fatalf("deliveries %d", x.Deliveries)
	}
	// Handed back with a delay: not before it.
	start := time.Now()
	if err := x.Retry(400 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	x = fetch1()
	if time.Since(start) < 350*time.Millisecond || x.Deliveries != 2 {
		t.Fatalf("redelivered after %s, deliveries %d", time.Since(start), x.Deliveries)
	}
	// Not acknowledged within the ack wait (a node died holding it): handed out again.
	x = fetch1()
	if x.Deliveries != 3 {
		t.Fatalf("deliveries %d", x.Deliveries)
	}
	if err := x.Ack(); err != nil {
		t.Fatal(err)
	}
	if xs, _ := q.Fetch(ctx, 10, 500*time.Millisecond); len(xs) != 0 {
		t.Fatalf("acknowledged record handed out again: %d", len(xs))
	}
}

func TestChatLogSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(context.Background(), Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	record(t, e, "RRRRRRRRRRR1", "kept", bucketA)
	record(t, e, "RRRRRRRRRRR2", "routed after the restart", bucketA, groupB)
	e.Close()

	e = openEngine(t, dir)
	stop := runRouter(e)
	defer stop()
	if got := drain(t, e, bucketA, 2); !slices.Equal(got, []string{"RRRRRRRRRRR1:kept", "RRRRRRRRRRR2:routed after the restart"}) {
		t.Fatalf("after restart: %q", got)
	}
}

func TestChatLogSharedByNodes(t *testing.T) {
	url := startNATS(t)
	a, b := openExternal(t, url), openExternal(t, url)
	for i := 0; i < 20; i++ {
		record(t, a, "RRRRRRRRRRR1", string(rune('a'+i)), bucketA)
	}
	// Two nodes pulling from the one consumer get each record once between them.
	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	for _, e := range []*Engine{a, b} {
		q, err := e.OpenChatLogQueue(context.Background(), bucketA.Key(), ChatLogQueueConfig{AckWait: 5 * time.Second, MaxPending: 100})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				xs, err := q.Fetch(context.Background(), 3, 100*time.Millisecond)
				if err != nil {
					t.Error(err)
					return
				}
				for _, x := range xs {
					mu.Lock()
					got = append(got, string(x.Data))
					mu.Unlock()
					_ = x.Ack()
				}
			}
		}()
	}
	wg.Wait()
	sort.Strings(got)
	if len(got) != 20 || len(slices.Compact(slices.Clone(got))) != 20 {
		t.Fatalf("got %d records (%q), want each of 20 once", len(got), got)
	}
}

func runRouter(e *Engine) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.RouteChatLogs(ctx, 100*time.Millisecond)
	}()
	return func() { cancel(); <-done }
}
