package engine

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/ivschatd/ivschatd/internal/chat"
)

const (
	acct  = "123456789012"
	other = "210987654321"
)

// openEngine opens an embedded engine on dir and closes it when the test ends.
func openEngine(t testing.TB, dir string) *Engine {
	t.Helper()
	e, err := Open(context.Background(), Config{DataDir: dir})
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(e.Close)
	return e
}

// startNATS runs a NATS server with JetStream on a loopback port, as an external cluster.
func startNATS(t *testing.T) string { return runNATS(t).ClientURL() }

// runNATS is startNATS for a test that stops the server itself; Shutdown may be called twice.
func runNATS(t *testing.T) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server did not start")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

func openExternal(t *testing.T, url string) *Engine {
	t.Helper()
	e, err := Open(context.Background(), Config{URL: url})
	if err != nil {
		t.Fatalf("Open(%s): %v", url, err)
	}
	t.Cleanup(e.Close)
	return e
}

// eventually polls cond for up to 5 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sealKey is the id of the key a keyring seals with, read from a sealed value's header.
func sealKey(t *testing.T, kr *chat.Keyring) uint32 {
	raw, err := base64.RawURLEncoding.DecodeString(kr.Seal(chat.PurposeChatToken, nil))
	if err != nil {
		t.Fatal(err)
	}
	return binary.BigEndian.Uint32(raw[1:5])
}

func room(id, name string) *chat.Room {
	return chat.NewRoom(&chat.CreateRoomInput{Name: &name}, "us-west-2", acct, id, time.Now())
}

func names(rooms []*chat.Room) []string {
	var out []string
	for _, r := range rooms {
		out = append(out, r.ID+"="+r.Name)
	}
	sort.Strings(out)
	return out
}

