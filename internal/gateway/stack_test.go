package gateway

import (
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// An idle member costs one goroutine; its stack is most of what the member weighs. The read
// loop must wait for a client's bytes in a shallow call, so that the goroutine stays on the
// smallest stack Go gives (2 KiB) rather than the 4 KiB the frame parser's calls need.
//
// The measurement runs in a child `go test` without the race detector (which enlarges every
// stack) and with GODEBUG=adaptivestackstart=0, so that every goroutine starts at 2 KiB
// whatever ran before: a larger stack can then only come from the read loop's own depth.
func TestIdleReadLoopKeepsTheSmallestStack(t *testing.T) {
	if os.Getenv("IVSCHATD_STACK_CHILD") == "" {
		cmd := exec.Command("go", "test", "-count=1", "-run=^TestIdleReadLoopKeepsTheSmallestStack$", ".")
		cmd.Env = append(os.Environ(), "IVSCHATD_STACK_CHILD=1", "GODEBUG=adaptivestackstart=0", "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const members = 1000
	accepted := make(chan net.Conn, members)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	clients := make([]net.Conn, 0, members)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for range members {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	gw := &Gateway{cfg: DefaultConfig(), log: slog.New(slog.DiscardHandler)}
	gw.wg.Add(members)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range members {
		c := &conn{gw: gw, raw: <-accepted, token: &chat.Token{}}
		go c.readLoop(c.raw)
	}
	time.Sleep(200 * time.Millisecond) // every loop reaches its wait
	runtime.GC()
	runtime.ReadMemStats(&after)
	perMember := int64(after.StackInuse-before.StackInuse) / members
	if perMember > 3<<10 {
		t.Fatalf("an idle member's read loop holds %d bytes of stack, want 2 KiB", perMember)
	}
}
