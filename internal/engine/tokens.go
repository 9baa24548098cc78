package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A token's single use is a create of its id in a KV bucket: of callers racing with one token,
// exactly one create succeeds. A create needs the bucket's stream leader, and when the NATS
// server leading it dies, its replicas elect another only after missing its heartbeats for 4 to
// 9 s (the NATS server's election timeout, which it does not let anyone configure). A claim in
// one bucket waits that long, whatever its attempts' timeouts.
//
// On a cluster (three or more replicas) a claim is therefore recorded in a majority of three
// buckets, whose leaders the engine keeps on three different servers, and a claim wins when
// its create succeeds in two of them. Any two majorities share a bucket, and in that bucket
// only one create succeeds, so of callers racing with one token at most one wins, as with one
// bucket; and the loss of any one NATS server takes the leader of one bucket, leaving two that
// answer at once. Each bucket is replicated as every other, so a claim survives the loss too.
// A single node (the embedded engine) has one bucket, and the same code claims in it alone.
//
// Callers racing with one token try the buckets in the same order (chosen by the token's id),
// two at first and the third only when those two split or one fails: so one of them always
// wins while every bucket answers.

// tokenClaims holds the used-token buckets of the cluster.
type tokenClaims struct {
	shards []jetstream.KeyValue
	guard  *writeGuard
	// suspect holds, for each bucket, until when (Unix ns) it is thought to have no leader: a
	// claim then tries the others first.
	suspect []atomic.Int64
}

// usedTokenBuckets names the used-token buckets: the first is the single node's, and the
// cluster's first of three.
func usedTokenBuckets(replicas int) []string {
	if replicas < 3 {
		return []string{bucketUsedTokens}
	}
	return []string{bucketUsedTokens, bucketUsedTokens + "_2", bucketUsedTokens + "_3"}
}

func newTokenClaims(shards []jetstream.KeyValue, guard *writeGuard) *tokenClaims {
	return &tokenClaims{shards: shards, guard: guard, suspect: make([]atomic.Int64, len(shards))}
}

const (
	// claimAttempt bounds the first attempt at a create in one bucket, which normally takes
	// milliseconds; each further attempt in that bucket may take twice as long as the one
	// before (up to claimAttemptMax), so that a slow but working store still answers.
	claimAttempt    = 250 * time.Millisecond
	claimAttemptMax = 2 * time.Second
	// claimRetryPause spaces the attempts in a bucket that did not answer.
	claimRetryPause = 50 * time.Millisecond
	// suspectFor is how long a bucket that did not answer is tried last.
	suspectFor = 2 * time.Second
)

// claimOutcome is what one attempt in one bucket found.
type claimOutcome int

const (
	claimWon    claimOutcome = iota // our create, or our earlier one, is the record
	claimLost                       // another caller's record is there
	claimFailed                     // no answer, or an error: try again
	claimFatal                      // the store cannot take writes: give up
)

type claimResult struct {
	shard   int
	outcome claimOutcome
	err     error
}

// claim records the single use of a token; true for exactly one caller across the cluster.
func (c *tokenClaims) claim(ctx context.Context, tokenID string, expires time.Time) (bool, error) {
	ttl := time.Until(expires) + time.Minute
	if ttl < time.Second {
		ttl = time.Second
	}
	// Each claim stores its own nonce: finding it after an attempt whose answer was lost means
	// the record is this caller's.
	nonce := []byte(rand.Text())
	n := len(c.shards)
	need := n/2 + 1
	order := c.order(tokenID)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Each bucket has at most one attempt in flight, so the buffer never blocks a sender.
	results := make(chan claimResult, n)
	retries := make(chan int, n)
	attempts := make([]int, n)
	try := func(i int) {
		attempts[i]++
		a := attempts[i]
		go func() { results <- c.attempt(ctx, i, tokenID, nonce, ttl, a) }()
	}
	started, pending := 0, 0
	startNext := func() {
		if started < n {
			try(order[started])
			started++
			pending++
		}
	}
	for range need {
		startNext()
	}
	wins, losses := 0, 0
	var last error
	for {
		select {
		case r := <-results:
			pending--
			switch r.outcome {
			case claimWon:
				c.suspect[r.shard].Store(0)
				if wins++; wins >= need {
					return true, nil
				}
			case claimLost:
				c.suspect[r.shard].Store(0)
				if losses++; losses > n-need {
					return false, nil
				}
			case claimFatal:
				return false, fmt.Errorf("engine: claim token: %w", r.err)
			case claimFailed:
				last = r.err
				c.suspect[r.shard].Store(time.Now().Add(suspectFor).UnixNano())
				// Around a bucket that does not answer at once; and it is asked again.
				startNext()
				time.AfterFunc(claimRetryPause, func() { retries <- r.shard })
			}
			// More buckets are asked only once those asked have all answered: a caller that
			// lost one bucket and awaits another must not take a third from the caller that
			// won the first.
			for pending == 0 && started < n && wins+pending < need {
				startNext()
			}
		case i := <-retries:
			if ctx.Err() == nil {
				try(i)
				pending++
			}
		case <-ctx.Done():
			return false, fmt.Errorf("engine: claim token: %w (recorded in %d of the %d buckets it needs; last failure: %v)",
				ctx.Err(), wins, need, last)
		}
	}
}

