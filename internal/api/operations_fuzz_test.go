package api

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"testing"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/engine"
	"github.com/ivschatd/ivschatd/internal/service"
)

// FuzzOperations feeds arbitrary request bodies to every operation, over a real embedded
// engine: whatever a client sends, the answer is a result or a domain error (a 4xx on the
// wire), never a panic or an internal failure.
func FuzzOperations(f *testing.F) {
	eng, err := engine.Open(context.Background(), engine.Config{DataDir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(eng.Close)
	svc := service.New(eng, engine.NewBroker(eng), service.DefaultConfig())
	room, err := svc.CreateRoom(context.Background(), "123456789012", &chat.CreateRoomInput{})
	if err != nil {
		f.Fatal(err)
	}
	arn := room.ARN().String()
	names := make([]string, 0, len(operations))
	for name := range operations {
		names = append(names, name)
	}
	sort.Strings(names)
	seeds := []string{
		`{}`, `null`, `[]`, `"x"`, `{"identifier":"` + arn + `"}`,
		`{"roomIdentifier":"` + arn + `","userId":"u","capabilities":["SEND_MESSAGE"],"attributes":{"a":"b"}}`,
		`{"name":"n","maximumMessageRatePerSecond":5,"messageReviewHandler":{"uri":"","fallbackResult":"DENY"}}`,
		`{"destinationConfiguration":{"s3":{"bucketName":"bucket"}},"tags":{"k":"v"}}`,
		`{"roomIdentifier":"` + arn + `","eventName":"e","attributes":{"k":"v"}}`,
		`{"roomIdentifier":"` + arn + `","id":"AbCdEf123456","reason":"r"}`,
		`{"tags":{"k":"\ud800","aws:x":"v"}}`, `{"name":"\ud83d\ude00"}`,
		`{"maxResults":1,"nextToken":"AQ"}`, `{"identifier":"` + arn + `","loggingConfigurationIdentifiers":[]}`,
	}
	for i := range names {
		for _, s := range seeds {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		name := names[int(which)%len(names)]
		if name == "DeleteRoom" {
			name = "GetRoom" // keep the seeded room for the other operations
		}
		status, _, err := operations[name](svc, &call{ctx: context.Background(), account: "123456789012", body: body})
		if err != nil {
			var ce *chat.Error
			if !errors.As(err, &ce) {
				t.Fatalf("%s(%q): internal error %v", name, body, err)
			}
			if w := toWire(err); w.status >= 500 {
				t.Fatalf("%s(%q): status %d", name, body, w.status)
			}
			return
		}
		if status != http.StatusOK && status != http.StatusNoContent {
			t.Fatalf("%s(%q): status %d", name, body, status)
		}
	})
}
