package service

import (
	"context"
	"time"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/engine"
)

// recordTimeout bounds how long a delivery waits for the chat-log stream to store its record.
const recordTimeout = 5 * time.Second

// record stores the chat-log record of a payload the room is about to receive, when the room
// has logging configurations; it returns once the record is durable, so a payload that
// reaches anyone is never missing from the log. A room without logging configurations pays
// nothing. The destinations are those of the configurations as they are now: the room passed
// in is current, and so is the table of configurations. A destination the room's account may
// no longer name (the operator withdrew the allowance) gets no record.
func (s *Service) record(ctx context.Context, room *chat.Room, payload []byte) error {
	if len(room.LoggingConfigurationIdentifiers) == 0 {
		return nil
	}
	var buf [chat.MaxLoggingConfigurationsPerRoom]chat.Destination
	dests := buf[:0]
	for _, arn := range room.LoggingConfigurationIdentifiers {
		if c, ok := s.engine.LoggingConfigurations.Get(ctx, room.Account, chat.LoggingConfigurationID(arn)); ok && s.reach.CheckDestination(room.Account, c.Destination) == nil {
			dests = append(dests, c.Destination)
		}
	}
	if len(dests) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, recordTimeout)
	defer cancel()
	return s.engine.RecordChatLog(ctx, &engine.ChatLogRecord{Account: room.Account, Region: room.Region, RoomID: room.ID,
		Destinations: dests, Data: chat.NewLogRecord(payload, s.now())})
}
