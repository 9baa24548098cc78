package cluster

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/gorilla/websocket"
)

// availability calls every node in a loop, one loop per kind of call, while a fault happens,
// and measures what clients see: for each kind, the longest time without an answer, that is
// from the end of one successful call to the end of the next one (a failed or slow call
// widens it).
type availability struct {
	stop chan struct{}
	wg   sync.WaitGroup

	mu   sync.Mutex
	gaps map[string]time.Duration // kind → longest gap on any node
	errs map[string][]string      // kind → the distinct errors seen
	n    map[string]int           // kind → calls made
}

// probe is one kind of call against one node.
type probe struct {
	kind string
	call func(ctx context.Context, n *node) error
}

// connectLog records every connection a probe made during a fault: how long its handshake
// took and how it ended.
type connectLog struct {
	mu       sync.Mutex
	connects []connectTry
}

type connectTry struct {
	took   time.Duration
	status int    // 101, a refusal's status, or 0 if no answer came
	body   string // a refusal's text
	err    error
}

func (l *connectLog) add(c connectTry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.connects = append(l.connects, c)
}

// expect fails the test unless every connection opened or was refused promptly with the 503
// that says the token could not be checked, none waited past the handshake's bound, and most
// opened.
func (l *connectLog) expect(t *testing.T, bound time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	opened, refused := 0, 0
	var longest time.Duration
	for _, c := range l.connects {
		longest = max(longest, c.took)
		switch {
		case c.status == http.StatusSwitchingProtocols:
			opened++
		case c.status == http.StatusServiceUnavailable && strings.Contains(c.body, "could not be checked"):
			refused++
		default:
			t.Errorf("a connection during the fault ended with %d %q (%v) after %v; want 101, or 503 saying the token could not be checked",
				c.status, c.body, c.err, c.took.Round(time.Millisecond))
		}
		if c.took > bound {
			t.Errorf("a connection during the fault waited %v for its answer (%d); the handshake's bound is %v", c.took.Round(time.Millisecond), c.status, bound)
		}
	}
	t.Logf("figure: connections during the fault: %d opened, %d refused with 503, longest handshake %v",
		opened, refused, longest.Round(10*time.Millisecond))
	if opened*4 < len(l.connects)*3 {
		t.Errorf("only %d of %d connections during the fault opened; want most", opened, len(l.connects))
	}
}

// probes are the calls a client of one room makes: minting a token, connecting with one
// (minted before the fault), reading the room, and a write. Every connection is logged.
func probes(t *testing.T, nodes []*node, roomARN *string, connects *connectLog) []probe {
	// Tokens are minted up front, so that a connection measures the handshake alone.
	tokens := map[*node]chan string{}
	for _, n := range nodes {
		tokens[n] = make(chan string, 400)
		for i := range cap(tokens[n]) {
			tokens[n] <- newToken(t, n.ivs, roomARN, fmt.Sprintf("probe-%s-%d", n.name, i))
		}
	}
	return []probe{
		{"CreateChatToken", func(ctx context.Context, n *node) error {
			_, err := n.ivs.CreateChatToken(ctx, &ivschat.CreateChatTokenInput{RoomIdentifier: roomARN, UserId: aws.String("probe")})
			return err
		}},
		{"connect", func(ctx context.Context, n *node) error {
			var token string
			select {
			case token = <-tokens[n]:
			default:
				return nil // out of tokens: the fault has lasted long enough to tell
			}
			// Longer than the server's bound on a handshake (5 s), so that a connection that
			// waits for the engine is measured, not cut off.
			d := websocket.Dialer{Subprotocols: []string{token}, HandshakeTimeout: 10 * time.Second}
			began := time.Now()
			ws, resp, err := d.DialContext(ctx, n.ws, nil)
			try := connectTry{took: time.Since(began), err: err}
			if resp != nil {
				try.status = resp.StatusCode
				if err != nil {
					b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
					try.body = string(b)
				}
			}
			connects.add(try)
			if err != nil {
				return fmt.Errorf("handshake %d %s: %w", try.status, strings.TrimSpace(try.body), err)
			}
			return ws.Close()
		}},
		{"GetRoom", func(ctx context.Context, n *node) error {
			_, err := n.ivs.GetRoom(ctx, &ivschat.GetRoomInput{Identifier: roomARN})
			return err
		}},
		{"ListRooms", func(ctx context.Context, n *node) error {
			_, err := n.ivs.ListRooms(ctx, &ivschat.ListRoomsInput{MaxResults: aws.Int32(1)})
			return err
		}},
		{"TagResource (write)", func(ctx context.Context, n *node) error {
			_, err := n.ivs.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: roomARN, Tags: map[string]string{"probe": n.name}})
			return err
		}},
	}
}

// measure starts the loops; stop ends them and returns what was measured.
func measure(nodes []*node, ps []probe) *availability {
	a := &availability{stop: make(chan struct{}), gaps: map[string]time.Duration{}, errs: map[string][]string{}, n: map[string]int{}}
	for _, p := range ps {
		for _, n := range nodes {
			a.wg.Add(1)
			go a.loop(p, n)
		}
	}
	return a
}

func (a *availability) loop(p probe, n *node) {
	defer a.wg.Done()
	lastOK := time.Now()
	for {
		select {
		case <-a.stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := p.call(ctx, n)
		cancel()
		now := time.Now()
		a.mu.Lock()
		a.n[p.kind]++
		if err == nil {
			a.gaps[p.kind] = max(a.gaps[p.kind], now.Sub(lastOK))
			lastOK = now
		} else if msg := firstLine(err.Error()); len(a.errs[p.kind]) < 5 && !slices.Contains(a.errs[p.kind], msg) {
			a.errs[p.kind] = append(a.errs[p.kind], msg)
		}
		a.mu.Unlock()
	}
}

func (a *availability) end() {
	close(a.stop)
	a.wg.Wait()
}

// report logs each kind's longest gap and errors, in a stable order.
func (a *availability) report(t *testing.T, what string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	kinds := make([]string, 0, len(a.gaps))
	for k := range a.n {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		t.Logf("figure: %s: %s: longest time without an answer %v (%d calls); errors: %s",
			what, k, a.gaps[k].Round(10*time.Millisecond), a.n[k], strings.Join(a.errs[k], " | "))
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 160 {
		s = s[:160]
	}
	return s
}

// expectAnswering fails the test if a kind of call failed at all, or went longer than
// within without an answer.
func (a *availability) expectAnswering(t *testing.T, within time.Duration, kinds ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, k := range kinds {
		if len(a.errs[k]) > 0 {
			t.Errorf("%s failed during the fault: %s", k, strings.Join(a.errs[k], " | "))
		}
		if a.gaps[k] > within {
			t.Errorf("%s went %v without an answer; want at most %v", k, a.gaps[k], within)
		}
	}
}
