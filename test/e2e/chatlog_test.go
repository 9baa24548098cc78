package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"
)

// Chat logging end to end: clients chat over WebSocket in rooms with logging configurations,
// and the records are read back from the destinations through their own APIs and compared,
// byte for byte, with what the clients received.

func TestChatLogS3AndLocalDirectory(t *testing.T) {
	t.Parallel()
	fake := newFakeS3(t)
	fake.createBucket("chat-logs")
	fake.createBucket("chat-logs-moved")
	local := t.TempDir()
	srv := startServer(t, withChatlog(fake.url(), testCredentials, map[string]string{"local-logs": local}))
	c := devClient(srv)
	reader := s3Reader(fake.url())
	ctx := context.Background()

	toS3 := loggingConfiguration(t, c, s3Destination("chat-logs"))
	toDir := loggingConfiguration(t, c, s3Destination("local-logs"))
	ch := newChatter(t, srv, c, toS3, toDir)
	ch.everything(srv)

	t.Run("every message and event is in the bucket and in the local directory, as clients received it", func(t *testing.T) {
		eventually(t, 20*time.Second, func() error {
			lines, err := s3Lines(t, reader, "chat-logs", ch.roomID())
			if err != nil {
				return err
			}
			byID, dups := recordsByID(t, lines)
			if dups > 0 {
				return fmt.Errorf("%d duplicates with no failure", dups)
			}
			return ch.got.compare(byID)
		})
		eventually(t, 20*time.Second, func() error {
			byID, _ := recordsByID(t, localLines(t, local, ch.roomID()))
			return ch.got.compare(byID)
		})
	})

	t.Run("a room without logging configurations logs nothing", func(t *testing.T) {
		quiet := newChatter(t, srv, c)
		quiet.say(2)
		time.Sleep(500 * time.Millisecond)
		if lines, err := s3Lines(t, reader, "chat-logs", ""); err != nil || len(lines) != len(ch.got) {
			t.Fatalf("%d records in the bucket (%v), want only the %d of the logged room", len(lines), err, len(ch.got))
		}
	})

	t.Run("detaching, updating and attaching configurations apply to the next message", func(t *testing.T) {
		// Detach the local directory: the next message goes to the bucket only.
		_, err := c.UpdateRoom(ctx, &ivschat.UpdateRoomInput{Identifier: ch.room.Arn, LoggingConfigurationIdentifiers: []string{toS3}})
		mustNoErr(t, err)
		before := len(ch.got)
		ch.say(1)
		eventually(t, 20*time.Second, func() error {
			lines, err := s3Lines(t, reader, "chat-logs", ch.roomID())
			if err != nil || len(lines) != before+1 {
				return fmt.Errorf("%d records in the bucket (%v), want %d", len(lines), err, before+1)
			}
			return nil
		})
		time.Sleep(500 * time.Millisecond) // more than the batch interval of the directory's records
		if n := len(localLines(t, local, ch.roomID())); n != before {
			t.Fatalf("%d records in the detached directory, want %d", n, before)
		}

		// Move the configuration to another bucket: the next message goes there.
		_, err = c.UpdateLoggingConfiguration(ctx, &ivschat.UpdateLoggingConfigurationInput{Identifier: aws.String(toS3),
			DestinationConfiguration: s3Destination("chat-logs-moved")})
		mustNoErr(t, err)
		moved := received{}
		ch.got, moved = moved, ch.got
		ch.say(1)
		ch.got, moved = moved, ch.got
		eventually(t, 20*time.Second, func() error {
			lines, err := s3Lines(t, reader, "chat-logs-moved", ch.roomID())
			if err != nil {
				return err
			}
			byID, _ := recordsByID(t, lines)
			return moved.compare(byID)
		})

		// Detach everything: nothing more is logged.
		_, err = c.UpdateRoom(ctx, &ivschat.UpdateRoomInput{Identifier: ch.room.Arn, LoggingConfigurationIdentifiers: []string{}})
		mustNoErr(t, err)
		ch.say(1)
		time.Sleep(500 * time.Millisecond)
		if lines, _ := s3Lines(t, reader, "chat-logs-moved", ch.roomID()); len(lines) != 1 {
			t.Fatalf("%d records after detaching everything, want the 1 from before", len(lines))
		}
	})
}

var _ = types.ChatTokenCapabilitySendMessage
