package cluster

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"
	"github.com/gorilla/websocket"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/engine"
)

// TestCluster runs three ivschatd nodes on a three-server NATS cluster and checks that they
// behave as one IVS Chat service, and keep doing so when a node or a NATS server goes away.
// The subtests share the cluster and run in order; the last ones take pieces of it down.
func TestCluster(t *testing.T) {
	began := time.Now()
	bin, natsnode := buildBinaries(t)
	t.Logf("built in %v", time.Since(began).Round(time.Millisecond))
	nc := startNATSCluster(t, natsnode, 3)
	t.Logf("NATS up in %v", time.Since(began).Round(time.Millisecond))
	logDir := t.TempDir() // the chat-log bucket every node writes to
	nodes := []*node{
		startNode(t, bin, "node-1", nc.urls(), chatlogFlags(logDir)...),
		startNode(t, bin, "node-2", nc.urls(), chatlogFlags(logDir)...),
		startNode(t, bin, "node-3", nc.urls(), chatlogFlags(logDir)...),
	}
	t.Logf("cluster up in %v", time.Since(began).Round(time.Millisecond))

	t.Run("any node serves any control-plane call and sees the others' writes at once", func(t *testing.T) {
		testControlPlane(t, nodes)
	})
	t.Run("a token minted on any node opens on any node", func(t *testing.T) {
		room := newRoom(t, nodes[0].ivs, nil)
		for _, minter := range nodes {
			for _, opener := range nodes {
				tok := newToken(t, minter.ivs, room.Arn, "u-"+minter.name)
				m := join(t, opener, tok, minter.name+"→"+opener.name)
				m.ws.Close()
			}
		}
	})
	t.Run("a message sent on one node reaches members on every node", func(t *testing.T) {
		testFanOut(t, nc, nodes)
	})
	t.Run("ListRoomUsers through any node lists the members of every node", func(t *testing.T) {
		testRoomUsers(t, nodes)
	})
	t.Run("presence events: one join and one leave per user across nodes", func(t *testing.T) {
		testPresenceEvents(t, nodes)
	})
	t.Run("moderation, events, room updates and deletion take effect cluster-wide within a second", func(t *testing.T) {
		testModeration(t, nodes)
	})
	t.Run("a token opens exactly one connection in the whole cluster", func(t *testing.T) {
		testSingleUse(t, nodes)
	})
	t.Run("tokens sealed by one node open on the others across key rotation", func(t *testing.T) {
		testKeyRotation(t, nc, nodes)
	})
	t.Run("the room rate holds across nodes", func(t *testing.T) {
		testRoomRate(t, nodes)
	})
	t.Run("a fresh room's rate holds across nodes from its first message", func(t *testing.T) {
		testFreshRoomRate(t, nodes)
	})

	t.Run("a ban on one node disconnects the user and refuses the user's tokens on every node", func(t *testing.T) {
		testBans(t, nodes)
	})
	t.Run("slow mode counts a user's sends across nodes", func(t *testing.T) {
		testSlowMode(t, nodes)
	})

	t.Run("with --nats-url and no --replicas, a node of a three-server cluster replicates by 3", func(t *testing.T) {
		n := startNode(t, bin, "node-default", nc.urls(), "--replicas", "0")
		if log := n.stderr.String(); !strings.Contains(log, "replicas=3") {
			t.Errorf("the node did not choose 3 replicas:\n%s", log)
		}
		n.kill()
	})

	t.Run("chat logs: each record is shipped once by the cluster", func(t *testing.T) {
		testChatLogOnce(t, nodes, logDir)
	})

	// Everything stored so far must survive what follows.
	before := listAll(t, nodes[0].ivs)

	// A node lost is replaced by a fresh one, started here so that it outlives the subtest.
	replace := func(i int) { nodes[i] = startNode(t, bin, nodes[i].name+"b", nc.urls(), chatlogFlags(logDir)...) }
	t.Run("SIGTERM hands a node's clients to the others", func(t *testing.T) {
		testSigterm(t, nodes)
	})
	replace(2)
	t.Run("kill -9 drops a node's sockets and loses no control-plane data", func(t *testing.T) {
		testKill(t, nodes, logDir)
	})
	replace(1)
	t.Run("one NATS server of three failing does not stop the service", func(t *testing.T) {
		testNATSServerLoss(t, nc, nodes)
	})
	t.Run("every room written before the failures is still there", func(t *testing.T) {
		after := listAll(t, nodes[2].ivs)
		for arn := range before {
			if _, ok := after[arn]; !ok {
				t.Errorf("room %s lost", arn)
			}
		}
	})
	t.Logf("cluster test took %v", time.Since(began).Round(time.Millisecond))
}

