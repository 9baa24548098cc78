package gateway

import (
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// A MESSAGE of about the size the SDKs send: 64 characters of content, one attribute.
var benchPayload = chat.Encode(chat.NewMessage("AbCdEfGhIjKl", "req-1", fmt.Sprintf("%064d", 0),
	map[string]string{"k": "v"}, &chat.Token{UserID: "sender", Attributes: map[string]string{"name": "Sender"}}, time.Now()))

// BenchmarkFanOut is a node's whole path for a signal it publishes: the broker hands it to
// the gateway, which frames it once and has its room's shard writers write it into every
// member's socket (loopback TCP, read by a goroutine that counts the bytes). The clock stops
// when every member has read every frame.
func BenchmarkFanOut(b *testing.B) {
	for _, members := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			broker := chat.NewMemoryBus().Node()
			cfg := DefaultConfig()
			cfg.QueueFrames = 1 << 30
			g := testNode(broker, cfg)
			room := testRoom(100)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			var read atomic.Int64
			for i := range members {
				client, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				defer client.Close()
				server, err := ln.Accept()
				if err != nil {
					b.Fatal(err)
				}
				c := testMember(b, g, room, fmt.Sprint("u", i))
				c.token.SessionExpirationTime = time.Now().Add(time.Hour)
				if !c.attach(server) {
					b.Fatal("attach")
				}
				defer c.teardown()
				go func() {
					buf := make([]byte, 64<<10)
					for {
						n, err := client.Read(buf)
						read.Add(int64(n))
						if err != nil {
							return
						}
					}
				}()
			}
			sig := chat.Signal{Kind: chat.SignalDeliver, Payload: benchPayload}
			want := int64(len(frame(opText, benchPayload))) * int64(members)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := broker.Publish(room.Key(), sig); err != nil {
					b.Fatal(err)
				}
			}
			for deadline := time.Now().Add(time.Minute); read.Load() < want*int64(b.N); time.Sleep(100 * time.Microsecond) {
				if time.Now().After(deadline) {
					b.Fatalf("read %d of %d bytes", read.Load(), want*int64(b.N))
				}
			}
			b.ReportMetric(float64(b.N*members)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkFrame frames one payload, as every publish does once.
func BenchmarkFrame(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		_ = frame(opText, benchPayload)
	}
}
