package gateway

import (
	"fmt"
	"testing"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// A MESSAGE of about the size the SDKs send: 64 characters of content, one attribute.
var benchPayload = chat.Encode(chat.NewMessage("AbCdEfGhIjKl", "req-1", fmt.Sprintf("%064d", 0),
	map[string]string{"k": "v"}, &chat.Token{UserID: "sender", Attributes: map[string]string{"name": "Sender"}}, time.Now()))

// BenchmarkFanOut is a node's whole path for a signal it publishes: the broker hands it to
// the gateway, which frames it once and queues it for every member of the room here.
func BenchmarkFanOut(b *testing.B) {
	for _, members := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			broker := chat.NewMemoryBus().Node()
			g := testNode(broker, Config{QueueFrames: 1 << 30})
			room := testRoom(100)
			conns := make([]*conn, members)
			for i := range conns {
				conns[i] = testMember(b, g, room, fmt.Sprint("u", i))
			}
			sig := chat.Signal{Kind: chat.SignalDeliver, Payload: benchPayload}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := broker.Publish(room.Key(), sig); err != nil {
					b.Fatal(err)
				}
				if i%256 == 255 { // members that never write: empty their queues now and then
					b.StopTimer()
					for _, c := range conns {
						c.pending = c.pending[:0]
					}
					b.StartTimer()
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
