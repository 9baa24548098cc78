package e2e

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	fhtypes "github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/gorilla/websocket"

	"github.com/ivschatd/ivschatd/test/sdkclient"
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
		// A room's new settings reach its live connections with the update signal, a moment
		// after UpdateRoom returns (docs/compatibility.md); a configuration's new destination
		// is read from the table the update wrote.
		settle := func() { time.Sleep(200 * time.Millisecond) }

		// Detach the local directory: the next message goes to the bucket only.
		_, err := c.UpdateRoom(ctx, &ivschat.UpdateRoomInput{Identifier: ch.room.Arn, LoggingConfigurationIdentifiers: []string{toS3}})
		mustNoErr(t, err)
		settle()
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
		settle()
		ch.say(1)

		// Attach the directory again: the next message is there.
		_, err = c.UpdateRoom(ctx, &ivschat.UpdateRoomInput{Identifier: ch.room.Arn, LoggingConfigurationIdentifiers: []string{toDir}})
		mustNoErr(t, err)
		settle()
		again := received{}
		ch.got, again = again, ch.got
		ch.say(1)
		ch.got, again = again, ch.got
		eventually(t, 20*time.Second, func() error {
			if n := len(localLines(t, local, ch.roomID())); n != before+1 {
				return fmt.Errorf("%d records in the directory, want %d", n, before+1)
			}
			return nil
		})
		for id := range again {
			byID, _ := recordsByID(t, localLines(t, local, ch.roomID()))
			if _, ok := byID[id]; !ok {
				t.Fatalf("the message sent after attaching is not in the directory")
			}
		}
		if lines, _ := s3Lines(t, reader, "chat-logs-moved", ch.roomID()); len(lines) != 1 {
			t.Fatalf("%d records in the moved bucket, want the 1 sent before detaching everything", len(lines))
		}
	})
}

func TestChatLogMoto(t *testing.T) {
	t.Parallel()
	m := startMoto(t)
	ctx := context.Background()
	s3c := s3Reader(m.url)
	logs := cloudwatchlogs.New(cloudwatchlogs.Options{Region: testRegion, BaseEndpoint: aws.String(m.url), Credentials: testCredentials})
	fh := firehose.New(firehose.Options{Region: testRegion, BaseEndpoint: aws.String(m.url), Credentials: testCredentials})
	for _, b := range []string{"moto-chat-logs", "moto-firehose-out"} {
		_, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)})
		mustNoErr(t, err)
	}
	_, err := logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/ivs/chat")})
	mustNoErr(t, err)
	_, err = fh.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("chat-stream"),
		ExtendedS3DestinationConfiguration: &fhtypes.ExtendedS3DestinationConfiguration{
			BucketARN: aws.String("arn:aws:s3:::moto-firehose-out"), RoleARN: aws.String("arn:aws:iam::" + defaultAccount + ":role/firehose")}})
	mustNoErr(t, err)

	srv := startServer(t, withChatlog(m.url, testCredentials, nil))
	c := devClient(srv)
	ch := newChatter(t, srv, c,
		loggingConfiguration(t, c, s3Destination("moto-chat-logs")),
		loggingConfiguration(t, c, &types.DestinationConfigurationMemberCloudWatchLogs{Value: types.CloudWatchLogsDestinationConfiguration{LogGroupName: aws.String("/ivs/chat")}}),
		loggingConfiguration(t, c, &types.DestinationConfigurationMemberFirehose{Value: types.FirehoseDestinationConfiguration{DeliveryStreamName: aws.String("chat-stream")}}))
	ch.everything(srv)

	t.Run("S3: gzip NDJSON objects under the IVS key layout", func(t *testing.T) {
		eventually(t, 20*time.Second, func() error {
			lines, err := s3Lines(t, s3c, "moto-chat-logs", ch.roomID())
			if err != nil {
				return err
			}
			byID, _ := recordsByID(t, lines)
			return ch.got.compare(byID)
		})
	})

	t.Run("CloudWatch Logs: one event per record in the room's log stream, in time order", func(t *testing.T) {
		stream := "aws/IVSChatLogs/1.0/room_" + ch.roomID()
		eventually(t, 20*time.Second, func() error {
			out, err := logs.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/ivs/chat"),
				LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true)})
			if err != nil {
				return err
			}
			var lines [][]byte
			var last int64
			for _, e := range out.Events {
				ts := aws.ToInt64(e.Timestamp)
				if ts < last {
					return fmt.Errorf("events out of time order")
				}
				last = ts
				line := []byte(aws.ToString(e.Message))
				byID, _ := recordsByID(t, [][]byte{line})
				for _, r := range byID {
					if at, _ := time.Parse("2006-01-02T15:04:05.000Z", r.EventTimestamp); at.UnixMilli() != ts {
						t.Fatalf("event timestamp %d, record's event_timestamp %s", ts, r.EventTimestamp)
					}
				}
				lines = append(lines, line)
			}
			byID, _ := recordsByID(t, lines)
			return ch.got.compare(byID)
		})
	})

	t.Run("Firehose: one record per line, delivered to the stream's bucket", func(t *testing.T) {
		eventually(t, 20*time.Second, func() error {
			out, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("moto-firehose-out")})
			if err != nil {
				return err
			}
			var lines [][]byte
			for _, o := range out.Contents {
				obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("moto-firehose-out"), Key: o.Key})
				if err != nil {
					return err
				}
				raw, err := io.ReadAll(obj.Body)
				obj.Body.Close()
				if err != nil {
					return err
				}
				lines = append(lines, splitLines(t, aws.ToString(o.Key), raw)...)
			}
			byID, _ := recordsByID(t, lines)
			return ch.got.compare(byID)
		})
	})
}