// listAll walks every page of ListRooms, turning pages over on a different node each time,
// so that each nextToken sealed by one node is opened by another.
func listAll(t *testing.T, first *ivschat.Client, others ...*ivschat.Client) map[string]types.RoomSummary {
	t.Helper()
	clients := append([]*ivschat.Client{first}, others...)
	out := map[string]types.RoomSummary{}
	var next *string
	for i := 0; ; i++ {
		page, err := clients[i%len(clients)].ListRooms(context.Background(), &ivschat.ListRoomsInput{MaxResults: aws.Int32(7), NextToken: next})
		mustNoErr(t, err)
		for _, r := range page.Rooms {
			out[aws.ToString(r.Arn)] = r
		}
		if page.NextToken == nil {
			return out
		}
		next = page.NextToken
	}
}

func testControlPlane(t *testing.T, nodes []*node) {
	ctx := context.Background()
	n1, n2, n3 := nodes[0].ivs, nodes[1].ivs, nodes[2].ivs

	lc, err := n3.CreateLoggingConfiguration(ctx, &ivschat.CreateLoggingConfigurationInput{Name: aws.String("cluster-log"),
		DestinationConfiguration: &types.DestinationConfigurationMemberS3{Value: types.S3DestinationConfiguration{BucketName: aws.String("chat-logs")}}})
	mustNoErr(t, err)
	got, err := n1.GetLoggingConfiguration(ctx, &ivschat.GetLoggingConfigurationInput{Identifier: lc.Arn})
	mustNoErr(t, err)
	if aws.ToString(got.Name) != "cluster-log" {
		t.Fatalf("logging configuration on node-1: %+v", got)
	}

	// Rounds of write-on-one, read-on-another with no pause in between: a node must never
	// answer from a view older than a write another node has acknowledged.
	var kept []string
	for i := range 15 {
		name := fmt.Sprintf("cp-%02d", i)
		r := newRoom(t, n1, &ivschat.CreateRoomInput{Name: aws.String(name), Tags: map[string]string{"round": name}})
		g, err := n2.GetRoom(ctx, &ivschat.GetRoomInput{Identifier: r.Arn})
		mustNoErr(t, err)
		if aws.ToString(g.Name) != name {
			t.Fatalf("round %d: GetRoom on node-2 = %q", i, aws.ToString(g.Name))
		}
		if _, ok := listAll(t, n3)[aws.ToString(r.Arn)]; !ok {
			t.Fatalf("round %d: ListRooms on node-3 lacks the room node-1 just created", i)
		}
		_, err = n2.UpdateRoom(ctx, &ivschat.UpdateRoomInput{Identifier: r.Arn, MaximumMessageLength: aws.Int32(int32(100 + i)),
			LoggingConfigurationIdentifiers: []string{aws.ToString(lc.Arn)}})
		mustNoErr(t, err)
		g, err = n3.GetRoom(ctx, &ivschat.GetRoomInput{Identifier: r.Arn})
		mustNoErr(t, err)
		if aws.ToInt32(g.MaximumMessageLength) != int32(100+i) || len(g.LoggingConfigurationIdentifiers) != 1 {
			t.Fatalf("round %d: GetRoom on node-3 after UpdateRoom on node-2: length %d, logging %v", i,
				aws.ToInt32(g.MaximumMessageLength), g.LoggingConfigurationIdentifiers)
		}
		if s := listAll(t, n1)[aws.ToString(r.Arn)]; aws.ToString(s.Name) != name || len(s.LoggingConfigurationIdentifiers) != 1 {
			t.Fatalf("round %d: ListRooms on node-1 after UpdateRoom on node-2: %+v", i, s)
		}
		_, err = n3.TagResource(ctx, &ivschat.TagResourceInput{ResourceArn: r.Arn, Tags: map[string]string{"tagged-on": "node-3"}})
		mustNoErr(t, err)
		tags, err := n1.ListTagsForResource(ctx, &ivschat.ListTagsForResourceInput{ResourceArn: r.Arn})
		mustNoErr(t, err)
		if tags.Tags["tagged-on"] != "node-3" || tags.Tags["round"] != name {
			t.Fatalf("round %d: tags on node-1 after TagResource on node-3: %v", i, tags.Tags)
		}
		if i%2 == 0 {
			_, err = n3.DeleteRoom(ctx, &ivschat.DeleteRoomInput{Identifier: r.Arn})
			mustNoErr(t, err)
			if _, err := n1.GetRoom(ctx, &ivschat.GetRoomInput{Identifier: r.Arn}); !isNotFound(err) {
				t.Fatalf("round %d: GetRoom on node-1 after DeleteRoom on node-3: %v", i, err)
			}
			if _, ok := listAll(t, n2)[aws.ToString(r.Arn)]; ok {
				t.Fatalf("round %d: ListRooms on node-2 still has the room node-3 deleted", i)
			}
			continue
		}
		kept = append(kept, aws.ToString(r.Arn))
	}

	// Pages turned over on alternating nodes hold every room exactly once.
	all := listAll(t, n1, n2, n3)
	for _, arn := range kept {
		if _, ok := all[arn]; !ok {
			t.Errorf("ListRooms across nodes lacks %s", arn)
		}
	}

	// A configuration in use is refused for deletion on any node; detached, any node deletes it.
	if _, err := n2.DeleteLoggingConfiguration(ctx, &ivschat.DeleteLoggingConfigurationInput{Identifier: lc.Arn}); err == nil {
		t.Fatal("DeleteLoggingConfiguration of a configuration in use succeeded on node-2")
	}
	for _, arn := range kept {
		_, err := n1.UpdateRoom(ctx, &ivschat.UpdateRoomInput{Identifier: aws.String(arn), LoggingConfigurationIdentifiers: []string{}})
		mustNoErr(t, err)
	}
	_, err = n2.DeleteLoggingConfiguration(ctx, &ivschat.DeleteLoggingConfigurationInput{Identifier: lc.Arn})
	mustNoErr(t, err)
	lcs, err := n3.ListLoggingConfigurations(ctx, &ivschat.ListLoggingConfigurationsInput{})
	mustNoErr(t, err)
	for _, c := range lcs.LoggingConfigurations {
		if aws.ToString(c.Arn) == aws.ToString(lc.Arn) {
			t.Fatal("ListLoggingConfigurations on node-3 still has the configuration node-2 deleted")
		}
	}
}

