package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"

	"github.com/ivschatd/ivschatd/internal/server"
)

// parallel runs f(i) for i in [0, n) at once and returns their errors.
func parallel(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = f(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

func TestConcurrentWrites(t *testing.T) {
	srv := startServer(t, func(cfg *server.Config) { cfg.MaxRooms = 8; cfg.MaxLoggingConfigurations = 3 })
	c := devClient(srv)
	ctx := context.Background()
	room := newRoom(t, c, nil)

	t.Run("concurrent TagResource calls on one room all take effect", func(t *testing.T) {
		errs := parallel(20, func(i int) error {
			_, err := c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: room.Arn, Tags: map[string]string{fmt.Sprintf("key %02d", i): "v"}})
			return err
		})
		for _, err := range errs {
			mustNoErr(t, err)
		}
		out, err := c.ListTagsForResource(ctx, &ivschat.ListTagsForResourceInput{ResourceArn: room.Arn})
		mustNoErr(t, err)
		if len(out.Tags) != 20 {
			t.Fatalf("%d tags, want 20: %v", len(out.Tags), out.Tags)
		}
	})

	t.Run("concurrent UpdateRoom and TagResource calls do not undo each other", func(t *testing.T) {
		errs := parallel(20, func(i int) error {
			if i%2 == 0 {
				_, err := c.UpdateRoom(ctx, &ivschat.UpdateRoomInput{Identifier: room.Arn, MaximumMessageLength: aws.Int32(int32(100 + i))})
				return err
			}
			_, err := c.UntagResource(ctx, &ivschat.UntagResourceInput{ResourceArn: room.Arn, TagKeys: []string{fmt.Sprintf("key %02d", i)}})
			return err
		})
		for _, err := range errs {
			mustNoErr(t, err)
		}
		g := getRoom(t, c, room.Arn)
		if len(g.Tags) != 10 {
			t.Fatalf("%d tags, want the 10 even keys left: %v", len(g.Tags), g.Tags)
		}
		for k := range g.Tags {
			var n int
			if _, err := fmt.Sscanf(k, "key %d", &n); err != nil || n%2 != 0 {
				t.Fatalf("tag %q should have been removed", k)
			}
		}
	})

	t.Run("concurrent CreateRoom calls stop at the quota", func(t *testing.T) {
		errs := parallel(20, func(int) error {
			_, err := c.CreateRoom(ctx, &ivschat.CreateRoomInput{})
			return err
		})
		created := 0
		for _, err := range errs {
			if err == nil {
				created++
				continue
			}
			q := as[*types.ServiceQuotaExceededException](t, err)
			if httpStatus(err) != http.StatusPaymentRequired || q.Limit != 8 {
				t.Fatalf("status %d, %+v", httpStatus(err), q)
			}
		}
		out, err := c.ListRooms(ctx, &ivschat.ListRoomsInput{})
		mustNoErr(t, err)
		if len(out.Rooms) != 8 || created != 7 {
			t.Fatalf("%d created, %d rooms listed; want 7 created and 8 listed (quota 8)", created, len(out.Rooms))
		}
	})

	t.Run("concurrent CreateLoggingConfiguration calls stop at the quota", func(t *testing.T) {
		errs := parallel(10, func(int) error {
			_, err := c.CreateLoggingConfiguration(ctx, &ivschat.CreateLoggingConfigurationInput{DestinationConfiguration: s3Destination("abc")})
			return err
		})
		created := 0
		for _, err := range errs {
			if err == nil {
				created++
			} else {
				as[*types.ServiceQuotaExceededException](t, err)
			}
		}
		out, err := c.ListLoggingConfigurations(ctx, &ivschat.ListLoggingConfigurationsInput{})
		mustNoErr(t, err)
		if created != 3 || len(out.LoggingConfigurations) != 3 {
			t.Fatalf("%d created, %d listed; want 3 (the quota)", created, len(out.LoggingConfigurations))
		}
	})
}

func TestDeletingALoggingConfigurationWhileRoomsAttachIt(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	ctx := context.Background()
	rooms := make([]*ivschat.CreateRoomOutput, 8)
	for i := range rooms {
		rooms[i] = newRoom(t, c, nil)
	}
	for round := range 10 {
		lc := newLoggingConfiguration(t, c, fmt.Sprint("round-", round))
		// One call deletes the configuration while the others attach it to their rooms:
		// either the delete is refused, or every attach that comes after it is.
		errs := parallel(len(rooms)+1, func(i int) error {
			if i == len(rooms) {
				_, err := c.DeleteLoggingConfiguration(ctx, &ivschat.DeleteLoggingConfigurationInput{Identifier: lc.Arn})
				return err
			}
			_, err := c.UpdateRoom(ctx, &ivschat.UpdateRoomInput{Identifier: rooms[i].Arn, LoggingConfigurationIdentifiers: []string{aws.ToString(lc.Arn)}})
			return err
		})
		deleted := errs[len(rooms)] == nil
		if !deleted {
			as[*types.ConflictException](t, errs[len(rooms)])
		}
		for i, r := range rooms {
			g := getRoom(t, c, r.Arn)
			attached := len(g.LoggingConfigurationIdentifiers) == 1
			if deleted && attached {
				t.Fatalf("round %d: the configuration was deleted and room %d still uses it (attach error %v)", round, i, errs[i])
			}
			if errs[i] != nil {
				wantNotFound(t, errs[i], aws.ToString(lc.Id))
			}
		}
		for _, r := range rooms {
			_, err := c.UpdateRoom(ctx, &ivschat.UpdateRoomInput{Identifier: r.Arn, LoggingConfigurationIdentifiers: []string{}})
			mustNoErr(t, err)
		}
		if !deleted {
			_, err := c.DeleteLoggingConfiguration(ctx, &ivschat.DeleteLoggingConfigurationInput{Identifier: lc.Arn})
			mustNoErr(t, err)
		}
	}
}