func TestChatLogDestinationOutage(t *testing.T) {
	t.Parallel()
	fake := newFakeS3(t)
	fake.createBucket("outage-logs")
	steady := t.TempDir()
	srv := startServer(t, withChatlog(fake.url(), testCredentials, map[string]string{"steady-logs": steady}))
	c := devClient(srv)
	ch := newChatter(t, srv, c, loggingConfiguration(t, c, s3Destination("outage-logs")), loggingConfiguration(t, c, s3Destination("steady-logs")))

	fake.stop()
	ch.say(10) // each message comes back to its sender: chat flows while the bucket is down
	t.Run("another destination of the room is not held up", func(t *testing.T) {
		eventually(t, 10*time.Second, func() error {
			byID, _ := recordsByID(t, localLines(t, steady, ch.roomID()))
			return ch.got.compare(byID)
		})
	})
	time.Sleep(time.Second) // several failed attempts
	ch.say(5)
	fake.start()
	t.Run("every record reaches the bucket once it is back", func(t *testing.T) {
		eventually(t, 20*time.Second, func() error {
			lines, err := s3Lines(t, s3Reader(fake.url()), "outage-logs", ch.roomID())
			if err != nil {
				return err
			}
			byID, _ := recordsByID(t, lines)
			return ch.got.compare(byID)
		})
	})
}

func TestChatLogBadDestinations(t *testing.T) {
	t.Parallel()
	fake := newFakeS3(t)
	fake.createBucket("creds-logs")
	right := "AKIDCHATLOGTEST"
	fake.onlyKey.Store(&right)
	var key atomic.Pointer[string]
	wrong := "AKIDWRONGKEY"
	key.Store(&wrong)
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: *key.Load(), SecretAccessKey: "chatlog-test-secret", Source: "test"}, nil
	})
	srv := startServer(t, withChatlog(fake.url(), creds, nil))
	c := devClient(srv)
	reader := s3Reader(fake.url())
	logged := func(t *testing.T, ch *chatter, bucket string) func() error {
		return func() error {
			lines, err := s3Lines(t, reader, bucket, ch.roomID())
			if err != nil {
				return err
			}
			byID, _ := recordsByID(t, lines)
			return ch.got.compare(byID)
		}
	}

	t.Run("refused credentials: chat flows, records wait, and arrive once the credentials are right", func(t *testing.T) {
		ch := newChatter(t, srv, c, loggingConfiguration(t, c, s3Destination("creds-logs")))
		ch.say(5)
		eventually(t, 10*time.Second, func() error {
			if n := fake.refused.Load(); n < 3 {
				return fmt.Errorf("%d refused calls, want retries", n)
			}
			return nil
		})
		ch.say(1)
		key.Store(&right)
		eventually(t, 20*time.Second, logged(t, ch, "creds-logs"))
	})

	t.Run("a bucket that does not exist: chat flows, records wait, and arrive once it is made", func(t *testing.T) {
		missing := newChatter(t, srv, c, loggingConfiguration(t, c, s3Destination("late-bucket")))
		other := newChatter(t, srv, c, loggingConfiguration(t, c, s3Destination("creds-logs")))
		missing.say(5)
		other.say(3)
		// The other room's bucket is not held up by the missing one.
		eventually(t, 10*time.Second, logged(t, other, "creds-logs"))
		before := fake.requests.Load()
		eventually(t, 10*time.Second, func() error {
			if fake.requests.Load() < before+2 {
				return fmt.Errorf("no retries")
			}
			return nil
		})
		fake.createBucket("late-bucket")
		eventually(t, 20*time.Second, logged(t, missing, "late-bucket"))
	})
}

