package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// The chat-log stream holds every record between the moment a room receives its payload and
// the moment the record's destination accepted it.
//
// Subjects (the stream's retention is work-queue: a record is removed once acknowledged):
//
//	ivschat.chatlog.out.<destination key>   a record waiting for one destination
//	ivschat.chatlog.in.<account>.<room>     a record for several destinations, waiting to be
//	                                         copied to each destination's subject by the router
//
// A record for one destination (the usual case) is published straight to its destination's
// subject, so the delivery path costs one stream publish either way. Each destination subject
// has its own durable consumer, shared by every node: one destination's outage leaves the
// others' records flowing, and every record is shipped by one node of the cluster.
//
// Headers of every record carry the room (account, region, id) and its destinations; the
// destination is resolved when the record is made, so a configuration's change applies to new
// records at once and records made before it still go where they were meant to.
const (
	streamChatLog       = "IVSCHAT_CHATLOG"
	subjectChatLog      = "ivschat.chatlog."
	subjectChatLogIn    = subjectChatLog + "in."
	subjectChatLogOut   = subjectChatLog + "out."
	consumerChatLogIn   = "chatlog-router"
	consumerChatLogPref = "chatlog-"

	headerLogAccount     = "Ivschat-Account"
	headerLogRegion      = "Ivschat-Region"
	headerLogRoom        = "Ivschat-Room"
	headerLogDestination = "Ivschat-Destination"
)

// ChatLogStreamConfig bounds the chat-log stream. Records beyond the bounds are dropped,
// oldest first, so that chat keeps flowing when a destination stays down.
type ChatLogStreamConfig struct {
	// MaxAge is how long a record may wait for its destination.
	MaxAge time.Duration
	// MaxBytes is how much the waiting records may take on disk (per replica); -1 is no limit
	// other than the server's.
	MaxBytes int64
}

// Defaults of the chat-log stream.
const (
	DefaultChatLogMaxAge   = 14 * 24 * time.Hour
	DefaultChatLogMaxBytes = 1 << 30
)

func (e *Engine) openChatLogStream(ctx context.Context) error {
	c := e.cfg.ChatLog
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultChatLogMaxAge
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultChatLogMaxBytes
	}
	s, err := e.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        streamChatLog,
		Description: "ivschatd chat-log records waiting for their destinations",
		Subjects:    []string{subjectChatLog + ">"},
		Retention:   jetstream.WorkQueuePolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      c.MaxAge,
		MaxBytes:    c.MaxBytes,
		Storage:     jetstream.FileStorage,
		Replicas:    e.cfg.Replicas,
		// Copies made by the router carry ids, so that a copy made twice (the router died
		// between copying and acknowledging) is stored once.
		Duplicates: 2 * time.Minute,
	})
	if err != nil {
		return fmt.Errorf("engine: chat-log stream (max bytes %d, max age %s; lower the byte limit when storage is short): %w", c.MaxBytes, c.MaxAge, err)
	}
	e.chatLog = s
	return nil
}

// ChatLogRecord is a record as the delivery path makes it.
type ChatLogRecord struct {
	Account, Region, RoomID string
	// Destinations are the room's logging configurations' destinations when the record was made.
	Destinations []chat.Destination
	// Data is the record (chat.NewLogRecord).
	Data []byte
}

// RecordChatLog stores a record durably; it returns once the stream has it.
func (e *Engine) RecordChatLog(ctx context.Context, r *ChatLogRecord) error {
	if len(r.Destinations) == 0 {
		return nil
	}
	var msg *nats.Msg
	if len(r.Destinations) == 1 {
		msg = nats.NewMsg(subjectChatLogOut + r.Destinations[0].Key())
	} else {
		msg = nats.NewMsg(subjectChatLogIn + r.Account + "." + r.RoomID)
	}
	msg.Header.Set(headerLogAccount, r.Account)
	msg.Header.Set(headerLogRegion, r.Region)
	msg.Header.Set(headerLogRoom, r.RoomID)
	for _, d := range r.Destinations {
		kind, name := d.Kind()
		msg.Header.Add(headerLogDestination, kind+":"+name)
	}
	msg.Data = r.Data
	if err := e.guard.write(ctx, func(ctx context.Context) error {
		_, err := e.js.PublishMsg(ctx, msg)
		return err
	}); err != nil {
		return fmt.Errorf("engine: record chat log: %w", err)
	}
	return nil
}

