package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// majorityClaims is a cluster's three used-token buckets, here on one NATS server; a bucket
// is "lost" by deleting its stream, which then answers no write, as a bucket whose leader died
// answers none until its replicas elect another.
func majorityClaims(t *testing.T) (*tokenClaims, func(i int)) {
	t.Helper()
	nc, err := nats.Connect(startNATS(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var shards []jetstream.KeyValue
	for _, name := range usedTokenBuckets(3) {
		kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name, LimitMarkerTTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		shards = append(shards, kv)
	}
	lose := func(i int) {
		if err := js.DeleteStream(ctx, "KV_"+shards[i].Bucket()); err != nil {
			t.Fatal(err)
		}
	}
	return newTokenClaims(shards, newWriteGuard()), lose
}

// race has callers claim one token at once and returns how many won; errors fail the test
// unless allowed.
func race(t *testing.T, c *tokenClaims, id string, callers int, timeout time.Duration, errorsAllowed bool) int {
	t.Helper()
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			ok, err := c.claim(ctx, id, time.Now().Add(time.Hour))
			if err != nil && !errorsAllowed {
				t.Errorf("claim of %s: %v", id, err)
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(wins.Load())
}

func TestMajorityClaims(t *testing.T) {
	t.Run("with every bucket answering, exactly one of callers racing with a token wins", func(t *testing.T) {
		c, _ := majorityClaims(t)
		for i := range 20 {
			if wins := race(t, c, fmt.Sprintf("every%d", i), 6, 10*time.Second, false); wins != 1 {
				t.Fatalf("token %d: %d of 6 racers won, want 1", i, wins)
			}
		}
	})
	t.Run("with one bucket lost, a token is claimed once and refused after", func(t *testing.T) {
		c, lose := majorityClaims(t)
		ctx := context.Background()
		if ok, err := c.claim(ctx, "before", time.Now().Add(time.Hour)); !ok || err != nil {
			t.Fatalf("claim before the loss = %v, %v", ok, err)
		}
		lose(1)
		for i := range 10 {
			id := fmt.Sprintf("during%d", i)
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			ok, err := c.claim(ctx, id, time.Now().Add(time.Hour))
			if !ok || err != nil {
				t.Fatalf("first claim of %s with two buckets left = %v, %v", id, ok, err)
			}
			ok, err = c.claim(ctx, id, time.Now().Add(time.Hour))
			cancel()
			if ok || err != nil {
				t.Fatalf("second claim of %s with two buckets left = %v, %v; want refused", id, ok, err)
			}
		}
		// A token claimed before the loss is refused, or, when the lost bucket held one of
		// its two records, the claim cannot be decided and fails closed at its deadline.
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if ok, _ := c.claim(ctx, "before", time.Now().Add(time.Hour)); ok {
			t.Fatal("a token claimed before the loss was claimed again")
		}
	})
	t.Run("with one bucket lost, callers racing with a token never both win", func(t *testing.T) {
		c, lose := majorityClaims(t)
		lose(0)
		for i := range 5 {
			// A race that splits the two buckets left has no winner until the lost one is back:
			// both callers then fail closed when their deadline passes.
			if wins := race(t, c, fmt.Sprintf("race%d", i), 4, time.Second, true); wins > 1 {
				t.Fatalf("token %d: %d racers won", i, wins)
			}
		}
	})
	t.Run("with two buckets lost, a claim fails closed at its deadline", func(t *testing.T) {
		c, lose := majorityClaims(t)
		lose(0)
		lose(2)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		ok, err := c.claim(ctx, "alone", time.Now().Add(time.Hour))
		if ok || err == nil {
			t.Fatalf("claim with one bucket of three = %v, %v; want an error", ok, err)
		}
	})
}
