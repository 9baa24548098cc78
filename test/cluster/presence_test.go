package cluster

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"

	"github.com/ivschatd/ivschatd/internal/api"
	"github.com/ivschatd/ivschatd/test/sdkclient"
)

// roomUsers is ListRoomUsers through a node, every page, as "user×connections …".
func roomUsers(t testing.TB, n *node, roomARN *string) (string, error) {
	t.Helper()
	creds := aws.Credentials{AccessKeyID: api.DevAccessKeyID, SecretAccessKey: api.DevSecretAccessKey}
	var parts []string
	next := ""
	for {
		in := map[string]any{"roomIdentifier": aws.ToString(roomARN), "maxResults": 2}
		if next != "" {
			in["nextToken"] = next
		}
		var page struct {
			Users []struct {
				UserID          string `json:"userId"`
				ConnectionCount int    `json:"connectionCount"`
			} `json:"users"`
			NextToken string `json:"nextToken"`
		}
		if err := sdkclient.CallExtension(context.Background(), n.url, creds, "ListRoomUsers", in, &page); err != nil {
			return "", err
		}
		for _, u := range page.Users {
			parts = append(parts, fmt.Sprintf("%s×%d", u.UserID, u.ConnectionCount))
		}
		if next = page.NextToken; next == "" {
			return strings.Join(parts, " "), nil
		}
	}
}

// awaitRoomUsers waits until ListRoomUsers through every given node lists want, and says how
// long that took.
func awaitRoomUsers(t testing.TB, roomARN *string, want string, within time.Duration, via ...*node) time.Duration {
	t.Helper()
	start := time.Now()
	for _, n := range via {
		for {
			got, err := roomUsers(t, n, roomARN)
			if err == nil && got == want {
				break
			}
			if time.Since(start) > within {
				t.Fatalf("ListRoomUsers through %s: %q (%v), want %q after %v", n.name, got, err, want, within)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return time.Since(start)
}

// testRoomUsers: ListRoomUsers through any node lists the members of every node.
func testRoomUsers(t *testing.T, nodes []*node) {
	room := newRoom(t, nodes[0].ivs, nil)
	a1 := join(t, nodes[0], newToken(t, nodes[0].ivs, room.Arn, "a"), "a@"+nodes[0].name)
	join(t, nodes[1], newToken(t, nodes[1].ivs, room.Arn, "a"), "a@"+nodes[1].name)
	join(t, nodes[2], newToken(t, nodes[2].ivs, room.Arn, "b"), "b@"+nodes[2].name)
	join(t, nodes[2], newToken(t, nodes[2].ivs, room.Arn, "c"), "c@"+nodes[2].name)
	took := awaitRoomUsers(t, room.Arn, "a×2 b×1 c×1", 10*time.Second, nodes...)
	t.Logf("every node lists the members of all three %v after the last connect", took.Round(time.Millisecond))
	a1.ws.Close()
	took = awaitRoomUsers(t, room.Arn, "a×1 b×1 c×1", 10*time.Second, nodes...)
	t.Logf("a disconnect is seen through every node %v after it", took.Round(time.Millisecond))
}

// presenceEvents collects the member's ivschatd:join and ivschatd:leave events, as
// "join:user", up to an application event sent after them.
func presenceEvents(t *testing.T, via *node, roomARN *string, m *member) string {
	t.Helper()
	mark := fmt.Sprintf("mark-%d", time.Now().UnixNano())
	_, err := via.ivs.SendEvent(context.Background(), &ivschat.SendEventInput{RoomIdentifier: roomARN, EventName: aws.String(mark)})
	mustNoErr(t, err)
	var got []string
	for {
		p := m.await(5*time.Second, mark, func(p payload) bool { return p.Type == "EVENT" })
		switch p.EventName {
		case mark:
			return strings.Join(got, " ")
		case "ivschatd:join", "ivschatd:leave":
			got = append(got, strings.TrimPrefix(p.EventName, "ivschatd:")+":"+p.Attributes["userId"])
		}
	}
}

// testPresenceEvents: a user's first connection anywhere in the cluster is one join, the
// last one closed anywhere is one leave.
func testPresenceEvents(t *testing.T, nodes []*node) {
	room := newRoom(t, nodes[0].ivs, &ivschat.CreateRoomInput{Tags: map[string]string{"ivschatd:presence-events": "true"}})
	watcher := join(t, nodes[0], newToken(t, nodes[0].ivs, room.Arn, "watcher"), "watcher@"+nodes[0].name)
	a2 := join(t, nodes[1], newToken(t, nodes[1].ivs, room.Arn, "ann"), "ann@"+nodes[1].name)
	if got := presenceEvents(t, nodes[0], room.Arn, watcher); got != "join:ann" {
		t.Fatalf("after ann's first connection: %q", got)
	}
	a3 := join(t, nodes[2], newToken(t, nodes[2].ivs, room.Arn, "ann"), "ann@"+nodes[2].name)
	a2.ws.Close()
	awaitRoomUsers(t, room.Arn, "ann×1 watcher×1", 10*time.Second, nodes[0])
	if got := presenceEvents(t, nodes[0], room.Arn, watcher); got != "" {
		t.Fatalf("ann connected on a second node and left the first: %q", got)
	}
	a3.ws.Close()
	if got := watcher.await(10*time.Second, "ann's leave", func(p payload) bool { return p.Type == "EVENT" }); got.EventName != "ivschatd:leave" || got.Attributes["userId"] != "ann" {
		t.Fatalf("after ann's last connection: %+v", got)
	}
}