// ChatLogEntry is one record waiting for one destination.
type ChatLogEntry struct {
	Account, Region, RoomID string
	Destination             chat.Destination
	Data                    []byte
	// Deliveries counts how many times the record was handed out, this time included.
	Deliveries uint64
	msg        jetstream.Msg
}

// Ack removes the record: its destination has it.
func (x *ChatLogEntry) Ack() error { return x.msg.Ack() }

// Retry hands the record out again after delay.
func (x *ChatLogEntry) Retry(delay time.Duration) error { return x.msg.NakWithDelay(delay) }

// Touch tells the stream the record is still being worked on, resetting its ack wait.
func (x *ChatLogEntry) Touch() error { return x.msg.InProgress() }

// ChatLogQueueConfig tunes a destination's consumer.
type ChatLogQueueConfig struct {
	// AckWait is how long a record handed to a node may go unacknowledged before it is handed
	// out again (the node died, or lost its connection).
	AckWait time.Duration
	// MaxPending bounds the records handed out and not yet acknowledged, cluster-wide.
	MaxPending int
}

// ChatLogQueue is a destination's records, through its durable consumer. Every node opens
// the same consumer, and each record goes to one of them.
type ChatLogQueue struct {
	Key  string
	cons jetstream.Consumer
}

// ChatLogWaiting counts the records waiting, by destination key, for the destinations that
// have any.
func (e *Engine) ChatLogWaiting(ctx context.Context) (map[string]uint64, error) {
	info, err := e.chatLog.Info(ctx, jetstream.WithSubjectFilter(subjectChatLogOut+">"))
	if err != nil {
		return nil, fmt.Errorf("engine: chat-log stream info: %w", err)
	}
	waiting := make(map[string]uint64, len(info.State.Subjects))
	for subject, n := range info.State.Subjects {
		if key, ok := strings.CutPrefix(subject, subjectChatLogOut); ok && n > 0 {
			waiting[key] = n
		}
	}
	return waiting, nil
}

// OpenChatLogQueue creates or joins a destination's consumer. Consumers not pulled from for an
// hour are removed by the server; their records stay and a later open picks them up.
func (e *Engine) OpenChatLogQueue(ctx context.Context, key string, cfg ChatLogQueueConfig) (*ChatLogQueue, error) {
	cons, err := e.chatLog.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:           consumerChatLogPref + key,
		FilterSubject:     subjectChatLogOut + key,
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           cfg.AckWait,
		MaxAckPending:     cfg.MaxPending,
		MaxDeliver:        -1,
		InactiveThreshold: time.Hour,
		Replicas:          e.cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("engine: chat-log consumer %s: %w", key, err)
	}
	return &ChatLogQueue{Key: key, cons: cons}, nil
}

// Fetch returns up to limit records, waiting up to wait for the first one. It returns early,
// with what it has, when ctx ends.
func (q *ChatLogQueue) Fetch(ctx context.Context, limit int, wait time.Duration) ([]*ChatLogEntry, error) {
	msgs, err := fetch(ctx, q.cons, limit, wait)
	if err != nil {
		return nil, fmt.Errorf("engine: fetch chat-log records for %s: %w", q.Key, err)
	}
	out := make([]*ChatLogEntry, 0, len(msgs))
	for _, m := range msgs {
		x, ok := entryOf(m)
		if !ok {
			_ = m.Term() // Not a record this version can ship; it would only block the queue.
			continue
		}
		out = append(out, x)
	}
	return out, nil
}

// fetch takes what is waiting, up to limit; with nothing waiting, it waits up to wait for the
// first record to arrive and returns with it.
func fetch(ctx context.Context, cons jetstream.Consumer, limit int, wait time.Duration) ([]jetstream.Msg, error) {
	batch, err := cons.FetchNoWait(limit)
	if err != nil {
		return nil, err
	}
	msgs, err := collect(ctx, batch)
	if len(msgs) > 0 || err != nil || ctx.Err() != nil {
		return msgs, err
	}
	fctx, cancel := context.WithTimeout(ctx, max(wait, time.Millisecond))
	defer cancel()
	if batch, err = cons.Fetch(1, jetstream.FetchContext(fctx)); err != nil {
		if fctx.Err() != nil {
			return nil, nil
		}
		return nil, err
	}
	return collect(ctx, batch)
}