// spread joins per members to the room on every node; member i of node n is user "<node>-<i>".
func spread(t *testing.T, nodes []*node, roomARN *string, per int) []*member {
	t.Helper()
	var out []*member
	for _, n := range nodes {
		for i := range per {
			user := fmt.Sprintf("%s-%d", n.name, i)
			out = append(out, join(t, n, newToken(t, n.ivs, roomARN, user), user))
		}
	}
	return out
}

// settle waits until every member hears the room, so that what a test sends next is not
// lost in the moment a room's subscription takes to reach the other NATS servers after the
// first member of a node joins (see docs/deployment.md, "What a member receives"). It sends
// events through the control plane until each member has one.
func settle(t testing.TB, via *node, roomARN *string, members ...*member) {
	t.Helper()
	heard := make([]bool, len(members))
	waitFor(t, 10*time.Second, "every member hearing the room", func() bool {
		cctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if _, err := via.ivs.SendEvent(cctx, &ivschat.SendEventInput{RoomIdentifier: roomARN, EventName: aws.String("test:settle")}); err != nil {
			return false
		}
		all := true
		for i, m := range members {
			if !heard[i] {
				_, heard[i] = m.poll(200*time.Millisecond, event("test:settle"))
			}
			all = all && heard[i]
		}
		return all
	})
}

func testFanOut(t *testing.T, nc *natsCluster, nodes []*node) {
	room := newRoom(t, nodes[0].ivs, &ivschat.CreateRoomInput{MaximumMessageRatePerSecond: aws.Int32(100)})
	members := spread(t, nodes, room.Arn, 2)
	settle(t, nodes[0], room.Arn, members...)
	// A message crosses the engine once per node with members, not once per member: each node
	// holds one subscription to the room, however many of its members are in it.
	if got := nc.roomSubscriptions(t, roomID(room.Arn)); got != len(nodes) {
		t.Fatalf("%d subscriptions to the room in the NATS cluster for %d members on %d nodes, want one per node", got, len(members), len(nodes))
	}
	more := spread(t, nodes[:1], room.Arn, 3)
	settle(t, nodes[0], room.Arn, more...)
	if got := nc.roomSubscriptions(t, roomID(room.Arn)); got != len(nodes) {
		t.Fatalf("%d subscriptions to the room once node-1 holds 5 members, want still one per node", got)
	}
	for _, m := range more {
		m.ws.Close()
	}
	for round := range 5 {
		for i := 0; i < len(members); i += 2 { // one sender per node, each round
			content := fmt.Sprintf("round %d from %s", round, members[i].name)
			members[i].sendMessage(content)
			for _, m := range members {
				p := m.await(2*time.Second, "message "+content, message(content))
				if p.Sender == nil || p.Sender.UserId != members[i].name {
					t.Fatalf("%s got %q from %+v", m.name, content, p.Sender)
				}
			}
		}
	}
}

