package chat

import (
	"testing"
	"time"
)

// The messaging hot path's domain work, once per request or per publish (never per member).

var benchRequest = []byte(`{"Action":"SEND_MESSAGE","RequestId":"a1b2c3d4-e5f6","Content":"` +
	`0000000000000000000000000000000000000000000000000000000000000000","Attributes":{"k":"v"}}`)

func BenchmarkParseRequest(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		if _, err := ParseRequest(benchRequest); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeMessage(b *testing.B) {
	sender := &Token{UserID: "sender", Attributes: map[string]string{"name": "Sender"}}
	now := time.Now()
	b.ReportAllocs()
	for range b.N {
		_ = Encode(NewMessage("AbCdEfGhIjKl", "a1b2c3d4-e5f6", "0000000000000000000000000000000000000000000000000000000000000000",
			map[string]string{"k": "v"}, sender, now))
	}
}

func BenchmarkNewLogRecord(b *testing.B) {
	payload := Encode(NewEvent("AbCdEfGhIjKl", "", "app:event", map[string]string{"k": "v"}, time.Now()))
	now := time.Now()
	b.ReportAllocs()
	for range b.N {
		_ = NewLogRecord(payload, now)
	}
}
