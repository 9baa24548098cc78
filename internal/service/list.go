package service

import (
	"context"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// Page is one page of a list, with the token of the next page if there is one.
type Page[T any] struct {
	Items     []*T
	NextToken string
}

// page serves one page of a list: it opens the caller's nextToken, filters, sorts, and seals
// the position of the next page.
func page[T any](ctx context.Context, s *Service, account, op string, items []*T, req chat.PageRequest, match func(*T) bool, key func(*T) chat.OrderKey) (*Page[T], error) {
	var after *chat.OrderKey
	if req.Token != "" {
		plain, err := unseal(ctx, s, func(kr *chat.Keyring) ([]byte, error) { return kr.Open(chat.PurposePageCursor, req.Token) })
		if err != nil {
			return nil, chat.InvalidToken()
		}
		c, err := chat.DecodeCursor(plain)
		if err != nil || c.Account != account || c.Operation != op {
			return nil, chat.InvalidToken()
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
		return &Page[T]{Items: out}, nil
	}
	c := chat.Cursor{Account: account, Operation: op, After: *last}
	return &Page[T]{Items: out, NextToken: s.engine.Keyring().Seal(chat.PurposePageCursor, c.Encode())}, nil
}

// unseal opens a value sealed with any node's keys. A miss reads the keys afresh and tries
// once more: the value may be sealed by a key another node made a moment ago.
func unseal[T any](ctx context.Context, s *Service, open func(*chat.Keyring) (T, error)) (T, error) {
	v, err := open(s.engine.Keyring())
	if err != nil {
		s.engine.RefreshKeyring(ctx)
		v, err = open(s.engine.Keyring())
	}
	return v, err
}