func testModeration(t *testing.T, nodes []*node) {
	ctx := context.Background()
	room := newRoom(t, nodes[0].ivs, nil)
	alice := join(t, nodes[0], newToken(t, nodes[0].ivs, room.Arn, "alice"), "alice@node-1")
	bob2 := join(t, nodes[1], newToken(t, nodes[1].ivs, room.Arn, "bob"), "bob@node-2")
	bob3 := join(t, nodes[2], newToken(t, nodes[2].ivs, room.Arn, "bob"), "bob@node-3")
	carol := join(t, nodes[2], newToken(t, nodes[2].ivs, room.Arn, "carol"), "carol@node-3")
	everyone := []*member{alice, bob2, bob3, carol}

	settle(t, nodes[0], room.Arn, everyone...)

	within := func(what string, match func(payload) bool, ms ...*member) {
		t.Helper()
		start := time.Now()
		for _, m := range ms {
			m.await(time.Second-time.Since(start), what, match)
		}
	}

	_, err := nodes[1].ivs.SendEvent(ctx, &ivschat.SendEventInput{RoomIdentifier: room.Arn, EventName: aws.String("app:cheer")})
	mustNoErr(t, err)
	within("SendEvent of node-2", event("app:cheer"), everyone...)

	_, err = nodes[2].ivs.DeleteMessage(ctx, &ivschat.DeleteMessageInput{RoomIdentifier: room.Arn, Id: aws.String("AbCdEf123456"), Reason: aws.String("spam")})
	mustNoErr(t, err)
	within("DeleteMessage of node-3", func(p payload) bool {
		return p.Type == "EVENT" && p.EventName == "aws:DELETE_MESSAGE" && p.Attributes["MessageID"] == "AbCdEf123456"
	}, everyone...)

	alice.send(map[string]any{"Action": "DELETE_MESSAGE", "RequestId": "del", "Id": "ZyXwVu987654"})
	within("DELETE_MESSAGE of a member on node-1", func(p payload) bool {
		return p.Type == "EVENT" && p.EventName == "aws:DELETE_MESSAGE" && p.Attributes["MessageID"] == "ZyXwVu987654"
	}, everyone...)

	_, err = nodes[0].ivs.DisconnectUser(ctx, &ivschat.DisconnectUserInput{RoomIdentifier: room.Arn, UserId: aws.String("bob"), Reason: aws.String("bye")})
	mustNoErr(t, err)
	start := time.Now()
	within("aws:DISCONNECT_USER", func(p payload) bool {
		return p.Type == "EVENT" && p.EventName == "aws:DISCONNECT_USER" && p.Attributes["UserId"] == "bob"
	}, everyone...)
	for _, m := range []*member{bob2, bob3} {
		err := m.closed(time.Second - time.Since(start))
		if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			t.Fatalf("%s: closed with %v, want close 1000", m.name, err)
		}
	}
	if !alice.isOpen() || !carol.isOpen() {
		t.Fatalf("DisconnectUser of bob closed others: alice %s, carol %s", alice.ended(), carol.ended())
	}

	// UpdateRoom on node-2: a member of node-3 is held to the new maximum length within a second.
	_, err = nodes[1].ivs.UpdateRoom(ctx, &ivschat.UpdateRoomInput{Identifier: room.Arn, MaximumMessageLength: aws.Int32(5)})
	mustNoErr(t, err)
	start = time.Now()
	for try := 0; ; try++ {
		id := fmt.Sprintf("too long %d", try)
		carol.send(map[string]any{"Action": "SEND_MESSAGE", "RequestId": id, "Content": "too long for five"})
		p := carol.await(time.Second, "a reply to "+id, func(p payload) bool { return p.RequestId == id })
		if p.Type == "ERROR" && p.ErrorCode == 400 {
			t.Logf("UpdateRoom on node-2 held on node-3 after %v", time.Since(start).Round(time.Millisecond))
			break
		}
		if time.Since(start) > time.Second {
			t.Fatalf("a 17-character message still delivered %v after UpdateRoom(maximumMessageLength 5) on another node: %+v",
				time.Since(start).Round(time.Millisecond), p)
		}
		time.Sleep(20 * time.Millisecond)
	}

	_, err = nodes[0].ivs.DeleteRoom(ctx, &ivschat.DeleteRoomInput{Identifier: room.Arn})
	mustNoErr(t, err)
	start = time.Now()
	within("ERROR 404 after DeleteRoom", errorCode(404), alice, carol)
	for _, m := range []*member{alice, carol} {
		if err := m.closed(time.Second - time.Since(start)); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			t.Fatalf("%s: closed with %v after DeleteRoom, want close 1000", m.name, err)
		}
	}
}

func testSingleUse(t *testing.T, nodes []*node) {
	room := newRoom(t, nodes[0].ivs, nil)
	for round := range 20 {
		tok := newToken(t, nodes[round%3].ivs, room.Arn, fmt.Sprintf("racer-%d", round))
		var wg sync.WaitGroup
		statuses := make([]int, len(nodes))
		gate := make(chan struct{})
		for i, n := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				m, status, _ := dial(t, n.ws, tok, "racer")
				statuses[i] = status
				if m != nil {
					m.ws.Close()
				}
			}()
		}
		close(gate)
		wg.Wait()
		opened, used := 0, 0
		for _, s := range statuses {
			switch s {
			case http.StatusSwitchingProtocols:
				opened++
			case http.StatusForbidden:
				used++
			}
		}
		if opened != 1 || used != len(nodes)-1 {
			t.Fatalf("round %d: one token dialled on every node at once: statuses %v, want one 101 and the rest 403", round, statuses)
		}
	}
}

// sealingKeyID is the id of the key that sealed a token (the sealed layout: version, key id, …).
func sealingKeyID(t *testing.T, token string) uint32 {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < 5 {
		t.Fatalf("token %q is not sealed as expected: %v", token, err)
	}
	return binary.BigEndian.Uint32(raw[1:5])
}

