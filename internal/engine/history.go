package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// The history stream holds the messages rooms keep (ivschatd:history), each on its own
// subject:
//
//	ivschatd.history.<account>.<room>.<message id>
//
// so that one message is removed by its id (DeleteMessage) and a room's messages are trimmed
// to its last N (ivschatd:history lowered) or dropped (the tag removed, the room deleted) by a
// purge of the room's subjects, each one request to the stream, without reading first. Every
// append is followed by the trim to N, so a room never holds more than N and a read costs what
// the room keeps, not more.
const (
	streamHistory  = "IVSCHATD_HISTORY"
	subjectHistory = "ivschatd.history."
)

func historySubject(room chat.RoomKey) string {
	return subjectHistory + room.Account + "." + room.ID
}

func (e *Engine) openHistoryStream(ctx context.Context) error {
	s, err := e.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        streamHistory,
		Description: "ivschatd rooms' kept messages (ivschatd:history)",
		Subjects:    []string{subjectHistory + ">"},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		// One message per id: a message kept twice (a retried append) is kept once.
		MaxMsgsPerSubject: 1,
		Storage:           jetstream.FileStorage,
		Replicas:          e.cfg.Replicas,
		// Reads of a room's messages are one batch request (KeptMessages).
		AllowDirect: true,
	})
	if err != nil {
		return fmt.Errorf("engine: history stream: %w", err)
	}
	e.history = s
	return nil
}

// KeepMessage adds a delivered MESSAGE to the room's history and trims the history to its
// last keep messages. It returns once the stream has both.
func (e *Engine) KeepMessage(ctx context.Context, room chat.RoomKey, id string, payload []byte, keep int) error {
	msg := nats.NewMsg(historySubject(room) + "." + id)
	msg.Data = payload
	if err := e.guard.write(ctx, func(ctx context.Context) error {
		if _, err := e.js.PublishMsg(ctx, msg); err != nil {
			return err
		}
		return e.purgeHistory(ctx, historySubject(room)+".*", keep)
	}); err != nil {
		return fmt.Errorf("engine: keep message: %w", err)
	}
	return nil
}

// ForgetMessage removes a message from the room's history; a message the room does not keep
// is no error.
func (e *Engine) ForgetMessage(ctx context.Context, room chat.RoomKey, id string) error {
	if err := e.guard.write(ctx, func(ctx context.Context) error {
		return e.purgeHistory(ctx, historySubject(room)+"."+id, 0)
	}); err != nil {
		return fmt.Errorf("engine: forget message: %w", err)
	}
	return nil
}

// TrimHistory keeps the room's last keep messages and drops the others; 0 drops them all.
func (e *Engine) TrimHistory(ctx context.Context, room chat.RoomKey, keep int) error {
	if err := e.guard.write(ctx, func(ctx context.Context) error {
		return e.purgeHistory(ctx, historySubject(room)+".*", keep)
	}); err != nil {
		return fmt.Errorf("engine: trim history: %w", err)
	}
	return nil
}

func (e *Engine) purgeHistory(ctx context.Context, filter string, keep int) error {
	opts := []jetstream.StreamPurgeOpt{jetstream.WithPurgeSubject(filter)}
	if keep > 0 {
		opts = append(opts, jetstream.WithPurgeKeep(uint64(keep)))
	}
	return e.history.Purge(ctx, opts...)
}

// KeptMessages are the messages the room keeps, oldest first, as the stream's leader has them
// now: every message whose KeepMessage returned before the call is there, and none that a
// ForgetMessage or TrimHistory that returned before the call removed.
//
// They are read in one batch, which any replica of the stream may answer; with replicas the
// stream's leader is first asked for the room's newest sequence, and an answer from a replica
// that has not caught up with it is asked again.
func (e *Engine) KeptMessages(ctx context.Context, room chat.RoomKey) ([]*chat.KeptMessage, error) {
	filter := historySubject(room) + ".*"
	var newest uint64
	if e.cfg.Replicas > 1 {
		var err error
		if newest, err = e.newestKept(ctx, filter); err != nil {
			return nil, fmt.Errorf("engine: read history: %w", err)
		}
		if newest == 0 {
			return nil, nil
		}
	}
	for {
		kept, err := e.readKept(ctx, filter)
		if err != nil {
			return nil, fmt.Errorf("engine: read history: %w", err)
		}
		if newest == 0 || (len(kept) > 0 && kept[len(kept)-1].Seq >= newest) {
			return kept, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("engine: read history: no replica has caught up: %w", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// newestKept asks the stream's leader for the sequence of the newest message on filter; 0
// when there is none.
func (e *Engine) newestKept(ctx context.Context, filter string) (uint64, error) {
	req, _ := json.Marshal(map[string]string{"last_by_subj": filter})
	r, err := e.nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+streamHistory, req)
	if err != nil {
		return 0, err
	}
	var resp struct {
		Message *struct {
			Seq uint64 `json:"seq"`
		} `json:"message"`
		Error *struct {
			Code        int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Data, &resp); err != nil {
		return 0, err
	}
	switch {
	case resp.Error != nil && resp.Error.Code == int(jetstream.JSErrCodeMessageNotFound):
		return 0, nil
	case resp.Error != nil:
		return 0, errors.New(resp.Error.Description)
	case resp.Message == nil:
		return 0, errors.New("empty answer from the stream")
	}
	return resp.Message.Seq, nil
}

// readKept reads every message on filter in one direct batch request. The answers go to a
// callback rather than a synchronous subscription, whose channel (65,536 entries) would cost
// half a megabyte per read.
func (e *Engine) readKept(ctx context.Context, filter string) ([]*chat.KeptMessage, error) {
	var kept []*chat.KeptMessage
	done := make(chan error, 1)
	end := func(err error) {
		select {
		case done <- err:
		default:
		}
	}
	sub, err := e.nc.Subscribe(e.nc.NewInbox(), func(m *nats.Msg) {
		if len(m.Data) == 0 && m.Header.Get("Status") != "" {
			switch m.Header.Get("Status") {
			case "204", "404": // the end of the batch; no messages at all
				end(nil)
			default:
				end(fmt.Errorf("direct get: %s %s", m.Header.Get("Status"), m.Header.Get("Description")))
			}
			return
		}
		seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		if err != nil {
			end(fmt.Errorf("direct get: sequence %q", m.Header.Get(jetstream.SequenceHeader)))
			return
		}
		subject := m.Header.Get(jetstream.SubjectHeader)
		kept = append(kept, &chat.KeptMessage{Seq: seq, ID: subject[strings.LastIndexByte(subject, '.')+1:], Payload: m.Data})
	})
	if err != nil {
		return nil, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	// More than any room keeps: the batch ends with the room's messages.
	req, _ := json.Marshal(map[string]any{"batch": chat.MaxHistory + 1, "next_by_subj": filter})
	if err := e.nc.PublishRequest("$JS.API.DIRECT.GET."+streamHistory, sub.Subject, req); err != nil {
		return nil, err
	}
	select {
	case err := <-done:
		if err != nil {
			return nil, err
		}
		return kept, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
