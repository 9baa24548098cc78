package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"

	"github.com/ivschatd/ivschatd/internal/api"
	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/server"
	"github.com/ivschatd/ivschatd/test/sdkclient"
)

func TestSigV4Failures(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	roomARN := aws.ToString(newRoom(t, c, nil).Arn)
	before := snapshot(t, c, roomARN)
	dev := devSigning()
	with := func(change func(*signing)) signing {
		s := dev
		change(&s)
		return s
	}
	create := rawRequest{Method: "POST", Path: "/CreateRoom", Body: []byte(`{"name":"aaaa"}`)}
	untag := rawRequest{Method: "DELETE", Path: tagsPath(roomARN), Query: "tagKeys=k"}

	for _, tc := range []struct {
		rule string
		req  rawRequest
		sign signing
		code string
	}{
		{"no Authorization header is MissingAuthenticationTokenException", create, signing{Unsigned: true}, "MissingAuthenticationTokenException"},
		{"a garbage Authorization header is IncompleteSignatureException", create,
			with(func(s *signing) { s.After = func(r *http.Request) { r.Header.Set("Authorization", "garbage") } }), "IncompleteSignatureException"},
		{"an Authorization header without SignedHeaders and Signature is IncompleteSignatureException", create,
			with(func(s *signing) {
				s.After = func(r *http.Request) {
					r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+api.DevAccessKeyID+"/20260101/us-east-1/ivschat/aws4_request")
				}
			}), "IncompleteSignatureException"},
		{"a request without X-Amz-Date is IncompleteSignatureException", create,
			with(func(s *signing) { s.After = func(r *http.Request) { r.Header.Del("X-Amz-Date") } }), "IncompleteSignatureException"},
		{"an unknown access key is UnrecognizedClientException", create,
			with(func(s *signing) { s.KeyID = "AKIDUNKNOWN" }), "UnrecognizedClientException"},
		{"a wrong secret is InvalidSignatureException", create,
			with(func(s *signing) { s.Secret = "not-the-secret" }), "InvalidSignatureException"},
		{"a body other than the one signed is InvalidSignatureException", create,
			with(func(s *signing) { s.SignedBody = []byte(`{"name":"bbbb"}`) }), "InvalidSignatureException"},
		{"a query other than the one signed is InvalidSignatureException", untag,
			with(func(s *signing) { s.After = func(r *http.Request) { r.URL.RawQuery = "tagKeys=other" } }), "InvalidSignatureException"},
		{"a path other than the one signed is InvalidSignatureException", untag,
			with(func(s *signing) {
				s.After = func(r *http.Request) {
					r.URL.RawPath = tagsPath(arnOfRoom("AAAAAAAAAAAA"))
					r.URL.Path = "/tags/" + arnOfRoom("AAAAAAAAAAAA")
				}
			}), "InvalidSignatureException"},
		{"an X-Amz-Date changed after signing is InvalidSignatureException", create,
			with(func(s *signing) {
				s.After = func(r *http.Request) {
					r.Header.Set("X-Amz-Date", time.Now().Add(time.Second).UTC().Format("20060102T150405Z"))
				}
			}), "InvalidSignatureException"},
		{"an X-Amz-Content-Sha256 that is not the body's is InvalidSignatureException", create,
			with(func(s *signing) {
				s.After = func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", strings.Repeat("0", 64)) }
			}), "InvalidSignatureException"},
		{"a date 20 minutes in the past is InvalidSignatureException", create,
			with(func(s *signing) { s.Time = time.Now().Add(-20 * time.Minute) }), "InvalidSignatureException"},
		{"a date 20 minutes in the future is InvalidSignatureException", create,
			with(func(s *signing) { s.Time = time.Now().Add(20 * time.Minute) }), "InvalidSignatureException"},
		{"a signature for another region is InvalidSignatureException", create,
			with(func(s *signing) { s.Region = "us-west-2" }), "InvalidSignatureException"},
		{"a signature for another service is InvalidSignatureException", create,
			with(func(s *signing) { s.Service = "ivs" }), "InvalidSignatureException"},
		{"a session token the principal does not have is UnrecognizedClientException", create,
			with(func(s *signing) { s.SessionToken = "session" }), "UnrecognizedClientException"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			r := send(t, srv, tc.req, tc.sign)
			r.wantAWSError(t, http.StatusForbidden, tc.code)
			if strings.Contains(string(r.Body), api.DevSecretAccessKey) || strings.Contains(string(r.Body), "not-the-secret") {
				t.Fatalf("the error shows a secret: %s", r.Body)
			}
			if after := snapshot(t, c, roomARN); after != before {
				t.Fatalf("state changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}

	for _, tc := range []struct {
		rule string
		sign signing
	}{
		{"a date 10 minutes off is accepted", with(func(s *signing) { s.Time = time.Now().Add(-10 * time.Minute) })},
		{"headers added after signing are ignored", with(func(s *signing) {
			s.After = func(r *http.Request) { r.Header.Set("User-Agent", "changed"); r.Header.Set("X-Extra", "1") }
		})},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			r := send(t, srv, rawRequest{Method: "POST", Path: "/ListRooms", Body: []byte(`{}`)}, tc.sign)
			if r.Status != http.StatusOK {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})
	}

	t.Run("the SDK with an unknown key gets a 403 UnrecognizedClientException", func(t *testing.T) {
		_, err := client(srv, "AKIDUNKNOWN", "x").ListRooms(context.Background(), &ivschat.ListRoomsInput{})
		wantAPIError(t, err, http.StatusForbidden, "UnrecognizedClientException")
	})

	t.Run("the SDK with a wrong secret gets a 403 InvalidSignatureException", func(t *testing.T) {
		_, err := client(srv, api.DevAccessKeyID, "wrong").GetRoom(context.Background(), &ivschat.GetRoomInput{Identifier: aws.String(roomARN)})
		wantAPIError(t, err, http.StatusForbidden, "InvalidSignatureException")
	})

	t.Run("the SDK signing for another region gets a 403 InvalidSignatureException", func(t *testing.T) {
		other := sdkclient.IVSChat(srv.URL(), "eu-west-1", api.DevAccessKeyID, api.DevSecretAccessKey, "")
		_, err := other.ListRooms(context.Background(), &ivschat.ListRoomsInput{})
		wantAPIError(t, err, http.StatusForbidden, "InvalidSignatureException")
	})
}

func TestSessionTokens(t *testing.T) {
	srv := startServer(t, withPrincipals(t,
		testPrincipal{AccessKeyID: "ASIATEMPORARY", SecretAccessKey: "temp-secret", SessionToken: "the-session-token", AccountID: defaultAccount},
		testPrincipal{AccessKeyID: "AKIDLONGTERM", SecretAccessKey: "long-secret", AccountID: defaultAccount}))
	ctx := context.Background()
	withToken := func(key, secret, token string) *ivschat.Client {
		return sdkclient.IVSChat(srv.URL(), "us-east-1", key, secret, token)
	}

	t.Run("a principal with a session token works when the SDK sends it", func(t *testing.T) {
		_, err := withToken("ASIATEMPORARY", "temp-secret", "the-session-token").CreateRoom(ctx, &ivschat.CreateRoomInput{})
		mustNoErr(t, err)
	})
	t.Run("a principal with a session token is refused without it", func(t *testing.T) {
		_, err := withToken("ASIATEMPORARY", "temp-secret", "").ListRooms(ctx, &ivschat.ListRoomsInput{})
		wantAPIError(t, err, http.StatusForbidden, "UnrecognizedClientException")
	})
	t.Run("a principal with a session token is refused with another token", func(t *testing.T) {
		_, err := withToken("ASIATEMPORARY", "temp-secret", "another-token").ListRooms(ctx, &ivschat.ListRoomsInput{})
		wantAPIError(t, err, http.StatusForbidden, "UnrecognizedClientException")
	})
	t.Run("a principal without a session token is refused with one", func(t *testing.T) {
		_, err := withToken("AKIDLONGTERM", "long-secret", "the-session-token").ListRooms(ctx, &ivschat.ListRoomsInput{})
		wantAPIError(t, err, http.StatusForbidden, "UnrecognizedClientException")
	})
	t.Run("with configured credentials the development key pair is not accepted", func(t *testing.T) {
		_, err := devClient(srv).ListRooms(ctx, &ivschat.ListRoomsInput{})
		wantAPIError(t, err, http.StatusForbidden, "UnrecognizedClientException")
	})
}

func TestPrincipalWithoutPermission(t *testing.T) {
	srv := startServer(t, withPrincipals(t,
		testPrincipal{AccessKeyID: "AKIDADMIN", SecretAccessKey: "admin-secret", AccountID: defaultAccount},
		testPrincipal{AccessKeyID: "AKIDREADER", SecretAccessKey: "reader-secret", AccountID: defaultAccount, Actions: []string{"ivschat:GetRoom"}},
		testPrincipal{AccessKeyID: "AKIDTOKENS", SecretAccessKey: "tokens-secret", AccountID: defaultAccount, Actions: []string{"ivschat:CreateChatToken"}},
		testPrincipal{AccessKeyID: "AKIDSTAR", SecretAccessKey: "star-secret", AccountID: defaultAccount, Actions: []string{"ivschat:*"}}))
	ctx := context.Background()
	admin := client(srv, "AKIDADMIN", "admin-secret")
	reader := client(srv, "AKIDREADER", "reader-secret")
	tokens := client(srv, "AKIDTOKENS", "tokens-secret")
	star := client(srv, "AKIDSTAR", "star-secret")
	room := newRoom(t, admin, &ivschat.CreateRoomInput{Tags: map[string]string{"k": "v"}})
	before := snapshot(t, admin, aws.ToString(room.Arn))

	t.Run("an allowed action succeeds", func(t *testing.T) {
		g := getRoom(t, reader, room.Arn)
		if aws.ToString(g.Id) != aws.ToString(room.Id) {
			t.Fatalf("got %s", aws.ToString(g.Id))
		}
		_, err := tokens.CreateChatToken(ctx, &ivschat.CreateChatTokenInput{RoomIdentifier: room.Arn, UserId: aws.String("u")})
		mustNoErr(t, err)
	})

	for _, tc := range []struct {
		rule string
		call func() error
	}{
		{"CreateRoom", func() error { _, err := reader.CreateRoom(ctx, &ivschat.CreateRoomInput{}); return err }},
		{"UpdateRoom", func() error {
			_, err := reader.UpdateRoom(ctx, &ivschat.UpdateRoomInput{Identifier: room.Arn, Name: aws.String("x")})
			return err
		}},
		{"DeleteRoom", func() error {
			_, err := reader.DeleteRoom(ctx, &ivschat.DeleteRoomInput{Identifier: room.Arn})
			return err
		}},
		{"ListRooms", func() error { _, err := reader.ListRooms(ctx, &ivschat.ListRoomsInput{}); return err }},
		{"CreateChatToken", func() error {
			_, err := reader.CreateChatToken(ctx, &ivschat.CreateChatTokenInput{RoomIdentifier: room.Arn, UserId: aws.String("u")})
			return err
		}},
		{"GetRoom by a principal allowed only CreateChatToken", func() error {
			_, err := tokens.GetRoom(ctx, &ivschat.GetRoomInput{Identifier: room.Arn})
			return err
		}},
		{"SendEvent", func() error {
			_, err := reader.SendEvent(ctx, &ivschat.SendEventInput{RoomIdentifier: room.Arn, EventName: aws.String("e")})
			return err
		}},
		{"CreateLoggingConfiguration", func() error {
			_, err := reader.CreateLoggingConfiguration(ctx, &ivschat.CreateLoggingConfigurationInput{DestinationConfiguration: s3Destination("abc")})
			return err
		}},
	} {
		t.Run(tc.rule+" without the action is a 403 AccessDeniedException", func(t *testing.T) {
			err := tc.call()
			ad := as[*types.AccessDeniedException](t, err)
			if httpStatus(err) != http.StatusForbidden || aws.ToString(ad.Message) == "" {
				t.Fatalf("status %d, %+v", httpStatus(err), ad)
			}
		})
	}

	// The model declares no AccessDeniedException on the tag operations, so the Go SDK
	// reports it as a generic API error; the code and status are what matter.
	for _, tc := range []struct {
		rule string
		call func() error
	}{
		{"TagResource", func() error {
			_, err := reader.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: room.Arn, Tags: map[string]string{"x": "y"}})
			return err
		}},
		{"UntagResource", func() error {
			_, err := reader.UntagResource(ctx, &ivschat.UntagResourceInput{ResourceArn: room.Arn, TagKeys: []string{"k"}})
			return err
		}},
		{"ListTagsForResource", func() error {
			_, err := reader.ListTagsForResource(ctx, &ivschat.ListTagsForResourceInput{ResourceArn: room.Arn})
			return err
		}},
	} {
		t.Run(tc.rule+" without the action is a 403 AccessDeniedException", func(t *testing.T) {
			wantAPIError(t, tc.call(), http.StatusForbidden, "AccessDeniedException")
		})
	}

	t.Run("refused actions change nothing", func(t *testing.T) {
		if after := snapshot(t, admin, aws.ToString(room.Arn)); after != before {
			t.Fatalf("state changed:\nbefore %s\nafter  %s", before, after)
		}
	})

	t.Run("ivschat:* allows every action", func(t *testing.T) {
		r := newRoom(t, star, nil)
		_, err := star.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: r.Arn, Tags: map[string]string{"a": "b"}})
		mustNoErr(t, err)
		_, err = star.DeleteRoom(ctx, &ivschat.DeleteRoomInput{Identifier: r.Arn})
		mustNoErr(t, err)
	})
}

