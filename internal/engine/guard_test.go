package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/test/sdkclient"
)

func TestFullDisk(t *testing.T) {
	dir := sdkclient.SmallDisk(t, "20m")
	cfg := Config{DataDir: dir, ChatLog: ChatLogStreamConfig{MaxBytes: 1 << 20}}
	e, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { e.Close() }()
	var acknowledged []string
	create := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		id := chat.NewID()
		err := e.Rooms.Create(ctx, acct, id, &chat.Room{Resource: chat.Resource{Name: strings.Repeat("r", 128)}})
		if err == nil {
			acknowledged = append(acknowledged, id)
		}
		return err
	}
	free := sdkclient.FillDisk(t, dir)

	t.Run("a write on a full disk fails at once, saying the store cannot write", func(t *testing.T) {
		// The first writes may still fit in the last page of a block file.
		var err error
		var took time.Duration
		for range 1000 {
			start := time.Now()
			if err = create(); err != nil {
				took = time.Since(start)
				break
			}
		}
		if !errors.Is(err, ErrStoreUnwritable) {
			t.Fatalf("create on a full disk: %v; want ErrStoreUnwritable", err)
		}
		var ce *chat.Error
		if !errors.As(err, &ce) || ce.Kind != chat.KindInternal {
			t.Errorf("error %v is not an internal domain error", err)
		}
		if took > 2*time.Second {
			t.Errorf("the failing write took %v; want at once", took)
		}
		start := time.Now()
		if err := create(); !errors.Is(err, ErrStoreUnwritable) || time.Since(start) > time.Second {
			t.Errorf("next create: %v after %v; want ErrStoreUnwritable at once", err, time.Since(start))
		}
	})
	t.Run("Ready reports that the store does not accept writes", func(t *testing.T) {
		err := e.Ready(context.Background())
		if err == nil || !strings.Contains(err.Error(), "does not accept writes") {
			t.Fatalf("Ready on a full disk = %v", err)
		}
	})
	t.Run("once space is freed, writes succeed again without a restart", func(t *testing.T) {
		free()
		deadline := time.Now().Add(30 * time.Second)
		for e.Ready(context.Background()) != nil {
			if time.Now().After(deadline) {
				t.Fatalf("still not ready 30 s after space was freed: %v", e.Ready(context.Background()))
			}
			time.Sleep(50 * time.Millisecond)
		}
		for range 10 {
			if err := create(); err != nil {
				t.Fatalf("create after recovery: %v", err)
			}
		}
		if _, err := e.Rooms.Update(context.Background(), acct, acknowledged[0], func(r *chat.Room) (*chat.Room, error) {
			r.Name = "updated"
			return r, nil
		}); err != nil {
			t.Fatalf("update after recovery: %v", err)
		}
	})
	t.Run("every acknowledged write is there after a restart", func(t *testing.T) {
		e.Close()
		if e, err = Open(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		for _, id := range acknowledged {
			if _, ok := e.Rooms.Get(context.Background(), acct, id); !ok {
				t.Errorf("room %s, acknowledged, is gone", id)
			}
		}
		if r, _ := e.Rooms.Get(context.Background(), acct, acknowledged[0]); r == nil || r.Name != "updated" {
			t.Errorf("room updated after recovery: %+v", r)
		}
	})
}
