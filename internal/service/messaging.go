package service

import (
	"context"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// IssuedToken is a sealed chat token with its deadlines.
type IssuedToken struct {
	Token string
	Grant *chat.Token
}

// CreateChatToken issues a single-use token for a user to connect to a room.
func (s *Service) CreateChatToken(ctx context.Context, account string, in *chat.CreateChatTokenInput) (*IssuedToken, error) {
	a, err := in.Validate()
	if err != nil {
		return nil, err
	}
	if _, err := s.room(ctx, account, a); err != nil {
		return nil, err
	}
	if b := s.activeBan(account, a.ID, *in.UserID); b != nil {
		return nil, b.Denied()
	}
	grant := chat.NewToken(in, a, s.now().UTC(), s.tokenLifetime)
	return &IssuedToken{Token: s.engine.Keyring().SealToken(grant), Grant: grant}, nil
}

// OpenToken checks a presented token and records its single use; exactly one caller in the
// cluster succeeds for a given token. A refused token's error is one of chat's ErrToken…,
// chat.ErrRoomGone or the user's ban; any other error means it could not be checked.
func (s *Service) OpenToken(ctx context.Context, token string) (*chat.Token, *chat.Room, error) {
	grant, err := unseal(ctx, s, func(kr *chat.Keyring) (*chat.Token, error) { return kr.OpenToken(token) })
	if err != nil {
		return nil, nil, chat.ErrTokenInvalid
	}
	now := s.now()
	if !now.Before(grant.TokenExpirationTime) || !now.Before(grant.SessionExpirationTime) {
		return nil, nil, chat.ErrTokenExpired
	}
	a, ok := chat.ParseARN(grant.RoomARN)
	if !ok || !a.IsRoom() {
		return nil, nil, chat.ErrTokenInvalid
	}
	room, found := s.engine.Rooms.Get(ctx, a.Account, a.ID)
	if !found || a.Region != s.region {
		return nil, nil, chat.ErrRoomGone
	}
	if b := s.activeBan(a.Account, a.ID, grant.UserID); b != nil {
		return nil, nil, b.Denied()
	}
	first, err := s.engine.ClaimToken(ctx, grant.ID, grant.TokenExpirationTime)
	if err != nil {
		return nil, nil, err
	}
	if !first {
		return nil, nil, chat.ErrTokenUsed
	}
	return grant, room, nil
}

// CurrentRoom reads a room after bringing this node's index up to every write acknowledged
// in the cluster; found is false if the room is gone. An error means the engine could not
// say, and the caller keeps the settings it has.
func (s *Service) CurrentRoom(ctx context.Context, key chat.RoomKey) (room *chat.Room, found bool, err error) {
	if err := s.engine.Rooms.Sync(ctx); err != nil {
		return nil, false, err
	}
	room, found = s.engine.Rooms.Get(ctx, key.Account, key.ID)
	return room, found, nil
}

// AdmitMessage decides whether a SEND_MESSAGE at now fits under the room's
// maximumMessageRatePerSecond, counted for the whole room across the cluster, and if so
// counts it. An error means the rate could not be checked; the message is then not admitted.
func (s *Service) AdmitMessage(ctx context.Context, room *chat.Room, now time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, admitTimeout)
	defer cancel()
	return s.engine.AdmitMessage(ctx, room.Account, room.ID, room.MaximumMessageRatePerSecond, now)
}

// AdmitUserMessage is slow mode: it decides whether a user's SEND_MESSAGE at now fits under
// the room's ivschatd:user-rate, counted for that user across the cluster, and if so counts
// it. When it does not, the error is the ERROR 429 text saying when the user may send again;
// any other error means the rate could not be checked.
func (s *Service) AdmitUserMessage(ctx context.Context, room *chat.Room, rate chat.UserRate, userID string, now time.Time) (admitted bool, refusal string, err error) {
	ctx, cancel := context.WithTimeout(ctx, admitTimeout)
	defer cancel()
	ok, retry, err := s.engine.AdmitUserMessage(ctx, room.Account, room.ID, userID, rate.Messages, rate.Per, now)
	if err != nil || ok {
		return ok, "", err
	}
	return false, chat.SlowModeMessage(rate, retry), nil
}

// admitTimeout bounds the engine round trips of one admission.
const admitTimeout = 2 * time.Second

// Deliver sends an encoded MESSAGE or EVENT to every member of the room on every node, after
// its chat-log record is stored.
func (s *Service) Deliver(ctx context.Context, room *chat.Room, payload []byte) error {
	if err := s.record(ctx, room, payload); err != nil {
		return err
	}
	return s.broker.Publish(room.Key(), chat.Signal{Kind: chat.SignalDeliver, Payload: payload})
}

// Disconnect tells the room that a user is disconnected, then closes every connection
// of that user in the room, on every node.
func (s *Service) Disconnect(ctx context.Context, room *chat.Room, eventID, requestID, userID, reason string) error {
	event := chat.Encode(chat.NewDisconnectUserEvent(eventID, requestID, userID, reason, s.now()))
	if err := s.record(ctx, room, event); err != nil {
		return err
	}
	return s.broker.Publish(room.Key(), chat.Signal{Kind: chat.SignalDisconnect, Payload: event, UserID: userID})
}

// SendEvent sends an application event to the room and returns its id.
func (s *Service) SendEvent(ctx context.Context, account string, in *chat.SendEventInput) (string, error) {
	a, err := in.Validate()
	if err != nil {
		return "", err
	}
	room, err := s.room(ctx, account, a)
	if err != nil {
		return "", err
	}
	id := chat.NewID()
	return id, s.Deliver(ctx, room, chat.Encode(chat.NewEvent(id, "", *in.EventName, in.Attributes, s.now())))
}

// DeleteMessage tells the room's members to remove a message and returns the event's id.
func (s *Service) DeleteMessage(ctx context.Context, account string, in *chat.DeleteMessageInput) (string, error) {
	a, err := in.Validate()
	if err != nil {
		return "", err
	}
	room, err := s.room(ctx, account, a)
	if err != nil {
		return "", err
	}
	id := chat.NewID()
	event := chat.Encode(chat.NewDeleteMessageEvent(id, "", *in.ID, chat.Deref(in.Reason), s.now()))
	return id, s.DeliverDeletion(ctx, room, room.Settings().History, *in.ID, event)
}

// DisconnectUser closes every connection of a user in a room.
func (s *Service) DisconnectUser(ctx context.Context, account string, in *chat.DisconnectUserInput) error {
	a, err := in.Validate()
	if err != nil {
		return err
	}
	room, err := s.room(ctx, account, a)
	if err != nil {
		return err
	}
	return s.Disconnect(ctx, room, chat.NewID(), "", *in.UserID, chat.Deref(in.Reason))
}
