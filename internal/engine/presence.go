package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// Presence is who is connected to each room across the cluster, without an engine write per
// connect: a node asked for a room's users asks every other node on one subject
// (scatter-gather over the engine's connection) and adds its own members. To know how many
// answers to wait for, every node announces itself with a heartbeat record in the nodes
// bucket, renewed every heartbeatEvery; the bucket's age limit removes the record of a node
// that stops renewing it, so a dead node drops out within nodeTTL. On the embedded engine
// there are no other nodes: the answer is this node's members, with no round trip.
type Presence struct {
	e        *Engine
	node     string
	roster   chat.Roster
	onChange PresenceChange
	// rev is the revision of this node's heartbeat record as last written.
	rev uint64

	// local is this node's share of every count it holds, by record key, to restore after
	// its heartbeat lapsed.
	localMu sync.Mutex
	local   map[string]int
	// counting serializes this node's changes of one record (by a shard of its key), so that
	// a user's join and leave are reported in the order they were counted, without making
	// connects to other rooms wait.
	counting [64]sync.Mutex

	mu sync.Mutex
	// peers are the other nodes whose heartbeat is live, with when it was last renewed.
	peers map[string]time.Time

	sub    *nats.Subscription
	stop   context.CancelFunc
	done   sync.WaitGroup
	closed sync.Once
}

var _ chat.Presence = (*Presence)(nil)

// Heartbeats: a node renews its record every heartbeatEvery; the record lives nodeTTL, so a
// node that dies (or loses the engine) drops out within nodeTTL. gatherTimeout bounds the
// wait for the other nodes' answers: a node that died a moment ago, whose record has not
// expired yet, costs the caller this wait and is then left out.
const (
	heartbeatEvery = time.Second
	nodeTTL        = 3 * time.Second
	gatherTimeout  = time.Second
)

// presenceSubject is where nodes ask each other for a room's users.
const presenceSubject = "ivschatd.presence.users"

// NewPresence makes the presence of this node; Start runs it.
func NewPresence(e *Engine) *Presence {
	return &Presence{e: e, node: e.node, peers: map[string]time.Time{}, local: map[string]int{}}
}

// Node is this node's id in the cluster, new at every start.
func (p *Presence) Node() string { return p.node }

// Start answers the other nodes' queries with the roster's members, announces the node, and
// reports changes of the users' counts (CountConnection's, and those of dead nodes removed)
// to onChange. It returns once the node's heartbeat is stored and the other nodes' are known.
func (p *Presence) Start(ctx context.Context, roster chat.Roster, onChange PresenceChange) error {
	p.roster, p.onChange = roster, onChange
	life, stop := context.WithCancel(p.e.life)
	p.stop = stop
	sub, err := p.e.nc.Subscribe(presenceSubject, p.answer)
	if err != nil {
		stop()
		return fmt.Errorf("engine: presence: subscribe: %w", err)
	}
	p.sub = sub
	if _, err := p.beat(ctx); err != nil {
		p.Close()
		return fmt.Errorf("engine: presence: heartbeat: %w", err)
	}
	w, err := p.e.nodes.WatchAll(life)
	if err != nil {
		p.Close()
		return fmt.Errorf("engine: presence: watch nodes: %w", err)
	}
	initial := make(chan struct{})
	p.done.Add(2)
	go p.follow(life, w, initial)
	go p.heartbeat(life)
	select {
	case <-initial:
		// Counts left by nodes that are gone (all of them, if the cluster restarted).
		p.done.Add(1)
		go func() {
			defer p.done.Done()
			p.reap(life, "")
		}()
		return nil
	case <-ctx.Done():
		p.Close()
		return fmt.Errorf("engine: presence: read nodes: %w", ctx.Err())
	}
}

// Close stops answering and removes the node's heartbeat, so that the others stop waiting
// for it at once rather than when its record expires.
func (p *Presence) Close() {
	if p.stop == nil {
		return // not started
	}
	p.closed.Do(func() {
		p.stop()
		if p.sub != nil {
			_ = p.sub.Unsubscribe()
		}
		p.done.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = p.e.nodes.Delete(ctx, p.node)
	})
}

