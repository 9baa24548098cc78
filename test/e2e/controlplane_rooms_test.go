package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"
)

const (
	lambdaA = "arn:aws:lambda:us-east-1:123456789012:function:review-a"
	lambdaB = "arn:aws:lambda:us-east-1:123456789012:function:review-b"
)

func TestRoomLifecycle(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	ctx := context.Background()

	t.Run("CreateRoom returns a 12-character id and an ARN of the caller's account and the server's region", func(t *testing.T) {
		r := newRoom(t, c, nil)
		if !isID(aws.ToString(r.Id)) {
			t.Fatalf("id %q", aws.ToString(r.Id))
		}
		want := "arn:aws:ivschat:us-east-1:" + defaultAccount + ":room/" + aws.ToString(r.Id)
		if aws.ToString(r.Arn) != want {
			t.Fatalf("arn %q, want %q", aws.ToString(r.Arn), want)
		}
	})

	t.Run("CreateRoom applies the defaults: rate 10, length 500, no handler, no tags, no logging configurations", func(t *testing.T) {
		r := newRoom(t, c, nil)
		if aws.ToInt32(r.MaximumMessageRatePerSecond) != 10 || aws.ToInt32(r.MaximumMessageLength) != 500 {
			t.Fatalf("rate %d length %d", aws.ToInt32(r.MaximumMessageRatePerSecond), aws.ToInt32(r.MaximumMessageLength))
		}
		if r.MessageReviewHandler != nil && aws.ToString(r.MessageReviewHandler.Uri) != "" {
			t.Fatalf("handler %+v", r.MessageReviewHandler)
		}
		if r.Tags == nil || len(r.Tags) != 0 {
			t.Fatalf("tags %#v, want an empty map", r.Tags)
		}
		if len(r.LoggingConfigurationIdentifiers) != 0 {
			t.Fatalf("logging configurations %v", r.LoggingConfigurationIdentifiers)
		}
		g := getRoom(t, c, r.Arn)
		if aws.ToInt32(g.MaximumMessageRatePerSecond) != 10 || aws.ToInt32(g.MaximumMessageLength) != 500 {
			t.Fatalf("GetRoom rate %d length %d", aws.ToInt32(g.MaximumMessageRatePerSecond), aws.ToInt32(g.MaximumMessageLength))
		}
	})

	t.Run("a handler given without fallbackResult gets ALLOW", func(t *testing.T) {
		r := newRoom(t, c, &ivschat.CreateRoomInput{MessageReviewHandler: &types.MessageReviewHandler{Uri: aws.String(lambdaA)}})
		if r.MessageReviewHandler == nil || aws.ToString(r.MessageReviewHandler.Uri) != lambdaA || r.MessageReviewHandler.FallbackResult != types.FallbackResultAllow {
			t.Fatalf("handler %+v", r.MessageReviewHandler)
		}
	})

	t.Run("a handler with an empty uri is stored as given and reviews nothing (documented decision)", func(t *testing.T) {
		r := newRoom(t, c, &ivschat.CreateRoomInput{MessageReviewHandler: &types.MessageReviewHandler{Uri: aws.String("")}})
		for _, h := range []*types.MessageReviewHandler{r.MessageReviewHandler, getRoom(t, c, r.Arn).MessageReviewHandler} {
			if h == nil || aws.ToString(h.Uri) != "" || h.FallbackResult != types.FallbackResultAllow {
				t.Fatalf("handler %+v, want uri \"\" and fallbackResult ALLOW", h)
			}
		}
	})

	t.Run("CreateRoom stores and returns every member given", func(t *testing.T) {
		lc := newLoggingConfiguration(t, c, "for-create")
		in := &ivschat.CreateRoomInput{
			Name:                            aws.String("Room_1-a"),
			MaximumMessageRatePerSecond:     aws.Int32(100),
			MaximumMessageLength:            aws.Int32(1),
			MessageReviewHandler:            &types.MessageReviewHandler{Uri: aws.String(lambdaA), FallbackResult: types.FallbackResultDeny},
			Tags:                            map[string]string{"team": "chat", "empty": ""},
			LoggingConfigurationIdentifiers: []string{aws.ToString(lc.Arn)},
		}
		r := newRoom(t, c, in)
		for _, got := range []room{fromCreate(r), fromGet(getRoom(t, c, r.Arn))} {
			if got.name != "Room_1-a" || got.rate != 100 || got.length != 1 {
				t.Fatalf("%s: name %q rate %d length %d", got.op, got.name, got.rate, got.length)
			}
			if got.handler == nil || aws.ToString(got.handler.Uri) != lambdaA || got.handler.FallbackResult != types.FallbackResultDeny {
				t.Fatalf("%s: handler %+v", got.op, got.handler)
			}
			if len(got.tags) != 2 || got.tags["team"] != "chat" || got.tags["empty"] != "" {
				t.Fatalf("%s: tags %v", got.op, got.tags)
			}
			if !slices.Equal(got.lcs, []string{aws.ToString(lc.Arn)}) {
				t.Fatalf("%s: logging configurations %v", got.op, got.lcs)
			}
			if !got.createTime.Equal(got.updateTime) {
				t.Fatalf("%s: createTime %v updateTime %v, want equal on create", got.op, got.createTime, got.updateTime)
			}
			if d := time.Since(got.createTime); d < 0 || d > time.Minute {
				t.Fatalf("%s: createTime %v is not now", got.op, got.createTime)
			}
			if got.createTime.Nanosecond()%int(time.Millisecond) != 0 {
				t.Fatalf("%s: createTime %v has more than millisecond precision", got.op, got.createTime)
			}
		}
	})

	t.Run("GetRoom returns what CreateRoom returned", func(t *testing.T) {
		r := newRoom(t, c, &ivschat.CreateRoomInput{Name: aws.String("same")})
		g := getRoom(t, c, r.Arn)
		if aws.ToString(g.Arn) != aws.ToString(r.Arn) || aws.ToString(g.Id) != aws.ToString(r.Id) || aws.ToString(g.Name) != "same" ||
			!g.CreateTime.Equal(*r.CreateTime) || !g.UpdateTime.Equal(*r.UpdateTime) {
			t.Fatalf("GetRoom %+v, CreateRoom %+v", g, r)
		}
	})

	t.Run("DeleteRoom removes the room; GetRoom, UpdateRoom and DeleteRoom then answer ResourceNotFound", func(t *testing.T) {
		r := newRoom(t, c, nil)
		_, err := c.DeleteRoom(ctx, &ivschat.DeleteRoomInput{Identifier: r.Arn})
		mustNoErr(t, err)
		_, err = c.GetRoom(ctx, &ivschat.GetRoomInput{Identifier: r.Arn})
		wantNotFound(t, err, aws.ToString(r.Id))
		_, err = c.UpdateRoom(ctx, &ivschat.UpdateRoomInput{Identifier: r.Arn, Name: aws.String("x")})
		wantNotFound(t, err, aws.ToString(r.Id))
		_, err = c.DeleteRoom(ctx, &ivschat.DeleteRoomInput{Identifier: r.Arn})
		wantNotFound(t, err, aws.ToString(r.Id))
		list, err := c.ListRooms(ctx, &ivschat.ListRoomsInput{})
		mustNoErr(t, err)
		for _, s := range list.Rooms {
			if aws.ToString(s.Id) == aws.ToString(r.Id) {
				t.Fatal("deleted room still listed")
			}
		}
	})
}