// order is the order in which a token's buckets are tried: by the token's id, so that callers
// racing with one token try the same ones first, with buckets thought leaderless last.
func (c *tokenClaims) order(tokenID string) []int {
	n := len(c.shards)
	h := fnv.New32a()
	h.Write([]byte(tokenID))
	first := int(h.Sum32() % uint32(n))
	order := make([]int, 0, n)
	for i := range n {
		order = append(order, (first+i)%n)
	}
	now := time.Now().UnixNano()
	slices.SortStableFunc(order, func(a, b int) int {
		sa, sb := c.suspect[a].Load() > now, c.suspect[b].Load() > now
		switch {
		case sa == sb:
			return 0
		case sb:
			return -1
		default:
			return 1
		}
	})
	return order
}

// attempt is the a-th attempt to create the token's record in bucket i.
func (c *tokenClaims) attempt(ctx context.Context, i int, tokenID string, nonce []byte, ttl time.Duration, a int) claimResult {
	kv := c.shards[i]
	timeout := min(claimAttempt<<min(a-1, 4), claimAttemptMax)
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := c.guard.write(actx, func(ctx context.Context) error {
		_, err := kv.Create(ctx, tokenID, nonce, jetstream.KeyTTL(ttl))
		return err
	})
	switch {
	case err == nil:
		return claimResult{shard: i, outcome: claimWon}
	case errors.Is(err, ErrStoreUnwritable):
		return claimResult{shard: i, outcome: claimFatal, err: err}
	case !errors.Is(err, jetstream.ErrKeyExists):
		return claimResult{shard: i, outcome: claimFailed, err: fmt.Errorf("%s: %w", kv.Bucket(), err)}
	case a == 1:
		return claimResult{shard: i, outcome: claimLost}
	}
	// An earlier attempt had no answer but may have been stored: the record says whose it is.
	entry, err := kv.Get(actx, tokenID)
	if err != nil {
		// A replica that has not got the record yet may have answered: ask again.
		return claimResult{shard: i, outcome: claimFailed, err: fmt.Errorf("%s: reading the record: %w", kv.Bucket(), err)}
	}
	if bytes.Equal(entry.Value(), nonce) {
		return claimResult{shard: i, outcome: claimWon}
	}
	return claimResult{shard: i, outcome: claimLost}
}

// spreadEvery spaces the checks that the used-token buckets' leaders are on different servers.
const spreadEvery = 5 * time.Second

// spreadLeaders keeps the leaders of the used-token buckets on different NATS servers, as far
// as their replicas allow, until ctx ends: JetStream places leaders without regard to each
// other, and a server that leads two of the three buckets would take a majority with it. When
// two buckets share a leader and a replica of one of them is current and leads none, the
// engine asks that bucket's leader to hand over to it, as `nats stream cluster step-down
// --preferred` does. Every node checks; nodes that act at once make the same request.
func (c *tokenClaims) spreadLeaders(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, log *slog.Logger) {
	if len(c.shards) < 2 {
		return
	}
	warned := false
	for {
		jitter := time.Duration(time.Now().UnixNano() % int64(time.Second))
		select {
		case <-ctx.Done():
			return
		case <-time.After(spreadEvery + jitter):
		}
		err := c.spreadOnce(ctx, nc, js, log)
		if err != nil && !warned && ctx.Err() == nil {
			log.Warn("engine: cannot move the used-token buckets' leaders apart; losing the NATS server that leads two of them stops new connections until they elect new leaders", "err", err)
			warned = true
		}
	}
}

// spreadOnce makes at most one hand-over; nil means none was needed or it was asked for.
func (c *tokenClaims) spreadOnce(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, log *slog.Logger) error {
	type shard struct {
		stream, leader string
		current        []string // replicas that could take over now
	}
	var shards []shard
	led := map[string]int{}
	for _, kv := range c.shards {
		ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
		s, err := js.Stream(ictx, "KV_"+kv.Bucket())
		cancel()
		if err != nil {
			return nil // an election or a hiccup: look again later
		}
		info := s.CachedInfo().Cluster
		if info == nil || info.Leader == "" {
			return nil
		}
		sh := shard{stream: "KV_" + kv.Bucket(), leader: info.Leader}
		for _, p := range info.Replicas {
			if p.Current && !p.Offline {
				sh.current = append(sh.current, p.Name)
			}
		}
		slices.Sort(sh.current)
		led[info.Leader]++
		shards = append(shards, sh)
	}
	// The last bucket whose leader leads another moves to the first current replica that
	// leads none: every node picks the same.
	for i := len(shards) - 1; i >= 0; i-- {
		sh := shards[i]
		if led[sh.leader] < 2 {
			continue
		}
		for _, to := range sh.current {
			if led[to] > 0 {
				continue
			}
			log.Info("engine: moving a used-token bucket's leader to a server that leads none", "stream", sh.stream, "from", sh.leader, "to", to)
			return stepDown(ctx, nc, sh.stream, to)
		}
	}
	return nil
}

// stepDown asks a stream's leader to hand over to the preferred server.
func stepDown(ctx context.Context, nc *nats.Conn, stream, preferred string) error {
	req, err := json.Marshal(map[string]any{"placement": map[string]string{"preferred": preferred}})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	msg, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.LEADER.STEPDOWN."+stream, req)
	if err != nil {
		return fmt.Errorf("step down %s: %w", stream, err)
	}
	var resp struct {
		Success bool `json:"success"`
		Error   *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return fmt.Errorf("step down %s: %w", stream, err)
	}
	if resp.Error != nil {
		return fmt.Errorf("step down %s: %s", stream, resp.Error.Description)
	}
	return nil
}
