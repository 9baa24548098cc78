// Package chatlog ships chat-log records from the engine's chat-log stream to their
// destinations: S3 (or a local directory standing in for a bucket), CloudWatch Logs and
// Firehose.
//
// Every node runs a Shipper. For each destination with records waiting, the Shipper pulls from
// that destination's durable consumer (shared by the cluster, so each record is shipped by one
// node), gathers records into batches within the destination's limits, and acknowledges a
// record only once its destination accepted it. A failed batch is handed back to the stream
// with a growing delay and the destination's worker pauses for as long; other destinations
// have their own workers and are not held up.
package chatlog

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/ivschatd/ivschatd/internal/engine"
	"github.com/ivschatd/ivschatd/internal/metrics"
)

// Config tunes shipping; DefaultConfig is the one source of its defaults, and cmd/ivschatd
// checks the bounds of each setting.
type Config struct {
	// Region is the AWS region of destinations when the AWS configuration (AWS_REGION, the
	// profile) names none.
	Region string
	// S3PathStyle addresses buckets as https://host/bucket/key, as most S3-compatible stores
	// and emulators need.
	S3PathStyle bool
	// S3LocalDirs maps bucket names to local directories that receive the bucket's objects,
	// with the same keys, instead of S3.
	S3LocalDirs map[string]string
	// S3BatchBytes and S3BatchInterval bound an S3 object: records of a room are gathered until
	// they reach S3BatchBytes (before compression) or the oldest has waited S3BatchInterval.
	S3BatchBytes    int
	S3BatchInterval time.Duration
	// BatchInterval is how long CloudWatch Logs and Firehose records are gathered before a call.
	BatchInterval time.Duration
	// AckWait is how long records handed to a node that then stops answering wait before
	// another node (or this one, restarted) ships them.
	AckWait time.Duration
	// RetryMin and RetryMax bound the delay before a failed batch is tried again; it doubles
	// with each consecutive failure of the destination.
	RetryMin, RetryMax time.Duration
	// Stream bounds the records waiting in the engine.
	Stream engine.ChatLogStreamConfig
	// AWS, if set, adjusts the AWS SDK configuration after the standard chain loaded it.
	AWS func(*aws.Config)
	// Metrics counts the records shipped and refused (nil: not counted).
	Metrics *metrics.Metrics
}

// DefaultConfig is the configuration of ivschatd with no flags.
func DefaultConfig() Config {
	return Config{
		S3BatchBytes:    5 << 20,
		S3BatchInterval: time.Minute,
		BatchInterval:   5 * time.Second,
		AckWait:         2 * time.Minute,
		RetryMin:        time.Second,
		RetryMax:        time.Minute,
		Stream:          engine.ChatLogStreamConfig{MaxAge: engine.DefaultChatLogMaxAge, MaxBytes: engine.DefaultChatLogMaxBytes},
	}
}

// Tuning that is not configuration.
const (
	// discoverEvery is how often a node looks for destinations with records waiting.
	discoverEvery = 500 * time.Millisecond
	// idleAfter is how long a worker runs after its destination last had records waiting.
	idleAfter = time.Minute
	// maxPending bounds the records handed out and not yet acknowledged, per destination and
	// cluster-wide; maxHeld bounds those one node holds in its batches.
	maxPending = 50000
	maxHeld    = 20000
	fetchMax   = 1000
	// callTimeout bounds one call to a destination.
	callTimeout = time.Minute
)

// Shipper ships the records of every destination from one node.
type Shipper struct {
	cfg    Config
	engine *engine.Engine
	log    *slog.Logger
	sinks  *sinks

	ctx    context.Context
	cancel context.CancelFunc
	// hard bounds calls to destinations: it ends when Stop's context does.
	hard       context.Context
	hardCancel context.CancelFunc
	wg         sync.WaitGroup

	mu      sync.Mutex
	workers map[string]*worker
	// pending is the number of records waiting, by destination kind, as discovery last saw.
	pending atomic.Pointer[map[string]uint64]
}

// Pending is the number of chat-log records waiting for their destinations in the whole
// cluster, by destination kind, as the shipper last looked (every half second).
func (s *Shipper) Pending() map[string]uint64 {
	if p := s.pending.Load(); p != nil {
		return *p
	}
	return nil
}

// New makes a shipper over the engine's chat-log stream, loading the AWS configuration of its
// destinations. A configuration that does not load is reported by every shipment until it is
// fixed, without stopping chat.
func New(e *engine.Engine, cfg Config, log *slog.Logger) *Shipper {
	return newShipper(e, cfg, log, newSinks(context.Background(), cfg, log))
}

func newShipper(e *engine.Engine, cfg Config, log *slog.Logger, ss *sinks) *Shipper {
	s := &Shipper{cfg: cfg, engine: e, log: log, workers: map[string]*worker{}, sinks: ss}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.hard, s.hardCancel = context.WithCancel(context.Background())
	return s
}

// Start starts shipping, until Stop; it returns at once.
func (s *Shipper) Start() {
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		s.engine.RouteChatLogs(s.ctx, s.cfg.RetryMin)
	}()
	go func() {
		defer s.wg.Done()
		s.discover()
	}()
}

// loadAWS loads the standard AWS SDK configuration chain.
func loadAWS(ctx context.Context, cfg Config) (aws.Config, error) {
	ac, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("chat log: AWS configuration: %w", err)
	}
	if ac.Region == "" {
		ac.Region = cfg.Region
	}
	if cfg.AWS != nil {
		cfg.AWS(&ac)
	}
	return ac, nil
}

// discover starts a worker for each destination with records waiting, and stops the workers of
// destinations that have had none for a while.
func (s *Shipper) discover() {
	t := time.NewTicker(discoverEvery)
	defer t.Stop()
	for {
		waiting, err := s.engine.ChatLogWaiting(s.ctx)
		if err == nil {
			now := time.Now()
			byKind := map[string]uint64{}
			for key, n := range waiting {
				kind, _, _ := strings.Cut(key, "-")
				byKind[kind] += n
			}
			s.pending.Store(&byKind)
			s.mu.Lock()
			for key := range waiting {
				w := s.workers[key]
				if w == nil {
					w = s.startWorker(key)
				}
				w.seen.Store(now.UnixNano())
			}
			for key, w := range s.workers {
				if now.Sub(time.Unix(0, w.seen.Load())) > idleAfter && w.idle.Load() {
					w.cancel()
					delete(s.workers, key)
				}
			}
			s.mu.Unlock()
		} else if s.ctx.Err() == nil {
			s.log.Debug("chat log: listing destinations", "err", err)
		}
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Shipper) startWorker(key string) *worker {
	ctx, cancel := context.WithCancel(s.ctx)
	w := &worker{s: s, key: key, cancel: cancel, groups: map[string]*batch{}}
	s.workers[key] = w
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		w.run(ctx)
	}()
	return w
}

// Stop stops pulling records, tries to ship what this node holds within ctx, and hands the rest
// back to the stream for another node or the next start.
func (s *Shipper) Stop(ctx context.Context) {
	s.cancel()
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			s.hardCancel()
		case <-done:
		}
	}()
	s.wg.Wait()
	close(done)
	s.hardCancel()
}
