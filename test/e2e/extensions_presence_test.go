package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"

	"github.com/ivschatd/ivschatd/internal/server"
)

// roomUsersView is ListRoomUsers' answer.
type roomUsersView struct {
	Users []struct {
		UserID          string            `json:"userId"`
		Attributes      map[string]string `json:"attributes"`
		ConnectionCount int               `json:"connectionCount"`
		ConnectedAt     string            `json:"connectedAt"`
	} `json:"users"`
	UserCount       int    `json:"userCount"`
	ConnectionCount int    `json:"connectionCount"`
	NextToken       string `json:"nextToken"`
}

func listRoomUsers(t testing.TB, srv *server.Server, in map[string]any) roomUsersView {
	t.Helper()
	var out roomUsersView
	extension(t, srv, "ListRoomUsers", in, &out)
	return out
}

// userIDs lists a page's user ids with their connection counts, as "id×n".
func (v roomUsersView) userIDs() string {
	var parts []string
	for _, u := range v.Users {
		parts = append(parts, u.UserID+"×"+string(rune('0'+u.ConnectionCount)))
	}
	return strings.Join(parts, " ")
}

// waitForRoomUsers polls ListRoomUsers until the room's users are want ("id×n …"); a
// disconnect is seen once the server has torn the connection down.
func waitForRoomUsers(t testing.TB, srv *server.Server, arn, want string) roomUsersView {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := listRoomUsers(t, srv, map[string]any{"roomIdentifier": arn})
		if got.userIDs() == want {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("room users %q, want %q", got.userIDs(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tokenWithAttributes(t testing.TB, c *ivschat.Client, roomARN *string, user string, attrs map[string]string) string {
	t.Helper()
	out, err := c.CreateChatToken(context.Background(), &ivschat.CreateChatTokenInput{RoomIdentifier: roomARN, UserId: aws.String(user), Attributes: attrs})
	mustNoErr(t, err)
	return aws.ToString(out.Token)
}

func TestListRoomUsers(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	room := newRoom(t, c, nil)
	arn := aws.ToString(room.Arn)

	t.Run("a room nobody is in has no users", func(t *testing.T) {
		got := listRoomUsers(t, srv, map[string]any{"roomIdentifier": arn})
		if len(got.Users) != 0 || got.UserCount != 0 || got.ConnectionCount != 0 || got.NextToken != "" || got.Users == nil {
			t.Fatalf("%+v", got)
		}
	})
	before := time.Now().Add(-time.Second)
	bob1 := join(t, srv, tokenWithAttributes(t, c, room.Arn, "bob", map[string]string{"color": "red"}))
	time.Sleep(5 * time.Millisecond) // the second connection is later by the clock of the API
	join(t, srv, tokenWithAttributes(t, c, room.Arn, "bob", map[string]string{"color": "blue"}))
	join(t, srv, newToken(t, c, room.Arn, "alice"))
	after := time.Now().Add(time.Second)

	t.Run("every user once, by user id, with the connections of each and the totals", func(t *testing.T) {
		got := waitForRoomUsers(t, srv, arn, "alice×1 bob×2")
		if got.UserCount != 2 || got.ConnectionCount != 3 {
			t.Fatalf("totals %d users, %d connections", got.UserCount, got.ConnectionCount)
		}
	})
	t.Run("a user's attributes and connectedAt are those of the earliest open connection", func(t *testing.T) {
		got := listRoomUsers(t, srv, map[string]any{"roomIdentifier": arn})
		bob := got.Users[1]
		if bob.Attributes["color"] != "red" {
			t.Fatalf("attributes %v, want the first connection's", bob.Attributes)
		}
		at, err := time.Parse(time.RFC3339Nano, bob.ConnectedAt)
		if err != nil || at.Before(before) || at.After(after) {
			t.Fatalf("connectedAt %q (%v), want between %v and %v", bob.ConnectedAt, err, before, after)
		}
		if alice := got.Users[0]; alice.Attributes == nil || len(alice.Attributes) != 0 {
			t.Fatalf("a token without attributes lists {}: %v", alice.Attributes)
		}
	})
	t.Run("a closed connection drops out; the user stays while another is open", func(t *testing.T) {
		bob1.ws.Close()
		got := waitForRoomUsers(t, srv, arn, "alice×1 bob×1")
		if got.Users[1].Attributes["color"] != "blue" {
			t.Fatalf("attributes %v, want the open connection's", got.Users[1].Attributes)
		}
	})
	t.Run("pages in user id order, the totals on every page", func(t *testing.T) {
		r := newRoom(t, c, nil)
		for _, u := range []string{"u3", "u1", "u2"} {
			join(t, srv, newToken(t, c, r.Arn, u))
		}
		rarn := aws.ToString(r.Arn)
		waitForRoomUsers(t, srv, rarn, "u1×1 u2×1 u3×1")
		first := listRoomUsers(t, srv, map[string]any{"roomIdentifier": rarn, "maxResults": 2})
		if first.userIDs() != "u1×1 u2×1" || first.NextToken == "" || first.UserCount != 3 || first.ConnectionCount != 3 {
			t.Fatalf("first page %+v", first)
		}
		second := listRoomUsers(t, srv, map[string]any{"roomIdentifier": rarn, "maxResults": 2, "nextToken": first.NextToken})
		if second.userIDs() != "u3×1" || second.NextToken != "" || second.UserCount != 3 {
			t.Fatalf("second page %+v", second)
		}
		t.Run("a nextToken of another room's list is a ValidationException naming nextToken", func(t *testing.T) {
			m := extensionCall(t, srv, "ListRoomUsers", map[string]any{"roomIdentifier": arn, "nextToken": first.NextToken}, devSigning()).
				wantAWSError(t, http.StatusBadRequest, "ValidationException")
			if !strings.Contains(m["message"].(string), "nextToken") {
				t.Fatalf("message %q", m["message"])
			}
		})
		t.Run("a nextToken of ListBans is a ValidationException", func(t *testing.T) {
			for _, u := range []string{"b1", "b2"} {
				extension(t, srv, "BanUser", map[string]any{"roomIdentifier": rarn, "userId": u}, nil)
			}
			var bans struct{ NextToken string }
			extension(t, srv, "ListBans", map[string]any{"roomIdentifier": rarn, "maxResults": 1}, &bans)
			extensionCall(t, srv, "ListRoomUsers", map[string]any{"roomIdentifier": rarn, "nextToken": bans.NextToken}, devSigning()).
				wantAWSError(t, http.StatusBadRequest, "ValidationException")
		})
	})
	t.Run("DeleteRoom empties the room and ListRoomUsers then finds no room", func(t *testing.T) {
		r := newRoom(t, c, nil)
		m := join(t, srv, newToken(t, c, r.Arn, "gone"))
		waitForRoomUsers(t, srv, aws.ToString(r.Arn), "gone×1")
		_, err := c.DeleteRoom(context.Background(), &ivschat.DeleteRoomInput{Identifier: r.Arn})
		mustNoErr(t, err)
		_ = m.closed()
		extensionCall(t, srv, "ListRoomUsers", map[string]any{"roomIdentifier": aws.ToString(r.Arn)}, devSigning()).
			wantAWSError(t, http.StatusNotFound, "ResourceNotFoundException")
	})
}

func TestListRoomUsersInput(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	arn := aws.ToString(newRoom(t, c, nil).Arn)
	missing := arn[:strings.LastIndex(arn, "/")+1] + "AAAAAAAAAAAA"
	otherAccount := strings.Replace(arn, ":"+strings.Split(arn, ":")[4]+":", ":999999999999:", 1)
	tests := []struct {
		rule   string
		in     map[string]any
		status int
		code   string
		field  string
	}{
		{"a missing roomIdentifier is a ValidationException", map[string]any{}, 400, "ValidationException", "roomIdentifier"},
		{"a room identifier that is not a room ARN is a ValidationException", map[string]any{"roomIdentifier": "room1"}, 400, "ValidationException", "roomIdentifier"},
		{"a logging configuration's ARN is a ValidationException", map[string]any{"roomIdentifier": strings.Replace(arn, ":room/", ":logging-configuration/", 1)}, 400, "ValidationException", "roomIdentifier"},
		{"a roomIdentifier that is not a string is a ValidationException", map[string]any{"roomIdentifier": 7}, 400, "ValidationException", "roomIdentifier"},
		{"maxResults 0 is a ValidationException", map[string]any{"roomIdentifier": arn, "maxResults": 0}, 400, "ValidationException", "maxResults"},
		{"maxResults 51 is a ValidationException", map[string]any{"roomIdentifier": arn, "maxResults": 51}, 400, "ValidationException", "maxResults"},
		{"maxResults that is not an integer is a ValidationException", map[string]any{"roomIdentifier": arn, "maxResults": "5"}, 400, "ValidationException", "maxResults"},
		{"a nextToken this server did not issue is a ValidationException", map[string]any{"roomIdentifier": arn, "nextToken": "bm90IGEgdG9rZW4"}, 400, "ValidationException", "nextToken"},
		{"a nextToken over 1024 characters is a ValidationException", map[string]any{"roomIdentifier": arn, "nextToken": strings.Repeat("A", 1025)}, 400, "ValidationException", "nextToken"},
		{"a nextToken that is not a string is a ValidationException", map[string]any{"roomIdentifier": arn, "nextToken": 5}, 400, "ValidationException", "nextToken"},
		{"a room that does not exist is a ResourceNotFoundException", map[string]any{"roomIdentifier": missing}, 404, "ResourceNotFoundException", ""},
		{"another account's room is a ResourceNotFoundException", map[string]any{"roomIdentifier": otherAccount}, 404, "ResourceNotFoundException", ""},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			m := extensionCall(t, srv, "ListRoomUsers", tc.in, devSigning()).wantAWSError(t, tc.status, tc.code)
			if tc.field != "" {
				fields, _ := m["fieldList"].([]any)
				if len(fields) != 1 || fields[0].(map[string]any)["name"] != tc.field {
					t.Fatalf("fieldList %v, want %s", m["fieldList"], tc.field)
				}
			}
		})
	}
	t.Run("an empty nextToken asks for the first page", func(t *testing.T) {
		listRoomUsers(t, srv, map[string]any{"roomIdentifier": arn, "nextToken": ""})
	})
}

// ListRoomUsers is the action ivschatd:ListRoomUsers.
func TestListRoomUsersAction(t *testing.T) {
	const account = "111111111111"
	srv := startServer(t, withPrincipals(t,
		testPrincipal{AccessKeyID: "admin", SecretAccessKey: "s-admin", AccountID: account},
		testPrincipal{AccessKeyID: "ivs-only", SecretAccessKey: "s-ivs", AccountID: account, Actions: []string{"ivschat:*"}},
		testPrincipal{AccessKeyID: "lister", SecretAccessKey: "s-lister", AccountID: account, Actions: []string{"ivschatd:ListRoomUsers"}},
	))
	arn := aws.ToString(newRoom(t, client(srv, "admin", "s-admin"), nil).Arn)
	as := func(key, secret string) signing {
		s := devSigning()
		s.KeyID, s.Secret = key, secret
		return s
	}
	t.Run("ivschatd:ListRoomUsers allows it", func(t *testing.T) {
		resp := extensionCall(t, srv, "ListRoomUsers", map[string]any{"roomIdentifier": arn}, as("lister", "s-lister"))
		if resp.Status != http.StatusOK {
			t.Fatalf("%d %s", resp.Status, resp.Body)
		}
	})
	t.Run("ivschat:* does not", func(t *testing.T) {
		m := extensionCall(t, srv, "ListRoomUsers", map[string]any{"roomIdentifier": arn}, as("ivs-only", "s-ivs")).
			wantAWSError(t, http.StatusForbidden, "AccessDeniedException")
		if !strings.Contains(m["message"].(string), "ivschatd:ListRoomUsers") {
			t.Fatalf("message %q does not name the action", m["message"])
		}
	})
}

// mark sends an application event to the room and returns its name: a member's next frames
// up to it are everything the room sent the member before it.
func mark(t testing.TB, c *ivschat.Client, roomARN *string) string {
	t.Helper()
	name := "mark-" + time.Now().Format("150405.000000000")
	_, err := c.SendEvent(context.Background(), &ivschat.SendEventInput{RoomIdentifier: roomARN, EventName: aws.String(name)})
	mustNoErr(t, err)
	return name
}

// eventsUntil lists the member's events, as "name:userId", up to the mark.
func (m *member) eventsUntil(mark string) string {
	m.t.Helper()
	var got []string
	for {
		f := m.next()
		if f.EventName == mark {
			return strings.Join(got, " ")
		}
		if f.Type == "EVENT" {
			got = append(got, f.EventName+":"+f.Attributes["userId"])
		}
	}
}

func TestPresenceEvents(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	room := newRoom(t, c, &ivschat.CreateRoomInput{Tags: map[string]string{"ivschatd:presence-events": "true"}})

	watcher := join(t, srv, newToken(t, c, room.Arn, "watcher"))
	bob1 := join(t, srv, newToken(t, c, room.Arn, "bob"))
	t.Run("a user's first connection is an ivschatd:join EVENT shaped as SendEvent's, with userId", func(t *testing.T) {
		raw := string(watcher.nextRaw())
		var f frame
		mustNoErr(t, json.Unmarshal([]byte(raw), &f))
		if f.Type != "EVENT" || f.EventName != "ivschatd:join" || f.Attributes["userId"] != "bob" || len(f.Attributes) != 1 {
			t.Fatalf("got %s", raw)
		}
		var members []string
		var obj map[string]json.RawMessage
		_ = json.Unmarshal([]byte(raw), &obj)
		for k := range obj {
			members = append(members, k)
		}
		if len(members) != 6 || !strings.HasPrefix(raw, `{"Type":"EVENT","Id":"`) || !strings.Contains(raw, `"RequestId":"","Attributes":{"userId":"bob"},"SendTime":"`) {
			t.Fatalf("not shaped as SendEvent's events: %s", raw)
		}
		if len(f.Id) != 12 {
			t.Fatalf("Id %q", f.Id)
		}
		if _, err := time.Parse(time.RFC3339Nano, f.SendTime); err != nil {
			t.Fatalf("SendTime %q: %v", f.SendTime, err)
		}
	})
	t.Run("the joining user does not hear of its own join", func(t *testing.T) {
		m := mark(t, c, room.Arn)
		if got := bob1.eventsUntil(m); got != "" {
			t.Fatalf("bob heard %q", got)
		}
		watcher.eventsUntil(m)
	})
	bob2 := join(t, srv, newToken(t, c, room.Arn, "bob"))
	t.Run("a second connection of a connected user is no join", func(t *testing.T) {
		if got := watcher.eventsUntil(mark(t, c, room.Arn)); got != "" {
			t.Fatalf("watcher heard %q", got)
		}
	})
	t.Run("closing one of two connections is no leave", func(t *testing.T) {
		bob1.ws.Close()
		waitForRoomUsers(t, srv, aws.ToString(room.Arn), "bob×1 watcher×1")
		if got := watcher.eventsUntil(mark(t, c, room.Arn)); got != "" {
			t.Fatalf("watcher heard %q", got)
		}
	})
	t.Run("closing the last connection is an ivschatd:leave with userId", func(t *testing.T) {
		bob2.ws.Close()
		f := watcher.next()
		if f.Type != "EVENT" || f.EventName != "ivschatd:leave" || f.Attributes["userId"] != "bob" {
			t.Fatalf("got %+v", f)
		}
	})
	t.Run("a user disconnected by DisconnectUser leaves", func(t *testing.T) {
		join(t, srv, newToken(t, c, room.Arn, "carol"))
		if got := watcher.eventsUntil(mark(t, c, room.Arn)); got != "ivschatd:join:carol" {
			t.Fatalf("watcher heard %q", got)
		}
		_, err := c.DisconnectUser(context.Background(), &ivschat.DisconnectUserInput{RoomIdentifier: room.Arn, UserId: aws.String("carol")})
		mustNoErr(t, err)
		if f := watcher.next(); f.EventName != "aws:DISCONNECT_USER" {
			t.Fatalf("got %+v", f)
		}
		if f := watcher.next(); f.EventName != "ivschatd:leave" || f.Attributes["userId"] != "carol" {
			t.Fatalf("got %+v", f)
		}
	})
	t.Run("a room without the tag, or with it false, sends no presence events", func(t *testing.T) {
		for _, tags := range []map[string]string{nil, {"ivschatd:presence-events": "false"}} {
			r := newRoom(t, c, &ivschat.CreateRoomInput{Tags: tags})
			w := join(t, srv, newToken(t, c, r.Arn, "w"))
			u := join(t, srv, newToken(t, c, r.Arn, "u"))
			u.ws.Close()
			waitForRoomUsers(t, srv, aws.ToString(r.Arn), "w×1")
			if got := w.eventsUntil(mark(t, c, r.Arn)); got != "" {
				t.Fatalf("tags %v: heard %q", tags, got)
			}
		}
	})
	t.Run("removing the tag stops the events at once; setting it starts them for new connections", func(t *testing.T) {
		r := newRoom(t, c, &ivschat.CreateRoomInput{Tags: map[string]string{"ivschatd:presence-events": "true"}})
		w := join(t, srv, newToken(t, c, r.Arn, "w"))
		dora := join(t, srv, newToken(t, c, r.Arn, "dora"))
		if got := w.eventsUntil(mark(t, c, r.Arn)); got != "ivschatd:join:dora" {
			t.Fatalf("heard %q", got)
		}
		_, err := c.UntagResource(context.Background(), &ivschat.UntagResourceInput{ResourceArn: r.Arn, TagKeys: []string{"ivschatd:presence-events"}})
		mustNoErr(t, err)
		dora.ws.Close()
		join(t, srv, newToken(t, c, r.Arn, "eve"))
		waitForRoomUsers(t, srv, aws.ToString(r.Arn), "eve×1 w×1")
		if got := w.eventsUntil(mark(t, c, r.Arn)); got != "" {
			t.Fatalf("heard %q with the tag removed", got)
		}
		_, err = c.TagResource(context.Background(), &ivschat.TagResourceInput{ResourceArn: r.Arn, Tags: map[string]string{"ivschatd:presence-events": "true"}})
		mustNoErr(t, err)
		join(t, srv, newToken(t, c, r.Arn, "finn"))
		if got := w.eventsUntil(mark(t, c, r.Arn)); got != "ivschatd:join:finn" {
			t.Fatalf("heard %q with the tag set again", got)
		}
	})
	t.Run("many users joining and leaving at once: one join and one leave each", func(t *testing.T) {
		r := newRoom(t, c, &ivschat.CreateRoomInput{Tags: map[string]string{"ivschatd:presence-events": "true"}})
		w := join(t, srv, newToken(t, c, r.Arn, "w"))
		const users = 8
		var all []*member
		done := make(chan *member)
		for i := range users {
			tok := newToken(t, c, r.Arn, fmt.Sprintf("crowd-%d", i%4)) // two connections per user
			go func() { done <- join(t, srv, tok) }()
		}
		for range users {
			all = append(all, <-done)
		}
		for _, m := range all {
			m.ws.Close()
		}
		// A close is counted out after the connection is gone: wait for the four leaves,
		// then for anything more.
		counts := map[string]int{}
		for leaves := 0; leaves < 4; {
			f := w.next()
			if strings.HasPrefix(f.EventName, "ivschatd:") {
				counts[f.EventName+":"+f.Attributes["userId"]]++
				if f.EventName == "ivschatd:leave" {
					leaves++
				}
			}
		}
		for _, e := range strings.Fields(w.eventsUntil(mark(t, c, r.Arn))) {
			counts[e]++
		}
		for i := range 4 {
			for _, ev := range []string{"ivschatd:join", "ivschatd:leave"} {
				if k := fmt.Sprintf("%s:crowd-%d", ev, i); counts[k] != 1 {
					t.Fatalf("%s %d times (all: %v)", k, counts[k], counts)
				}
			}
		}
	})
}
