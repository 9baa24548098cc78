package faults

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"

	"github.com/ivschatd/ivschatd/test/sdkclient"
)

// TestKill9DuringWrites kills a node with SIGKILL while clients create and tag rooms, and
// restarts it on the same data dir: every write a client got a 2xx for is there.
func TestKill9DuringWrites(t *testing.T) {
	bin := sdkclient.BuildIVSChatd(t)
	dir := t.TempDir()
	node := sdkclient.StartNode(t, bin, dir, nil)
	c := clientOf(node)

	type room struct {
		arn  string
		tags map[string]string // every tag acknowledged
	}
	var (
		mu       sync.Mutex
		rooms    []room
		acked    atomic.Int64
		failed   atomic.Int64
		wg       sync.WaitGroup
		stop     = make(chan struct{})
		writers  = 4
		killedAt time.Time
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				out, err := c.CreateRoom(ctx, &ivschat.CreateRoomInput{Name: aws.String(fmt.Sprintf("w%d-%d", w, i)),
					Tags: map[string]string{"writer": fmt.Sprint(w)}})
				if err != nil {
					failed.Add(1)
					continue
				}
				acked.Add(1)
				r := room{arn: aws.ToString(out.Arn), tags: map[string]string{"writer": fmt.Sprint(w)}}
				if _, err := c.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: out.Arn, Tags: map[string]string{"n": fmt.Sprint(i)}}); err == nil {
					acked.Add(1)
					r.tags["n"] = fmt.Sprint(i)
				} else {
					failed.Add(1)
				}
				mu.Lock()
				rooms = append(rooms, r)
				mu.Unlock()
			}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for acked.Load() < 200 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	killedAt = time.Now()
	node.Kill(t)
	before := acked.Load()
	time.Sleep(200 * time.Millisecond) // writers meet the dead node
	close(stop)
	wg.Wait()
	t.Logf("figure: %d writes acknowledged before the kill; %d calls failed (in flight at the kill or after it)", before, failed.Load())
	if before < 50 {
		t.Fatalf("only %d writes acknowledged in 30 s", before)
	}

	node = sdkclient.StartNode(t, bin, dir, nil)
	t.Logf("figure: the node served again %v after the kill", time.Since(killedAt))
	c = clientOf(node)
	for _, r := range rooms {
		got, err := c.GetRoom(context.Background(), &ivschat.GetRoomInput{Identifier: aws.String(r.arn)})
		if err != nil {
			t.Errorf("acknowledged room %s: %v", r.arn, err)
			continue
		}
		for k, v := range r.tags {
			if got.Tags[k] != v {
				t.Errorf("room %s: acknowledged tag %s=%s is %q after the restart", r.arn, k, v, got.Tags[k])
			}
		}
	}
}
