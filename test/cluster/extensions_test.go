package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"
	"github.com/gorilla/websocket"

	"github.com/ivschatd/ivschatd/internal/api"
)

// extension calls an extension operation (POST /ivschatd/<Op>) on a node, signed with the
// development credentials by the AWS SDK's v4 signer as docs/extensions.md shows, and decodes
// a 200 answer into out (when given); any other answer fails the test.
func extension(t testing.TB, n *node, operation string, in, out any) {
	t.Helper()
	body, err := json.Marshal(in)
	mustNoErr(t, err)
	req, err := http.NewRequest(http.MethodPost, n.url+"/ivschatd/"+operation, bytes.NewReader(body))
	mustNoErr(t, err)
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: api.DevAccessKeyID, SecretAccessKey: api.DevSecretAccessKey}
	mustNoErr(t, v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "ivschat", "us-east-1", time.Now()))
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	mustNoErr(t, err)
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	mustNoErr(t, err)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s on %s: %d %s", operation, n.name, resp.StatusCode, answer)
	}
	if out != nil {
		mustNoErr(t, json.Unmarshal(answer, out))
	}
}

// tokenRefused reports whether a node refuses to mint a token for the user with
// AccessDeniedException, the answer for a banned user; any other error fails the test.
func tokenRefused(t *testing.T, n *node, roomARN *string, user string) bool {
	t.Helper()
	_, err := n.ivs.CreateChatToken(context.Background(), &ivschat.CreateChatTokenInput{RoomIdentifier: roomARN, UserId: aws.String(user)})
	var denied *types.AccessDeniedException
	if err != nil && !errors.As(err, &denied) {
		t.Fatalf("CreateChatToken for %s on %s: %v", user, n.name, err)
	}
	return err != nil
}

// testBans: a ban issued on one node disconnects the user's connections on every node and
// refuses the user's tokens everywhere, minted before the ban or after; an unban on another
// node lets the user back in everywhere.
func testBans(t *testing.T, nodes []*node) {
	room := newRoom(t, nodes[0].ivs, nil)
	var observers, banned []*member
	// Tokens minted before the ban, to be presented after it on the other nodes.
	early := map[*node]string{}
	for _, n := range nodes {
		observers = append(observers, join(t, n, newToken(t, n.ivs, room.Arn, "viewer@"+n.name), "viewer@"+n.name))
		banned = append(banned, join(t, n, newToken(t, n.ivs, room.Arn, "spammer"), "spammer@"+n.name))
		early[n] = newToken(t, n.ivs, room.Arn, "spammer")
	}
	settle(t, nodes[0], room.Arn, append(observers, banned...)...)

	var ban struct{ UserID, Reason string }
	extension(t, nodes[0], "BanUser", map[string]any{"roomIdentifier": aws.ToString(room.Arn), "userId": "spammer", "reason": "spam"}, &ban)
	if ban.UserID != "spammer" || ban.Reason != "spam" {
		t.Fatalf("BanUser answered %+v", ban)
	}
	isBanEvent := func(p payload) bool {
		return p.Type == "EVENT" && p.EventName == "aws:DISCONNECT_USER" && p.Attributes["UserId"] == "spammer" && p.Attributes["Reason"] == "spam"
	}
	for _, m := range append(observers, banned...) {
		m.await(10*time.Second, "the ban's aws:DISCONNECT_USER event", isBanEvent)
	}
	for _, m := range banned {
		if err := m.closed(10 * time.Second); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			t.Fatalf("%s: the banned user's connection ended with %v, want close 1000", m.name, err)
		}
	}
	for _, m := range observers {
		if !m.isOpen() {
			t.Fatalf("%s was disconnected by another user's ban: %s", m.name, m.ended())
		}
	}
	// Each node checks bans in its own index, which the engine's watch brings up to date
	// within milliseconds (docs/extensions.md, "Where bans live"): the test waits for that.
	for _, n := range nodes {
		waitFor(t, 10*time.Second, "a token for the banned user refused on "+n.name, func() bool {
			return tokenRefused(t, n, room.Arn, "spammer")
		})
	}
	for _, n := range nodes[1:] {
		_, status, _ := dial(t, n.ws, early[n], "spammer again@"+n.name)
		if status != http.StatusForbidden {
			t.Fatalf("a token minted before the ban opened on %s after it: HTTP %d, want 403", n.name, status)
		}
	}
	var list struct{ Bans []struct{ UserID string } }
	extension(t, nodes[2], "ListBans", map[string]any{"roomIdentifier": aws.ToString(room.Arn)}, &list)
	if len(list.Bans) != 1 || list.Bans[0].UserID != "spammer" {
		t.Fatalf("ListBans on %s after a ban on %s: %+v", nodes[2].name, nodes[0].name, list.Bans)
	}

	extension(t, nodes[1], "UnbanUser", map[string]any{"roomIdentifier": aws.ToString(room.Arn), "userId": "spammer"}, nil)
	for _, n := range nodes {
		waitFor(t, 10*time.Second, "a token for the unbanned user on "+n.name, func() bool {
			return !tokenRefused(t, n, room.Arn, "spammer")
		})
		m := join(t, n, newToken(t, n.ivs, room.Arn, "spammer"), "spammer back@"+n.name)
		m.ws.Close()
	}
}

// testSlowMode: with ivschatd:user-rate 2/60, a user's sends are counted across the nodes the
// user is connected to: two sends on two nodes are admitted, the third on the third node gets
// ERROR 429 saying slow mode, and another user is not affected.
func testSlowMode(t *testing.T, nodes []*node) {
	room := newRoom(t, nodes[0].ivs, &ivschat.CreateRoomInput{Tags: map[string]string{"ivschatd:user-rate": "2/60"}})
	var chatty []*member
	for _, n := range nodes {
		chatty = append(chatty, join(t, n, newToken(t, n.ivs, room.Arn, "chatty"), "chatty@"+n.name))
	}
	calm := join(t, nodes[2], newToken(t, nodes[2].ivs, room.Arn, "calm"), "calm")
	settle(t, nodes[0], room.Arn, append(chatty, calm)...)
	answer := func(m *member, id string) payload {
		m.send(map[string]any{"Action": "SEND_MESSAGE", "RequestId": id, "Content": id})
		return m.await(10*time.Second, "the answer to "+id, func(p payload) bool {
			return p.RequestId == id && (p.Type == "MESSAGE" || p.Type == "ERROR")
		})
	}
	for i, m := range chatty[:2] {
		if p := answer(m, "chatty-"+nodes[i].name); p.Type != "MESSAGE" {
			t.Fatalf("send %d of 2 in the minute, on %s: %+v, want the message", i+1, nodes[i].name, p)
		}
	}
	p := answer(chatty[2], "chatty-third")
	if p.Type != "ERROR" || p.ErrorCode != 429 || !strings.Contains(p.ErrorMessage, "slow mode") {
		t.Fatalf("a third send in the minute, on a third node: %+v, want ERROR 429 saying slow mode", p)
	}
	if p := answer(calm, "calm-1"); p.Type != "MESSAGE" {
		t.Fatalf("another user's send under the chatty user's slow mode: %+v, want the message", p)
	}
}
