package service

import (
	"context"
	"errors"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/engine"
)

// BanUser bans a user from a room, for a time or until UnbanUser, and disconnects the user's
// live connections to the room on every node as DisconnectUser does, with the ban's reason.
// Banning a banned user replaces the ban.
func (s *Service) BanUser(ctx context.Context, account string, in *chat.BanUserInput) (*chat.Ban, error) {
	a, err := in.Validate()
	if err != nil {
		return nil, err
	}
	room, err := s.room(ctx, account, a)
	if err != nil {
		return nil, err
	}
	b := chat.NewBan(in, a.ID, s.clock())
	var ttl time.Duration
	if b.ExpireTime != nil {
		ttl = b.ExpireTime.Sub(s.now())
	}
	if err := s.engine.Bans.Put(ctx, account, chat.RoomUserKey(a.ID, b.UserID), b, ttl); err != nil {
		return nil, err
	}
	return b, s.Disconnect(ctx, room, chat.NewID(), "", b.UserID, b.Reason)
}

// UnbanUser ends a user's ban from a room; a user who is not banned stays so.
func (s *Service) UnbanUser(ctx context.Context, account string, in *chat.UnbanUserInput) error {
	a, err := in.Validate()
	if err != nil {
		return err
	}
	if _, err := s.room(ctx, account, a); err != nil {
		return err
	}
	err = s.engine.Bans.Delete(ctx, account, chat.RoomUserKey(a.ID, *in.UserID))
	if errors.Is(err, engine.ErrNotFound) {
		return nil
	}
	return err
}

// ListBans returns a page of a room's bans in force, newest first.
func (s *Service) ListBans(ctx context.Context, account string, in *chat.RoomPageInput) (*Page[chat.Ban], error) {
	a, p, err := in.Validate()
	if err != nil {
		return nil, err
	}
	fresh(ctx, s.engine.Rooms)
	if _, err := s.room(ctx, account, a); err != nil {
		return nil, err
	}
	fresh(ctx, s.engine.Bans)
	now := s.now()
	return page(ctx, s, account, "ListBans/"+a.ID, s.engine.Bans.List(account), p,
		func(b *chat.Ban) bool { return b.RoomID == a.ID && b.ActiveAt(now) }, chat.BanOrderKey)
}

// activeBan is the user's ban from the room in force now, or nil. It reads this node's index
// of bans, which the engine's watch keeps within milliseconds of every node's writes.
func (s *Service) activeBan(account, roomID, userID string) *chat.Ban {
	if b, ok := s.engine.Bans.Peek(account, chat.RoomUserKey(roomID, userID)); ok && b.ActiveAt(s.now()) {
		return b
	}
	return nil
}

// dropBans removes a deleted room's bans: room ids are never reused, and a ban without end
// would otherwise stay forever. One that cannot be removed now is harmless, as its room is gone.
func (s *Service) dropBans(ctx context.Context, account, roomID string) {
	for _, b := range s.engine.Bans.List(account) {
		if b.RoomID == roomID {
			_ = s.engine.Bans.Delete(ctx, account, chat.RoomUserKey(roomID, b.UserID))
		}
	}
}
