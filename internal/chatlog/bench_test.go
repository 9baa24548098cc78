package chatlog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/engine"
)

// Benchmarks of the chat-log pipeline (see docs/benchmarks.md for method and results):
//
//	go test -run '^$' -bench 'Ship|Record' -benchtime 100000x ./internal/chatlog
//
// BenchmarkShip measures shipping alone: b.N records of 10 rooms wait in the stream, then a
// shipper with the default batch sizes ships them; the clock runs from the shipper's start
// until the stream is empty (every record acknowledged after its destination accepted it).
// BenchmarkRecord measures what a send in a logged room pays: one durable stream publish,
// waited for, by one sender and by 16 per core.

const benchRooms = 10

// benchRecord is a chat-log record of a typical message (about 330 bytes).
func benchRecord() []byte {
	msg := chat.NewMessage(chat.NewID(), "7b0c4f4e-1a2b", "that was a great play, did you see the replay from the other angle?",
		map[string]string{"color": "blue"}, &chat.Token{UserID: "viewer-123456", Attributes: map[string]string{"displayName": "Viewer 123456"}}, time.Now())
	return chat.NewLogRecord(chat.Encode(msg), time.Now())
}

// preload records n records spread over the rooms, from several publishers at once.
func preload(b *testing.B, e *engine.Engine, n int, d chat.Destination) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				err := e.RecordChatLog(context.Background(), &engine.ChatLogRecord{Account: account, Region: "us-east-1",
					RoomID: fmt.Sprintf("BenchRoom%03d", i%benchRooms), Destinations: []chat.Destination{d}, Data: benchRecord()})
				if err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkShip(b *testing.B) {
	fake := httptest.NewServer(gofakes3.New(s3mem.New(), gofakes3.WithAutoBucket(true)).Server())
	defer fake.Close()
	for _, c := range []struct {
		name string
		cfg  func(*Config)
	}{
		{"s3-gofakes3", func(c *Config) {
			c.S3PathStyle = true
			c.AWS = func(ac *aws.Config) {
				ac.BaseEndpoint = aws.String(fake.URL)
				ac.Region = "us-east-1"
				ac.Credentials = credentials.NewStaticCredentialsProvider("AKIDBENCH", "bench", "")
			}
		}},
		{"local-dir", func(c *Config) { c.S3LocalDirs = map[string]string{"bench-logs": b.TempDir()} }},
	} {
		b.Run(c.name, func(b *testing.B) {
			e, err := engine.Open(context.Background(), engine.Config{DataDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			preload(b, e, b.N, chat.Destination{S3: &chat.S3Destination{BucketName: "bench-logs"}})
			cfg := DefaultConfig()
			cfg.S3BatchInterval = time.Second // the last, partial objects do not wait a minute
			c.cfg(&cfg)
			b.ResetTimer()
			start := time.Now()
			s := New(e, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			s.Start()
			for {
				waiting, err := e.ChatLogWaiting(context.Background())
				if err == nil && len(waiting) == 0 {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s.Stop(ctx)
		})
	}
}

func BenchmarkRecord(b *testing.B) {
	e, err := engine.Open(context.Background(), engine.Config{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	dest := []chat.Destination{{S3: &chat.S3Destination{BucketName: "bench-logs"}}}
	data := benchRecord()
	var room atomic.Int64
	record := func() *engine.ChatLogRecord {
		return &engine.ChatLogRecord{Account: account, Region: "us-east-1", RoomID: fmt.Sprintf("BenchRoom%03d", room.Add(1)%benchRooms),
			Destinations: dest, Data: data}
	}
	// One sender: the latency a send in a logged room gains.
	b.Run("1-sender", func(b *testing.B) {
		r := record()
		start := time.Now()
		for b.Loop() {
			if err := e.RecordChatLog(context.Background(), r); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
	})
	// Many connections sending at once, as on a busy node.
	b.Run("many-senders", func(b *testing.B) {
		b.SetParallelism(16)
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			r := record()
			for pb.Next() {
				if err := e.RecordChatLog(context.Background(), r); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
	})
}
