package service

import (
	"context"
	"fmt"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// CreateLoggingConfiguration creates a chat-log destination in the caller's account.
func (s *Service) CreateLoggingConfiguration(ctx context.Context, account string, in *chat.CreateLoggingConfigurationInput) (*chat.LoggingConfiguration, error) {
	d, err := in.Validate()
	if err != nil {
		return nil, err
	}
	if err := s.reach.CheckDestination(account, d); err != nil {
		return nil, err
	}
	defer s.accounts.lock(account)()
	if n := s.engine.LoggingConfigurations.Count(account); n >= s.quotas.MaxLoggingConfigurations {
		return nil, chat.QuotaExceeded(chat.ResourceLoggingConfiguration, s.quotas.MaxLoggingConfigurations,
			fmt.Sprintf("the account has %d logging configurations, the quota is %d", n, s.quotas.MaxLoggingConfigurations))
	}
	now := s.clock()
	return createWithFreshID(ctx, s.engine.LoggingConfigurations, account, func(id string) *chat.LoggingConfiguration {
		return chat.NewLoggingConfiguration(in, d, s.region, account, id, now)
	})
}

// GetLoggingConfiguration returns the caller's logging configuration.
func (s *Service) GetLoggingConfiguration(ctx context.Context, account string, in *chat.IdentifierInput) (*chat.LoggingConfiguration, error) {
	a, err := chat.LoggingConfigurationIdentifier("identifier", in.Identifier)
	if err != nil {
		return nil, err
	}
	fresh(ctx, s.engine.LoggingConfigurations)
	return s.loggingConfiguration(ctx, account, a)
}

func (s *Service) loggingConfiguration(ctx context.Context, account string, a chat.ARN) (*chat.LoggingConfiguration, error) {
	if err := s.owned(account, a); err != nil {
		return nil, err
	}
	c, ok := s.engine.LoggingConfigurations.Get(ctx, account, a.ID)
	if !ok {
		return nil, a.NotFound()
	}
	return c, nil
}

// UpdateLoggingConfiguration changes a configuration's name or destination.
func (s *Service) UpdateLoggingConfiguration(ctx context.Context, account string, in *chat.UpdateLoggingConfigurationInput) (*chat.LoggingConfiguration, error) {
	a, dest, err := in.Validate()
	if err != nil {
		return nil, err
	}
	if err := s.owned(account, a); err != nil {
		return nil, err
	}
	if dest != nil {
		if err := s.reach.CheckDestination(account, *dest); err != nil {
			return nil, err
		}
	}
	c, err := s.engine.LoggingConfigurations.Update(ctx, account, a.ID, func(cur *chat.LoggingConfiguration) (*chat.LoggingConfiguration, error) {
		return in.Apply(cur, dest, s.clock()), nil
	})
	return c, mapEngineError(err, a)
}

// DeleteLoggingConfiguration deletes a configuration that no room uses. A configuration still
// attached to a room is refused with a ConflictException naming the room: detaching first
// keeps a room from silently losing its chat log.
func (s *Service) DeleteLoggingConfiguration(ctx context.Context, account string, in *chat.IdentifierInput) error {
	a, err := chat.LoggingConfigurationIdentifier("identifier", in.Identifier)
	if err != nil {
		return err
	}
	defer s.accounts.lock(account)()
	if _, err := s.loggingConfiguration(ctx, account, a); err != nil {
		return err
	}
	arn := a.String()
	fresh(ctx, s.engine.Rooms) // a room another node has just attached it to counts
	for _, r := range s.engine.Rooms.List(account) {
		for _, id := range r.LoggingConfigurationIdentifiers {
			if id == arn {
				return chat.Conflict(chat.ResourceRoom, r.ID,
					fmt.Sprintf("logging configuration %s is used by room %s; remove it from the room first", a.ID, r.ARN()))
			}
		}
	}
	return mapEngineError(s.engine.LoggingConfigurations.Delete(ctx, account, a.ID), a)
}

// ListLoggingConfigurations returns a page of the caller's configurations, most recently
// updated first.
func (s *Service) ListLoggingConfigurations(ctx context.Context, account string, in *ListLoggingConfigurationsInput) (*Page[chat.LoggingConfiguration], error) {
	p, err := chat.ParseListLoggingConfigurations(in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	fresh(ctx, s.engine.LoggingConfigurations)
	return page(ctx, s, account, "ListLoggingConfigurations", s.engine.LoggingConfigurations.List(account), p, nil,
		func(c *chat.LoggingConfiguration) chat.OrderKey { return chat.OrderKey{Time: c.UpdateTime, ID: c.ID} })
}

// ListLoggingConfigurationsInput is the ListLoggingConfigurations request.
type ListLoggingConfigurationsInput struct {
	NextToken  *string `json:"nextToken"`
	MaxResults *int    `json:"maxResults"`
}
