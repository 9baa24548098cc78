package service

import (
	"context"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// RoomUsers is a page of ListRoomUsers with the room's totals on every node.
type RoomUsers struct {
	Page[chat.RoomUser]
	UserCount, ConnectionCount int
}

// ListRoomUsers returns a page of the users connected to a room now, on every node, by user
// id, with how many users and connections the room has in all.
func (s *Service) ListRoomUsers(ctx context.Context, account string, in *chat.RoomPageInput) (*RoomUsers, error) {
	a, p, err := in.Validate()
	if err != nil {
		return nil, err
	}
	fresh(ctx, s.engine.Rooms)
	if _, err := s.room(ctx, account, a); err != nil {
		return nil, err
	}
	users, err := s.engine.Presence.RoomUsers(ctx, chat.RoomKey{Account: account, ID: a.ID})
	if err != nil {
		return nil, err
	}
	out := &RoomUsers{UserCount: len(users)}
	for _, u := range users {
		out.ConnectionCount += u.Connections
	}
	pg, err := page(ctx, s, account, "ListRoomUsers/"+a.ID, users, p, nil, chat.RoomUserOrderKey)
	if err != nil {
		return nil, err
	}
	out.Page = *pg
	return out, nil
}

// CountConnection counts a connection of a user to a room with presence events that opens
// (delta 1) or closes (-1), across the cluster. The change that opens the user's first
// connection, or closes the last, tells the room (PresenceChanged).
func (s *Service) CountConnection(ctx context.Context, room chat.RoomKey, userID string, delta int) error {
	ctx, cancel := context.WithTimeout(ctx, presenceTimeout)
	defer cancel()
	return s.engine.Presence.CountConnection(ctx, room, userID, delta)
}

// presenceTimeout bounds the engine round trips of one change of a count.
const presenceTimeout = 5 * time.Second

// PresenceChanged tells the room that a user joined (the user's connections across the
// cluster went from none to some) or left (from some to none), as an ivschatd:join or
// ivschatd:leave event to every member, if the room has ivschatd:presence-events now.
func (s *Service) PresenceChanged(key chat.RoomKey, userID string, before, after int) error {
	name := ""
	switch {
	case before == 0 && after > 0:
		name = chat.EventJoin
	case before > 0 && after == 0:
		name = chat.EventLeave
	default:
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), presenceTimeout)
	defer cancel()
	room, found := s.engine.Rooms.Get(ctx, key.Account, key.ID)
	if !found || !room.PresenceEvents() {
		return nil
	}
	return s.Deliver(ctx, room, chat.Encode(chat.NewPresenceEvent(name, userID, s.now())))
}
