package e2e

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ivschat"
)

func TestCreateAndGetRoomWithTheGoSDK(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	ctx := context.Background()
	created, err := c.CreateRoom(ctx, &ivschat.CreateRoomInput{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetRoom(ctx, &ivschat.GetRoomInput{Identifier: created.Arn})
	if err != nil {
		t.Fatal(err)
	}
	if *got.Id != *created.Id || *got.MaximumMessageLength != 500 || *got.MaximumMessageRatePerSecond != 10 {
		t.Fatalf("got %+v", got)
	}
	tags, err := c.ListTagsForResource(ctx, &ivschat.ListTagsForResourceInput{ResourceArn: created.Arn})
	if err != nil {
		t.Fatal(err)
	}
	if len(tags.Tags) != 0 {
		t.Fatalf("tags %v", tags.Tags)
	}
}