func TestAccountIsolation(t *testing.T) {
	const accountA, accountB = "111111111111", "222222222222"
	srv := startServer(t, func(cfg *server.Config) {
		// A's logging configuration ships to a bucket the operator gave A.
		withCredentials(t, map[string]chat.Allowance{accountA: {S3: []string{"chat-logs"}}},
			testPrincipal{AccessKeyID: "AKIDA", SecretAccessKey: "secret-a", AccountID: accountA},
			testPrincipal{AccessKeyID: "AKIDB", SecretAccessKey: "secret-b", AccountID: accountB})(cfg)
		cfg.MaxRooms = 2
	})
	ctx := context.Background()
	a, b := client(srv, "AKIDA", "secret-a"), client(srv, "AKIDB", "secret-b")
	lcA := newLoggingConfiguration(t, a, "a-config")
	roomA := newRoom(t, a, &ivschat.CreateRoomInput{Name: aws.String("a-room"), Tags: map[string]string{"owner": "a"},
		LoggingConfigurationIdentifiers: []string{aws.ToString(lcA.Arn)}})
	if !strings.Contains(aws.ToString(roomA.Arn), ":"+accountA+":") {
		t.Fatalf("room ARN %s is not in account A", aws.ToString(roomA.Arn))
	}
	roomB := newRoom(t, b, &ivschat.CreateRoomInput{Name: aws.String("b-room")})
	if !strings.Contains(aws.ToString(roomB.Arn), ":"+accountB+":") {
		t.Fatalf("room ARN %s is not in account B", aws.ToString(roomB.Arn))
	}
	before := snapshot(t, a, aws.ToString(roomA.Arn), aws.ToString(lcA.Arn))
	idA, lcID := aws.ToString(roomA.Id), aws.ToString(lcA.Id)
	// forged names A's room inside B's own account.
	forged := strings.Replace(aws.ToString(roomA.Arn), accountA, accountB, 1)

	for _, tc := range []struct {
		rule string
		id   string
		call func() error
	}{
		{"GetRoom", idA, func() error { _, err := b.GetRoom(ctx, &ivschat.GetRoomInput{Identifier: roomA.Arn}); return err }},
		{"GetRoom with A's room id in B's account", idA, func() error {
			_, err := b.GetRoom(ctx, &ivschat.GetRoomInput{Identifier: aws.String(forged)})
			return err
		}},
		{"UpdateRoom", idA, func() error {
			_, err := b.UpdateRoom(ctx, &ivschat.UpdateRoomInput{Identifier: roomA.Arn, Name: aws.String("stolen")})
			return err
		}},
		{"DeleteRoom", idA, func() error { _, err := b.DeleteRoom(ctx, &ivschat.DeleteRoomInput{Identifier: roomA.Arn}); return err }},
		{"CreateChatToken", idA, func() error {
			_, err := b.CreateChatToken(ctx, &ivschat.CreateChatTokenInput{RoomIdentifier: roomA.Arn, UserId: aws.String("u")})
			return err
		}},
		{"SendEvent", idA, func() error {
			_, err := b.SendEvent(ctx, &ivschat.SendEventInput{RoomIdentifier: roomA.Arn, EventName: aws.String("e")})
			return err
		}},
		{"DeleteMessage", idA, func() error {
			_, err := b.DeleteMessage(ctx, &ivschat.DeleteMessageInput{RoomIdentifier: roomA.Arn, Id: aws.String("WhO6MW6iRdS5")})
			return err
		}},
		{"DisconnectUser", idA, func() error {
			_, err := b.DisconnectUser(ctx, &ivschat.DisconnectUserInput{RoomIdentifier: roomA.Arn, UserId: aws.String("u")})
			return err
		}},
		{"TagResource on a room", idA, func() error {
			_, err := b.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: roomA.Arn, Tags: map[string]string{"owner": "b"}})
			return err
		}},
		{"UntagResource on a room", idA, func() error {
			_, err := b.UntagResource(ctx, &ivschat.UntagResourceInput{ResourceArn: roomA.Arn, TagKeys: []string{"owner"}})
			return err
		}},
		{"ListTagsForResource on a room", idA, func() error {
			_, err := b.ListTagsForResource(ctx, &ivschat.ListTagsForResourceInput{ResourceArn: roomA.Arn})
			return err
		}},
		{"GetLoggingConfiguration", lcID, func() error {
			_, err := b.GetLoggingConfiguration(ctx, &ivschat.GetLoggingConfigurationInput{Identifier: lcA.Arn})
			return err
		}},
		{"UpdateLoggingConfiguration", lcID, func() error {
			_, err := b.UpdateLoggingConfiguration(ctx, &ivschat.UpdateLoggingConfigurationInput{Identifier: lcA.Arn, Name: aws.String("stolen")})
			return err
		}},
		{"DeleteLoggingConfiguration", lcID, func() error {
			_, err := b.DeleteLoggingConfiguration(ctx, &ivschat.DeleteLoggingConfigurationInput{Identifier: lcA.Arn})
			return err
		}},
		{"TagResource on a logging configuration", lcID, func() error {
			_, err := b.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: lcA.Arn, Tags: map[string]string{"owner": "b"}})
			return err
		}},
		{"CreateRoom using A's logging configuration", lcID, func() error {
			_, err := b.CreateRoom(ctx, &ivschat.CreateRoomInput{LoggingConfigurationIdentifiers: []string{aws.ToString(lcA.Arn)}})
			return err
		}},
		{"UpdateRoom of B's room to use A's logging configuration", lcID, func() error {
			_, err := b.UpdateRoom(ctx, &ivschat.UpdateRoomInput{Identifier: roomB.Arn, LoggingConfigurationIdentifiers: []string{aws.ToString(lcA.Arn)}})
			return err
		}},
		{"ListRooms filtered on A's logging configuration", lcID, func() error {
			_, err := b.ListRooms(ctx, &ivschat.ListRoomsInput{LoggingConfigurationIdentifier: lcA.Arn})
			return err
		}},
	} {
		t.Run("B's "+tc.rule+" on A's resource is ResourceNotFound", func(t *testing.T) { wantNotFound(t, tc.call(), tc.id) })
	}

	t.Run("B lists only its own rooms and logging configurations", func(t *testing.T) {
		rooms, err := b.ListRooms(ctx, &ivschat.ListRoomsInput{})
		mustNoErr(t, err)
		if len(rooms.Rooms) != 1 || aws.ToString(rooms.Rooms[0].Id) != aws.ToString(roomB.Id) {
			t.Fatalf("B lists %+v", rooms.Rooms)
		}
		byName, err := b.ListRooms(ctx, &ivschat.ListRoomsInput{Name: aws.String("a-room")})
		mustNoErr(t, err)
		if len(byName.Rooms) != 0 {
			t.Fatalf("B finds A's room by name: %+v", byName.Rooms)
		}
		lcs, err := b.ListLoggingConfigurations(ctx, &ivschat.ListLoggingConfigurationsInput{})
		mustNoErr(t, err)
		if len(lcs.LoggingConfigurations) != 0 {
			t.Fatalf("B lists %+v", lcs.LoggingConfigurations)
		}
	})

	t.Run("nothing B tried changed A's resources", func(t *testing.T) {
		if after := snapshot(t, a, aws.ToString(roomA.Arn), aws.ToString(lcA.Arn)); after != before {
			t.Fatalf("state changed:\nbefore %s\nafter  %s", before, after)
		}
	})

	t.Run("quotas count per account", func(t *testing.T) {
		newRoom(t, a, nil)
		_, err := a.CreateRoom(ctx, &ivschat.CreateRoomInput{})
		q := as[*types.ServiceQuotaExceededException](t, err)
		if httpStatus(err) != http.StatusPaymentRequired || q.Limit != 2 {
			t.Fatalf("status %d, %+v", httpStatus(err), q)
		}
		newRoom(t, b, nil)
	})
}
