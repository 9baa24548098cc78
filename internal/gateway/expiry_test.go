package gateway

import (
	"bytes"
	"testing"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// The node's expiries end each session once it is over, earliest first, and never one whose
// connection went away before.
func TestExpiriesEndEachSessionOnceItIsOver(t *testing.T) {
	gw := &Gateway{cfg: DefaultConfig()}
	now := time.Now()
	member := func(after time.Duration) *conn {
		return &conn{gw: gw, token: &chat.Token{SessionExpirationTime: now.Add(after)}}
	}
	late, early, middle := member(300*time.Millisecond), member(10*time.Millisecond), member(150*time.Millisecond)
	gone := member(50 * time.Millisecond)
	far := member(time.Hour)
	for _, c := range []*conn{late, early, gone, far, middle} {
		gw.expiries.add(c)
	}
	gw.expiries.remove(gone)

	deadline := time.Now().Add(30 * time.Second)
	for !late.isClosing.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for _, tc := range []struct {
		name    string
		c       *conn
		closing bool
	}{
		{"a session over is closed", early, true},
		{"a later session over is closed", middle, true},
		{"the latest session over is closed", late, true},
		{"a connection that went away is not closed again", gone, false},
		{"a session not over is left open", far, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.c.isClosing.Load(); got != tc.closing {
				t.Fatalf("closing = %v, want %v", got, tc.closing)
			}
			if !tc.closing {
				return
			}
			tc.c.mu.Lock()
			defer tc.c.mu.Unlock()
			if len(tc.c.pending) != 2 || !bytes.Contains(tc.c.pending[0], []byte(`"ERROR"`)) {
				t.Fatalf("queued %q, want the ERROR then the close", tc.c.pending)
			}
			if want := closeFrame(closeNormal, "session expired"); !bytes.Equal(tc.c.pending[1], want) {
				t.Fatalf("close frame %q, want %q", tc.c.pending[1], want)
			}
		})
	}
	gw.expiries.mu.Lock()
	defer gw.expiries.mu.Unlock()
	if len(gw.expiries.conns) != 1 || gw.expiries.conns[0] != far {
		t.Fatalf("%d sessions still watched, want only the one not over", len(gw.expiries.conns))
	}
}
