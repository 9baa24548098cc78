// Package adversarial attacks one ivschatd node with everything at once: the defects of issue
// 12, garbage and oversized frames, floods past every limit, members that never read or never
// answer a ping, stalled handshakes and bodies, a connection flood, token replays and
// cross-account attempts; while a control member receives every message of a busy room.
//
// Each attack asserts the exact reaction the node is built to have (a status code and error
// type, a close code, an ERROR frame). Afterwards the control member must have received every
// payload its senders saw accepted, once, and nothing they saw refused; and the process's
// goroutines and heap must be back near where they were before the attacks.
//
// The node runs in this process (internal/server), with two tenant accounts, and with its
// limits (deadlines, queue, rates) set low so that each attack reaches them in seconds. The
// DNS-rebinding attack needs a node on the development key pair, which never runs beside
// other principals: it gets a node of its own, attacked at the same time.
package adversarial

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"

	"github.com/ivschatd/ivschatd/internal/server"
)

func staticCredentials(key, secret string) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(key, secret, "")
}

// Bounds on what the attacks may leave behind or hold while they run.
const (
	goroutineSlack = 40       // keep-alive connections of review handlers, timers, the engine's own
	heapSlack      = 48 << 20 // the engine's caches grow with what the attacks stored
	// heapDuringAttacks is what the attacks may make the process hold at their peak: the slow
	// bodies' bound (64 MiB), thousands of sockets' buffers, the members' queues. Without the
	// bound, the stalled bodies alone hold 400 × 960 KiB.
	heapDuringAttacks = 256 << 20
)

func TestEverythingAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("the adversarial suite takes a minute or two")
	}
	raiseFileLimit(t, 8192)
	e := startNode(t)
	e.busy = newRoom(t, e.a, &ivschat.CreateRoomInput{Name: aws.String("busy"), MaximumMessageRatePerSecond: aws.Int32(busyRoomRate)})
	busy := e.startTraffic(t)
	time.Sleep(time.Second) // the traffic settles
	e.closeIdle()
	before := measure()
	t.Logf("before the attacks: %s", before)

	devCfg := server.DefaultConfig()
	devCfg.Addr, devCfg.AdminAddr, devCfg.DataDir = "127.0.0.1:0", "127.0.0.1:0", t.TempDir()
	dev, err := server.Start(context.Background(), devCfg, discardLog())
	if err != nil {
		t.Fatal(err)
	}

	peak := heapPeak()
	began := time.Now()
	t.Run("attacks", func(t *testing.T) {
		for _, a := range []struct {
			name string
			run  func(*testing.T, *env)
		}{
			{"garbage and oversized frames", attackGarbageFrames},
			{"floods past the room's and the connection's rates", attackFloods},
			{"frame floods", attackFrameFloods},
			{"members that never read or never answer a ping", attackSlowMembers},
			{"token replays", attackTokenReplays},
			{"a flood of members", attackMemberFlood},
			{"stalled request bodies", attackSlowBodies},
			{"stalled handshakes", attackStalledHandshakes},
			{"a connection flood", attackConnectionFlood},
			{"malformed HTTP", attackMalformedHTTP},
			{"cross-account attempts", attackCrossAccount},
			{"DNS rebinding", func(t *testing.T, e *env) { attackDNSRebinding(t, dev, e) }},
		} {
			t.Run(a.name, func(t *testing.T) {
				t.Parallel()
				a.run(t, e)
			})
		}
	})
	held := peak()
	t.Logf("the attacks took %s; the heap peaked at %.1f MiB", time.Since(began).Round(time.Millisecond), float64(held)/(1<<20))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_ = dev.Shutdown(ctx)
	cancel()

	t.Run("the heap stayed bounded while the attacks ran", func(t *testing.T) {
		if held > before.heap+heapDuringAttacks {
			t.Fatalf("the heap peaked at %.1f MiB, %.1f MiB over the %s before the attacks; the bound is %d MiB",
				float64(held)/(1<<20), float64(held-before.heap)/(1<<20), before, heapDuringAttacks>>20)
		}
	})
	t.Run("no review handler of another account was invoked", func(t *testing.T) {
		if n := e.reviews.Load(); n != 0 {
			t.Fatalf("the foreign function's endpoint got %d review requests", n)
		}
	})
	t.Run("goroutines and the heap return to their baseline", func(t *testing.T) {
		var after usage
		deadline := time.Now().Add(time.Minute)
		for {
			e.closeIdle()
			after = measure()
			if after.goroutines <= before.goroutines+goroutineSlack && after.heap <= before.heap+heapSlack {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a minute after the attacks: %s; before them: %s", after, before)
			}
			time.Sleep(500 * time.Millisecond)
		}
		t.Logf("after the attacks: %s", after)
	})
	t.Run("the control member received every accepted payload of the busy room once, and nothing refused", func(t *testing.T) {
		busy.finish(t)
		if f := busy.failure.Load(); f != nil {
			t.Fatal(f)
		}
		l := busy.l
		l.mu.Lock()
		defer l.mu.Unlock()
		for n, times := range l.received {
			switch {
			case times > 1:
				t.Errorf("payload %s received %d times", n, times)
			case l.refused[n]:
				t.Errorf("payload %s was refused to its sender but delivered", n)
			}
		}
		missed := 0
		for n := range l.accepted {
			if l.received[n] == 0 {
				missed++
			}
		}
		if missed > 0 {
			t.Errorf("%d of %d accepted payloads never reached the control member", missed, len(l.accepted))
		}
		t.Logf("%d payloads accepted and received; refused: %d by the room's rate (429), %d because the rate could not be checked in time (429)",
			len(l.accepted), busy.rateRefused.Load(), busy.rateUnchecked.Load())
		if len(l.accepted) < 100 {
			t.Errorf("only %d payloads were accepted: the room was not busy", len(l.accepted))
		}
	})
}
