package service

import (
	"context"
	"fmt"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// CreateRoom creates a room in the caller's account.
func (s *Service) CreateRoom(ctx context.Context, account string, in *chat.CreateRoomInput) (*chat.Room, error) {
	arns, err := in.Validate()
	if err != nil {
		return nil, err
	}
	if err := s.reach.CheckReviewHandler(account, handlerURI(in.MessageReviewHandler)); err != nil {
		return nil, err
	}
	defer s.accounts.lock(account)()
	if err := s.checkLoggingConfigurations(ctx, account, arns); err != nil {
		return nil, err
	}
	if n := s.engine.Rooms.Count(account); n >= s.quotas.MaxRooms {
		return nil, chat.QuotaExceeded(chat.ResourceRoom, s.quotas.MaxRooms,
			fmt.Sprintf("the account has %d rooms, the quota is %d", n, s.quotas.MaxRooms))
	}
	now := s.clock()
	return createWithFreshID(ctx, s.engine.Rooms, account, func(id string) *chat.Room {
		return chat.NewRoom(in, s.region, account, id, now)
	})
}

// handlerURI is the function a request names as review handler, or "" for none.
func handlerURI(h *chat.MessageReviewHandlerInput) string {
	if h == nil || h.URI == nil {
		return ""
	}
	return *h.URI
}

// CheckReviewHandler tells whether this node may invoke a room's review handler now. It is
// asked for every reviewed message, not only when the room names the function, because the
// operator may have withdrawn the allowance (and restarted) since.
func (s *Service) CheckReviewHandler(room *chat.Room) error {
	if room.MessageReviewHandler == nil {
		return nil
	}
	return s.reach.CheckReviewHandler(room.Account, room.MessageReviewHandler.URI)
}

// GetRoom returns the caller's room.
func (s *Service) GetRoom(ctx context.Context, account string, in *chat.IdentifierInput) (*chat.Room, error) {
	a, err := chat.RoomIdentifier("identifier", in.Identifier)
	if err != nil {
		return nil, err
	}
	fresh(ctx, s.engine.Rooms)
	return s.room(ctx, account, a)
}

// UpdateRoom applies a partial update and tells the room's live connections.
func (s *Service) UpdateRoom(ctx context.Context, account string, in *chat.UpdateRoomInput) (*chat.Room, error) {
	a, arns, err := in.Validate()
	if err != nil {
		return nil, err
	}
	if err := s.owned(account, a); err != nil {
		return nil, err
	}
	if err := s.reach.CheckReviewHandler(account, handlerURI(in.MessageReviewHandler)); err != nil {
		return nil, err
	}
	if len(arns) > 0 {
		defer s.accounts.lock(account)()
	}
	if err := s.checkLoggingConfigurations(ctx, account, arns); err != nil {
		return nil, err
	}
	r, err := s.engine.Rooms.Update(ctx, account, a.ID, func(cur *chat.Room) (*chat.Room, error) {
		return in.Apply(cur, s.clock()), nil
	})
	if err != nil {
		return nil, mapEngineError(err, a)
	}
	// The new settings travel with the signal: another node's index may not have them yet.
	_ = s.broker.Publish(chat.RoomKey{Account: account, ID: a.ID}, chat.Signal{Kind: chat.SignalUpdated, Payload: chat.Encode(r)})
	return r, nil
}

// DeleteRoom deletes the caller's room and ends its live connections.
func (s *Service) DeleteRoom(ctx context.Context, account string, in *chat.IdentifierInput) error {
	a, err := chat.RoomIdentifier("identifier", in.Identifier)
	if err != nil {
		return err
	}
	if err := s.owned(account, a); err != nil {
		return err
	}
	if err := s.engine.Rooms.Delete(ctx, account, a.ID); err != nil {
		return mapEngineError(err, a)
	}
	_ = s.broker.Publish(chat.RoomKey{Account: account, ID: a.ID}, chat.Signal{Kind: chat.SignalDeleted})
	s.dropBans(ctx, account, a.ID)
	// Like its bans, a deleted room's history would otherwise stay forever; one that cannot
	// be dropped now is harmless, as its room is gone.
	_ = s.engine.TrimHistory(ctx, chat.RoomKey{Account: account, ID: a.ID}, 0)
	return nil
}

// ListRoomsInput is the ListRooms request.
type ListRoomsInput struct {
	Name                           *string `json:"name"`
	NextToken                      *string `json:"nextToken"`
	MaxResults                     *int    `json:"maxResults"`
	MessageReviewHandlerURI        *string `json:"messageReviewHandlerUri"`
	LoggingConfigurationIdentifier *string `json:"loggingConfigurationIdentifier"`
}

// ListRooms returns a page of the caller's rooms, most recently updated first.
func (s *Service) ListRooms(ctx context.Context, account string, in *ListRoomsInput) (*Page[chat.Room], error) {
	p, err := chat.ParseListRoomsFilter(in.Name, in.MessageReviewHandlerURI, in.LoggingConfigurationIdentifier, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	if p.LoggingConfiguration != nil {
		if err := s.checkLoggingConfigurations(ctx, account, []chat.ARN{*p.LoggingConfiguration}); err != nil {
			return nil, err
		}
	}
	fresh(ctx, s.engine.Rooms)
	return page(ctx, s, account, "ListRooms", s.engine.Rooms.List(account), p.Page, p.Match, roomOrderKey)
}

func roomOrderKey(r *chat.Room) chat.OrderKey { return chat.OrderKey{Time: r.UpdateTime, ID: r.ID} }