func TestUpdateRoomIsPartial(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	ctx := context.Background()
	lc1 := aws.ToString(newLoggingConfiguration(t, c, "one").Arn)
	lc2 := aws.ToString(newLoggingConfiguration(t, c, "two").Arn)
	r := newRoom(t, c, &ivschat.CreateRoomInput{
		Name:                            aws.String("original"),
		MaximumMessageRatePerSecond:     aws.Int32(20),
		MaximumMessageLength:            aws.Int32(100),
		MessageReviewHandler:            &types.MessageReviewHandler{Uri: aws.String(lambdaA), FallbackResult: types.FallbackResultDeny},
		Tags:                            map[string]string{"k": "v"},
		LoggingConfigurationIdentifiers: []string{lc1},
	})
	createTime := *r.CreateTime
	last := *r.UpdateTime

	// state is what the room is expected to hold after each step.
	type state struct {
		name         string
		rate, length int32
		handler      *types.MessageReviewHandler // nil: no handler
		lcs          []string
	}
	want := state{"original", 20, 100, &types.MessageReviewHandler{Uri: aws.String(lambdaA), FallbackResult: types.FallbackResultDeny}, []string{lc1}}
	check := func(t *testing.T, got room) {
		t.Helper()
		if got.name != want.name || got.rate != want.rate || got.length != want.length {
			t.Fatalf("%s: name %q rate %d length %d, want %+v", got.op, got.name, got.rate, got.length, want)
		}
		if want.handler == nil {
			if got.handler != nil && aws.ToString(got.handler.Uri) != "" {
				t.Fatalf("%s: handler %+v, want none", got.op, got.handler)
			}
		} else if got.handler == nil || aws.ToString(got.handler.Uri) != aws.ToString(want.handler.Uri) || got.handler.FallbackResult != want.handler.FallbackResult {
			t.Fatalf("%s: handler %+v, want %+v", got.op, got.handler, want.handler)
		}
		if !slices.Equal(got.lcs, want.lcs) && !(len(got.lcs) == 0 && len(want.lcs) == 0) {
			t.Fatalf("%s: logging configurations %v, want %v", got.op, got.lcs, want.lcs)
		}
		if len(got.tags) != 1 || got.tags["k"] != "v" {
			t.Fatalf("%s: tags %v, want UpdateRoom to leave them", got.op, got.tags)
		}
		if !got.createTime.Equal(createTime) {
			t.Fatalf("%s: createTime changed from %v to %v", got.op, createTime, got.createTime)
		}
	}

	for _, step := range []struct {
		rule   string
		in     ivschat.UpdateRoomInput
		change func()
	}{
		{"an absent member stays: only the name changes", ivschat.UpdateRoomInput{Name: aws.String("renamed")},
			func() { want.name = "renamed" }},
		{"rate and length change alone", ivschat.UpdateRoomInput{MaximumMessageRatePerSecond: aws.Int32(1), MaximumMessageLength: aws.Int32(500)},
			func() { want.rate, want.length = 1, 500 }},
		{"an empty update changes nothing but updateTime", ivschat.UpdateRoomInput{}, func() {}},
		{"messageReviewHandler with only fallbackResult keeps the uri", ivschat.UpdateRoomInput{MessageReviewHandler: &types.MessageReviewHandler{FallbackResult: types.FallbackResultAllow}},
			func() {
				want.handler = &types.MessageReviewHandler{Uri: aws.String(lambdaA), FallbackResult: types.FallbackResultAllow}
			}},
		{"messageReviewHandler with only a uri keeps the fallbackResult", ivschat.UpdateRoomInput{MessageReviewHandler: &types.MessageReviewHandler{Uri: aws.String(lambdaB)}},
			func() {
				want.handler = &types.MessageReviewHandler{Uri: aws.String(lambdaB), FallbackResult: types.FallbackResultAllow}
			}},
		{"loggingConfigurationIdentifiers replaces the whole list", ivschat.UpdateRoomInput{LoggingConfigurationIdentifiers: []string{lc2, lc1}},
			func() { want.lcs = []string{lc2, lc1} }},
		{"an absent loggingConfigurationIdentifiers keeps the list", ivschat.UpdateRoomInput{Name: aws.String("again")},
			func() { want.name = "again" }},
		{"messageReviewHandler.uri empty removes the handler", ivschat.UpdateRoomInput{MessageReviewHandler: &types.MessageReviewHandler{Uri: aws.String("")}},
			func() { want.handler = nil }},
		{"loggingConfigurationIdentifiers [] clears the list", ivschat.UpdateRoomInput{LoggingConfigurationIdentifiers: []string{}},
			func() { want.lcs = nil }},
		{"a name may be set to empty", ivschat.UpdateRoomInput{Name: aws.String("")},
			func() { want.name = "" }},
		{"a handler can be added again after removal", ivschat.UpdateRoomInput{MessageReviewHandler: &types.MessageReviewHandler{Uri: aws.String(lambdaA)}},
			func() {
				want.handler = &types.MessageReviewHandler{Uri: aws.String(lambdaA), FallbackResult: types.FallbackResultAllow}
			}},
	} {
		t.Run(step.rule, func(t *testing.T) {
			in := step.in
			in.Identifier = r.Arn
			out, err := c.UpdateRoom(ctx, &in)
			mustNoErr(t, err)
			step.change()
			check(t, fromUpdate(out))
			if !out.UpdateTime.After(last) {
				t.Fatalf("updateTime %v did not increase from %v", out.UpdateTime, last)
			}
			last = *out.UpdateTime
			g := getRoom(t, c, r.Arn)
			check(t, fromGet(g))
			if !g.UpdateTime.Equal(last) {
				t.Fatalf("GetRoom updateTime %v, UpdateRoom said %v", g.UpdateTime, last)
			}
		})
	}

	t.Run("a failed update changes nothing", func(t *testing.T) {
		before := getRoom(t, c, r.Arn)
		_, err := c.UpdateRoom(ctx, &ivschat.UpdateRoomInput{Identifier: r.Arn, Name: aws.String("never"), MaximumMessageLength: aws.Int32(501)})
		wantValidation(t, err, "maximumMessageLength")
		_, err = c.UpdateRoom(ctx, &ivschat.UpdateRoomInput{Identifier: r.Arn, Name: aws.String("never"),
			LoggingConfigurationIdentifiers: []string{"arn:aws:ivschat:us-east-1:" + defaultAccount + ":logging-configuration/AAAAAAAAAAAA"}})
		wantNotFound(t, err, "AAAAAAAAAAAA")
		after := getRoom(t, c, r.Arn)
		if aws.ToString(after.Name) != aws.ToString(before.Name) || !after.UpdateTime.Equal(*before.UpdateTime) {
			t.Fatalf("room changed: before %+v after %+v", before, after)
		}
	})
}

