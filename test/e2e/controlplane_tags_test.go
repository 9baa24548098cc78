package e2e

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
)

// awkwardTags have keys that exercise the query encoding of UntagResource: spaces, non-ASCII,
// and characters reserved in URLs.
var awkwardTags = map[string]string{
	"team name":     "chat ops",
	"ключ":          "значение",
	"emoji 🎉":       "🎈",
	"a/b:c=d&e?f#g": "reserved",
	"100%":          "percent",
	"plus+sign":     "+",
	"~tilde.dot-_":  "unreserved",
	"日本語 キー":        "",
}

func TestTags(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	ctx := context.Background()

	for _, kind := range []struct {
		name string
		make func() string
		// tagsOf reads the tags back through the resource's own Get operation.
		tagsOf func(t *testing.T, arn string) map[string]string
	}{
		{"room", func() string { return aws.ToString(newRoom(t, c, nil).Arn) }, func(t *testing.T, arn string) map[string]string {
			return getRoom(t, c, aws.String(arn)).Tags
		}},
		{"logging configuration", func() string { return aws.ToString(newLoggingConfiguration(t, c, "tagged").Arn) }, func(t *testing.T, arn string) map[string]string {
			out, err := c.GetLoggingConfiguration(ctx, &ivschat.GetLoggingConfigurationInput{Identifier: aws.String(arn)})
			mustNoErr(t, err)
			return out.Tags
		}},
	} {
		arn := kind.make()
		want := map[string]string{}
		check := func(t *testing.T) {
			t.Helper()
			out, err := c.ListTagsForResource(ctx, &ivschat.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
			mustNoErr(t, err)
			if out.Tags == nil || !maps.Equal(out.Tags, want) {
				t.Fatalf("ListTagsForResource %v, want %v", out.Tags, want)
			}
			if got := kind.tagsOf(t, arn); !maps.Equal(got, want) {
				t.Fatalf("tags of the %s %v, want %v", kind.name, got, want)
			}
		}

		t.Run(kind.name+": a new resource has an empty tag map", check)

		t.Run(kind.name+": TagResource adds keys with spaces, unicode and reserved characters", func(t *testing.T) {
			_, err := c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: aws.String(arn), Tags: awkwardTags})
			mustNoErr(t, err)
			maps.Copy(want, awkwardTags)
			check(t)
		})

		t.Run(kind.name+": TagResource overwrites a key and keeps the others", func(t *testing.T) {
			_, err := c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"team name": "new value", "extra": "x"}})
			mustNoErr(t, err)
			want["team name"], want["extra"] = "new value", "x"
			check(t)
		})

		t.Run(kind.name+": UntagResource removes exactly the keys given, however they encode", func(t *testing.T) {
			keys := []string{"team name", "ключ", "a/b:c=d&e?f#g", "100%", "plus+sign", "日本語 キー"}
			_, err := c.UntagResource(ctx, &ivschat.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: keys})
			mustNoErr(t, err)
			for _, k := range keys {
				delete(want, k)
			}
			check(t)
		})

		t.Run(kind.name+": UntagResource of keys that are not set is not an error", func(t *testing.T) {
			_, err := c.UntagResource(ctx, &ivschat.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"never set", "ключ"}})
			mustNoErr(t, err)
			check(t)
		})

		t.Run(kind.name+": UntagResource with an empty list (no tagKeys on the wire) removes nothing", func(t *testing.T) {
			_, err := c.UntagResource(ctx, &ivschat.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{}})
			mustNoErr(t, err)
			check(t)
		})

		t.Run(kind.name+": a key of 128 and a value of 256 characters are accepted", func(t *testing.T) {
			k, v := strings.Repeat("ķ", 128), strings.Repeat("v", 256)
			_, err := c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{k: v}})
			mustNoErr(t, err)
			want[k] = v
			check(t)
			_, err = c.UntagResource(ctx, &ivschat.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{k}})
			mustNoErr(t, err)
			delete(want, k)
			check(t)
		})

		t.Run(kind.name+": 50 tags are accepted, a 51st is a ValidationException and nothing is added", func(t *testing.T) {
			fill := map[string]string{}
			for i := len(want); i < 50; i++ {
				fill[fmt.Sprintf("fill-%02d", i)] = "v"
			}
			_, err := c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: aws.String(arn), Tags: fill})
			mustNoErr(t, err)
			maps.Copy(want, fill)
			_, err = c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"one-too-many": "v", "extra": "changed"}})
			wantValidation(t, err, "tags")
			check(t)
		})
	}

	room := aws.ToString(newRoom(t, c, nil).Arn)
	for _, tc := range []struct {
		rule   string
		call   func() error
		fields []string
	}{
		{"a tag key over 128 characters", func() error {
			_, err := c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: aws.String(room), Tags: map[string]string{strings.Repeat("k", 129): "v"}})
			return err
		}, []string{"tags." + strings.Repeat("k", 129)}},
		{"an empty tag key", func() error {
			_, err := c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: aws.String(room), Tags: map[string]string{"": "v"}})
			return err
		}, []string{"tags."}},
		{"a tag value over 256 characters", func() error {
			_, err := c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: aws.String(room), Tags: map[string]string{"k": strings.Repeat("v", 257)}})
			return err
		}, []string{"tags.k"}},
		{"more than 50 tags in one request", func() error {
			tags := map[string]string{}
			for i := range 51 {
				tags[fmt.Sprint(i)] = ""
			}
			_, err := c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: aws.String(room), Tags: tags})
			return err
		}, []string{"tags"}},
		{"CreateRoom with more than 50 tags", func() error {
			tags := map[string]string{}
			for i := range 51 {
				tags[fmt.Sprint(i)] = ""
			}
			_, err := c.CreateRoom(ctx, &ivschat.CreateRoomInput{Tags: tags})
			return err
		}, []string{"tags"}},
		{"UntagResource with an empty key", func() error {
			_, err := c.UntagResource(ctx, &ivschat.UntagResourceInput{ResourceArn: aws.String(room), TagKeys: []string{""}})
			return err
		}, []string{"tagKeys"}},
		{"an ARN of a resource type that takes no tags", func() error {
			_, err := c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: aws.String("arn:aws:ivschat:us-east-1:" + defaultAccount + ":channel/AAAAAAAAAAAA"), Tags: map[string]string{"k": "v"}})
			return err
		}, []string{"resourceArn"}},
		{"a resourceArn that is not an ARN", func() error {
			_, err := c.ListTagsForResource(ctx, &ivschat.ListTagsForResourceInput{ResourceArn: aws.String("room/AAAAAAAAAAAA")})
			return err
		}, []string{"resourceArn"}},
	} {
		t.Run(tc.rule+" is a ValidationException", func(t *testing.T) { wantValidation(t, tc.call(), tc.fields...) })
	}

	t.Run("a refused TagResource adds nothing", func(t *testing.T) {
		out, err := c.ListTagsForResource(ctx, &ivschat.ListTagsForResourceInput{ResourceArn: aws.String(room)})
		mustNoErr(t, err)
		if len(out.Tags) != 0 {
			t.Fatalf("tags %v", out.Tags)
		}
	})

	for _, arn := range []string{arnOfRoom("AAAAAAAAAAAA"), arnOfLC("AAAAAAAAAAAA")} {
		t.Run("tag operations on a missing "+arn[strings.LastIndex(arn, ":")+1:strings.LastIndex(arn, "/")]+" are ResourceNotFound", func(t *testing.T) {
			_, err := c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"k": "v"}})
			wantNotFound(t, err, "AAAAAAAAAAAA")
			_, err = c.UntagResource(ctx, &ivschat.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"k"}})
			wantNotFound(t, err, "AAAAAAAAAAAA")
			_, err = c.ListTagsForResource(ctx, &ivschat.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
			wantNotFound(t, err, "AAAAAAAAAAAA")
		})
	}

	t.Run("ListRooms summaries carry the current tags", func(t *testing.T) {
		r := newRoom(t, c, &ivschat.CreateRoomInput{Name: aws.String("listed-tags"), Tags: map[string]string{"a b": "1"}})
		_, err := c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: r.Arn, Tags: map[string]string{"ключ": "2"}})
		mustNoErr(t, err)
		out, err := c.ListRooms(ctx, &ivschat.ListRoomsInput{Name: aws.String("listed-tags")})
		mustNoErr(t, err)
		if len(out.Rooms) != 1 || !maps.Equal(out.Rooms[0].Tags, map[string]string{"a b": "1", "ключ": "2"}) {
			t.Fatalf("rooms %+v", out.Rooms)
		}
	})
}