func TestChatLogKill9LosesNoRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the ivschatd binary")
	}
	t.Parallel()
	fake := newFakeS3(t)
	fake.createBucket("kill-logs")
	bin := sdkclient.BuildIVSChatd(t)
	dir := t.TempDir()
	// The destination comes from the standard AWS environment, as for any AWS tool.
	env := []string{"AWS_ENDPOINT_URL_S3=" + fake.url(), "AWS_ACCESS_KEY_ID=AKIDCHATLOGTEST", "AWS_SECRET_ACCESS_KEY=chatlog-test-secret",
		"AWS_REGION=" + testRegion, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PROFILE=", "AWS_ENDPOINT_URL="}
	flags := func(interval string) []string {
		return []string{"--s3-path-style", "--s3-batch-interval", interval, "--chatlog-ack-wait", "2s", "--chatlog-retry-max", "500ms"}
	}

	// The first node holds every record in a batch that would be written in an hour.
	first := sdkclient.StartNode(t, bin, dir, env, flags("1h")...)
	c := clientAt(first.URL)
	lc := loggingConfiguration(t, c, s3Destination("kill-logs"))
	room := newRoom(t, c, &ivschat.CreateRoomInput{LoggingConfigurationIdentifiers: []string{lc}, MaximumMessageRatePerSecond: aws.Int32(100)})
	got := received{}
	talk := func(ch *sdkclient.Node, n int) {
		t.Helper()
		m := joinAt(t, ch.URL, newToken(t, clientAt(ch.URL), room.Arn, "alice", capSend))
		for i := 0; i < n; i++ {
			m.send(sendMessage(fmt.Sprint("r", i), fmt.Sprint("before the kill ", i)))
			got.take(t, m)
		}
	}
	talk(first, 20)
	time.Sleep(300 * time.Millisecond) // the shipper takes them and holds them
	reader := s3Reader(fake.url())
	if lines, err := s3Lines(t, reader, "kill-logs", ""); err != nil || len(lines) != 0 {
		t.Fatalf("%d records shipped before the kill (%v), want them all held", len(lines), err)
	}
	first.Kill(t)

	// The second node ships them after the ack wait; it is killed right after new messages.
	second := sdkclient.StartNode(t, bin, dir, env, flags("200ms")...)
	talk(second, 10)
	second.Kill(t)

	third := sdkclient.StartNode(t, bin, dir, env, flags("200ms")...)
	defer third.Kill(t)
	eventually(t, 30*time.Second, func() error {
		lines, err := s3Lines(t, reader, "kill-logs", idOf(aws.ToString(room.Arn)))
		if err != nil {
			return err
		}
		byID, _ := recordsByID(t, lines) // a record shipped just before a kill may be shipped twice
		return got.compare(byID)
	})
}

// joinAt connects a member to a node known only by its URL.
func joinAt(t testing.TB, url, token string) *member {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{token}, HandshakeTimeout: 5 * time.Second}
	ws, _, err := d.Dial("ws"+strings.TrimPrefix(url, "http"), nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { ws.Close() })
	return &member{t: t, ws: ws}
}
