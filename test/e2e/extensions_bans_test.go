package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"
	"github.com/gorilla/websocket"

	"github.com/ivschatd/ivschatd/internal/server"
)

// banView is a ban as the extension operations return it.
type banView struct {
	UserID     string `json:"userId"`
	Reason     string `json:"reason"`
	CreateTime string `json:"createTime"`
	ExpireTime string `json:"expireTime"`
}

// extension calls an extension operation with the development credentials and decodes a
// 200 answer into out (when given); any other answer fails the test.
func extension(t testing.TB, srv *server.Server, operation string, in, out any) {
	t.Helper()
	resp := extensionCall(t, srv, operation, in, devSigning())
	if resp.Status != http.StatusOK {
		t.Fatalf("%s: %d %s", operation, resp.Status, resp.Body)
	}
	if out != nil {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			t.Fatal(err)
		}
	}
}

func listBans(t testing.TB, srv *server.Server, roomARN string) []banView {
	t.Helper()
	var out struct{ Bans []banView }
	extension(t, srv, "ListBans", map[string]any{"roomIdentifier": roomARN}, &out)
	return out.Bans
}

// tokenError is CreateChatToken's error for a user, nil if a token was issued.
func tokenError(c *ivschat.Client, roomARN *string, user string) error {
	_, err := c.CreateChatToken(context.Background(), &ivschat.CreateChatTokenInput{RoomIdentifier: roomARN, UserId: aws.String(user)})
	return err
}

