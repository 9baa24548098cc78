package e2e

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
)

// The ivschatd: tags are set and refused through the unchanged AWS SDK.
func TestExtensionTags(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	ctx := context.Background()

	t.Run("CreateRoom with a bad ivschatd tag is a ValidationException naming the tag and the rule", func(t *testing.T) {
		_, err := c.CreateRoom(ctx, &ivschat.CreateRoomInput{Tags: map[string]string{"ivschatd:history": "5000"}})
		ve := wantValidation(t, err, "tags.ivschatd:history")
		if msg := aws.ToString(ve.Message); !strings.Contains(msg, "from 1 to 1000") {
			t.Fatalf("message %q does not give the rule", msg)
		}
	})
	t.Run("CreateRoom with replay but no history is a ValidationException", func(t *testing.T) {
		_, err := c.CreateRoom(ctx, &ivschat.CreateRoomInput{Tags: map[string]string{"ivschatd:replay": "5"}})
		wantValidation(t, err, "tags.ivschatd:replay")
	})
	t.Run("CreateRoom with every extension keeps the tags as given", func(t *testing.T) {
		tags := map[string]string{"ivschatd:history": "100", "ivschatd:replay": "50", "ivschatd:user-rate": "2/10",
			"ivschatd:presence-events": "true", "team": "blue"}
		room := newRoom(t, c, &ivschat.CreateRoomInput{Tags: tags})
		if got := getRoom(t, c, room.Arn).Tags; !maps.Equal(got, tags) {
			t.Fatalf("tags %v, want %v", got, tags)
		}
	})
	t.Run("TagResource with a bad ivschatd tag is a ValidationException and changes nothing", func(t *testing.T) {
		room := newRoom(t, c, &ivschat.CreateRoomInput{Tags: map[string]string{"ivschatd:history": "10"}})
		_, err := c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: room.Arn,
			Tags: map[string]string{"ivschatd:user-rate": "5 per minute", "team": "blue"}})
		wantValidation(t, err, "tags.ivschatd:user-rate")
		_, err = c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: room.Arn, Tags: map[string]string{"ivschatd:replay": "11"}})
		wantValidation(t, err, "tags.ivschatd:replay")
		if got := getRoom(t, c, room.Arn).Tags; !maps.Equal(got, map[string]string{"ivschatd:history": "10"}) {
			t.Fatalf("a refused TagResource changed the tags to %v", got)
		}
	})
	t.Run("a logging configuration's tags are not room settings", func(t *testing.T) {
		lc := newLoggingConfiguration(t, c, "plain")
		_, err := c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: lc.Arn, Tags: map[string]string{"ivschatd:history": "many"}})
		mustNoErr(t, err)
	})
	t.Run("UntagResource of history leaves replay in place, switched off", func(t *testing.T) {
		room := newRoom(t, c, &ivschat.CreateRoomInput{Tags: map[string]string{"ivschatd:history": "10", "ivschatd:replay": "5"}})
		_, err := c.UntagResource(ctx, &ivschat.UntagResourceInput{ResourceArn: room.Arn, TagKeys: []string{"ivschatd:history"}})
		mustNoErr(t, err)
		if got := getRoom(t, c, room.Arn).Tags; !maps.Equal(got, map[string]string{"ivschatd:replay": "5"}) {
			t.Fatalf("tags %v", got)
		}
	})
}
