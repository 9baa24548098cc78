package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// RoomUser is a user connected to a room: on one node, or summed over the cluster.
type RoomUser struct {
	UserID string `json:"u"`
	// Attributes are those of the user's earliest connection (each token carries its own).
	Attributes map[string]string `json:"a,omitempty"`
	// Connections is how many connections the user has open to the room.
	Connections int `json:"n"`
	// ConnectedAt is when the user's earliest open connection was accepted.
	ConnectedAt time.Time `json:"t"`
}

// MergeRoomUsers sums users reported by several nodes (or connections): one entry per user,
// its connections added up, connected since its earliest connection, with that connection's
// attributes. The result is ordered by user id, the order of ListRoomUsers.
func MergeRoomUsers(parts ...[]RoomUser) []*RoomUser {
	byUser := map[string]*RoomUser{}
	for _, part := range parts {
		for i := range part {
			u := part[i]
			if u.Connections < 1 {
				continue
			}
			m := byUser[u.UserID]
			if m == nil {
				byUser[u.UserID] = &u
				continue
			}
			m.Connections += u.Connections
			if u.ConnectedAt.Before(m.ConnectedAt) {
				m.ConnectedAt, m.Attributes = u.ConnectedAt, u.Attributes
			}
		}
	}
	out := make([]*RoomUser, 0, len(byUser))
	for _, u := range byUser {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UserID < out[j].UserID })
	return out
}

// RoomUserOrderKey orders ListRoomUsers: by user id, in byte order. A page's nextToken is
// the last user id listed, so users who connect or leave between pages never shift the users
// of later pages.
func RoomUserOrderKey(u *RoomUser) OrderKey { return OrderKey{ID: u.UserID} }

// Presence tells who is connected to a room on every node of the cluster.
type Presence interface {
	RoomUsers(ctx context.Context, room RoomKey) ([]*RoomUser, error)
}

// Roster tells who is connected to a room on this node: the gateway's members.
type Roster interface {
	LocalRoomUsers(room RoomKey) []RoomUser
}

// UsersQuery is what one node asks the others: the users of a room on each.
type UsersQuery struct {
	Room RoomKey `json:"r"`
}

// UsersReply is one node's answer to a UsersQuery, or a part of it: a node with more users
// than fit in one engine message answers in several parts, numbered from 0 of Parts.
type UsersReply struct {
	Node  string     `json:"n"`
	Part  int        `json:"p"`
	Parts int        `json:"c"`
	Users []RoomUser `json:"u"`
}

// maxReplyParts bounds the parts one node may answer with (at a megabyte each, far more
// users than a room holds).
const maxReplyParts = 1024

// DecodeUsersQuery parses a query from another node.
func DecodeUsersQuery(b []byte) (UsersQuery, error) {
	var q UsersQuery
	if err := json.Unmarshal(b, &q); err != nil {
		return q, err
	}
	if q.Room.Account == "" || q.Room.ID == "" {
		return q, errors.New("chat: users query without a room")
	}
	return q, nil
}

// DecodeUsersReply parses a reply from another node, refusing one that does not add up.
func DecodeUsersReply(b []byte) (UsersReply, error) {
	var r UsersReply
	if err := json.Unmarshal(b, &r); err != nil {
		return r, err
	}
	switch {
	case r.Node == "":
		return r, errors.New("chat: users reply without a node")
	case r.Parts < 1 || r.Parts > maxReplyParts || r.Part < 0 || r.Part >= r.Parts:
		return r, fmt.Errorf("chat: users reply part %d of %d", r.Part, r.Parts)
	}
	for _, u := range r.Users {
		if u.UserID == "" || u.Connections < 1 {
			return r, fmt.Errorf("chat: users reply with user %q of %d connections", u.UserID, u.Connections)
		}
	}
	return r, nil
}

// NewPresenceEvent builds the ivschatd:join or ivschatd:leave event of a user, shaped as
// SendEvent's events are.
func NewPresenceEvent(name, userID string, at time.Time) *Event {
	return NewEvent(NewID(), "", name, map[string]string{"userId": userID}, at)
}

// Presence events, sent to a room tagged ivschatd:presence-events when a user's first
// connection to it opens and the last one closes, across the cluster.
const (
	EventJoin  = TagPrefix + "join"
	EventLeave = TagPrefix + "leave"
)
