package service

import (
	"context"
	"maps"
	"slices"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// updateTags changes the tags of a room or logging configuration atomically.
// keys are the tag keys the change sets or removes.
func (s *Service) updateTags(ctx context.Context, account string, a chat.ARN, keys []string, change func(map[string]string) (map[string]string, error)) error {
	if err := s.owned(account, a); err != nil {
		return err
	}
	var err error
	if a.IsRoom() {
		var r *chat.Room
		r, err = s.engine.Rooms.Update(ctx, account, a.ID, func(r *chat.Room) (*chat.Room, error) {
			tags, err := change(r.Tags)
			r.Tags = tags
			return r, err
		})
		if err == nil {
			// The kept messages fit the new ivschatd:history before any node serves it. Done
			// whenever a request names the tag, so that a retry of one that failed here does it.
			if slices.Contains(keys, chat.TagHistory) {
				err = s.engine.TrimHistory(ctx, r.Key(), r.Settings().History)
			}
			// Tags switch extensions on and off: the room's nodes take the new settings at once.
			_ = s.broker.Publish(r.Key(), chat.Signal{Kind: chat.SignalUpdated, Payload: chat.Encode(r)})
		}
	} else {
		_, err = s.engine.LoggingConfigurations.Update(ctx, account, a.ID, func(c *chat.LoggingConfiguration) (*chat.LoggingConfiguration, error) {
			tags, err := change(c.Tags)
			c.Tags = tags
			return c, err
		})
	}
	return mapEngineError(err, a)
}

// TagResource adds or overwrites tags.
func (s *Service) TagResource(ctx context.Context, account string, in *chat.TagResourceInput) error {
	a, err := chat.ResourceIdentifier("resourceArn", in.ResourceARN)
	if err != nil {
		return err
	}
	if err := in.Validate(); err != nil {
		return err
	}
	return s.updateTags(ctx, account, a, slices.Collect(maps.Keys(in.Tags)), func(tags map[string]string) (map[string]string, error) {
		if a.IsRoom() {
			if err := chat.ValidateRoomTags(tags, in.Tags); err != nil {
				return nil, err
			}
		}
		return chat.MergeTags(tags, in.Tags)
	})
}

// UntagResource removes tags; keys that are not set are ignored.
func (s *Service) UntagResource(ctx context.Context, account string, in *chat.UntagResourceInput) error {
	a, err := chat.ResourceIdentifier("resourceArn", in.ResourceARN)
	if err != nil {
		return err
	}
	// The SDKs send no tagKeys parameter for an empty list, which the model allows (0–50
	// keys): an absent tagKeys is that empty list, not a missing member.
	keys := in.TagKeys
	if err := chat.ValidateTagKeys(keys, true); err != nil {
		return err
	}
	return s.updateTags(ctx, account, a, keys, func(tags map[string]string) (map[string]string, error) {
		out := make(map[string]string, len(tags))
		for k, v := range tags {
			out[k] = v
		}
		for _, k := range keys {
			delete(out, k)
		}
		return out, nil
	})
}

// ListTagsForResource returns a resource's tags.
func (s *Service) ListTagsForResource(ctx context.Context, account string, in *chat.ResourceInput) (map[string]string, error) {
	a, err := chat.ResourceIdentifier("resourceArn", in.ResourceARN)
	if err != nil {
		return nil, err
	}
	if a.IsRoom() {
		fresh(ctx, s.engine.Rooms)
		r, err := s.room(ctx, account, a)
		if err != nil {
			return nil, err
		}
		return r.Tags, nil
	}
	fresh(ctx, s.engine.LoggingConfigurations)
	c, err := s.loggingConfiguration(ctx, account, a)
	if err != nil {
		return nil, err
	}
	return c.Tags, nil
}