// beat stores the node's heartbeat record. lapsed is true when the record had expired (or
// was removed) since the last beat: the other nodes have taken this one for dead.
func (p *Presence) beat(ctx context.Context) (lapsed bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, heartbeatEvery)
	defer cancel()
	now := time.Now().UTC().AppendFormat(nil, time.RFC3339Nano)
	if p.rev != 0 {
		rev, err := p.e.nodes.Update(ctx, p.node, now, p.rev)
		if err == nil {
			p.rev = rev
			return false, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
			return false, err
		}
		lapsed = true
	}
	rev, err := p.e.nodes.Put(ctx, p.node, now)
	if err != nil {
		return false, err
	}
	p.rev = rev
	return lapsed, nil
}

func (p *Presence) heartbeat(life context.Context) {
	defer p.done.Done()
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-life.Done():
			return
		case <-t.C:
		}
		lapsed, err := p.beat(life)
		if err != nil && life.Err() == nil {
			p.e.cfg.Log.Warn("engine: presence: the node's heartbeat was not stored; other nodes drop its members once it expires", "err", err)
		}
		if lapsed {
			p.e.cfg.Log.Warn("engine: presence: the node's heartbeat had expired; its members are counted again")
			p.resync(life)
		}
	}
}

// follow keeps the peers current from the nodes bucket; initial is closed once every record
// stored at the start has been read.
func (p *Presence) follow(life context.Context, w jetstream.KeyWatcher, initial chan struct{}) {
	defer p.done.Done()
	defer func() { _ = w.Stop() }()
	for entry := range w.Updates() {
		if entry == nil {
			close(initial)
			continue
		}
		if entry.Key() == p.node {
			continue
		}
		p.mu.Lock()
		if entry.Operation() == jetstream.KeyValuePut {
			p.peers[entry.Key()] = time.Now()
		} else {
			delete(p.peers, entry.Key())
		}
		p.mu.Unlock()
		if entry.Operation() != jetstream.KeyValuePut {
			// The node stopped, or its heartbeat expired: remove its shares of the counts.
			go p.reap(life, entry.Key())
		}
	}
}

// livePeers are the other nodes whose heartbeat was renewed within nodeTTL.
func (p *Presence) livePeers() map[string]bool {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	live := map[string]bool{}
	for node, seen := range p.peers {
		if now.Sub(seen) < nodeTTL {
			live[node] = true
		} else {
			delete(p.peers, node)
		}
	}
	return live
}

// RoomUsers are the users connected to the room on every live node, merged, by user id.
func (p *Presence) RoomUsers(ctx context.Context, room chat.RoomKey) ([]*chat.RoomUser, error) {
	if p.roster == nil {
		return nil, errNoRoster
	}
	local := p.roster.LocalRoomUsers(room)
	peers := p.livePeers()
	if len(peers) == 0 {
		return chat.MergeRoomUsers(local), nil
	}
	parts, err := p.gather(ctx, room, peers)
	if err != nil {
		return nil, err
	}
	return chat.MergeRoomUsers(append(parts, local)...), nil
}

