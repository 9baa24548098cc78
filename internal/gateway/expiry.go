package gateway

import (
	"container/heap"
	"sync"
	"time"
)

// expiries end each member's connection when its chat session does: one timer for the node,
// over a heap of the connections by the end of their sessions, rather than a timer (and its
// closure) per member.
type expiries struct {
	mu    sync.Mutex
	conns expiryHeap
	timer *time.Timer // fires at the earliest session end; made with the first member
}

// add watches c's session; c.mu may be held.
func (e *expiries) add(c *conn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	heap.Push(&e.conns, c)
	if e.conns[0] == c {
		d := time.Until(c.token.SessionExpirationTime)
		if e.timer == nil {
			e.timer = time.AfterFunc(d, e.fire)
		} else {
			e.timer.Reset(d)
		}
	}
}

// remove stops watching c, if it is watched; c.mu may be held. (The timer may then fire
// for nothing, and sets itself for the next session end.)
func (e *expiries) remove(c *conn) {
	e.mu.Lock()
	if c.expirySlot > 0 {
		heap.Remove(&e.conns, c.expirySlot-1)
	}
	e.mu.Unlock()
}

// fire ends every session that is over and sets the timer for the next.
func (e *expiries) fire() {
	now := time.Now()
	var due []*conn
	e.mu.Lock()
	for len(e.conns) > 0 && !e.conns[0].token.SessionExpirationTime.After(now) {
		due = append(due, heap.Pop(&e.conns).(*conn))
	}
	if len(e.conns) > 0 {
		e.timer.Reset(time.Until(e.conns[0].token.SessionExpirationTime))
	}
	e.mu.Unlock()
	for _, c := range due {
		c.expire()
	}
}

// expiryHeap orders connections by the end of their sessions; each knows its place in it
// (expirySlot, one more than its index, so that a conn's zero value is "not watched").
type expiryHeap []*conn

func (h expiryHeap) Len() int { return len(h) }
func (h expiryHeap) Less(i, j int) bool {
	return h[i].token.SessionExpirationTime.Before(h[j].token.SessionExpirationTime)
}
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].expirySlot, h[j].expirySlot = i+1, j+1
}
func (h *expiryHeap) Push(x any) {
	c := x.(*conn)
	c.expirySlot = len(*h) + 1
	*h = append(*h, c)
}
func (h *expiryHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	c.expirySlot = 0
	return c
}
