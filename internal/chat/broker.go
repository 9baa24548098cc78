package chat

// RoomKey names a room on every node: rooms are partitioned by account.
type RoomKey struct{ Account, ID string }

// Key returns the key of the room.
func (r *Room) Key() RoomKey { return RoomKey{Account: r.Account, ID: r.ID} }

// SignalKind says what a room signal asks of the nodes that have members in the room. The
// values travel between nodes: renaming one breaks a cluster of mixed versions.
type SignalKind string

// Room signals. Every node with members in the room receives each one.
const (
	// SignalDeliver carries an encoded MESSAGE or EVENT payload for every member.
	SignalDeliver SignalKind = "deliver"
	// SignalDisconnect closes every connection of UserID, after its payload (the encoded
	// aws:DISCONNECT_USER event) reaches every member.
	SignalDisconnect SignalKind = "disconnect"
	// SignalUpdated says the room's settings changed; the payload is the room as stored.
	SignalUpdated SignalKind = "updated"
	// SignalDeleted says the room is gone; its members are told and disconnected.
	SignalDeleted SignalKind = "deleted"
)

// Signal is one event in a room's life that every node serving the room acts on.
type Signal struct {
	Kind SignalKind
	// Payload is the encoded MESSAGE or EVENT of a SignalDeliver, the encoded
	// aws:DISCONNECT_USER event of a SignalDisconnect, or the room of a SignalUpdated.
	Payload []byte
	// UserID names the user of a SignalDisconnect.
	UserID string
}

// Broker carries room signals between the nodes of a cluster; it is the one owner of a
// room's fan-out between nodes, in the shape of centrifuge's Broker. The service publishes,
// the gateway subscribes to a room while it has members of it, and one SignalHandler,
// registered once, receives the signals of every room.
type Broker interface {
	// Register sets the handler of every room's signals. Call it once, before the node
	// publishes or subscribes.
	Register(h SignalHandler)
	// Publish sends a signal to every node subscribed to the room. Once the signal is on its
	// way to the others, Publish hands it to this node's handler on the calling goroutine,
	// whether or not this node is subscribed: a node's members get its own signals without
	// a round trip, and the broker never echoes them back.
	Publish(room RoomKey, s Signal) error
	// Subscribe starts handing the room's signals from other nodes to the handler; when it
	// returns, signals the other nodes publish from then on reach this node. Signals of one
	// room arrive one at a time, in each publisher's order.
	Subscribe(room RoomKey) error
	// Unsubscribe stops the room's signals from other nodes. Subscribe and Unsubscribe of one
	// room must not overlap; the caller serializes them.
	Unsubscribe(room RoomKey) error
}

// SignalHandler acts on room signals delivered by a Broker.
type SignalHandler interface {
	// HandleSignal acts on a signal of a room. local is true for a signal this node
	// published, handed over on the publisher's goroutine; a signal from another node comes
	// on the broker's goroutine for the room. It must not block on the network.
	HandleSignal(room RoomKey, s Signal, local bool)
}