func testKeyRotation(t *testing.T, nc *natsCluster, nodes []*node) {
	ctx := context.Background()
	// The test joins the cluster as an engine of its own to rotate the key, as the node whose
	// --token-key-rotation runs out first would.
	eng, err := engine.Open(ctx, engine.Config{URL: nc.urls(), Replicas: 3})
	mustNoErr(t, err)
	defer eng.Close()

	room := newRoom(t, nodes[0].ivs, nil)
	newRoom(t, nodes[0].ivs, nil)
	oldTokens := map[string]string{}
	for _, n := range nodes {
		oldTokens[n.name] = newToken(t, n.ivs, room.Arn, "before-"+n.name)
	}
	page, err := nodes[1].ivs.ListRooms(ctx, &ivschat.ListRoomsInput{MaxResults: aws.Int32(1)})
	mustNoErr(t, err)
	if page.NextToken == nil {
		t.Fatal("no nextToken for a one-room page of several")
	}
	oldKey := sealingKeyID(t, oldTokens["node-1"])

	mustNoErr(t, eng.RotateSealingKey(ctx))
	newKey := sealingKeyID(t, eng.Keyring().Seal(chat.PurposeChatToken, nil))
	if newKey == oldKey {
		t.Fatal("rotation kept the key")
	}

	for i, minter := range nodes {
		// The minter seals with the new key once its watch has brought it; the others must
		// open what it seals from then on, however fresh.
		var tok string
		waitFor(t, 5*time.Second, minter.name+" sealing with the new key", func() bool {
			tok = newToken(t, minter.ivs, room.Arn, "after-"+minter.name)
			return sealingKeyID(t, tok) == newKey
		})
		opener := nodes[(i+1)%len(nodes)]
		join(t, opener, tok, "new key "+minter.name+"→"+opener.name).ws.Close()
		for _, other := range nodes {
			if other != minter {
				tok := newToken(t, minter.ivs, room.Arn, "after-"+minter.name)
				join(t, other, tok, "new key "+minter.name+"→"+other.name).ws.Close()
			}
		}
	}
	// What the old key sealed still opens everywhere.
	for i, n := range nodes {
		opener := nodes[(i+2)%len(nodes)]
		join(t, opener, oldTokens[n.name], "old key "+n.name+"→"+opener.name).ws.Close()
	}
	_, err = nodes[2].ivs.ListRooms(ctx, &ivschat.ListRoomsInput{MaxResults: aws.Int32(1), NextToken: page.NextToken})
	mustNoErr(t, err)
}

func testRoomRate(t *testing.T, nodes []*node) {
	const (
		limit    = 20
		duration = 3 * time.Second
	)
	room := newRoom(t, nodes[0].ivs, &ivschat.CreateRoomInput{MaximumMessageRatePerSecond: aws.Int32(limit)})
	observer := join(t, nodes[0], newToken(t, nodes[0].ivs, room.Arn, "observer"), "observer")
	var senders []*member
	for _, n := range nodes {
		senders = append(senders, join(t, n, newToken(t, n.ivs, room.Arn, "sender-"+n.name), "sender-"+n.name))
	}
	settle(t, nodes[0], room.Arn, append([]*member{observer}, senders...)...)
	// Each connection may send 100 frames a second: every sender goes as fast as that allows.
	var sent atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(duration)
	for _, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(12 * time.Millisecond)
			defer tick.Stop()
			for i := 0; time.Now().Before(stop); i++ {
				<-tick.C
				_ = s.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
				if s.ws.WriteJSON(map[string]any{"Action": "SEND_MESSAGE", "Content": fmt.Sprintf("rate %s %d", s.name, i)}) != nil {
					return
				}
				sent.Add(1)
			}
		}()
	}
	wg.Wait()
	var times []time.Time
	for {
		p, ok := observer.poll(time.Second, func(p payload) bool {
			return p.Type == "MESSAGE" && strings.HasPrefix(p.Content, "rate ")
		})
		if !ok {
			break
		}
		times = append(times, p.SendTime)
	}
	admitted := len(times)
	t.Logf("room rate %d/s, %d senders on %d nodes for %v: %d sent, %d admitted",
		limit, len(senders), len(nodes), duration, sent.Load(), admitted)
	if most := mostInAClockSecond(times); most > limit {
		t.Fatalf("%d messages admitted within one second at %d/s across nodes", most, limit)
	}
	if admitted < limit*int(duration.Seconds())*3/4 {
		t.Fatalf("only %d messages admitted in %v at %d/s", admitted, duration, limit)
	}
	for _, s := range senders {
		if !s.isOpen() {
			t.Fatalf("%s dropped: %s", s.name, s.ended())
		}
	}
}

