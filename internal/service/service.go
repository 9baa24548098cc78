// Package service carries out the IVS Chat operations: it applies the domain's rules to the
// state kept in the engine, and publishes what a room's members must learn through the room
// broker (chat.Broker). Every operation takes the caller's context, account and one input.
// The control-plane API and the messaging gateway are both thin transports over it.
package service

import (
	"context"
	"errors"
	"hash/fnv"
	"sync"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/engine"
)

// Quotas are the per-account resource limits.
type Quotas struct {
	MaxRooms                 int
	MaxLoggingConfigurations int
}

// Service is one node's implementation of the IVS Chat operations.
type Service struct {
	engine        *engine.Engine
	region        string
	quotas        Quotas
	tokenLifetime time.Duration
	reach         chat.Reach
	now           func() time.Time
	accounts      accountLocks
	// broker carries room signals to the members on every node, this one included.
	broker chat.Broker
}

// Config configures a Service.
type Config struct {
	Region        string
	Quotas        Quotas
	TokenLifetime time.Duration
	// Reach is what each account's rooms and logging configurations may name.
	Reach chat.Reach
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultConfig is the service of `ivschatd` with no flags: IVS Chat's own quotas and token
// lifetime, in us-east-1.
func DefaultConfig() Config {
	return Config{Region: "us-east-1", TokenLifetime: chat.DefaultTokenLifetime,
		Quotas: Quotas{MaxRooms: chat.DefaultMaxRooms, MaxLoggingConfigurations: chat.DefaultMaxLoggingConfigurations}}
}

// New makes a Service over an open engine, publishing room signals through b.
func New(e *engine.Engine, b chat.Broker, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{engine: e, region: cfg.Region, quotas: cfg.Quotas, tokenLifetime: cfg.TokenLifetime,
		reach: cfg.Reach, now: cfg.Now, broker: b}
}

// Region is the region the service runs in.
func (s *Service) Region() string { return s.region }

// clock returns the current time in UTC at millisecond precision, the precision of the wire.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// owned checks that an ARN belongs to the caller's account and this region. Anything else is
// reported as not found, so that accounts cannot probe each other.
func (s *Service) owned(account string, a chat.ARN) error {
	if a.Account != account || a.Region != s.region {
		return a.NotFound()
	}
	return nil
}

// room returns the caller's room named by an ARN.
func (s *Service) room(ctx context.Context, account string, a chat.ARN) (*chat.Room, error) {
	if err := s.owned(account, a); err != nil {
		return nil, err
	}
	r, ok := s.engine.Rooms.Get(ctx, account, a.ID)
	if !ok {
		return nil, a.NotFound()
	}
	return r, nil
}

// checkLoggingConfigurations makes sure every referenced configuration exists in the account.
func (s *Service) checkLoggingConfigurations(ctx context.Context, account string, arns []chat.ARN) error {
	for _, a := range arns {
		if err := s.owned(account, a); err != nil {
			return err
		}
		if _, ok := s.engine.LoggingConfigurations.Get(ctx, account, a.ID); !ok {
			return a.NotFound()
		}
	}
	return nil
}

// fresh brings this node's index of a table up to every write acknowledged anywhere in the
// cluster, so that a control-plane read after a write made through another node sees it.
// Reads on the messaging path do not wait for this. If the engine cannot say (a NATS leader
// election in progress), the read is served from the index as it is: a slightly stale answer
// beats none.
func fresh[T any](ctx context.Context, t *engine.Table[T]) {
	_ = t.Sync(ctx)
}

// mapEngineError turns an engine miss into the domain's not-found error.
func mapEngineError(err error, a chat.ARN) error {
	if errors.Is(err, engine.ErrNotFound) {
		return a.NotFound()
	}
	return err
}

// accountLocks serialize the changes of one account that depend on its other resources: a
// quota check and the create it allows, and a room taking a logging configuration against
// that configuration's delete. Without them, concurrent creates all pass the count before
// any is stored, and a configuration can be deleted while a room attaches it. They hold on
// one node; nodes of a cluster can still race each other by the watch delay.
type accountLocks struct{ shards [64]sync.Mutex }

func (l *accountLocks) lock(account string) (unlock func()) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(account))
	m := &l.shards[h.Sum32()%uint32(len(l.shards))]
	m.Lock()
	return m.Unlock
}

// createWithFreshID stores a new resource under a random id, drawing again on the (unlikely)
// collision.
func createWithFreshID[T any](ctx context.Context, t *engine.Table[T], account string, build func(id string) *T) (*T, error) {
	for {
		id := chat.NewID()
		v := build(id)
		err := t.Create(ctx, account, id, v)
		if errors.Is(err, engine.ErrExists) {
			continue
		}
		return v, err
	}
}
