package cluster

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"
)

// Chat logs of the cluster go to one S3 bucket that every node writes to a shared local
// directory (--s3-local-dir), in small batches, and records taken by a node that dies go back
// to the others after a short --chatlog-ack-wait.
const logBucket = "cluster-chat-logs"

func chatlogFlags(dir string) []string {
	return []string{"--s3-local-dir", logBucket + "=" + dir, "--s3-batch-interval", "300ms", "--chatlog-ack-wait", "3s"}
}

// newLoggedRoom creates a room whose chat log goes to the cluster's bucket.
func newLoggedRoom(t *testing.T, n *node, in *ivschat.CreateRoomInput) *ivschat.CreateRoomOutput {
	t.Helper()
	lc, err := n.ivs.CreateLoggingConfiguration(context.Background(), &ivschat.CreateLoggingConfigurationInput{
		DestinationConfiguration: &types.DestinationConfigurationMemberS3{Value: types.S3DestinationConfiguration{BucketName: aws.String(logBucket)}}})
	mustNoErr(t, err)
	if in == nil {
		in = &ivschat.CreateRoomInput{}
	}
	in.LoggingConfigurationIdentifiers = []string{aws.ToString(lc.Arn)}
	return newRoom(t, n.ivs, in)
}

func roomID(arn *string) string {
	return aws.ToString(arn)[strings.LastIndex(aws.ToString(arn), "/")+1:]
}

// loggedIDs reads every object of a room in the log directory and counts its records by the
// payload's Id.
func loggedIDs(t *testing.T, dir, room string) map[string]int {
	t.Helper()
	ids := map[string]int{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".log.gz") || !strings.Contains(path, "_room_"+room+"_") {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		sc := bufio.NewScanner(zr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var rec struct {
				Payload struct{ Id string }
			}
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil || rec.Payload.Id == "" {
				return fmt.Errorf("%s: record %q: %v", path, sc.Text(), err)
			}
			ids[rec.Payload.Id]++
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// awaitLogged waits until every id is in the room's log and returns the counts.
func awaitLogged(t *testing.T, dir, room string, want map[string]bool, within time.Duration) map[string]int {
	t.Helper()
	var got map[string]int
	missing := len(want)
	deadline := time.Now().Add(within)
	for {
		got = loggedIDs(t, dir, room)
		missing = 0
		for id := range want {
			if got[id] == 0 {
				missing++
			}
		}
		if missing == 0 {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d payloads received by clients are not in the chat log after %v", missing, len(want), within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func testChatLogOnce(t *testing.T, nodes []*node, dir string) {
	ctx := context.Background()
	room := newLoggedRoom(t, nodes[0], &ivschat.CreateRoomInput{MaximumMessageRatePerSecond: aws.Int32(100)})
	members := spread(t, nodes, room.Arn, 1)
	observer := members[0]
	settle(t, nodes[0], room.Arn, members...)
	sent := map[string]bool{}
	for i := range 20 {
		m := members[i%len(members)]
		content := fmt.Sprintf("logged %d", i)
		m.sendMessage(content)
		sent[observer.await(2*time.Second, content, message(content)).Id] = true
	}
	for _, n := range nodes {
		out, err := n.ivs.SendEvent(ctx, &ivschat.SendEventInput{RoomIdentifier: room.Arn, EventName: aws.String("logged:" + n.name)})
		mustNoErr(t, err)
		observer.await(2*time.Second, "logged event", event("logged:"+n.name))
		sent[aws.ToString(out.Id)] = true
	}
	got := awaitLogged(t, dir, roomID(room.Arn), sent, 15*time.Second)
	// Give a duplicate, if the nodes were to ship one, the time to show up.
	time.Sleep(1500 * time.Millisecond)
	got = loggedIDs(t, dir, roomID(room.Arn))
	for id, n := range got {
		if n != 1 && sent[id] {
			t.Errorf("payload %s shipped %d times by the cluster", id, n)
		}
	}
	t.Logf("%d payloads sent through 3 nodes, %d records logged", len(sent), len(got))
}