// testFreshRoomRate is the attack of issue 12: a room of 5/s, three members on three nodes
// each sending 5 at once into it while it is new. The room admits at most 5 in a second of the
// clock (nodes lease slices of each second's budget by compare-and-set of the room's record, so
// no two nodes admit the same sends), and every other send gets ERROR 429.
func testFreshRoomRate(t *testing.T, nodes []*node) {
	const limit, each, rounds = 5, 5, 5
	for round := range rounds {
		room := newRoom(t, nodes[0].ivs, &ivschat.CreateRoomInput{MaximumMessageRatePerSecond: aws.Int32(limit)})
		observer := join(t, nodes[0], newToken(t, nodes[0].ivs, room.Arn, "observer"), "observer")
		var senders []*member
		for _, n := range nodes {
			senders = append(senders, join(t, n, newToken(t, n.ivs, room.Arn, "sender-"+n.name, types.ChatTokenCapabilitySendMessage), "sender-"+n.name))
		}
		settle(t, nodes[0], room.Arn, append([]*member{observer}, senders...)...)
		start := make(chan struct{})
		errs := make(chan error, len(senders))
		for _, s := range senders {
			go func() {
				<-start
				_ = s.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
				for i := range each {
					id := fmt.Sprintf("%s-%d", s.name, i)
					if err := s.ws.WriteJSON(map[string]any{"Action": "SEND_MESSAGE", "RequestId": id, "Content": id}); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		close(start)
		for range senders {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		admitted, refused := 0, 0
		for _, s := range senders {
			for range each {
				p := s.await(10*time.Second, "its own message or ERROR 429", func(p payload) bool {
					return strings.HasPrefix(p.RequestId, s.name+"-") && (p.Type == "MESSAGE" || p.Type == "ERROR")
				})
				switch {
				case p.Type == "MESSAGE":
					admitted++
				case p.ErrorCode == 429:
					refused++
				default:
					t.Fatalf("round %d: %s got %+v, want its message or ERROR 429", round, s.name, p)
				}
			}
		}
		var times []time.Time
		for range admitted {
			p := observer.await(10*time.Second, "an admitted message", func(p payload) bool {
				return p.Type == "MESSAGE" && strings.HasPrefix(p.Content, "sender-")
			})
			times = append(times, p.SendTime)
		}
		t.Logf("round %d: %d admitted, %d refused", round, admitted, refused)
		if admitted < limit {
			t.Fatalf("round %d: %d of %d sends admitted at %d/s", round, admitted, len(senders)*each, limit)
		}
		if most := mostInAClockSecond(times); most > limit {
			t.Fatalf("round %d: %d messages admitted within one second at %d/s (send times %v)", round, most, limit, times)
		}
	}
}

// mostInAClockSecond is the largest number of the times that fall within one second of the
// clock (the room rate's budget is per clock second: docs/compatibility.md, "Room rate").
func mostInAClockSecond(times []time.Time) int {
	per := map[int64]int{}
	most := 0
	for _, t := range times {
		per[t.Unix()]++
		most = max(most, per[t.Unix()])
	}
	return most
}

// reconnect does what the SDK does after ERROR 401 or a dropped socket: it gets a new token
// and connects again, through the load balancer, here to the given node.
func reconnect(t *testing.T, via *node, roomARN *string, user string) *member {
	t.Helper()
	return join(t, via, newToken(t, via.ivs, roomARN, user), user+"@"+via.name)
}

func testSigterm(t *testing.T, nodes []*node) {
	leaving := nodes[2]
	room := newRoom(t, nodes[0].ivs, nil)
	observer := join(t, nodes[0], newToken(t, nodes[0].ivs, room.Arn, "observer"), "observer@node-1")
	a := join(t, leaving, newToken(t, leaving.ivs, room.Arn, "a"), "a@"+leaving.name)
	b := join(t, leaving, newToken(t, leaving.ivs, room.Arn, "b"), "b@"+leaving.name)
	settle(t, nodes[0], room.Arn, observer, a, b)
	a.sendMessage("before")
	observer.await(2*time.Second, "before", message("before"))

	exited := make(chan struct{})
	go func() {
		defer close(exited)
		<-leaving.exited
	}()
	mustNoErr(t, syscall.Kill(leaving.cmd.Process.Pid, syscall.SIGTERM))
	for i, m := range []*member{a, b} {
		m.await(2*time.Second, "ERROR 401 on SIGTERM", errorCode(401))
		m.ws.Close() // the SDK closes and reconnects with a new token
		again := reconnect(t, nodes[i], room.Arn, m.name)
		again.sendMessage("back from " + m.name)
		observer.await(2*time.Second, "back from "+m.name, message("back from "+m.name))
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still running 10s after SIGTERM", leaving.name)
	}
	if code := leaving.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("%s exited with %d after SIGTERM", leaving.name, code)
	}
	// Its control-plane address no longer answers; the others do.
	if _, err := leaving.ivs.GetRoom(context.Background(), &ivschat.GetRoomInput{Identifier: room.Arn}); err == nil {
		t.Fatal("the stopped node still answers")
	}
}

func testKill(t *testing.T, nodes []*node, logDir string) {
	ctx := context.Background()
	victim := nodes[1]
	room := newLoggedRoom(t, victim, &ivschat.CreateRoomInput{Name: aws.String("conversation"), MaximumMessageRatePerSecond: aws.Int32(100),
		Tags: map[string]string{"ivschatd:presence-events": "true"}})
	observer := join(t, nodes[0], newToken(t, nodes[0].ivs, room.Arn, "observer"), "observer@node-1")
	c1 := join(t, victim, newToken(t, victim.ivs, room.Arn, "c1"), "c1@"+victim.name)
	c2 := join(t, victim, newToken(t, victim.ivs, room.Arn, "c2"), "c2@"+victim.name)
	settle(t, nodes[0], room.Arn, observer, c1, c2)
	c1.sendMessage("mid-conversation")
	for _, m := range []*member{observer, c1, c2} {
		m.await(2*time.Second, "mid-conversation", message("mid-conversation"))
	}

	// Its members talk until it dies, so that it dies with chat-log records on its hands.
	var talkers sync.WaitGroup
	for _, m := range []*member{c1, c2} {
		talkers.Add(1)
		go func() {
			defer talkers.Done()
			for i := 0; ; i++ {
				_ = m.ws.SetWriteDeadline(time.Now().Add(time.Second))
				if m.ws.WriteJSON(map[string]any{"Action": "SEND_MESSAGE", "Content": fmt.Sprintf("last words %s %d", m.name, i)}) != nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	// Writes acknowledged by the victim right before it dies.
	var written []*string
	for i := range 5 {
		r := newRoom(t, victim.ivs, &ivschat.CreateRoomInput{Name: aws.String(fmt.Sprintf("last-words-%d", i)), Tags: map[string]string{"k": "v"}})
		_, err := victim.ivs.UpdateRoom(ctx, &ivschat.UpdateRoomInput{Identifier: r.Arn, MaximumMessageLength: aws.Int32(77)})
		mustNoErr(t, err)
		written = append(written, r.Arn)
	}
	time.Sleep(500 * time.Millisecond)
	victim.kill()
	killed := time.Now()
	talkers.Wait()
	// Its members drop out of ListRoomUsers once its heartbeat expires (3 s).
	awaitRoomUsers(t, room.Arn, "observer×1", 20*time.Second, nodes[0], nodes[2])
	t.Logf("the killed node's members left ListRoomUsers %v after the kill", time.Since(killed).Round(time.Millisecond))
	// The room hears each of them leave, once, from the nodes left. (Their joins were read
	// with the conversation.)
	left := map[string]bool{}
	for len(left) < 2 {
		p := observer.await(20*time.Second, "the killed node's users leaving", func(p payload) bool { return p.EventName == "ivschatd:leave" })
		left[p.Attributes["userId"]] = true
	}
	t.Logf("the room heard the killed node's users leave %v after the kill", time.Since(killed).Round(time.Millisecond))
	if !left["c1"] || !left["c2"] {
		t.Fatalf("leaves of %v", left)
	}
	if got := presenceEvents(t, nodes[0], room.Arn, observer); got != "" {
		t.Fatalf("presence events after the leaves: %q", got)
	}

	for _, m := range []*member{c1, c2} {
		err := m.closed(2 * time.Second)
		var ce *websocket.CloseError
		if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure {
			t.Fatalf("%s: a killed node sent close %d", m.name, ce.Code)
		}
	}
	for _, arn := range written {
		for _, n := range []*node{nodes[0], nodes[2]} {
			g, err := n.ivs.GetRoom(ctx, &ivschat.GetRoomInput{Identifier: arn})
			mustNoErr(t, err)
			if aws.ToInt32(g.MaximumMessageLength) != 77 || g.Tags["k"] != "v" {
				t.Fatalf("room written on the killed node, read on %s: %+v", n.name, g)
			}
		}
	}
	// Its clients reconnect elsewhere and the conversation goes on.
	again := reconnect(t, nodes[2], room.Arn, "c1")
	again.sendMessage("after the kill")
	logged := map[string]bool{}
	for {
		p := observer.await(2*time.Second, "after the kill", func(p payload) bool { return p.Type == "MESSAGE" })
		logged[p.Id] = true
		if p.Content == "after the kill" {
			break
		}
	}
	// Every payload a client received is in the chat log, those the victim had taken to ship
	// included: they go to another node after --chatlog-ack-wait.
	got := awaitLogged(t, logDir, roomID(room.Arn), logged, 20*time.Second)
	t.Logf("%d messages received around the kill, all in the chat log (%d records) %v after the kill",
		len(logged), len(got), time.Since(killed).Round(time.Millisecond))
}

func testNATSServerLoss(t *testing.T, nc *natsCluster, nodes []*node) {
	ctx := context.Background()
	room := newRoom(t, nodes[0].ivs, nil)
	members := spread(t, nodes, room.Arn, 1)
	settle(t, nodes[0], room.Arn, members...)
	members[0].sendMessage("before the loss")
	for _, m := range members {
		m.await(2*time.Second, "before the loss", message("before the loss"))
	}

	// A conversation goes on while the server leading the rooms bucket goes away.
	stopTalking := make(chan struct{})
	talked := make(chan struct{})
	go func() {
		defer close(talked)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stopTalking:
				return
			case <-tick.C:
			}
			m := members[i%len(members)]
			_ = m.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_ = m.ws.WriteJSON(map[string]any{"Action": "SEND_MESSAGE", "Content": fmt.Sprintf("during %d", i)})
		}
	}()
	// A connection's token claim needs two of the three used-token buckets: the nodes keep
	// their leaders on three servers, so that losing one server leaves two leaders.
	waitFor(t, 60*time.Second, "the used-token buckets' leaders on three different servers", func() bool {
		seen := map[int]bool{}
		for _, b := range []string{"ivschat_used_tokens", "ivschat_used_tokens_2", "ivschat_used_tokens_3"} {
			seen[nc.streamLeader(t, "KV_"+b)] = true
		}
		return len(seen) == 3 && !seen[-1]
	})
	victim := nc.streamLeader(t, "KV_ivschat_rooms")
	if victim < 0 {
		victim = 0
	}
	connects := &connectLog{}
	avail := measure(nodes, probes(t, nodes, room.Arn, connects))
	time.Sleep(500 * time.Millisecond) // every loop has answered once
	lost := time.Now()
	nc.servers[victim].kill()
	t.Logf("killed %s (kill -9), the leader of the rooms bucket", nc.servers[victim].name)
	defer func() {
		avail.end()
		avail.report(t, "one NATS server of three killed")
		// Reads and minting need no leader: the target is 1 s, the bound leaves room for a
		// loaded machine. A connection's token claim needs two of the three used-token
		// buckets, and the killed server led one of them: connections open at once, or, on a
		// machine too loaded to answer in time, get the 503 that says so within the
		// handshake's bound of 5 s; none waits longer.
		avail.expectAnswering(t, 1500*time.Millisecond, "CreateChatToken", "GetRoom", "ListRooms")
		connects.expect(t, 7*time.Second)
	}()

	// Every node answers the control plane again after the election.
	var arns []*string
	for _, n := range nodes {
		var r *ivschat.CreateRoomOutput
		waitFor(t, 30*time.Second, n.name+" creating a room after the NATS server loss", func() bool {
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			var err error
			r, err = n.ivs.CreateRoom(cctx, &ivschat.CreateRoomInput{Name: aws.String("after-loss")})
			return err == nil
		})
		arns = append(arns, r.Arn)
	}
	t.Logf("control plane back on every node %v after the loss", time.Since(lost).Round(time.Millisecond))
	for _, arn := range arns {
		for _, n := range nodes {
			_, err := n.ivs.GetRoom(ctx, &ivschat.GetRoomInput{Identifier: arn})
			mustNoErr(t, err)
		}
	}
	close(stopTalking)
	<-talked

	// The members who stayed connected hear each node again, and new members join anywhere.
	for _, m := range members {
		if !m.isOpen() {
			t.Fatalf("%s lost its connection with the NATS server: %s", m.name, m.ended())
		}
	}
	// New members join on every node. Each bucket elects its own leader, so the used-token
	// bucket may still be electing when the rooms bucket answers: a handshake meanwhile is a
	// 503, and the client does what the SDK does, connects again with a new token.
	var fresh []*member
	for _, n := range nodes {
		user := "fresh@" + n.name
		var m *member
		waitFor(t, 30*time.Second, user+" joining after the loss", func() bool {
			var status int
			m, status, _ = dial(t, n.ws, newToken(t, n.ivs, room.Arn, user), user)
			if m == nil && status != http.StatusServiceUnavailable && status != 0 {
				t.Fatalf("%s: handshake refused with %d after the loss", user, status)
			}
			return m != nil
		})
		fresh = append(fresh, m)
	}
	t.Logf("new members joined on every node %v after the loss", time.Since(lost).Round(time.Millisecond))
	everyone := append(slices.Clone(members), fresh...)
	for i, sender := range members {
		content := fmt.Sprintf("after the loss %d", i)
		// Subscriptions of a node that reconnected to another server are restored
		// asynchronously: resend until everyone has it.
		got := make([]bool, len(everyone))
		waitFor(t, 15*time.Second, "everyone hearing "+sender.name, func() bool {
			sender.sendMessage(content)
			all := true
			for j, m := range everyone {
				if !got[j] {
					_, got[j] = m.poll(300*time.Millisecond, message(content))
				}
				all = all && got[j]
			}
			return all
		})
		t.Logf("%s heard by everyone %v after the loss", sender.name, time.Since(lost).Round(time.Millisecond))
	}
	t.Logf("messaging back on every node %v after the loss", time.Since(lost).Round(time.Millisecond))
}