func TestBans(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	room := newRoom(t, c, nil)
	arn := aws.ToString(room.Arn)

	t.Run("BanUser disconnects the user's connections with the reason and tells the room", func(t *testing.T) {
		viewer := join(t, srv, newToken(t, c, room.Arn, "viewer"))
		target1 := join(t, srv, newToken(t, c, room.Arn, "spammer"))
		target2 := join(t, srv, newToken(t, c, room.Arn, "spammer"))
		var ban banView
		extension(t, srv, "BanUser", map[string]any{"roomIdentifier": arn, "userId": "spammer", "durationSeconds": 3600, "reason": "spam"}, &ban)
		if ban.UserID != "spammer" || ban.Reason != "spam" || ban.ExpireTime == "" {
			t.Fatalf("ban %+v", ban)
		}
		for _, m := range []*member{viewer, target1, target2} {
			if f := m.next(); f.EventName != "aws:DISCONNECT_USER" || f.Attributes["UserId"] != "spammer" || f.Attributes["Reason"] != "spam" {
				t.Fatalf("got %+v", f)
			}
		}
		for _, m := range []*member{target1, target2} {
			if err := m.closed(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				t.Fatalf("banned member: %v", err)
			}
		}
	})
	t.Run("CreateChatToken for a banned user is an AccessDeniedException saying until when", func(t *testing.T) {
		err := tokenError(c, room.Arn, "spammer")
		ade := as[*types.AccessDeniedException](t, err)
		until := listBans(t, srv, arn)[0].ExpireTime
		end, _ := time.Parse(time.RFC3339, until)
		if msg := aws.ToString(ade.Message); !strings.Contains(msg, "until "+end.Format(time.RFC3339)) || !strings.Contains(msg, "spam") {
			t.Fatalf("message %q does not say until %s and why", msg, until)
		}
		if httpStatus(err) != http.StatusForbidden {
			t.Fatalf("status %d", httpStatus(err))
		}
	})
	t.Run("a ban is of one user in one room", func(t *testing.T) {
		mustNoErr(t, tokenError(c, room.Arn, "viewer"))
		other := newRoom(t, c, nil)
		mustNoErr(t, tokenError(c, other.Arn, "spammer"))
	})
	t.Run("a token minted before the ban is refused at the handshake with 403", func(t *testing.T) {
		token := newToken(t, c, room.Arn, "later")
		extension(t, srv, "BanUser", map[string]any{"roomIdentifier": arn, "userId": "later"}, nil)
		_, resp, err := dial(srv, token)
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("dial with a banned user's token: %v, %+v", err, resp)
		}
	})
	t.Run("a ban without durationSeconds lasts until UnbanUser, which is idempotent", func(t *testing.T) {
		extension(t, srv, "BanUser", map[string]any{"roomIdentifier": arn, "userId": "forever"}, nil)
		ade := as[*types.AccessDeniedException](t, tokenError(c, room.Arn, "forever"))
		if !strings.Contains(aws.ToString(ade.Message), "until unbanned") {
			t.Fatalf("message %q", aws.ToString(ade.Message))
		}
		for range 2 {
			extension(t, srv, "UnbanUser", map[string]any{"roomIdentifier": arn, "userId": "forever"}, nil)
			mustNoErr(t, tokenError(c, room.Arn, "forever"))
		}
	})
	t.Run("a timed ban ends on time, by itself", func(t *testing.T) {
		extension(t, srv, "BanUser", map[string]any{"roomIdentifier": arn, "userId": "brief", "durationSeconds": 1}, nil)
		wantAPIError(t, tokenError(c, room.Arn, "brief"), http.StatusForbidden, "AccessDeniedException")
		deadline := time.Now().Add(30 * time.Second)
		for tokenError(c, room.Arn, "brief") != nil {
			if time.Now().After(deadline) {
				t.Fatal("the one-second ban still holds after 30 s")
			}
			time.Sleep(100 * time.Millisecond)
		}
		for _, b := range listBans(t, srv, arn) {
			if b.UserID == "brief" {
				t.Fatalf("ListBans still lists the ended ban %+v", b)
			}
		}
	})
	t.Run("banning a banned user replaces the ban", func(t *testing.T) {
		extension(t, srv, "BanUser", map[string]any{"roomIdentifier": arn, "userId": "twice", "durationSeconds": 60}, nil)
		extension(t, srv, "BanUser", map[string]any{"roomIdentifier": arn, "userId": "twice", "reason": "again"}, nil)
		for _, b := range listBans(t, srv, arn) {
			if b.UserID == "twice" && (b.ExpireTime != "" || b.Reason != "again") {
				t.Fatalf("the second ban did not replace the first: %+v", b)
			}
		}
	})
	t.Run("ListBans pages newest first", func(t *testing.T) {
		r := newRoom(t, c, nil)
		for _, u := range []string{"u1", "u2", "u3"} {
			extension(t, srv, "BanUser", map[string]any{"roomIdentifier": aws.ToString(r.Arn), "userId": u}, nil)
			time.Sleep(2 * time.Millisecond) // distinct create times
		}
		var first, second struct {
			Bans      []banView
			NextToken string
		}
		extension(t, srv, "ListBans", map[string]any{"roomIdentifier": aws.ToString(r.Arn), "maxResults": 2}, &first)
		if len(first.Bans) != 2 || first.Bans[0].UserID != "u3" || first.Bans[1].UserID != "u2" || first.NextToken == "" {
			t.Fatalf("first page %+v", first)
		}
		extension(t, srv, "ListBans", map[string]any{"roomIdentifier": aws.ToString(r.Arn), "maxResults": 2, "nextToken": first.NextToken}, &second)
		if len(second.Bans) != 1 || second.Bans[0].UserID != "u1" || second.NextToken != "" {
			t.Fatalf("second page %+v", second)
		}
		resp := extensionCall(t, srv, "ListBans", map[string]any{"roomIdentifier": arn, "nextToken": first.NextToken}, devSigning())
		resp.wantAWSError(t, http.StatusBadRequest, "ValidationException")
	})
	t.Run("DeleteRoom drops the room's bans", func(t *testing.T) {
		r := newRoom(t, c, nil)
		extension(t, srv, "BanUser", map[string]any{"roomIdentifier": aws.ToString(r.Arn), "userId": "x"}, nil)
		_, err := c.DeleteRoom(context.Background(), &ivschat.DeleteRoomInput{Identifier: r.Arn})
		mustNoErr(t, err)
		resp := extensionCall(t, srv, "ListBans", map[string]any{"roomIdentifier": aws.ToString(r.Arn)}, devSigning())
		resp.wantAWSError(t, http.StatusNotFound, "ResourceNotFoundException")
	})
}

