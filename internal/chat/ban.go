package chat

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// Ban limits.
const (
	MinBanSeconds = 1
	// MaxBanSeconds is a year; a longer ban is a ban until UnbanUser.
	MaxBanSeconds = 31_536_000
)

// Ban keeps a user out of a room: no token for the room is issued to the user, and no token
// is accepted from the user, until ExpireTime (nil: until UnbanUser).
type Ban struct {
	RoomID     string     `json:"roomId"`
	UserID     string     `json:"userId"`
	Reason     string     `json:"reason,omitempty"`
	CreateTime time.Time  `json:"createTime"`
	ExpireTime *time.Time `json:"expireTime,omitempty"`
}

// ActiveAt reports whether the ban holds at now. The engine drops an expired ban on its own;
// this makes the end exact, whatever the engine's delay.
func (b *Ban) ActiveAt(now time.Time) bool {
	return b.ExpireTime == nil || now.Before(*b.ExpireTime)
}

// Denied is the error a banned user gets for a chat token.
func (b *Ban) Denied() *Error {
	until := "until unbanned"
	if b.ExpireTime != nil {
		until = "until " + b.ExpireTime.UTC().Format(time.RFC3339)
	}
	msg := fmt.Sprintf("user %q is banned from room %s %s", b.UserID, b.RoomID, until)
	if b.Reason != "" {
		msg += ": " + b.Reason
	}
	return AccessDenied(msg)
}

// RoomUserKey names a user in a room within an account (the key of the user's ban, and of
// the user's slow-mode record): the room's id and the user's id, which may be any text, in
// base64url so that it is a valid engine key.
func RoomUserKey(roomID, userID string) string {
	return roomID + "." + base64.RawURLEncoding.EncodeToString([]byte(userID))
}

// SplitRoomUserKey is the room id and user id of a RoomUserKey.
func SplitRoomUserKey(k string) (roomID, userID string, ok bool) {
	roomID, enc, found := strings.Cut(k, ".")
	if !found {
		return "", "", false
	}
	user, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return "", "", false
	}
	return roomID, string(user), true
}

// BanOrderKey orders ListBans: newest first, then by user.
func BanOrderKey(b *Ban) OrderKey { return OrderKey{Time: b.CreateTime, ID: b.UserID} }

// BanUserInput is the BanUser request.
type BanUserInput struct {
	RoomIdentifier  string  `json:"roomIdentifier"`
	UserID          *string `json:"userId"`
	DurationSeconds *int    `json:"durationSeconds"`
	Reason          *string `json:"reason"`
}

// Validate checks the request and returns the room's ARN.
func (in *BanUserInput) Validate() (ARN, error) {
	var v validator
	room, _ := v.arnOf("roomIdentifier", in.RoomIdentifier, arnRoom)
	v.userID(in.UserID)
	v.intRange("durationSeconds", in.DurationSeconds, MinBanSeconds, MaxBanSeconds)
	if in.Reason != nil {
		v.length("reason", *in.Reason, 1, MaxReasonLength)
	}
	return room, v.err()
}

// NewBan is the ban a validated request makes at now.
func NewBan(in *BanUserInput, roomID string, now time.Time) *Ban {
	b := &Ban{RoomID: roomID, UserID: *in.UserID, Reason: Deref(in.Reason), CreateTime: now}
	if in.DurationSeconds != nil {
		end := now.Add(time.Duration(*in.DurationSeconds) * time.Second)
		b.ExpireTime = &end
	}
	return b
}

// UnbanUserInput is the UnbanUser request.
type UnbanUserInput struct {
	RoomIdentifier string  `json:"roomIdentifier"`
	UserID         *string `json:"userId"`
}

// Validate checks the request and returns the room's ARN.
func (in *UnbanUserInput) Validate() (ARN, error) {
	var v validator
	room, _ := v.arnOf("roomIdentifier", in.RoomIdentifier, arnRoom)
	v.userID(in.UserID)
	return room, v.err()
}

// RoomPageInput is a list of one room's things: ListBans, ListRoomUsers.
type RoomPageInput struct {
	RoomIdentifier string  `json:"roomIdentifier"`
	MaxResults     *int    `json:"maxResults"`
	NextToken      *string `json:"nextToken"`
}

// Validate checks the request and returns the room's ARN and the page asked for.
func (in *RoomPageInput) Validate() (ARN, PageRequest, error) {
	var v validator
	room, _ := v.arnOf("roomIdentifier", in.RoomIdentifier, arnRoom)
	p := v.page(in.MaxResults, in.NextToken)
	return room, p, v.err()
}