// gather asks every other node for the room's users and waits for the answers of the peers
// (and of any node that answers unasked, one that started a moment ago), until gatherTimeout.
func (p *Presence) gather(ctx context.Context, room chat.RoomKey, peers map[string]bool) ([][]chat.RoomUser, error) {
	query, err := json.Marshal(chat.UsersQuery{Room: room})
	if err != nil {
		return nil, err
	}
	inbox := p.e.nc.NewInbox()
	replies := make(chan *nats.Msg, 1024)
	sub, err := p.e.nc.ChanSubscribe(inbox, replies)
	if err != nil {
		return nil, fmt.Errorf("engine: presence: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := p.e.nc.PublishRequest(presenceSubject, inbox, query); err != nil {
		return nil, fmt.Errorf("engine: presence: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, gatherTimeout)
	defer cancel()
	type answer struct {
		got, parts int
	}
	answers := map[string]*answer{}
	var out [][]chat.RoomUser
	complete := func() bool {
		for node := range peers {
			if a := answers[node]; a == nil || a.got < a.parts {
				return false
			}
		}
		for _, a := range answers {
			if a.got < a.parts {
				return false
			}
		}
		return true
	}
	for !complete() {
		select {
		case m := <-replies:
			r, err := chat.DecodeUsersReply(m.Data)
			if err != nil {
				continue
			}
			a := answers[r.Node]
			if a == nil {
				a = &answer{parts: r.Parts}
				answers[r.Node] = a
			}
			a.got++
			out = append(out, r.Users)
		case <-ctx.Done():
			// A node that did not answer in time has died or lost the engine; its heartbeat is
			// about to expire. The others' answers stand.
			return out, nil
		}
	}
	return out, nil
}

// answer sends this node's users of the queried room to the asker, in parts that each fit
// in one engine message.
func (p *Presence) answer(m *nats.Msg) {
	q, err := chat.DecodeUsersQuery(m.Data)
	if err != nil || m.Reply == "" || p.roster == nil {
		return
	}
	users := p.roster.LocalRoomUsers(q.Room)
	limit := int(p.e.nc.MaxPayload()) / 2
	var chunks [][]chat.RoomUser
	start, size := 0, 0
	for i, u := range users {
		b, _ := json.Marshal(u)
		if size+len(b) > limit && i > start {
			chunks = append(chunks, users[start:i])
			start, size = i, 0
		}
		size += len(b) + 1
	}
	chunks = append(chunks, users[start:])
	for i, c := range chunks {
		b, err := json.Marshal(chat.UsersReply{Node: p.node, Part: i, Parts: len(chunks), Users: c})
		if err != nil {
			return
		}
		if err := p.e.nc.Publish(m.Reply, b); err != nil {
			return
		}
	}
}

// errNoRoster means Start has not run.
var errNoRoster = errors.New("engine: presence is not started")

// Presence events (ivschatd:presence-events) need a count of each user's connections to a
// room across the cluster, for the rooms with the tag only: one record per room and user in
// the in-memory bucket ivschatd_presence, holding each node's share, changed by
// compare-and-set so that of nodes changing it at once each change counts. The node whose
// change takes the count from 0 or to 0 is the one that reports the user's join or leave. A
// node that dies leaves its shares behind: every node that sees its heartbeat go removes
// them, by the same compare-and-set, so that exactly one reports each leave.

// PresenceChange reports that a user's connections to a room across the cluster went from
// before to after; an error means the room could not be told.
type PresenceChange func(room chat.RoomKey, userID string, before, after int) error

// presenceRetries bounds the conditional writes of one change of a count: each lost race
// means another node's change went through.
const presenceRetries = 64

// shares are the nodes' counts of a user's connections to a room.
type shares map[string]int

func (s shares) total() int {
	n := 0
	for _, c := range s {
		n += c
	}
	return n
}

// presenceKey names a user's record: the room's account and id, and the user.
func presenceKey(room chat.RoomKey, userID string) string {
	return key(room.Account, chat.RoomUserKey(room.ID, userID))
}

// CountConnection changes this node's count of the user's connections to the room by delta
// (1 when one opens, -1 when one closes) and reports the change across the cluster to the
// handler given to Start. A count never goes below 0: closing a connection that another node
// already removed (this node was taken for dead) changes nothing.
func (p *Presence) CountConnection(ctx context.Context, room chat.RoomKey, userID string, delta int) error {
	k := presenceKey(room, userID)
	mu := p.lockOf(k)
	mu.Lock()
	defer mu.Unlock()
	before, after, err := p.changeShare(ctx, k, func(s shares) {
		if n := s[p.node] + delta; n > 0 {
			s[p.node] = n
		} else {
			delete(s, p.node)
		}
	})
	if err != nil {
		return err
	}
	p.localMu.Lock()
	if n := p.local[k] + delta; n > 0 {
		p.local[k] = n
	} else {
		delete(p.local, k)
	}
	p.localMu.Unlock()
	p.report(k, before, after)
	return nil
}

// lockOf is the lock of a record's changes on this node.
func (p *Presence) lockOf(k string) *sync.Mutex {
	h := uint32(2166136261)
	for i := 0; i < len(k); i++ {
		h = (h ^ uint32(k[i])) * 16777619
	}
	return &p.counting[h%uint32(len(p.counting))]
}

// report hands a change of a count to the handler.
func (p *Presence) report(k string, before, after int) {
	if before == after || p.onChange == nil {
		return
	}
	account, rest, _ := splitKey(k)
	roomID, user, ok := chat.SplitRoomUserKey(rest)
	if !ok {
		return
	}
	if err := p.onChange(chat.RoomKey{Account: account, ID: roomID}, user, before, after); err != nil {
		p.e.cfg.Log.Error("engine: presence: the room was not told of a join or leave", "room", roomID, "err", err)
	}
}

// changeShare applies change to the record's shares by compare-and-set, removing the record
// when no share is left, and returns the totals before and after.
func (p *Presence) changeShare(ctx context.Context, k string, change func(shares)) (before, after int, err error) {
	for range presenceRetries {
		s := shares{}
		var rev uint64
		entry, err := p.e.presence.Get(ctx, k)
		switch {
		case err == nil:
			rev = entry.Revision()
			if json.Unmarshal(entry.Value(), &s) != nil {
				s = shares{}
			}
		case errors.Is(err, jetstream.ErrKeyNotFound):
		default:
			return 0, 0, fmt.Errorf("engine: presence count: %w", err)
		}
		before = s.total()
		change(s)
		after = s.total()
		if before == after && len(s) > 0 {
			return before, after, nil
		}
		switch {
		case len(s) == 0 && rev == 0:
			return before, after, nil
		case len(s) == 0:
			err = p.e.presence.Delete(ctx, k, jetstream.LastRevision(rev))
		case rev == 0:
			b, _ := json.Marshal(s)
			_, err = p.e.presence.Create(ctx, k, b)
		default:
			b, _ := json.Marshal(s)
			_, err = p.e.presence.Update(ctx, k, b, rev)
		}
		if err == nil {
			return before, after, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) && !isWrongLastSequence(err) {
			return 0, 0, fmt.Errorf("engine: presence count: %w", err)
		}
	}
	return 0, 0, errors.New("engine: presence count: too many concurrent changes")
}

// isWrongLastSequence is a conditional delete that lost its race.
func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// reap removes the shares of nodes that have no heartbeat record (dead, or stopped), and
// reports the users whose count that takes to 0. gone names one such node, or is empty to
// look for every one.
func (p *Presence) reap(ctx context.Context, gone string) {
	live, err := p.liveNodes(ctx)
	if err != nil {
		p.e.cfg.Log.Warn("engine: presence: reading the live nodes", "err", err)
		return
	}
	if gone != "" && live[gone] {
		return // back already
	}
	keys, err := p.e.presence.ListKeys(ctx)
	if err != nil {
		if !errors.Is(err, jetstream.ErrNoKeysFound) {
			p.e.cfg.Log.Warn("engine: presence: listing counts", "err", err)
		}
		return
	}
	for k := range keys.Keys() {
		p.removeDead(ctx, k, live)
	}
}

// removeDead removes the shares of nodes not live from one record.
func (p *Presence) removeDead(ctx context.Context, k string, live map[string]bool) {
	mu := p.lockOf(k)
	mu.Lock()
	defer mu.Unlock()
	before, after, err := p.changeShare(ctx, k, func(s shares) {
		for node := range s {
			if !live[node] {
				delete(s, node)
			}
		}
	})
	if err != nil {
		p.e.cfg.Log.Warn("engine: presence: removing a dead node's connections", "err", err)
		return
	}
	p.report(k, before, after)
}

// liveNodes are the nodes with a heartbeat record, this one included.
func (p *Presence) liveNodes(ctx context.Context) (map[string]bool, error) {
	live := map[string]bool{p.node: true}
	keys, err := p.e.nodes.ListKeys(ctx)
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return live, nil
		}
		return nil, err
	}
	for k := range keys.Keys() {
		live[k] = true
	}
	return live, nil
}

// resync restores this node's shares after its heartbeat lapsed (it lost the engine for
// longer than nodeTTL, and the others removed its shares): each user it still holds
// connections of is counted again, and reported as joining if nobody else held any.
func (p *Presence) resync(ctx context.Context) {
	p.localMu.Lock()
	keys := make([]string, 0, len(p.local))
	for k := range p.local {
		keys = append(keys, k)
	}
	p.localMu.Unlock()
	for _, k := range keys {
		p.restore(ctx, k)
	}
}

// restore sets this node's share of one record to the connections it holds.
func (p *Presence) restore(ctx context.Context, k string) {
	mu := p.lockOf(k)
	mu.Lock()
	defer mu.Unlock()
	p.localMu.Lock()
	n := p.local[k]
	p.localMu.Unlock()
	before, after, err := p.changeShare(ctx, k, func(s shares) {
		if n > 0 {
			s[p.node] = n
		} else {
			delete(s, p.node)
		}
	})
	if err != nil {
		p.e.cfg.Log.Warn("engine: presence: counting this node's connections again", "err", err)
		return
	}
	p.report(k, before, after)
}