func TestBanInput(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	arn := aws.ToString(newRoom(t, c, nil).Arn)
	missing := arn[:strings.LastIndex(arn, "/")+1] + "AAAAAAAAAAAA"
	otherAccount := strings.Replace(arn, ":"+strings.Split(arn, ":")[4]+":", ":999999999999:", 1)
	tests := []struct {
		rule      string
		operation string
		in        map[string]any
		status    int
		code      string
		field     string
	}{
		{"a room identifier that is not a room ARN is a ValidationException", "BanUser", map[string]any{"roomIdentifier": "room1", "userId": "u"}, 400, "ValidationException", "roomIdentifier"},
		{"a missing userId is a ValidationException", "BanUser", map[string]any{"roomIdentifier": arn}, 400, "ValidationException", "userId"},
		{"an empty userId is a ValidationException", "UnbanUser", map[string]any{"roomIdentifier": arn, "userId": ""}, 400, "ValidationException", "userId"},
		{"a userId of 129 characters is a ValidationException", "BanUser", map[string]any{"roomIdentifier": arn, "userId": strings.Repeat("u", 129)}, 400, "ValidationException", "userId"},
		{"durationSeconds 0 is a ValidationException", "BanUser", map[string]any{"roomIdentifier": arn, "userId": "u", "durationSeconds": 0}, 400, "ValidationException", "durationSeconds"},
		{"durationSeconds over a year is a ValidationException", "BanUser", map[string]any{"roomIdentifier": arn, "userId": "u", "durationSeconds": 31_536_001}, 400, "ValidationException", "durationSeconds"},
		{"durationSeconds that is not an integer is a ValidationException", "BanUser", map[string]any{"roomIdentifier": arn, "userId": "u", "durationSeconds": "60"}, 400, "ValidationException", "durationSeconds"},
		{"an empty reason is a ValidationException", "BanUser", map[string]any{"roomIdentifier": arn, "userId": "u", "reason": ""}, 400, "ValidationException", "reason"},
		{"a reason of 257 characters is a ValidationException", "BanUser", map[string]any{"roomIdentifier": arn, "userId": "u", "reason": strings.Repeat("r", 257)}, 400, "ValidationException", "reason"},
		{"maxResults 51 is a ValidationException", "ListBans", map[string]any{"roomIdentifier": arn, "maxResults": 51}, 400, "ValidationException", "maxResults"},
		{"a room that does not exist is a ResourceNotFoundException", "BanUser", map[string]any{"roomIdentifier": missing, "userId": "u"}, 404, "ResourceNotFoundException", ""},
		{"another account's room is a ResourceNotFoundException", "UnbanUser", map[string]any{"roomIdentifier": otherAccount, "userId": "u"}, 404, "ResourceNotFoundException", ""},
		{"ListBans of a room that does not exist is a ResourceNotFoundException", "ListBans", map[string]any{"roomIdentifier": missing}, 404, "ResourceNotFoundException", ""},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			m := extensionCall(t, srv, tc.operation, tc.in, devSigning()).wantAWSError(t, tc.status, tc.code)
			if tc.field != "" {
				fields, _ := m["fieldList"].([]any)
				if len(fields) != 1 || fields[0].(map[string]any)["name"] != tc.field {
					t.Fatalf("fieldList %v, want %s", m["fieldList"], tc.field)
				}
			}
		})
	}
	t.Run("a user id may be any text, spaces and line breaks included", func(t *testing.T) {
		user := "a user\nwith ünïcode / and dots..."
		extension(t, srv, "BanUser", map[string]any{"roomIdentifier": arn, "userId": user}, nil)
		if bans := listBans(t, srv, arn); len(bans) != 1 || bans[0].UserID != user {
			t.Fatalf("bans %+v", bans)
		}
		wantAPIError(t, tokenError(c, aws.String(arn), user), http.StatusForbidden, "AccessDeniedException")
	})
	t.Run("an unknown extension operation is an UnknownOperationException", func(t *testing.T) {
		send(t, srv, rawRequest{Method: http.MethodPost, Path: "/ivschatd/BanEveryone", Body: []byte(`{}`)}, devSigning()).
			wantAWSError(t, http.StatusNotFound, "UnknownOperationException")
	})
	t.Run("GET of an extension operation is a 405", func(t *testing.T) {
		send(t, srv, rawRequest{Method: http.MethodGet, Path: "/ivschatd/ListBans"}, devSigning()).
			wantAWSError(t, http.StatusMethodNotAllowed, "UnknownOperationException")
	})
	t.Run("an IVS operation is not served under /ivschatd/", func(t *testing.T) {
		send(t, srv, rawRequest{Method: http.MethodPost, Path: "/ivschatd/CreateRoom", Body: []byte(`{}`)}, devSigning()).
			wantAWSError(t, http.StatusNotFound, "UnknownOperationException")
	})
	t.Run("an unsigned call is refused as the control plane refuses it", func(t *testing.T) {
		send(t, srv, rawRequest{Method: http.MethodPost, Path: "/ivschatd/ListBans", Body: []byte(`{}`)}, signing{Unsigned: true}).
			wantAWSError(t, http.StatusForbidden, "MissingAuthenticationTokenException")
	})
}

