package service

import (
	"context"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// DeliverMessage sends an encoded MESSAGE to every member of the room on every node, after
// its chat-log record is stored and, when the room keeps history (history > 0, the room's
// ivschatd:history as the caller parsed it), after it is kept: a connection that reads the
// history once the message reached its node finds it there.
func (s *Service) DeliverMessage(ctx context.Context, room *chat.Room, history int, id string, payload []byte) error {
	if err := s.record(ctx, room, payload); err != nil {
		return err
	}
	if history > 0 {
		if err := s.engine.KeepMessage(ctx, room.Key(), id, payload, history); err != nil {
			return err
		}
	}
	return s.broker.Publish(room.Key(), chat.Signal{Kind: chat.SignalDeliver, Payload: payload})
}

// DeliverDeletion sends the aws:DELETE_MESSAGE event of messageID to the room, after removing
// the message from the room's history when the room keeps one: a connection that reads the
// history once the event reached its node does not find the message.
func (s *Service) DeliverDeletion(ctx context.Context, room *chat.Room, history int, messageID string, event []byte) error {
	if history > 0 {
		if err := s.engine.ForgetMessage(ctx, room.Key(), messageID); err != nil {
			return err
		}
	}
	return s.Deliver(ctx, room, event)
}

// ListRoomMessages returns a page of the messages a room keeps, newest first, each as its
// members received it; none for a room without history.
func (s *Service) ListRoomMessages(ctx context.Context, account string, in *chat.ListRoomMessagesInput) (*Page[chat.KeptMessage], error) {
	a, p, err := in.Validate()
	if err != nil {
		return nil, err
	}
	fresh(ctx, s.engine.Rooms)
	room, err := s.room(ctx, account, a)
	if err != nil {
		return nil, err
	}
	var kept []*chat.KeptMessage
	if room.Settings().History > 0 {
		if kept, err = s.engine.KeptMessages(ctx, room.Key()); err != nil {
			return nil, err
		}
	}
	return page(ctx, s, account, "ListRoomMessages/"+a.ID, kept, p, nil, chat.HistoryOrderKey)
}

// RoomHistory is the room's kept messages, oldest first: what a new connection is replayed
// from.
func (s *Service) RoomHistory(ctx context.Context, room chat.RoomKey) ([]*chat.KeptMessage, error) {
	return s.engine.KeptMessages(ctx, room)
}