func collect(ctx context.Context, batch jetstream.MessageBatch) ([]jetstream.Msg, error) {
	var msgs []jetstream.Msg
	for m := range batch.Messages() {
		msgs = append(msgs, m)
	}
	err := batch.Error()
	if err == nil || ctx.Err() != nil || errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return msgs, nil
	}
	return msgs, err
}

func entryOf(m jetstream.Msg) (*ChatLogEntry, bool) {
	h := m.Headers()
	kind, name, _ := strings.Cut(h.Get(headerLogDestination), ":")
	d, ok := chat.ParseDestination(kind, name)
	if !ok || h.Get(headerLogRoom) == "" {
		return nil, false
	}
	x := &ChatLogEntry{Account: h.Get(headerLogAccount), Region: h.Get(headerLogRegion), RoomID: h.Get(headerLogRoom),
		Destination: d, Data: m.Data(), msg: m, Deliveries: 1}
	if meta, err := m.Metadata(); err == nil {
		x.Deliveries = meta.NumDelivered
	}
	return x, true
}

// RouteChatLogs copies records made for several destinations to each destination's subject,
// until ctx ends. Every node runs it on one shared consumer. A copy carries an id made of the
// record's sequence and the destination's position, so a record copied twice is stored once.
func (e *Engine) RouteChatLogs(ctx context.Context, retry time.Duration) {
	var cons jetstream.Consumer
	for ctx.Err() == nil {
		if cons == nil {
			var err error
			cons, err = e.chatLog.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
				Durable:       consumerChatLogIn,
				FilterSubject: subjectChatLogIn + ">",
				AckPolicy:     jetstream.AckExplicitPolicy,
				AckWait:       30 * time.Second,
				MaxAckPending: 4096,
				MaxDeliver:    -1,
				Replicas:      e.cfg.Replicas,
			})
			if err != nil {
				Sleep(ctx, retry)
				continue
			}
		}
		msgs, err := fetch(ctx, cons, 256, time.Second)
		if err != nil {
			cons = nil // The consumer may be gone (removed, or the stream recreated).
			Sleep(ctx, retry)
			continue
		}
		e.route(ctx, msgs, retry)
	}
}

func (e *Engine) route(ctx context.Context, msgs []jetstream.Msg, retry time.Duration) {
	type pending struct {
		in   jetstream.Msg
		acks []jetstream.PubAckFuture
		err  error
	}
	batch := make([]pending, 0, len(msgs))
	for _, m := range msgs {
		p := pending{in: m}
		meta, err := m.Metadata()
		if err != nil {
			_ = m.Term()
			continue
		}
		h := m.Headers()
		for i, dest := range h.Values(headerLogDestination) {
			kind, name, _ := strings.Cut(dest, ":")
			d, ok := chat.ParseDestination(kind, name)
			if !ok {
				continue
			}
			out := nats.NewMsg(subjectChatLogOut + d.Key())
			out.Header.Set(headerLogAccount, h.Get(headerLogAccount))
			out.Header.Set(headerLogRegion, h.Get(headerLogRegion))
			out.Header.Set(headerLogRoom, h.Get(headerLogRoom))
			out.Header.Set(headerLogDestination, dest)
			out.Data = m.Data()
			ack, err := e.js.PublishMsgAsync(out, jetstream.WithMsgID("route."+strconv.FormatUint(meta.Sequence.Stream, 10)+"."+strconv.Itoa(i)))
			if err != nil {
				p.err = err
				break
			}
			p.acks = append(p.acks, ack)
		}
		batch = append(batch, p)
	}
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, p := range batch {
		ok := p.err == nil
		for _, ack := range p.acks {
			select {
			case <-ack.Ok():
			case <-ack.Err():
				ok = false
			case <-wait.Done():
				if ctx.Err() != nil {
					return // Unacknowledged: handed out again after the ack wait.
				}
				ok = false
			}
		}
		if ok {
			_ = p.in.Ack()
		} else {
			_ = p.in.NakWithDelay(retry)
		}
	}
}

// Sleep waits for d, or until ctx ends: the pause before a retry, here and in the shipper.
func Sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
