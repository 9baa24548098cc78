package gateway

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// attachedMember is a member with a real loopback socket; the returned conn is the client's
// end, from which the test reads what the shard writer wrote.
func attachedMember(t *testing.T, g *Gateway, room *chat.Room, user string) (*conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := testMember(t, g, room, user)
	c.token.SessionExpirationTime = time.Now().Add(time.Hour)
	if !c.attach(server) {
		t.Fatal("attach refused")
	}
	t.Cleanup(c.teardown)
	return c, client
}

func readExactly(t *testing.T, r net.Conn, n int) []byte {
	t.Helper()
	_ = r.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return b
}

func TestShardWriterOrder(t *testing.T) {
	deliver := func(p string) chat.Signal { return chat.Signal{Kind: chat.SignalDeliver, Payload: []byte(p)} }
	t.Run("a member's own frames reach it in their place among the room's frames", func(t *testing.T) {
		broker := chat.NewMemoryBus().Node()
		g := testNode(broker, DefaultConfig())
		room := testRoom(100)
		c, client := attachedMember(t, g, room, "u")
		other, otherClient := attachedMember(t, g, room, "v")
		s := c.shard
		if other.shard != s {
			t.Fatal("two members of a small room are on different shards")
		}
		// Hold the writer back, as if it were busy, so that all three frames are in one batch.
		s.mu.Lock()
		s.writing = true
		s.mu.Unlock()
		a, own, b := frame(opText, []byte(`"a"`)), frame(opText, []byte(`"own"`)), frame(opText, []byte(`"b"`))
		if err := broker.Publish(room.Key(), deliver(`"a"`)); err != nil {
			t.Fatal(err)
		}
		c.enqueue(own)
		if err := broker.Publish(room.Key(), deliver(`"b"`)); err != nil {
			t.Fatal(err)
		}
		s.run()
		want := bytes.Join([][]byte{a, own, b}, nil)
		if got := readExactly(t, client, len(want)); !bytes.Equal(got, want) {
			t.Fatalf("the member read %q, want %q", got, want)
		}
		want = append(append([]byte(nil), a...), b...)
		if got := readExactly(t, otherClient, len(want)); !bytes.Equal(got, want) {
			t.Fatalf("the other member read %q, want %q", got, want)
		}
	})
	t.Run("a member gets only what the room queued after it joined", func(t *testing.T) {
		broker := chat.NewMemoryBus().Node()
		g := testNode(broker, DefaultConfig())
		room := testRoom(100)
		_, firstClient := attachedMember(t, g, room, "first")
		first := roomShard(t, g, room)
		first.mu.Lock()
		first.writing = true
		first.mu.Unlock()
		if err := broker.Publish(room.Key(), deliver(`"before"`)); err != nil {
			t.Fatal(err)
		}
		_, lateClient := attachedMember(t, g, room, "late")
		if err := broker.Publish(room.Key(), deliver(`"after"`)); err != nil {
			t.Fatal(err)
		}
		first.run()
		before, after := frame(opText, []byte(`"before"`)), frame(opText, []byte(`"after"`))
		if got, want := readExactly(t, firstClient, len(before)+len(after)), append(append([]byte(nil), before...), after...); !bytes.Equal(got, want) {
			t.Fatalf("the first member read %q, want %q", got, want)
		}
		if got := readExactly(t, lateClient, len(after)); !bytes.Equal(got, after) {
			t.Fatalf("the member who joined late read %q, want only %q", got, after)
		}
	})
}

// roomShard is the shard of the room's first members on g.
func roomShard(t *testing.T, g *Gateway, room *chat.Room) *fanShard {
	t.Helper()
	sh := shardOf(&g.hubs, room.Key())
	sh.mu.Lock()
	defer sh.mu.Unlock()
	h := sh.hubs[room.Key()]
	if h == nil {
		t.Fatal("no hub for the room")
	}
	return h.shards[0]
}
