package gateway

import (
	"encoding/json"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/engine"
)

// hub is one room on this node: its local members and its subscription to the room's
// subject. It exists while the room has local members.
type hub struct {
	gw      *Gateway
	account string
	roomID  string
	room    atomic.Pointer[chat.Room]

	mu      sync.RWMutex
	members map[*conn]struct{}
	sub     engine.Subscription

	// dispatchMu makes the room's signals reach every local member in one order, whether a
	// signal comes from this node's own publishers or from the engine.
	dispatchMu sync.Mutex

	rateMu sync.Mutex
	rate   window
}

// hubShards spread the room table over many locks: joining one room never waits on another.
const hubShards = 64

type hubShard struct {
	mu   sync.Mutex
	hubs map[string]*hub
}

func shardOf(shards *[hubShards]hubShard, key string) *hubShard {
	h := fnv.New32a()
	h.Write([]byte(key))
	return &shards[h.Sum32()%hubShards]
}

// join adds a connection to its room's hub, creating the hub and its subscription on the
// first local member.
func (g *Gateway) join(c *conn, room *chat.Room) (fresh bool, err error) {
	key := room.Account + "." + room.ID
	sh := shardOf(&g.hubs, key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	h := sh.hubs[key]
	if h == nil {
		h = &hub{gw: g, account: room.Account, roomID: room.ID, members: map[*conn]struct{}{}}
		h.room.Store(room)
		sub, err := g.service.Engine().SubscribeRoom(room.Account, room.ID, h.onRemoteSignal)
		if err != nil {
			return false, err
		}
		h.sub = sub
		sh.hubs[key] = h
		fresh = true
	}
	h.mu.Lock()
	h.members[c] = struct{}{}
	h.mu.Unlock()
	c.hub = h
	return fresh, nil
}

// refresh stores room settings read after the hub subscribed, unless an update signal has
// already brought newer ones.
func (h *hub) refresh(r *chat.Room) {
	if !r.UpdateTime.Before(h.room.Load().UpdateTime) {
		h.room.Store(r)
	}
}

// leave removes a connection; the last one out ends the hub's subscription.
func (h *hub) leave(c *conn) {
	key := h.account + "." + h.roomID
	sh := shardOf(&h.gw.hubs, key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	h.mu.Lock()
	delete(h.members, c)
	empty := len(h.members) == 0
	h.mu.Unlock()
	if empty && sh.hubs[key] == h {
		delete(sh.hubs, key)
		_ = h.sub.Unsubscribe()
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

// broadcast queues one frame for every member. Members whose queue is full are dropped after
// the loop, so a slow reader never holds up the room.
func (h *hub) broadcast(f []byte) {
	var slow []*conn
	h.each(func(c *conn) {
		if !c.enqueue(f) {
			slow = append(slow, c)
		}
	})
	for _, c := range slow {
		c.abort("outbound queue full: the client is not reading")
	}
}

// onRemoteSignal takes the room subject's signals. This node's own come back too; they were
// dispatched when published (see dispatchLocal) and are dropped here.
func (h *hub) onRemoteSignal(s engine.RoomSignal) {
	if s.Origin == h.gw.service.NodeID {
		return
	}
	h.dispatch(s)
}

// dispatchLocal hands a signal this node published to the room's members here, if any.
func (g *Gateway) dispatchLocal(account, roomID string, s engine.RoomSignal) {
	key := account + "." + roomID
	sh := shardOf(&g.hubs, key)
	sh.mu.Lock()
	h := sh.hubs[key]
	sh.mu.Unlock()
	if h != nil {
		h.dispatch(s)
	}
}

// dispatch acts on one of the room's signals.
func (h *hub) dispatch(s engine.RoomSignal) {
	h.dispatchMu.Lock()
	defer h.dispatchMu.Unlock()
	switch s.Kind {
	case engine.SignalDeliver:
		if s.CountsTowardRate && s.Origin != h.gw.service.NodeID {
			h.rateMu.Lock()
			h.rate.record(time.Now())
			h.rateMu.Unlock()
		}
		h.broadcast(frame(opText, s.Payload))
	case engine.SignalDisconnect:
		h.broadcast(frame(opText, s.Payload))
		for _, c := range h.list(func(c *conn) bool { return c.token.UserID == s.UserID }) {
			c.closeWith(closeNormal, "disconnected by a moderator")
		}
	case engine.SignalUpdated:
		var r chat.Room
		// Updates made on two nodes at once may arrive in either order; the newer one stays.
		if json.Unmarshal(s.Payload, &r) == nil && r.ID == h.roomID {
			h.refresh(&r)
		}
	case engine.SignalDeleted:
		f := frame(opText, chat.Encode(chat.NewError(chat.NewID(), "", chat.CodeNotFound, "the room has been deleted")))
		for _, c := range h.list(nil) {
			c.enqueue(f)
			c.closeWith(closeNormal, "room deleted")
		}
	}
}

// admitMessage applies the room's message rate to one send on this node.
func (h *hub) admitMessage(now time.Time) bool {
	limit := h.room.Load().MaximumMessageRatePerSecond
	h.rateMu.Lock()
	defer h.rateMu.Unlock()
	return h.rate.admit(now, limit)
}