func TestListRoomsOrderAndFilters(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	ctx := context.Background()
	lc1 := aws.ToString(newLoggingConfiguration(t, c, "one").Arn)
	lc2 := aws.ToString(newLoggingConfiguration(t, c, "two").Arn)

	// Rooms are made a few milliseconds apart so that their update times differ.
	make := func(in *ivschat.CreateRoomInput) string {
		time.Sleep(3 * time.Millisecond)
		return aws.ToString(newRoom(t, c, in).Id)
	}
	alpha1 := make(&ivschat.CreateRoomInput{Name: aws.String("alpha"), MessageReviewHandler: &types.MessageReviewHandler{Uri: aws.String(lambdaA)}, LoggingConfigurationIdentifiers: []string{lc1}})
	alpha2 := make(&ivschat.CreateRoomInput{Name: aws.String("alpha"), LoggingConfigurationIdentifiers: []string{lc1, lc2}})
	beta := make(&ivschat.CreateRoomInput{Name: aws.String("beta"), MessageReviewHandler: &types.MessageReviewHandler{Uri: aws.String(lambdaA)}})
	alphabet := make(&ivschat.CreateRoomInput{Name: aws.String("alphabet"), MessageReviewHandler: &types.MessageReviewHandler{Uri: aws.String(lambdaB)}, LoggingConfigurationIdentifiers: []string{lc2}})
	unnamed := make(nil)

	list := func(t *testing.T, in *ivschat.ListRoomsInput) []string {
		t.Helper()
		out, err := c.ListRooms(ctx, in)
		mustNoErr(t, err)
		if out.NextToken != nil {
			t.Fatalf("nextToken %q on a single page", aws.ToString(out.NextToken))
		}
		var ids []string
		for i, r := range out.Rooms {
			ids = append(ids, aws.ToString(r.Id))
			if i > 0 && r.UpdateTime.After(*out.Rooms[i-1].UpdateTime) {
				t.Fatalf("rooms not sorted by updateTime descending: %v after %v", r.UpdateTime, out.Rooms[i-1].UpdateTime)
			}
		}
		return ids
	}

	t.Run("rooms are sorted by updateTime, newest first", func(t *testing.T) {
		if got, want := list(t, &ivschat.ListRoomsInput{}), []string{unnamed, alphabet, beta, alpha2, alpha1}; !slices.Equal(got, want) {
			t.Fatalf("order %v, want %v", got, want)
		}
	})

	t.Run("an updated room moves to the front", func(t *testing.T) {
		time.Sleep(3 * time.Millisecond)
		_, err := c.UpdateRoom(ctx, &ivschat.UpdateRoomInput{Identifier: aws.String(arnOfRoom(alpha1)), MaximumMessageLength: aws.Int32(42)})
		mustNoErr(t, err)
		if got, want := list(t, &ivschat.ListRoomsInput{}), []string{alpha1, unnamed, alphabet, beta, alpha2}; !slices.Equal(got, want) {
			t.Fatalf("order %v, want %v", got, want)
		}
	})

	t.Run("summaries carry the listed members", func(t *testing.T) {
		out, err := c.ListRooms(ctx, &ivschat.ListRoomsInput{Name: aws.String("alphabet")})
		mustNoErr(t, err)
		s := out.Rooms[0]
		if aws.ToString(s.Arn) != arnOfRoom(alphabet) || aws.ToString(s.Name) != "alphabet" || s.CreateTime == nil || s.UpdateTime == nil ||
			s.MessageReviewHandler == nil || aws.ToString(s.MessageReviewHandler.Uri) != lambdaB || s.MessageReviewHandler.FallbackResult != types.FallbackResultAllow ||
			!slices.Equal(s.LoggingConfigurationIdentifiers, []string{lc2}) || s.Tags == nil {
			t.Fatalf("summary %+v", s)
		}
	})

	for _, tc := range []struct {
		rule string
		in   ivschat.ListRoomsInput
		want []string
	}{
		{"name matches exactly, not as a prefix", ivschat.ListRoomsInput{Name: aws.String("alpha")}, []string{alpha1, alpha2}},
		{"a name no room has lists nothing", ivschat.ListRoomsInput{Name: aws.String("gamma")}, nil},
		{"messageReviewHandlerUri matches the handler's uri", ivschat.ListRoomsInput{MessageReviewHandlerUri: aws.String(lambdaA)}, []string{alpha1, beta}},
		{"loggingConfigurationIdentifier matches rooms that use it", ivschat.ListRoomsInput{LoggingConfigurationIdentifier: aws.String(lc2)}, []string{alphabet, alpha2}},
		{"filters combine with AND", ivschat.ListRoomsInput{Name: aws.String("alpha"), LoggingConfigurationIdentifier: aws.String(lc2)}, []string{alpha2}},
		{"filters combine with AND, handler and configuration", ivschat.ListRoomsInput{MessageReviewHandlerUri: aws.String(lambdaA), LoggingConfigurationIdentifier: aws.String(lc1)}, []string{alpha1}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			in := tc.in
			if got := list(t, &in); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("a loggingConfigurationIdentifier filter naming no configuration is ResourceNotFound", func(t *testing.T) {
		_, err := c.ListRooms(ctx, &ivschat.ListRoomsInput{LoggingConfigurationIdentifier: aws.String(arnOfLC("AAAAAAAAAAAA"))})
		wantNotFound(t, err, "AAAAAAAAAAAA")
	})

	t.Run("invalid filters are a ValidationException naming them", func(t *testing.T) {
		_, err := c.ListRooms(ctx, &ivschat.ListRoomsInput{Name: aws.String("no spaces"), MessageReviewHandlerUri: aws.String("https://example.com"),
			LoggingConfigurationIdentifier: aws.String(arnOfRoom(alpha1))})
		wantValidation(t, err, "name", "messageReviewHandlerUri", "loggingConfigurationIdentifier")
	})
}

// room is the members that CreateRoom, GetRoom and UpdateRoom all return, so one check
// covers the three.
type room struct {
	op                     string
	name                   string
	rate, length           int32
	handler                *types.MessageReviewHandler
	tags                   map[string]string
	lcs                    []string
	createTime, updateTime time.Time
}

func fromCreate(o *ivschat.CreateRoomOutput) room {
	return room{"CreateRoom", aws.ToString(o.Name), aws.ToInt32(o.MaximumMessageRatePerSecond), aws.ToInt32(o.MaximumMessageLength),
		o.MessageReviewHandler, o.Tags, o.LoggingConfigurationIdentifiers, aws.ToTime(o.CreateTime), aws.ToTime(o.UpdateTime)}
}

func fromGet(o *ivschat.GetRoomOutput) room {
	return room{"GetRoom", aws.ToString(o.Name), aws.ToInt32(o.MaximumMessageRatePerSecond), aws.ToInt32(o.MaximumMessageLength),
		o.MessageReviewHandler, o.Tags, o.LoggingConfigurationIdentifiers, aws.ToTime(o.CreateTime), aws.ToTime(o.UpdateTime)}
}

func fromUpdate(o *ivschat.UpdateRoomOutput) room {
	return room{"UpdateRoom", aws.ToString(o.Name), aws.ToInt32(o.MaximumMessageRatePerSecond), aws.ToInt32(o.MaximumMessageLength),
		o.MessageReviewHandler, o.Tags, o.LoggingConfigurationIdentifiers, aws.ToTime(o.CreateTime), aws.ToTime(o.UpdateTime)}
}

func arnOfRoom(id string) string {
	return "arn:aws:ivschat:us-east-1:" + defaultAccount + ":room/" + id
}
func arnOfLC(id string) string {
	return "arn:aws:ivschat:us-east-1:" + defaultAccount + ":logging-configuration/" + id
}

func TestListRoomsPagination(t *testing.T) {
	const (
		keyA, secretA = "AKIDACCOUNTA", "secret-a"
		keyB, secretB = "AKIDACCOUNTB", "secret-b"
	)
	srv := startServer(t, withPrincipals(t,
		testPrincipal{AccessKeyID: keyA, SecretAccessKey: secretA, AccountID: "111111111111"},
		testPrincipal{AccessKeyID: keyB, SecretAccessKey: secretB, AccountID: "222222222222"}))
	a, b := client(srv, keyA, secretA), client(srv, keyB, secretB)
	ctx := context.Background()
	var all []string
	for i := range 7 {
		all = append(all, aws.ToString(newRoom(t, a, &ivschat.CreateRoomInput{Name: aws.String(fmt.Sprintf("r%d", i))}).Id))
		newRoom(t, b, nil)
	}
	whole, err := a.ListRooms(ctx, &ivschat.ListRoomsInput{})
	mustNoErr(t, err)
	var order []string
	for _, r := range whole.Rooms {
		order = append(order, aws.ToString(r.Id))
	}
	if len(order) != 7 || whole.NextToken != nil {
		t.Fatalf("one page of %d rooms, nextToken %v; want all 7 and no token", len(order), whole.NextToken)
	}

	t.Run("the paginator walks every room once, in order, in pages of maxResults; the last page has no nextToken", func(t *testing.T) {
		p := ivschat.NewListRoomsPaginator(a, &ivschat.ListRoomsInput{MaxResults: aws.Int32(3)})
		var got []string
		var sizes []int
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			mustNoErr(t, err)
			sizes = append(sizes, len(page.Rooms))
			for _, r := range page.Rooms {
				got = append(got, aws.ToString(r.Id))
			}
			if len(got) < 7 && (page.NextToken == nil || *page.NextToken == "") {
				t.Fatalf("page ends at %d of 7 rooms without a nextToken", len(got))
			}
			if len(got) == 7 && page.NextToken != nil {
				t.Fatalf("last page has nextToken %q", *page.NextToken)
			}
		}
		if !slices.Equal(sizes, []int{3, 3, 1}) || !slices.Equal(got, order) {
			t.Fatalf("pages %v of %v, want [3 3 1] of %v", sizes, got, order)
		}
		sorted := slices.Clone(got)
		slices.Sort(sorted)
		all := slices.Clone(all)
		slices.Sort(all)
		if !slices.Equal(sorted, all) {
			t.Fatalf("walked %v, created %v", sorted, all)
		}
	})

	t.Run("a page that ends exactly at the last room has no nextToken", func(t *testing.T) {
		out, err := a.ListRooms(ctx, &ivschat.ListRoomsInput{MaxResults: aws.Int32(7)})
		mustNoErr(t, err)
		if len(out.Rooms) != 7 || out.NextToken != nil {
			t.Fatalf("%d rooms, nextToken %v", len(out.Rooms), out.NextToken)
		}
	})

	first, err := a.ListRooms(ctx, &ivschat.ListRoomsInput{MaxResults: aws.Int32(2)})
	mustNoErr(t, err)
	token := aws.ToString(first.NextToken)
	if token == "" {
		t.Fatal("no nextToken after the first of several pages")
	}

	t.Run("an empty nextToken asks for the first page", func(t *testing.T) {
		out, err := a.ListRooms(ctx, &ivschat.ListRoomsInput{MaxResults: aws.Int32(2), NextToken: aws.String("")})
		mustNoErr(t, err)
		if len(out.Rooms) != 2 || aws.ToString(out.Rooms[0].Id) != order[0] {
			t.Fatalf("got %d rooms starting at %s, want the first page", len(out.Rooms), aws.ToString(out.Rooms[0].Id))
		}
	})

	t.Run("a nextToken may be reused", func(t *testing.T) {
		for range 2 {
			out, err := a.ListRooms(ctx, &ivschat.ListRoomsInput{MaxResults: aws.Int32(2), NextToken: aws.String(token)})
			mustNoErr(t, err)
			if aws.ToString(out.Rooms[0].Id) != order[2] {
				t.Fatalf("second page starts at %s, want %s", aws.ToString(out.Rooms[0].Id), order[2])
			}
		}
	})

	tampered := []byte(token)
	tampered[len(tampered)/2] ^= 0x01
	if tampered[len(tampered)/2] == '-' || tampered[len(tampered)/2] == '_' {
		tampered[len(tampered)/2] = 'A'
	}
	for _, tc := range []struct {
		rule  string
		call  func() error
		field string
	}{
		{"a tampered nextToken is a ValidationException", func() error {
			_, err := a.ListRooms(ctx, &ivschat.ListRoomsInput{NextToken: aws.String(string(tampered))})
			return err
		}, "nextToken"},
		{"a nextToken that is not base64 is a ValidationException", func() error {
			_, err := a.ListRooms(ctx, &ivschat.ListRoomsInput{NextToken: aws.String("not a token!")})
			return err
		}, "nextToken"},
		{"a nextToken over 1024 characters is a ValidationException", func() error {
			_, err := a.ListRooms(ctx, &ivschat.ListRoomsInput{NextToken: aws.String(strings.Repeat("A", 1025))})
			return err
		}, "nextToken"},
		{"account A's nextToken used by account B is a ValidationException", func() error {
			_, err := b.ListRooms(ctx, &ivschat.ListRoomsInput{NextToken: aws.String(token)})
			return err
		}, "nextToken"},
		{"a ListRooms nextToken used for ListLoggingConfigurations is a ValidationException", func() error {
			_, err := a.ListLoggingConfigurations(ctx, &ivschat.ListLoggingConfigurationsInput{NextToken: aws.String(token)})
			return err
		}, "nextToken"},
		{"maxResults 0 is a ValidationException", func() error {
			_, err := a.ListRooms(ctx, &ivschat.ListRoomsInput{MaxResults: aws.Int32(0)})
			return err
		}, "maxResults"},
		{"maxResults 51 is a ValidationException", func() error {
			_, err := a.ListRooms(ctx, &ivschat.ListRoomsInput{MaxResults: aws.Int32(51)})
			return err
		}, "maxResults"},
	} {
		t.Run(tc.rule, func(t *testing.T) { wantValidation(t, tc.call(), tc.field) })
	}
}

func TestListRoomsMaxResultsDefaultsTo50(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	for range 51 {
		newRoom(t, c, nil)
	}
	out, err := c.ListRooms(context.Background(), &ivschat.ListRoomsInput{})
	mustNoErr(t, err)
	if len(out.Rooms) != 50 || out.NextToken == nil {
		t.Fatalf("%d rooms, nextToken %v; want 50 and a token", len(out.Rooms), out.NextToken)
	}
	rest, err := c.ListRooms(context.Background(), &ivschat.ListRoomsInput{NextToken: out.NextToken})
	mustNoErr(t, err)
	if len(rest.Rooms) != 1 || rest.NextToken != nil {
		t.Fatalf("second page: %d rooms, nextToken %v", len(rest.Rooms), rest.NextToken)
	}
}