// The extension operations' actions are ivschatd:<Operation> in a credentials file.
func TestBanActions(t *testing.T) {
	const account = "111111111111"
	principals := []testPrincipal{
		{AccessKeyID: "admin", SecretAccessKey: "s-admin", AccountID: account},
		{AccessKeyID: "ivs-only", SecretAccessKey: "s-ivs", AccountID: account, Actions: []string{"ivschat:*"}},
		{AccessKeyID: "ext-all", SecretAccessKey: "s-ext", AccountID: account, Actions: []string{"ivschatd:*"}},
		{AccessKeyID: "banner", SecretAccessKey: "s-banner", AccountID: account, Actions: []string{"ivschatd:BanUser"}},
		{AccessKeyID: "star", SecretAccessKey: "s-star", AccountID: account, Actions: []string{"*"}},
	}
	srv := startServer(t, withPrincipals(t, principals...))
	admin := client(srv, "admin", "s-admin")
	arn := aws.ToString(newRoom(t, admin, nil).Arn)
	as := func(key, secret string) signing {
		s := devSigning()
		s.KeyID, s.Secret = key, secret
		return s
	}
	tests := []struct {
		rule      string
		who       signing
		operation string
		allowed   bool
	}{
		{"ivschat:* does not allow an extension operation", as("ivs-only", "s-ivs"), "ListBans", false},
		{"ivschatd:* allows every extension operation", as("ext-all", "s-ext"), "ListBans", true},
		{"ivschatd:BanUser allows BanUser", as("banner", "s-banner"), "BanUser", true},
		{"ivschatd:BanUser does not allow UnbanUser", as("banner", "s-banner"), "UnbanUser", false},
		{"* allows the extension operations", as("star", "s-star"), "UnbanUser", true},
		{"no actions list allows everything", as("admin", "s-admin"), "ListBans", true},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			resp := extensionCall(t, srv, tc.operation, map[string]any{"roomIdentifier": arn, "userId": "u"}, tc.who)
			if tc.allowed && resp.Status != http.StatusOK {
				t.Fatalf("%d %s", resp.Status, resp.Body)
			}
			if !tc.allowed {
				m := resp.wantAWSError(t, http.StatusForbidden, "AccessDeniedException")
				if msg := m["message"].(string); !strings.Contains(msg, "ivschatd:"+tc.operation) {
					t.Fatalf("message %q does not name the action", msg)
				}
			}
		})
	}
	t.Run("ivschatd:* does not allow an IVS operation", func(t *testing.T) {
		_, err := client(srv, "ext-all", "s-ext").GetRoom(context.Background(), &ivschat.GetRoomInput{Identifier: aws.String(arn)})
		wantAPIError(t, err, http.StatusForbidden, "AccessDeniedException")
	})
}
