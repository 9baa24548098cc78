package faults

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/gorilla/websocket"

	"github.com/ivschatd/ivschatd/test/sdkclient"
)

// TestFullDisk fills the disk of a node's data dir (a 20 MB tmpfs), then frees it.
func TestFullDisk(t *testing.T) {
	dir := sdkclient.SmallDisk(t, "20m")
	bin := sdkclient.BuildIVSChatd(t)
	// The chat-log stream's default reservation (1 GiB) would not fit on the small disk.
	flags := []string{"--chatlog-max-bytes", "1048576"}
	node := sdkclient.StartNode(t, bin, dir, nil, flags...)
	c := clientOf(node)
	ctx := context.Background()
	var acknowledged []string
	create := func() (time.Duration, error) {
		start := time.Now()
		out, err := c.CreateRoom(ctx, &ivschat.CreateRoomInput{Name: aws.String("full-disk"), Tags: map[string]string{"k": "v"}})
		if err == nil {
			acknowledged = append(acknowledged, aws.ToString(out.Arn))
		}
		return time.Since(start), err
	}
	before := sdkclient.NewRoom(t, c, nil)
	free := sdkclient.FillDisk(t, dir)

	t.Run("CreateRoom answers at once with 500 InternalServerException saying the store cannot write", func(t *testing.T) {
		var took time.Duration
		var err error
		// The first writes may still fit in the last page of a block file.
		for range 1000 {
			if took, err = create(); err != nil {
				break
			}
		}
		code, msg := apiError(t, err)
		if code != "InternalServerException" || !strings.Contains(msg, "store cannot take writes") {
			t.Fatalf("CreateRoom on a full disk: %s %q", code, msg)
		}
		t.Logf("figure: the first CreateRoom to meet the full disk failed after %v", took)
		if took > 2*time.Second {
			t.Errorf("it took %v; want an answer at once, well under the SDK's timeouts", took)
		}
		took, err = create()
		if code, _ := apiError(t, err); code != "InternalServerException" || took > time.Second {
			t.Errorf("the next CreateRoom: %s after %v", code, took)
		}
		t.Logf("figure: later CreateRooms failed after %v", took)
	})
	t.Run("TagResource fails the same way", func(t *testing.T) {
		_, err := c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: before.Arn, Tags: map[string]string{"a": "b"}})
		if code, msg := apiError(t, err); code != "InternalServerException" || !strings.Contains(msg, "store cannot take writes") {
			t.Fatalf("TagResource on a full disk: %s %q", code, msg)
		}
	})
	t.Run("reads and token minting go on", func(t *testing.T) {
		if _, err := c.GetRoom(ctx, &ivschat.GetRoomInput{Identifier: before.Arn}); err != nil {
			t.Errorf("GetRoom: %v", err)
		}
		if _, err := c.ListRooms(ctx, &ivschat.ListRoomsInput{}); err != nil {
			t.Errorf("ListRooms: %v", err)
		}
		if _, err := c.CreateChatToken(ctx, &ivschat.CreateChatTokenInput{RoomIdentifier: before.Arn, UserId: aws.String("u")}); err != nil {
			t.Errorf("CreateChatToken: %v", err)
		}
	})
	t.Run("once space is freed, writes succeed again without a restart", func(t *testing.T) {
		free()
		start := time.Now()
		for {
			_, err := create()
			if err == nil {
				break
			}
			if time.Since(start) > 30*time.Second {
				t.Fatalf("CreateRoom still fails 30 s after space was freed: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("figure: CreateRoom succeeded again %v after space was freed", time.Since(start))
		if _, err := c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: before.Arn, Tags: map[string]string{"a": "b"}}); err != nil {
			t.Fatalf("TagResource after recovery: %v", err)
		}
		if !strings.Contains(node.Log(), "the store takes writes again") {
			t.Errorf("the node's log does not say it recovered:\n%s", node.Log())
		}
	})
	t.Run("after the recovery a member connects and its message is delivered (the in-memory rate buckets are back)", func(t *testing.T) {
		token := sdkclient.NewToken(t, c, before.Arn, "after-recovery", "SEND_MESSAGE")
		d := websocket.Dialer{Subprotocols: []string{token}, HandshakeTimeout: 10 * time.Second}
		ws, resp, err := d.Dial(strings.Replace(node.URL, "http://", "ws://", 1), nil)
		if err != nil {
			t.Fatalf("connect after recovery: %v (%v)", err, resp)
		}
		defer ws.Close()
		if err := ws.WriteJSON(map[string]string{"Action": "SEND_MESSAGE", "RequestId": "r1", "Content": "back"}); err != nil {
			t.Fatal(err)
		}
		_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
		var frame struct{ Type, Content, ErrorMessage string }
		if err := ws.ReadJSON(&frame); err != nil {
			t.Fatal(err)
		}
		if frame.Type != "MESSAGE" || frame.Content != "back" {
			t.Fatalf("the sender got %+v, want its MESSAGE", frame)
		}
	})
	t.Run("every acknowledged write is there after a restart", func(t *testing.T) {
		node.Stop(t)
		node = sdkclient.StartNode(t, bin, dir, nil, flags...)
		c = clientOf(node)
		for _, arn := range append(acknowledged, aws.ToString(before.Arn)) {
			r, err := c.GetRoom(ctx, &ivschat.GetRoomInput{Identifier: aws.String(arn)})
			if err != nil {
				t.Fatalf("room %s, acknowledged: %v", arn, err)
			}
			if arn != aws.ToString(before.Arn) && r.Tags["k"] != "v" {
				t.Errorf("room %s lost its tags: %v", arn, r.Tags)
			}
		}
		t.Log(fmt.Sprintf("figure: %d rooms acknowledged around the full disk, all there after a restart", len(acknowledged)))
	})
}