func TestTable(t *testing.T) {
	e := openEngine(t, t.TempDir())
	ctx := context.Background()
	rooms := e.Rooms

	t.Run("create then get at once", func(t *testing.T) {
		if err := rooms.Create(ctx, acct, "AAAAAAAAAAA1", room("AAAAAAAAAAA1", "one")); err != nil {
			t.Fatal(err)
		}
		r, ok := rooms.Get(context.Background(), acct, "AAAAAAAAAAA1")
		if !ok || r.Name != "one" {
			t.Fatalf("Get = %+v, %v", r, ok)
		}
	})
	t.Run("create of a taken id fails with ErrExists and keeps the value", func(t *testing.T) {
		err := rooms.Create(ctx, acct, "AAAAAAAAAAA1", room("AAAAAAAAAAA1", "dup"))
		if !errors.Is(err, ErrExists) {
			t.Fatalf("err = %v, want ErrExists", err)
		}
		if r, _ := rooms.Get(context.Background(), acct, "AAAAAAAAAAA1"); r.Name != "one" {
			t.Fatalf("name = %q", r.Name)
		}
	})
	t.Run("accounts are partitioned", func(t *testing.T) {
		if err := rooms.Create(ctx, other, "AAAAAAAAAAA1", room("AAAAAAAAAAA1", "theirs")); err != nil {
			t.Fatal(err)
		}
		if err := rooms.Create(ctx, acct, "AAAAAAAAAAA2", room("AAAAAAAAAAA2", "two")); err != nil {
			t.Fatal(err)
		}
		if got := names(rooms.List(acct)); fmt.Sprint(got) != "[AAAAAAAAAAA1=one AAAAAAAAAAA2=two]" {
			t.Fatalf("List(acct) = %v", got)
		}
		if got := names(rooms.List(other)); fmt.Sprint(got) != "[AAAAAAAAAAA1=theirs]" {
			t.Fatalf("List(other) = %v", got)
		}
		if rooms.Count(acct) != 2 || rooms.Count(other) != 1 || rooms.Count("nobody") != 0 || len(rooms.List("nobody")) != 0 {
			t.Fatalf("counts %d %d %d", rooms.Count(acct), rooms.Count(other), rooms.Count("nobody"))
		}
	})
	t.Run("update applies the change and is seen at once", func(t *testing.T) {
		got, err := rooms.Update(ctx, acct, "AAAAAAAAAAA1", func(r *chat.Room) (*chat.Room, error) {
			r.Name = "renamed"
			return r, nil
		})
		if err != nil || got.Name != "renamed" {
			t.Fatalf("Update = %+v, %v", got, err)
		}
		if r, _ := rooms.Get(context.Background(), acct, "AAAAAAAAAAA1"); r.Name != "renamed" {
			t.Fatalf("Get after Update: name %q", r.Name)
		}
		if r, _ := rooms.Get(context.Background(), other, "AAAAAAAAAAA1"); r.Name != "theirs" {
			t.Fatalf("update leaked into another account: %q", r.Name)
		}
	})
	t.Run("an error from the change aborts the update", func(t *testing.T) {
		boom := errors.New("boom")
		_, err := rooms.Update(ctx, acct, "AAAAAAAAAAA1", func(r *chat.Room) (*chat.Room, error) {
			r.Name = "never"
			return nil, boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		if r, _ := rooms.Get(context.Background(), acct, "AAAAAAAAAAA1"); r.Name != "renamed" {
			t.Fatalf("name = %q after an aborted update", r.Name)
		}
	})
	t.Run("update of a missing id fails with ErrNotFound", func(t *testing.T) {
		_, err := rooms.Update(ctx, acct, "ZZZZZZZZZZZZ", func(r *chat.Room) (*chat.Room, error) { return r, nil })
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("delete removes at once; a second delete is ErrNotFound", func(t *testing.T) {
		if err := rooms.Delete(ctx, acct, "AAAAAAAAAAA2"); err != nil {
			t.Fatal(err)
		}
		if _, ok := rooms.Get(context.Background(), acct, "AAAAAAAAAAA2"); ok {
			t.Fatal("deleted room still in the index")
		}
		if rooms.Count(acct) != 1 {
			t.Fatalf("count = %d", rooms.Count(acct))
		}
		if err := rooms.Delete(ctx, acct, "AAAAAAAAAAA2"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		if _, err := rooms.Update(ctx, acct, "AAAAAAAAAAA2", func(r *chat.Room) (*chat.Room, error) { return r, nil }); !errors.Is(err, ErrNotFound) {
			t.Fatalf("update of a deleted room: %v", err)
		}
	})
	t.Run("a deleted id can be created again", func(t *testing.T) {
		if err := rooms.Create(ctx, acct, "AAAAAAAAAAA2", room("AAAAAAAAAAA2", "again")); err != nil {
			t.Fatal(err)
		}
		if r, ok := rooms.Get(context.Background(), acct, "AAAAAAAAAAA2"); !ok || r.Name != "again" {
			t.Fatalf("Get = %+v, %v", r, ok)
		}
		// The watch delivering the older delete must not undo it.
		time.Sleep(50 * time.Millisecond)
		if _, ok := rooms.Get(context.Background(), acct, "AAAAAAAAAAA2"); !ok {
			t.Fatal("re-created room vanished")
		}
	})
	t.Run("logging configurations have their own table", func(t *testing.T) {
		c := chat.NewLoggingConfiguration(&chat.CreateLoggingConfigurationInput{}, chat.Destination{S3: &chat.S3Destination{BucketName: "b-1"}},
			"us-west-2", acct, "AAAAAAAAAAA1", time.Now())
		if err := e.LoggingConfigurations.Create(ctx, acct, c.ID, c); err != nil {
			t.Fatal(err)
		}
		got, ok := e.LoggingConfigurations.Get(context.Background(), acct, c.ID)
		if !ok || got.Destination.S3 == nil || got.Destination.S3.BucketName != "b-1" {
			t.Fatalf("Get = %+v, %v", got, ok)
		}
		if e.Rooms.Count(acct) != 2 || e.LoggingConfigurations.Count(acct) != 1 {
			t.Fatalf("counts %d, %d", e.Rooms.Count(acct), e.LoggingConfigurations.Count(acct))
		}
	})
}

func TestTableConcurrentUpdates(t *testing.T) {
	e := openEngine(t, t.TempDir())
	ctx := context.Background()
	r := room("CCCCCCCCCCCC", "counter")
	r.MaximumMessageRatePerSecond = 0
	if err := e.Rooms.Create(ctx, acct, r.ID, r); err != nil {
		t.Fatal(err)
	}
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.Rooms.Update(ctx, acct, r.ID, func(r *chat.Room) (*chat.Room, error) {
				r.MaximumMessageRatePerSecond++
				return r, nil
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent update: %v", err)
		}
	}
	if got, _ := e.Rooms.Get(context.Background(), acct, r.ID); got.MaximumMessageRatePerSecond != n {
		t.Fatalf("counter = %d after %d increments", got.MaximumMessageRatePerSecond, n)
	}
	// And in the bucket itself, not only in the index.
	got, err := e.Rooms.Update(ctx, acct, r.ID, func(r *chat.Room) (*chat.Room, error) { return r, nil })
	if err != nil || got.MaximumMessageRatePerSecond != n {
		t.Fatalf("stored counter = %+v, %v", got, err)
	}
}

func TestStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	e, err := Open(ctx, Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Rooms.Create(ctx, acct, "PPPPPPPPPPPP", room("PPPPPPPPPPPP", "kept")); err != nil {
		t.Fatal(err)
	}
	if err := e.Rooms.Create(ctx, acct, "DDDDDDDDDDDD", room("DDDDDDDDDDDD", "gone")); err != nil {
		t.Fatal(err)
	}
	if err := e.Rooms.Delete(ctx, acct, "DDDDDDDDDDDD"); err != nil {
		t.Fatal(err)
	}
	token := e.Keyring().SealToken(&chat.Token{ID: "tok1", RoomARN: "arn:aws:ivschat:us-west-2:123456789012:room/PPPPPPPPPPPP", UserID: "u"})
	if ok, err := e.ClaimToken(ctx, "tok1", time.Now().Add(time.Hour)); !ok || err != nil {
		t.Fatalf("ClaimToken = %v, %v", ok, err)
	}
	e.Close()

	e2 := openEngine(t, dir)
	if r, ok := e2.Rooms.Get(context.Background(), acct, "PPPPPPPPPPPP"); !ok || r.Name != "kept" {
		t.Fatalf("after restart: Get = %+v, %v", r, ok)
	}
	if _, ok := e2.Rooms.Get(context.Background(), acct, "DDDDDDDDDDDD"); ok || e2.Rooms.Count(acct) != 1 {
		t.Fatalf("a deleted room came back after restart (count %d)", e2.Rooms.Count(acct))
	}
	if _, err := e2.Keyring().OpenToken(token); err != nil {
		t.Fatalf("a token sealed before the restart does not open: %v", err)
	}
	if ok, err := e2.ClaimToken(ctx, "tok1", time.Now().Add(time.Hour)); ok || err != nil {
		t.Fatalf("a token used before the restart can be claimed again: %v, %v", ok, err)
	}
	if !e2.Healthy() {
		t.Fatal("engine not healthy")
	}
}

func TestClaimToken(t *testing.T) {
	e := openEngine(t, t.TempDir())
	ctx := context.Background()
	t.Run("exactly one of 20 concurrent claims of one id wins", func(t *testing.T) {
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := e.ClaimToken(ctx, "same-token", time.Now().Add(time.Hour))
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d claims won, want exactly 1", wins.Load())
		}
	})
	t.Run("claims of different ids all win", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				ok, err := e.ClaimToken(ctx, fmt.Sprintf("token%d", i), time.Now().Add(time.Hour))
				if !ok || err != nil {
					t.Errorf("claim %d = %v, %v", i, ok, err)
				}
			}(i)
		}
		wg.Wait()
	})
	t.Run("a token already past its expiry can still be claimed once", func(t *testing.T) {
		if ok, err := e.ClaimToken(ctx, "late", time.Now().Add(-time.Hour)); !ok || err != nil {
			t.Fatalf("first claim = %v, %v", ok, err)
		}
		if ok, err := e.ClaimToken(ctx, "late", time.Now().Add(-time.Hour)); ok || err != nil {
			t.Fatalf("second claim = %v, %v", ok, err)
		}
	})
}

func TestKeyring(t *testing.T) {
	e := openEngine(t, t.TempDir())
	first := e.Keyring()
	token := first.SealToken(&chat.Token{ID: "t", RoomARN: "r", UserID: "u"})
	if err := e.RotateSealingKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	rotated := e.Keyring()
	if rotated == first {
		t.Fatal("rotation did not replace the keyring at once")
	}
	if _, err := rotated.OpenToken(token); err != nil {
		t.Fatalf("the rotated keyring does not open a token of the old key: %v", err)
	}
	if _, err := first.OpenToken(rotated.SealToken(&chat.Token{ID: "t", RoomARN: "r", UserID: "u"})); err == nil {
		t.Fatal("the new keyring sealed with the old key")
	}
}

func TestSharedEngineState(t *testing.T) {
	url := startNATS(t)
	a := openExternal(t, url)
	b := openExternal(t, url)
	ctx := context.Background()

	t.Run("a token sealed on one node opens on the other", func(t *testing.T) {
		token := a.Keyring().SealToken(&chat.Token{ID: "x", RoomARN: "r", UserID: "u"})
		if _, err := b.Keyring().OpenToken(token); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a rotation on one node is seen by the other", func(t *testing.T) {
		if err := a.RotateSealingKey(ctx); err != nil {
			t.Fatal(err)
		}
		token := a.Keyring().SealToken(&chat.Token{ID: "y", RoomARN: "r", UserID: "u"})
		eventually(t, "the other node to open a token of the new key", func() bool {
			_, err := b.Keyring().OpenToken(token)
			return err == nil
		})
		// Both now seal with the same newest key: tokens from either open on both.
		eventually(t, "the other node to seal with the new key", func() bool {
			_, err := a.Keyring().OpenToken(b.Keyring().SealToken(&chat.Token{ID: "z", RoomARN: "r", UserID: "u"}))
			return err == nil && sealKey(t, a.Keyring()) == sealKey(t, b.Keyring())
		})
	})
	t.Run("after RefreshKeyring, a key made on the other node a moment ago opens at once", func(t *testing.T) {
		for i := range 5 {
			if err := a.RotateSealingKey(ctx); err != nil {
				t.Fatal(err)
			}
			token := a.Keyring().SealToken(&chat.Token{ID: fmt.Sprintf("fresh%d", i), RoomARN: "r", UserID: "u"})
			time.Sleep(refreshEvery) // a refresh of an earlier round would stand otherwise
			b.RefreshKeyring(ctx)
			if _, err := b.Keyring().OpenToken(token); err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
		}
	})
	t.Run("one of two nodes racing for a token wins", func(t *testing.T) {
		for i := 0; i < 10; i++ {
			id := fmt.Sprintf("race%d", i)
			var wins atomic.Int32
			var wg sync.WaitGroup
			for _, e := range []*Engine{a, b, a, b} {
				wg.Add(1)
				go func(e *Engine) {
					defer wg.Done()
					if ok, err := e.ClaimToken(ctx, id, time.Now().Add(time.Hour)); err != nil {
						t.Error(err)
					} else if ok {
						wins.Add(1)
					}
				}(e)
			}
			wg.Wait()
			if wins.Load() != 1 {
				t.Fatalf("token %s: %d wins", id, wins.Load())
			}
		}
	})
	t.Run("writes on one node reach the other's index", func(t *testing.T) {
		if err := a.Rooms.Create(ctx, acct, "SSSSSSSSSSSS", room("SSSSSSSSSSSS", "shared")); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the room on the other node", func() bool { _, ok := b.Rooms.Get(context.Background(), acct, "SSSSSSSSSSSS"); return ok })
		if _, err := b.Rooms.Update(ctx, acct, "SSSSSSSSSSSS", func(r *chat.Room) (*chat.Room, error) { r.Name = "changed"; return r, nil }); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the update on the first node", func() bool {
			r, _ := a.Rooms.Get(context.Background(), acct, "SSSSSSSSSSSS")
			return r.Name == "changed"
		})
		if err := a.Rooms.Delete(ctx, acct, "SSSSSSSSSSSS"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the delete on the other node", func() bool { _, ok := b.Rooms.Get(context.Background(), acct, "SSSSSSSSSSSS"); return !ok })
	})
	t.Run("after Sync, the other node's index holds every acknowledged write", func(t *testing.T) {
		for i := range 20 {
			id := fmt.Sprintf("YYYYYYYYYY%02d", i)
			if err := a.Rooms.Create(ctx, acct, id, room(id, "synced")); err != nil {
				t.Fatal(err)
			}
			if err := b.Rooms.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			found := false
			for _, r := range b.Rooms.List(acct) {
				found = found || r.ID == id
			}
			if !found {
				t.Fatalf("round %d: List on the other node lacks the room right after Sync", i)
			}
			if err := a.Rooms.Delete(ctx, acct, id); err != nil {
				t.Fatal(err)
			}
			if err := b.Rooms.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			for _, r := range b.Rooms.List(acct) {
				if r.ID == id {
					t.Fatalf("round %d: List on the other node still has the room right after Sync", i)
				}
			}
		}
	})
}

