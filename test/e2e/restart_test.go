package e2e

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"

	"github.com/ivschatd/ivschatd/internal/api"
	"github.com/ivschatd/ivschatd/internal/server"
	"github.com/ivschatd/ivschatd/test/sdkclient"
)

// clientAt is the Go SDK client for a server known only by its URL.
func clientAt(url string) *ivschat.Client {
	return sdkclient.IVSChat(url, "us-east-1", api.DevAccessKeyID, api.DevSecretAccessKey, "")
}

// written is what a test stores before a restart, to look for after it.
type written struct {
	arns      []string // every live room and logging configuration
	deleted   string   // a room ARN deleted before the restart
	nextToken string   // a ListRooms nextToken (maxResults 1) issued before the restart
	snapshot  string
}

// writeEverything creates rooms and logging configurations with tags, updates and deletes
// some, and records how the account looks.
func writeEverything(t *testing.T, c *ivschat.Client) written {
	t.Helper()
	ctx := context.Background()
	lc1 := newLoggingConfiguration(t, c, "first")
	lc2, err := c.CreateLoggingConfiguration(ctx, &ivschat.CreateLoggingConfigurationInput{Name: aws.String("second"),
		DestinationConfiguration: &types.DestinationConfigurationMemberCloudWatchLogs{Value: types.CloudWatchLogsDestinationConfiguration{LogGroupName: aws.String("/chat")}},
		Tags:                     map[string]string{"tier": "gold"}})
	mustNoErr(t, err)
	_, err = c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: lc1.Arn, Tags: map[string]string{"team name": "ops", "ключ": "значение"}})
	mustNoErr(t, err)
	r1 := newRoom(t, c, &ivschat.CreateRoomInput{Name: aws.String("one"), MaximumMessageRatePerSecond: aws.Int32(42),
		MessageReviewHandler: &types.MessageReviewHandler{Uri: aws.String(lambdaA), FallbackResult: types.FallbackResultDeny},
		Tags:                 map[string]string{"a": "1"}, LoggingConfigurationIdentifiers: []string{aws.ToString(lc1.Arn), aws.ToString(lc2.Arn)}})
	r2 := newRoom(t, c, &ivschat.CreateRoomInput{Name: aws.String("two")})
	r3 := newRoom(t, c, &ivschat.CreateRoomInput{Name: aws.String("three")})
	_, err = c.UpdateRoom(ctx, &ivschat.UpdateRoomInput{Identifier: r2.Arn, MaximumMessageLength: aws.Int32(7), Name: aws.String("two-updated")})
	mustNoErr(t, err)
	_, err = c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: r2.Arn, Tags: map[string]string{"emoji 🎉": "yes"}})
	mustNoErr(t, err)
	_, err = c.DeleteRoom(ctx, &ivschat.DeleteRoomInput{Identifier: r3.Arn})
	mustNoErr(t, err)
	page, err := c.ListRooms(ctx, &ivschat.ListRoomsInput{MaxResults: aws.Int32(1)})
	mustNoErr(t, err)
	w := written{arns: []string{aws.ToString(r1.Arn), aws.ToString(r2.Arn), aws.ToString(lc1.Arn), aws.ToString(lc2.Arn)},
		deleted: aws.ToString(r3.Arn), nextToken: aws.ToString(page.NextToken)}
	w.snapshot = snapshot(t, c, w.arns...)
	return w
}

