package gateway

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// hub is one room on this node: its local members, while it has any; the gateway is
// subscribed to the room's signals for as long.
type hub struct {
	gw    *Gateway
	key   chat.RoomKey
	state atomic.Pointer[roomState]

	mu      sync.RWMutex
	members map[*conn]struct{}
	joined  int // members ever joined, to spread them over the shards; guarded by mu

	// shards are the room's fan-out on this node (fanout.go).
	shards []*fanShard

	// dispatchMu makes the room's signals reach every local member in one order, whether a
	// signal comes from this node's own publishers or from another node.
	dispatchMu sync.Mutex
}

// roomState is a room's settings as this node knows them, with the extensions its tags
// switch on parsed once per change rather than on every message.
type roomState struct {
	room     *chat.Room
	settings chat.RoomSettings
}

func newRoomState(r *chat.Room) *roomState {
	return &roomState{room: r, settings: r.Settings()}
}

// room is the room's current settings.
func (h *hub) room() *chat.Room { return h.state.Load().room }

// hubShards spread the room table over many locks: joining one room never waits on another.
const hubShards = 64

type hubShard struct {
	mu   sync.Mutex
	hubs map[chat.RoomKey]*hub
}

// shardOf picks a room's shard by the FNV-1a hash of its key, without allocating: it runs
// for every signal.
func shardOf(shards *[hubShards]hubShard, key chat.RoomKey) *hubShard {
	h := uint32(2166136261)
	for _, s := range [2]string{key.Account, key.ID} {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint32(s[i])) * 16777619
		}
	}
	return &shards[h%hubShards]
}

// join adds a connection to its room's hub, creating the hub and subscribing to the room's
// signals on the first local member.
func (g *Gateway) join(c *conn, room *chat.Room) (fresh bool, err error) {
	key := room.Key()
	sh := shardOf(&g.hubs, key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	h := sh.hubs[key]
	if h == nil {
		h = &hub{gw: g, key: key, members: map[*conn]struct{}{}, shards: newFanShards()}
		h.state.Store(newRoomState(room))
		if err := g.broker.Subscribe(key); err != nil {
			return false, err
		}
		sh.hubs[key] = h
		g.rooms.Add(1)
		fresh = true
	}
	h.mu.Lock()
	// The member has its shard before anyone can find it among the members.
	h.shards[(h.joined/fanBlock)%len(h.shards)].add(c)
	h.joined++
	h.members[c] = struct{}{}
	h.mu.Unlock()
	c.hub = h
	return fresh, nil
}

// refresh stores room settings read after the hub subscribed, unless an update signal has
// already brought newer ones. Tag changes keep the update time (as in IVS), so an equal time
// is taken as newer.
func (h *hub) refresh(r *chat.Room) {
	if !r.UpdateTime.Before(h.room().UpdateTime) {
		h.state.Store(newRoomState(r))
	}
}

// leave removes a connection; the last one out unsubscribes from the room's signals.
func (h *hub) leave(c *conn) {
	sh := shardOf(&h.gw.hubs, h.key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	h.mu.Lock()
	delete(h.members, c)
	empty := len(h.members) == 0
	h.mu.Unlock()
	c.shard.remove(c)
	if empty && sh.hubs[h.key] == h {
		delete(sh.hubs, h.key)
		h.gw.rooms.Add(-1)
		_ = h.gw.broker.Unsubscribe(h.key)
	}
}

// each calls fn for every member, outside the member lock's write side.
func (h *hub) each(fn func(*conn)) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.members {
		fn(c)
	}
}

// list returns the members that keep says to (all when keep is nil). Closing a member may
// drop it from the room, which takes the member lock: that must happen outside each.
func (h *hub) list(keep func(*conn) bool) []*conn {
	var out []*conn
	h.each(func(c *conn) {
		if keep == nil || keep(c) {
			out = append(out, c)
		}
	})
	return out
}

// broadcast queues one frame for every member, once per shard; the shards' writers drop
// members that have fallen too far behind, so a slow reader never holds up the room. It
// returns how many members the frame is queued for.
func (h *hub) broadcast(f []byte) int {
	n := 0
	for _, s := range h.shards {
		n += s.broadcast(f)
	}
	return n
}

// HandleSignal hands a room's signal to the room's members on this node, if any: the
// gateway is the broker's handler of every room.
func (g *Gateway) HandleSignal(room chat.RoomKey, s chat.Signal, local bool) {
	sh := shardOf(&g.hubs, room)
	sh.mu.Lock()
	h := sh.hubs[room]
	sh.mu.Unlock()
	if h != nil {
		h.dispatch(s, local)
	}
}

// dispatch acts on one of the room's signals; local says this node published it.
func (h *hub) dispatch(s chat.Signal, local bool) {
	h.dispatchMu.Lock()
	defer h.dispatchMu.Unlock()
	switch s.Kind {
	case chat.SignalDeliver:
		h.gw.metrics.Delivered(h.broadcast(frame(opText, s.Payload)))
	case chat.SignalDisconnect:
		h.gw.metrics.Delivered(h.broadcast(frame(opText, s.Payload)))
		for _, c := range h.list(func(c *conn) bool { return c.token.UserID == s.UserID }) {
			c.closeWith(closeNormal, "disconnected by a moderator")
		}
	case chat.SignalUpdated:
		var r chat.Room
		// Updates made on two nodes at once may arrive in either order; the newer one stays.
		if json.Unmarshal(s.Payload, &r) == nil && r.ID == h.key.ID {
			h.refresh(&r)
		}
	case chat.SignalDeleted:
		f := errorFrame("", "", chat.KindNotFound, "the room has been deleted")
		h.gw.metrics.Delivered(h.broadcast(f))
		for _, c := range h.list(nil) {
			c.closeWith(closeNormal, "room deleted")
		}
	}
}

// LocalRoomUsers are the users connected to a room on this node (chat.Roster): what each
// node answers when ListRoomUsers asks the cluster.
func (g *Gateway) LocalRoomUsers(key chat.RoomKey) []chat.RoomUser {
	sh := shardOf(&g.hubs, key)
	sh.mu.Lock()
	h := sh.hubs[key]
	sh.mu.Unlock()
	if h == nil {
		return nil
	}
	var each []chat.RoomUser
	h.each(func(c *conn) {
		each = append(each, chat.RoomUser{UserID: c.token.UserID, Attributes: c.token.Attributes, Connections: 1,
			ConnectedAt: time.Unix(0, c.since).UTC()})
	})
	merged := chat.MergeRoomUsers(each)
	out := make([]chat.RoomUser, len(merged))
	for i, u := range merged {
		out[i] = *u
	}
	return out
}