// clientGoroutines returns the stacks of goroutines of the NATS client or of this package,
// other than the tests': what an engine leaves behind when Close does not stop it.
func clientGoroutines() []string {
	buf := make([]byte, 4<<20)
	var out []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "engine.Test") || strings.Contains(g, "testing.tRunner") {
			continue
		}
		if strings.Contains(g, "github.com/nats-io/nats.go") || strings.Contains(g, "ivschatd/internal/engine.") {
			out = append(out, g)
		}
	}
	return out
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	url := startNATS(t)
	for _, cfg := range []Config{{DataDir: t.TempDir(), TokenKeyRotation: time.Hour}, {URL: url, TokenKeyRotation: time.Hour}} {
		name := "embedded"
		if cfg.URL != "" {
			name = "external"
		}
		t.Run(name, func(t *testing.T) {
			e, err := Open(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := NewBroker(e).Subscribe(chat.RoomKey{Account: acct, ID: "RRRRRRRRRRRR"}); err != nil {
				t.Fatal(err)
			}
			e.Close()
			deadline := time.Now().Add(5 * time.Second)
			for left := clientGoroutines(); len(left) > 0; left = clientGoroutines() {
				if time.Now().After(deadline) {
					t.Fatalf("%d goroutines left after Close:\n%s", len(left), strings.Join(left, "\n\n"))
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

func TestReady(t *testing.T) {
	t.Run("an open engine whose store takes writes is ready", func(t *testing.T) {
		e := openEngine(t, t.TempDir())
		if err := e.Ready(context.Background()); err != nil {
			t.Fatalf("Ready: %v", err)
		}
	})
	t.Run("an engine whose NATS server is gone says so within about a second", func(t *testing.T) {
		ns := runNATS(t)
		e := openExternal(t, ns.ClientURL())
		if err := e.Ready(context.Background()); err != nil {
			t.Fatalf("Ready before the loss: %v", err)
		}
		ns.Shutdown()
		ns.WaitForShutdown()
		start := time.Now()
		err := e.Ready(context.Background())
		if err == nil {
			t.Fatal("Ready after the NATS server stopped: nil error")
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("Ready took %v to fail; want about a second at most", took)
		}
		if !strings.Contains(err.Error(), "engine:") {
			t.Errorf("Ready error %q does not say it comes from the engine", err)
		}
	})
	t.Run("an engine whose embedded JetStream is stopped says the store cannot write", func(t *testing.T) {
		e := openEngine(t, t.TempDir())
		if err := e.embedded.ShutdownJetStream(); err != nil {
			t.Fatal(err)
		}
		err := e.Ready(context.Background())
		if err == nil || !strings.Contains(err.Error(), "JetStream is stopped") {
			t.Fatalf("Ready with JetStream stopped = %v; want an error saying JetStream is stopped", err)
		}
	})
}

func TestDataDirLock(t *testing.T) {
	dir := t.TempDir()
	first := openEngine(t, dir)
	t.Run("a second engine on the same data dir is refused at once, naming the dir and the holder", func(t *testing.T) {
		start := time.Now()
		second, err := Open(context.Background(), Config{DataDir: dir})
		if err == nil {
			second.Close()
			t.Fatal("second Open on a locked data dir succeeded")
		}
		for _, want := range []string{dir, fmt.Sprintf("pid %d", os.Getpid())} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %q", err, want)
			}
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("refusal took %v; want at once", took)
		}
	})
	t.Run("once the holder closes, the dir opens again", func(t *testing.T) {
		first.Close()
		openEngine(t, dir)
	})
}

func TestDefaultReplicas(t *testing.T) {
	t.Run("a single external server without a cluster gets one replica", func(t *testing.T) {
		if got := openExternal(t, startNATS(t)).Replicas(); got != 1 {
			t.Fatalf("Replicas() = %d, want 1", got)
		}
	})
	t.Run("the embedded engine has one replica", func(t *testing.T) {
		if got := openEngine(t, t.TempDir()).Replicas(); got != 1 {
			t.Fatalf("Replicas() = %d, want 1", got)
		}
	})
}

// lockedBuffer is a log destination written by the NATS client's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestExternalConnectionLossIsLogged(t *testing.T) {
	store := t.TempDir()
	start := func(port int) *server.Server {
		ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: store, NoSigs: true, NoLog: true})
		if err != nil {
			t.Fatal(err)
		}
		go ns.Start()
		if !ns.ReadyForConnections(10 * time.Second) {
			t.Fatal("NATS server did not start")
		}
		t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
		return ns
	}
	ns := start(-1)
	port := ns.Addr().(*net.TCPAddr).Port
	logs := &lockedBuffer{}
	e, err := Open(context.Background(), Config{URL: ns.ClientURL(), Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	waitLog := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(logs.String(), want); {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log:\n%s", want, logs)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Run("losing the server is a warning of the engine's log", func(t *testing.T) {
		ns.Shutdown()
		ns.WaitForShutdown()
		waitLog(`level=WARN msg="engine: disconnected from NATS; reconnecting" component=nats-client`)
	})
	t.Run("coming back says to which server", func(t *testing.T) {
		start(port)
		waitLog(fmt.Sprintf(`level=INFO msg="engine: reconnected to NATS" component=nats-client server=nats://127.0.0.1:%d`, port))
	})
	t.Run("closing the engine logs no loss", func(t *testing.T) {
		before := strings.Count(logs.String(), "disconnected from NATS")
		e.Close()
		if after := strings.Count(logs.String(), "disconnected from NATS"); after != before {
			t.Fatalf("Close logged a disconnect:\n%s", logs)
		}
	})
}
