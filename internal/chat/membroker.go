package chat

import "sync"

// MemoryBus joins nodes that run in one process, as NATS joins nodes across processes: each
// of its brokers is one node's Broker. Tests of the fan-out run on it without an engine.
type MemoryBus struct {
	mu    sync.RWMutex
	nodes []*MemoryBroker
}

// NewMemoryBus makes a bus with no nodes.
func NewMemoryBus() *MemoryBus { return &MemoryBus{} }

// Node adds a node to the bus and returns its broker.
func (b *MemoryBus) Node() *MemoryBroker {
	n := &MemoryBroker{bus: b, rooms: map[RoomKey]bool{}}
	b.mu.Lock()
	b.nodes = append(b.nodes, n)
	b.mu.Unlock()
	return n
}

// MemoryBroker is one node's Broker on a MemoryBus. Unlike NATS, it hands a signal to the
// other nodes' handlers on the publisher's goroutine, one signal at a time per node.
type MemoryBroker struct {
	bus     *MemoryBus
	handler SignalHandler

	mu    sync.Mutex // guards rooms
	rooms map[RoomKey]bool
	// deliverMu keeps other nodes' signals one at a time, as a NATS subscription does.
	deliverMu sync.Mutex
}

var _ Broker = (*MemoryBroker)(nil)

// Register sets the node's handler.
func (n *MemoryBroker) Register(h SignalHandler) { n.handler = h }

// Publish hands the signal to every other node subscribed to the room, then to this node's
// handler.
func (n *MemoryBroker) Publish(room RoomKey, s Signal) error {
	n.bus.mu.RLock()
	nodes := n.bus.nodes
	n.bus.mu.RUnlock()
	for _, other := range nodes {
		if other != n && other.subscribed(room) && other.handler != nil {
			other.deliverMu.Lock()
			other.handler.HandleSignal(room, s, false)
			other.deliverMu.Unlock()
		}
	}
	if n.handler != nil {
		n.handler.HandleSignal(room, s, true)
	}
	return nil
}

// Subscribe starts handing the room's signals from other nodes to the handler.
func (n *MemoryBroker) Subscribe(room RoomKey) error {
	n.mu.Lock()
	n.rooms[room] = true
	n.mu.Unlock()
	return nil
}

// Unsubscribe stops the room's signals from other nodes.
func (n *MemoryBroker) Unsubscribe(room RoomKey) error {
	n.mu.Lock()
	delete(n.rooms, room)
	n.mu.Unlock()
	return nil
}

func (n *MemoryBroker) subscribed(room RoomKey) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.rooms[room]
}