// checkEverything looks for what writeEverything stored.
func checkEverything(t *testing.T, c *ivschat.Client, w written) {
	t.Helper()
	ctx := context.Background()
	t.Run("rooms, logging configurations and their tags are all there, unchanged", func(t *testing.T) {
		if got := snapshot(t, c, w.arns...); got != w.snapshot {
			t.Fatalf("after the restart:\n%s\nbefore:\n%s", got, w.snapshot)
		}
	})
	t.Run("a room deleted before the restart stays deleted", func(t *testing.T) {
		_, err := c.GetRoom(ctx, &ivschat.GetRoomInput{Identifier: aws.String(w.deleted)})
		wantNotFound(t, err, idOf(w.deleted))
	})
	t.Run("a nextToken issued before the restart still opens", func(t *testing.T) {
		out, err := c.ListRooms(ctx, &ivschat.ListRoomsInput{MaxResults: aws.Int32(1), NextToken: aws.String(w.nextToken)})
		mustNoErr(t, err)
		if len(out.Rooms) != 1 || out.NextToken != nil {
			t.Fatalf("second page: %d rooms, nextToken %v", len(out.Rooms), out.NextToken)
		}
	})
	t.Run("the restarted server takes new writes", func(t *testing.T) {
		r := newRoom(t, c, nil)
		_, err := c.CreateChatToken(ctx, &ivschat.CreateChatTokenInput{RoomIdentifier: r.Arn, UserId: aws.String("u")})
		mustNoErr(t, err)
		_, err = c.DeleteRoom(ctx, &ivschat.DeleteRoomInput{Identifier: r.Arn})
		mustNoErr(t, err)
	})
}

func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	start := func() *server.Server {
		cfg := server.DefaultConfig()
		cfg.Addr, cfg.AdminAddr, cfg.DataDir = "127.0.0.1:0", "127.0.0.1:0", dir
		return startNode(t, cfg)
	}

	first := start()
	w := writeEverything(t, devClient(first))
	stopNode(t, first)

	second := start()
	defer stopNode(t, second)
	checkEverything(t, devClient(second), w)
}

func TestKill9KeepsEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the ivschatd binary")
	}
	bin := sdkclient.BuildIVSChatd(t)
	dir := t.TempDir()

	first := sdkclient.StartNode(t, bin, dir, nil)
	w := writeEverything(t, clientAt(first.URL))
	first.Kill(t)

	second := sdkclient.StartNode(t, bin, dir, nil)
	checkEverything(t, clientAt(second.URL), w)

	// A second kill right after writes, with no pause for the store to settle.
	more := newRoom(t, clientAt(second.URL), &ivschat.CreateRoomInput{Name: aws.String("just-before-kill"), Tags: map[string]string{"k": "v"}})
	second.Kill(t)
	third := sdkclient.StartNode(t, bin, dir, nil)
	g := getRoom(t, clientAt(third.URL), more.Arn)
	if aws.ToString(g.Name) != "just-before-kill" || g.Tags["k"] != "v" {
		t.Fatalf("room written just before the kill: %+v", g)
	}
	if got := snapshot(t, clientAt(third.URL), w.arns...); !strings.Contains(got, "two-updated") {
		t.Fatalf("earlier writes missing after the second kill: %s", got)
	}
	third.Kill(t)
}

func TestSecondNodeOnOneDataDirExits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the ivschatd binary")
	}
	bin := sdkclient.BuildIVSChatd(t)
	dir := t.TempDir()
	first := sdkclient.StartNode(t, bin, dir, nil)
	room := newRoom(t, clientAt(first.URL), nil)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, bin, "--addr", "127.0.0.1:0", "--data-dir", dir)
	start := time.Now()
	out, err := second.CombinedOutput()
	took := time.Since(start)
	t.Run("the second process exits non-zero at once", func(t *testing.T) {
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() == 0 || ctx.Err() != nil {
			t.Fatalf("second ivschatd on the same data dir: %v (output %q)", err, out)
		}
		if took > 5*time.Second {
			t.Errorf("it took %v to exit", took)
		}
	})
	t.Run("its message names the directory and the pid holding it", func(t *testing.T) {
		for _, want := range []string{dir, fmt.Sprintf("pid %d", first.Cmd.Process.Pid)} {
			if !strings.Contains(string(out), want) {
				t.Errorf("output %q does not name %q", out, want)
			}
		}
	})
	t.Run("the first keeps its rooms and serves on", func(t *testing.T) {
		getRoom(t, clientAt(first.URL), room.Arn)
		newRoom(t, clientAt(first.URL), nil)
	})
}
