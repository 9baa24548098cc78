package service

import (
	"context"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// page serves one page of a list: it opens the caller's nextToken, filters, sorts, and seals
// the position of the next page.
func page[T any](s *Service, account, op string, items []*T, req chat.PageRequest, match func(*T) bool, key func(*T) chat.OrderKey) ([]*T, string, error) {
	var after *chat.OrderKey
	if req.Token != "" {
		plain, err := s.engine.Keyring().Open(chat.PurposePageCursor, req.Token)
		if err != nil {
			// It may be sealed by a key another node made a moment ago.
			s.engine.RefreshKeyring(context.Background())
			if plain, err = s.engine.Keyring().Open(chat.PurposePageCursor, req.Token); err != nil {
				return nil, "", chat.InvalidToken()
			}
		}
		c, err := chat.DecodeCursor(plain)
		if err != nil || c.Account != account || c.Operation != op {
			return nil, "", chat.InvalidToken()
		}
		after = &c.After
	}
	kept := items[:0]
	for _, it := range items {
		if match == nil || match(it) {
			kept = append(kept, it)
		}
	}
	out, last := chat.Paginate(kept, key, after, req.MaxResults)
	if last == nil {
		return out, "", nil
	}
	c := chat.Cursor{Account: account, Operation: op, After: *last}
	return out, s.engine.Keyring().Seal(chat.PurposePageCursor, c.Encode()), nil
}
