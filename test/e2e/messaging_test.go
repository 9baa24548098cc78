package e2e

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"
)

func TestMessagingRoundTrip(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	room := newRoom(t, c, nil)
	alice := join(t, srv, newToken(t, c, room.Arn, "alice", types.ChatTokenCapabilitySendMessage))
	bob := join(t, srv, newToken(t, c, room.Arn, "bob"))
	alice.send(map[string]any{"Action": "SEND_MESSAGE", "RequestId": "r1", "Content": "hello", "Attributes": map[string]string{"k": "v"}})
	for _, m := range []*member{alice, bob} {
		f := m.next()
		if f.Type != "MESSAGE" || f.Content != "hello" || f.RequestId != "r1" || f.Sender.UserId != "alice" || f.Attributes["k"] != "v" {
			t.Fatalf("got %+v", f)
		}
	}
}
