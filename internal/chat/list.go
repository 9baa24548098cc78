package chat

import (
	"encoding/json"
	"sort"
	"time"
)

// List limits from the model.
const (
	DefaultMaxResults     = 50
	MaxMaxResults         = 50
	maxPaginationTokenLen = 1024
)

// PageRequest is the paging part of a list request.
type PageRequest struct {
	MaxResults int
	// Token is the nextToken of the previous page; empty asks for the first page.
	Token string
}

func (v *validator) page(maxResults *int, token *string) PageRequest {
	return v.pageOf(maxResults, token, DefaultMaxResults, MaxMaxResults)
}

// pageOf is page for a list with its own default and largest page.
func (v *validator) pageOf(maxResults *int, token *string, def, max int) PageRequest {
	p := PageRequest{MaxResults: def}
	v.intRange("maxResults", maxResults, 1, max)
	if maxResults != nil {
		p.MaxResults = *maxResults
	}
	if token != nil {
		v.length("nextToken", *token, 0, maxPaginationTokenLen)
		p.Token = *token
	}
	return p
}

// ListRoomsFilter is a validated ListRooms request.
type ListRoomsFilter struct {
	Page                    PageRequest
	Name                    *string
	MessageReviewHandlerURI *string
	LoggingConfiguration    *ARN
}

// ParseListRoomsFilter validates the members of a ListRooms request.
func ParseListRoomsFilter(name, handlerURI, loggingConfiguration *string, maxResults *int, token *string) (*ListRoomsFilter, error) {
	var v validator
	f := &ListRoomsFilter{Page: v.page(maxResults, token)}
	v.resourceName("name", name)
	if name != nil && *name != "" {
		f.Name = name
	}
	if handlerURI != nil {
		v.handlerURI("messageReviewHandlerUri", *handlerURI)
		if *handlerURI != "" {
			f.MessageReviewHandlerURI = handlerURI
		}
	}
	if loggingConfiguration != nil {
		if a, ok := v.arnOf("loggingConfigurationIdentifier", *loggingConfiguration, arnLoggingConfiguration); ok {
			f.LoggingConfiguration = &a
		}
	}
	return f, v.err()
}

// Match reports whether a room passes every filter. The name filter is an exact match.
func (f *ListRoomsFilter) Match(r *Room) bool {
	if f.Name != nil && r.Name != *f.Name {
		return false
	}
	if f.MessageReviewHandlerURI != nil && (r.MessageReviewHandler == nil || r.MessageReviewHandler.URI != *f.MessageReviewHandlerURI) {
		return false
	}
	if f.LoggingConfiguration != nil {
		want := f.LoggingConfiguration.String()
		for _, id := range r.LoggingConfigurationIdentifiers {
			if id == want {
				return true
			}
		}
		return false
	}
	return true
}

// ParseListLoggingConfigurations validates the members of a ListLoggingConfigurations request.
func ParseListLoggingConfigurations(maxResults *int, token *string) (PageRequest, error) {
	var v validator
	p := v.page(maxResults, token)
	return p, v.err()
}

// OrderKey places an item in a list: newest first, then by id.
type OrderKey struct {
	Time time.Time `json:"t"`
	ID   string    `json:"i"`
}

// Before reports whether a is listed before b.
func (a OrderKey) Before(b OrderKey) bool {
	if !a.Time.Equal(b.Time) {
		return a.Time.After(b.Time)
	}
	return a.ID < b.ID
}

// Cursor is the position a nextToken stands for. It is sealed before it leaves the server,
// and it names the account and operation it was issued for, so it cannot be replayed
// against another account's data or another list.
type Cursor struct {
	Account   string   `json:"a"`
	Operation string   `json:"o"`
	After     OrderKey `json:"k"`
}

// Encode serializes the cursor for sealing.
func (c *Cursor) Encode() []byte { return Encode(c) }

// DecodeCursor parses an opened cursor.
func DecodeCursor(b []byte) (*Cursor, error) {
	var c Cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// InvalidToken is the error for a nextToken this server did not issue for this request.
func InvalidToken() error {
	return Invalid(FieldError{Name: "nextToken", Message: "is not a valid pagination token for this request"})
}

// Paginate sorts items by key and returns up to max of them after the given position, and
// the key of the last one returned when more remain.
func Paginate[T any](items []T, key func(T) OrderKey, after *OrderKey, max int) ([]T, *OrderKey) {
	sort.Slice(items, func(i, j int) bool { return key(items[i]).Before(key(items[j])) })
	start := 0
	if after != nil {
		start = sort.Search(len(items), func(i int) bool { return after.Before(key(items[i])) })
	}
	end := start + max
	if end >= len(items) {
		return items[start:], nil
	}
	last := key(items[end-1])
	return items[start:end], &last
}
