package faults

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"

	"github.com/ivschatd/ivschatd/test/sdkclient"
)

// roomsBlock is the first message block of the rooms store in a node's data dir.
func roomsBlock(dir string) string {
	return filepath.Join(dir, "jetstream", "jetstream", "$G", "streams", "KV_ivschat_rooms", "msgs", "1.blk")
}

// TestDamagedRecord damages the rooms store of a stopped node: flipped bytes in one room's
// record, or a torn tail (what a power loss in the middle of a write leaves).
func TestDamagedRecord(t *testing.T) {
	bin := sdkclient.BuildIVSChatd(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		damage func([]byte) []byte
		logged string
	}{
		{"flipped bytes in one record: the node starts without that room", func(b []byte) []byte {
			at := bytes.Index(b, []byte(`"name":"damaged-g`))
			copy(b[at+8:], "XXX")
			return b
		}, "a stream lists records that cannot be read"},
		{"a torn tail: the node starts without the last room", func(b []byte) []byte { return b[:len(b)-30] },
			"the last records of a stream were lost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			node := sdkclient.StartNode(t, bin, dir, nil)
			var arns []string
			for i := range 20 {
				r := sdkclient.NewRoom(t, clientOf(node), &ivschat.CreateRoomInput{Name: aws.String("damaged-" + string(rune('a'+i)))})
				arns = append(arns, aws.ToString(r.Arn))
			}
			node.Stop(t)
			b, err := os.ReadFile(roomsBlock(dir))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(roomsBlock(dir), tc.damage(b), 0o600); err != nil {
				t.Fatal(err)
			}

			node = sdkclient.StartNode(t, bin, dir, nil)
			c := clientOf(node)
			found, slowest := 0, time.Duration(0)
			for _, arn := range arns {
				start := time.Now()
				_, err := c.GetRoom(ctx, &ivschat.GetRoomInput{Identifier: aws.String(arn)})
				slowest = max(slowest, time.Since(start))
				if err == nil {
					found++
				} else if code, _ := apiError(t, err); code != "ResourceNotFoundException" {
					t.Errorf("GetRoom %s: %v", arn, err)
				}
			}
			start := time.Now()
			list, err := c.ListRooms(ctx, &ivschat.ListRoomsInput{})
			if err != nil {
				t.Fatalf("ListRooms: %v", err)
			}
			slowest = max(slowest, time.Since(start))
			t.Logf("figure: %d of %d rooms survived; slowest GetRoom or ListRooms %v", found, len(arns), slowest)
			if found != len(arns)-1 || len(list.Rooms) != found {
				t.Errorf("GetRoom finds %d rooms of %d, ListRooms %d; want all but the damaged one", found, len(arns), len(list.Rooms))
			}
			if slowest > time.Second {
				t.Errorf("a read took %v; want no slow reads", slowest)
			}
			log := node.Log()
			if !strings.Contains(log, tc.logged) || !strings.Contains(log, "stream=KV_ivschat_rooms") ||
				!strings.Contains(log, filepath.Dir(filepath.Dir(roomsBlock(dir)))) {
				t.Errorf("the log does not name the damaged stream and its files:\n%s", log)
			}
			sdkclient.NewRoom(t, c, nil)
		})
	}
}
