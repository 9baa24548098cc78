package adversarial

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/gorilla/websocket"
)

// The busy room's traffic: members sending messages and the control plane sending events,
// each payload numbered, while the control member only reads. What the control member must
// have received is known exactly: every payload whose sender saw it accepted, and nothing
// whose sender saw it refused.

const (
	senders       = 4
	sendInterval  = 100 * time.Millisecond // each sender: 10 a second, under the connection rate
	eventInterval = 25 * time.Millisecond
)

// padding makes each event about a kilobyte, so that a member that stops reading falls
// behind by its queue within seconds.
var padding = strings.Repeat("p", 900)

// ledger records what happened to each numbered payload.
type ledger struct {
	mu       sync.Mutex
	accepted map[string]bool // its sender saw it delivered
	refused  map[string]bool // its sender got an error: it must not be delivered
	received map[string]int  // times the control member got it
	next     atomic.Int64
}

func newLedger() *ledger {
	return &ledger{accepted: map[string]bool{}, refused: map[string]bool{}, received: map[string]int{}}
}

func (l *ledger) number() string { return strconv.FormatInt(l.next.Add(1), 10) }

func (l *ledger) mark(set map[string]bool, n string) {
	l.mu.Lock()
	set[n] = true
	l.mu.Unlock()
}

// traffic runs the busy room until stopped.
type traffic struct {
	l       *ledger
	stop    chan struct{}
	senders sync.WaitGroup // the sending loops
	readers sync.WaitGroup // the members' read loops
	members []*websocket.Conn
	control *websocket.Conn
	sent    atomic.Int64 // requests sent by all senders
	answers atomic.Int64 // of those, how many got their MESSAGE or ERROR
	failure atomic.Value // the first unexpected thing a reader saw, as a string
	// rateRefused and rateUnchecked count the messages refused by the room's rate (429) and
	// those whose rate the node could not check in time (500).
	rateRefused, rateUnchecked atomic.Int64
}

func (e *env) startTraffic(t *testing.T) *traffic {
	tr := &traffic{l: newLedger(), stop: make(chan struct{})}
	tr.control = e.join(t, token(t, e.a, e.busy, "control"))
	tr.readers.Go(func() { tr.readControl() })
	for i := range senders {
		user := fmt.Sprintf("sender-%d", i)
		ws := e.join(t, token(t, e.a, e.busy, user))
		tr.members = append(tr.members, ws)
		tr.readers.Go(func() { tr.readSender(ws, user) })
		tr.senders.Go(func() { tr.send(ws, user) })
	}
	tr.senders.Go(func() { tr.sendEvents(t, e.a, e.busy) })
	return tr
}

func (tr *traffic) fail(format string, args ...any) {
	tr.failure.CompareAndSwap(nil, fmt.Sprintf(format, args...))
}

// readControl counts every numbered payload the control member receives.
func (tr *traffic) readControl() {
	for {
		_ = tr.control.SetReadDeadline(time.Now().Add(2 * time.Minute))
		_, data, err := tr.control.ReadMessage()
		if err != nil {
			select {
			case <-tr.stop:
			default:
				tr.fail("the control member's connection ended: %v", err)
			}
			return
		}
		var p payload
		if err := json.Unmarshal(data, &p); err != nil {
			tr.fail("the control member got %q: %v", data, err)
			return
		}
		if p.Type == "ERROR" {
			tr.fail("the control member got an ERROR: %+v", p)
			continue
		}
		n := p.Attributes["n"]
		tr.l.mu.Lock()
		tr.l.received[n]++
		tr.l.mu.Unlock()
	}
}

// readSender settles each of the sender's requests from the answer it gets: its own MESSAGE
// back, or an ERROR with its RequestId.
func (tr *traffic) readSender(ws *websocket.Conn, user string) {
	for {
		_ = ws.SetReadDeadline(time.Now().Add(2 * time.Minute))
		_, data, err := ws.ReadMessage()
		if err != nil {
			select {
			case <-tr.stop:
			default:
				tr.fail("%s's connection ended: %v", user, err)
			}
			return
		}
		var p payload
		if err := json.Unmarshal(data, &p); err != nil {
			tr.fail("%s got %q: %v", user, data, err)
			return
		}
		n, mine := strings.CutPrefix(p.RequestId, user+"/")
		if !mine {
			continue // another sender's message, or an event
		}
		switch p.Type {
		case "MESSAGE":
			tr.l.mark(tr.l.accepted, n)
		default:
			// Only the room's rate may refuse a paced sender (429), or the node saying it could
			// not check that rate in time (429 too, retry): either way nothing is delivered.
			switch {
			case p.ErrorCode == 429 && strings.Contains(p.ErrorMessage, "rate could not be checked"):
				tr.rateUnchecked.Add(1)
			case p.ErrorCode == 429:
				tr.rateRefused.Add(1)
			default:
				tr.fail("%s's message %s was refused: %+v", user, n, p)
			}
			tr.l.mark(tr.l.refused, n)
		}
		tr.answers.Add(1)
	}
}

// every calls fn at each interval until the traffic stops or fn reports false.
func (tr *traffic) every(interval time.Duration, fn func(n string) bool) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-tr.stop:
			return
		case <-tick.C:
		}
		if !fn(tr.l.number()) {
			return
		}
	}
}

func (tr *traffic) send(ws *websocket.Conn, user string) {
	tr.every(sendInterval, func(n string) bool {
		msg := map[string]any{"Action": "SEND_MESSAGE", "RequestId": user + "/" + n, "Content": "message " + n,
			"Attributes": map[string]string{"n": n}}
		tr.sent.Add(1)
		if err := ws.WriteJSON(msg); err != nil {
			tr.fail("%s could not send: %v", user, err)
			return false
		}
		return true
	})
}

// sendEvents sends events through the control plane, as an application backend does.
func (tr *traffic) sendEvents(t *testing.T, c *ivschat.Client, room *ivschat.CreateRoomOutput) {
	tr.every(eventInterval, func(n string) bool {
		err := throughBusy(t, func() error {
			_, err := c.SendEvent(context.Background(), &ivschat.SendEventInput{RoomIdentifier: room.Arn,
				EventName: aws.String("busy"), Attributes: map[string]string{"n": n, "padding": padding}})
			return err
		})
		switch {
		case err == nil:
			tr.l.mark(tr.l.accepted, n)
		case errorCode(err) != "":
			tr.fail("SendEvent %s: %v", n, err) // an answer other than success: the event is not sent
			tr.l.mark(tr.l.refused, n)
		}
		// A connection error leaves the event's fate unknown: it may or may not arrive.
		return true
	})
}

// finish stops sending, waits until every request has its answer and the control member
// has caught up, and closes the members.
func (tr *traffic) finish(t *testing.T) {
	t.Helper()
	close(tr.stop)
	tr.senders.Wait()
	eventually(t, time.Minute, "every message sent had its answer", func() bool {
		if f := tr.failure.Load(); f != nil {
			t.Fatal(f)
		}
		return tr.answers.Load() == tr.sent.Load()
	})
	eventually(t, time.Minute, "the control member received every accepted payload", func() bool {
		tr.l.mu.Lock()
		defer tr.l.mu.Unlock()
		for n := range tr.l.accepted {
			if tr.l.received[n] == 0 {
				return false
			}
		}
		return true
	})
	time.Sleep(500 * time.Millisecond) // for a duplicate to show up, were there one
	tr.control.Close()
	for _, ws := range tr.members {
		ws.Close()
	}
	tr.readers.Wait()
}
