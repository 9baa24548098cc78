package chat

import (
	"sync"
	"sync/atomic"
)

// Tap is a Broker in front of another that also hands a room's signals to watchers: the
// live views of the web console. A watcher subscribes the room on the inner broker as the
// gateway does, so it sees what every node publishes; the gateway and the watchers of a room
// share one subscription. Until someone watches, a signal costs one atomic load more.
type Tap struct {
	inner   Broker
	handler SignalHandler
	// watched counts the watchers, so that the signal path skips the room lookup without them.
	watched atomic.Int64

	mu    sync.RWMutex // guards rooms and every tapRoom's refs and watchers
	rooms map[RoomKey]*tapRoom
}

// tapRoom is the subscription state of one room that the gateway or a watcher holds.
type tapRoom struct {
	refs     int        // holders: the gateway, each watcher, calls in flight
	watchers []*Watcher // copied on write: the signal path reads it without the lock

	// subMu serializes the inner broker's Subscribe and Unsubscribe of the room, as the
	// Broker contract asks, without making rooms wait on each other.
	subMu   sync.Mutex
	gateway bool // the gateway holds a subscription
	watches int  // watchers that hold one
}

var _ Broker = (*Tap)(nil)
var _ SignalHandler = (*Tap)(nil)

// NewTap wraps a broker; the Tap registers itself as the inner broker's handler.
func NewTap(inner Broker) *Tap {
	t := &Tap{inner: inner, rooms: map[RoomKey]*tapRoom{}}
	inner.Register(t)
	return t
}

// Register sets the handler of every room's signals (the gateway).
func (t *Tap) Register(h SignalHandler) { t.handler = h }

// Publish publishes on the inner broker, which hands the signal back to the Tap for this
// node's handler and watchers.
func (t *Tap) Publish(room RoomKey, s Signal) error { return t.inner.Publish(room, s) }

// Subscribe is the gateway's subscription to a room.
func (t *Tap) Subscribe(room RoomKey) error { return t.subscribe(room, true) }

// Unsubscribe ends the gateway's subscription; the room stays subscribed while watched.
func (t *Tap) Unsubscribe(room RoomKey) error { return t.unsubscribe(room, true) }

// HandleSignal hands a signal to the gateway, then to the room's watchers.
func (t *Tap) HandleSignal(room RoomKey, s Signal, local bool) {
	if t.handler != nil {
		t.handler.HandleSignal(room, s, local)
	}
	if t.watched.Load() == 0 {
		return
	}
	t.mu.RLock()
	var ws []*Watcher
	if r := t.rooms[room]; r != nil {
		ws = r.watchers
	}
	t.mu.RUnlock()
	for _, w := range ws {
		w.offer(s)
	}
}

// hold returns the room's entry with one more holder.
func (t *Tap) hold(room RoomKey) *tapRoom {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.rooms[room]
	if r == nil {
		r = &tapRoom{}
		t.rooms[room] = r
	}
	r.refs++
	return r
}

// release drops a holder; the last one removes the entry, after its inner unsubscribe.
func (t *Tap) release(room RoomKey, r *tapRoom) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r.refs--
	if r.refs == 0 && t.rooms[room] == r {
		delete(t.rooms, room)
	}
}

func (t *Tap) subscribe(room RoomKey, byGateway bool) error {
	r := t.hold(room)
	r.subMu.Lock()
	defer r.subMu.Unlock()
	if byGateway && r.gateway {
		t.release(room, r) // the gateway asked twice; it holds one subscription
		return nil
	}
	if !r.gateway && r.watches == 0 {
		if err := t.inner.Subscribe(room); err != nil {
			t.release(room, r)
			return err
		}
	}
	if byGateway {
		r.gateway = true
	} else {
		r.watches++
	}
	return nil
}

func (t *Tap) unsubscribe(room RoomKey, byGateway bool) error {
	t.mu.RLock()
	r := t.rooms[room]
	t.mu.RUnlock()
	if r == nil {
		return nil // never subscribed
	}
	r.subMu.Lock()
	if byGateway {
		if !r.gateway {
			r.subMu.Unlock()
			return nil
		}
		r.gateway = false
	} else {
		r.watches--
	}
	var err error
	if !r.gateway && r.watches == 0 {
		err = t.inner.Unsubscribe(room)
	}
	r.subMu.Unlock()
	t.release(room, r)
	return err
}

// Watcher receives the signals of one room, from every node, from Watch until Close.
type Watcher struct {
	tap  *Tap
	room RoomKey
	c    chan Signal
	lost chan struct{}

	lostOnce, closeOnce sync.Once
}

// Watch starts receiving a room's signals; when it returns, signals published anywhere from
// then on reach the watcher. buffer bounds the signals waiting to be read: a watcher that
// falls further behind is told by Lost, and receives no more.
func (t *Tap) Watch(room RoomKey, buffer int) (*Watcher, error) {
	w := &Watcher{tap: t, room: room, c: make(chan Signal, buffer), lost: make(chan struct{})}
	if err := t.subscribe(room, false); err != nil {
		return nil, err
	}
	t.mu.Lock()
	r := t.rooms[room] // held by the subscription just made
	ws := make([]*Watcher, len(r.watchers), len(r.watchers)+1)
	copy(ws, r.watchers)
	r.watchers = append(ws, w)
	t.mu.Unlock()
	t.watched.Add(1)
	return w, nil
}

// Signals are the room's signals, in the order this node receives them.
func (w *Watcher) Signals() <-chan Signal { return w.c }

// Lost is closed when the watcher fell behind and signals were dropped.
func (w *Watcher) Lost() <-chan struct{} { return w.lost }

// Close stops the watcher and gives up its subscription.
func (w *Watcher) Close() {
	w.closeOnce.Do(func() {
		t := w.tap
		t.mu.Lock()
		if r := t.rooms[w.room]; r != nil {
			ws := make([]*Watcher, 0, len(r.watchers))
			for _, o := range r.watchers {
				if o != w {
					ws = append(ws, o)
				}
			}
			r.watchers = ws
		}
		t.mu.Unlock()
		t.watched.Add(-1)
		_ = t.unsubscribe(w.room, false)
	})
}

// offer hands a signal over without blocking the broker: a full buffer marks the watcher lost.
func (w *Watcher) offer(s Signal) {
	select {
	case <-w.lost:
	default:
		select {
		case w.c <- s:
		default:
			w.lostOnce.Do(func() { close(w.lost) })
		}
	}
}
