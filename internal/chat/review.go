package chat

import (
	"encoding/json"
	"unicode/utf8"
)

// Review results a message review handler may answer.
const (
	ReviewAllow = "ALLOW"
	ReviewDeny  = "DENY"
)

// ReviewSender is the sender part of a review request.
type ReviewSender struct {
	Attributes map[string]string `json:"Attributes"`
	UserID     string            `json:"UserId"`
	IP         string            `json:"Ip"`
}

// ReviewRequest is what a message review handler receives for every message sent to its room.
type ReviewRequest struct {
	Content    string            `json:"Content"`
	MessageID  string            `json:"MessageId"`
	RoomARN    string            `json:"RoomArn"`
	Attributes map[string]string `json:"Attributes"`
	Sender     ReviewSender      `json:"Sender"`
}

// NewReviewRequest describes a message about to be delivered, with the id it will carry.
func NewReviewRequest(messageID string, room *Room, content string, attributes map[string]string, sender *Token, ip string) *ReviewRequest {
	return &ReviewRequest{Content: content, MessageID: messageID, RoomARN: room.ARN().String(),
		Attributes: nonNil(attributes), Sender: ReviewSender{Attributes: nonNil(sender.Attributes), UserID: sender.UserID, IP: ip}}
}

// ReviewVerdict is what happens to a reviewed message.
type ReviewVerdict struct {
	Allowed    bool
	Content    string
	Attributes map[string]string
	// Reason explains a denial, when the handler gave one.
	Reason string
	// Fallback is true when the handler's answer was missing or invalid and the room's
	// fallbackResult decided.
	Fallback bool
}

// reviewResponse is the handler's answer. Content and Attributes are raw so that wrong types
// are told apart from absent members.
type reviewResponse struct {
	ReviewResult string            `json:"ReviewResult"`
	Content      *string           `json:"Content"`
	Attributes   map[string]string `json:"Attributes"`
}

// Fallback is the verdict of the room's fallbackResult, applied when the handler timed out,
// failed, or broke the contract. Either way the original message is what is judged.
func Fallback(room *Room, content string, attributes map[string]string) ReviewVerdict {
	allowed := room.MessageReviewHandler == nil || room.MessageReviewHandler.FallbackResult != FallbackDeny
	return ReviewVerdict{Allowed: allowed, Content: content, Attributes: attributes, Fallback: true}
}

// JudgeReview turns a handler's answer into a verdict. An answer that is not JSON, has an
// unknown ReviewResult, or on ALLOW returns content the room would not accept from a client, or
// attributes over the limit, breaks the contract: the room's fallback decides. On ALLOW the
// returned Content is delivered, and the returned Attributes replace the message's when present.
func JudgeReview(room *Room, content string, attributes map[string]string, answer []byte) ReviewVerdict {
	var r reviewResponse
	if !utf8.Valid(answer) || json.Unmarshal(answer, &r) != nil {
		return Fallback(room, content, attributes)
	}
	switch r.ReviewResult {
	case ReviewDeny:
		return ReviewVerdict{Allowed: false, Reason: r.Attributes["Reason"]}
	case ReviewAllow:
		if r.Content == nil {
			return Fallback(room, content, attributes)
		}
		if checkMessage(room, *r.Content, r.Attributes) != nil {
			return Fallback(room, content, attributes)
		}
		v := ReviewVerdict{Allowed: true, Content: *r.Content, Attributes: attributes}
		if r.Attributes != nil {
			v.Attributes = r.Attributes
		}
		return v
	}
	return Fallback(room, content, attributes)
}

// DenialMessage is the ERROR 406 text of a denied message.
func (v ReviewVerdict) DenialMessage() string {
	switch {
	case v.Fallback:
		return "the message could not be reviewed and the room's fallback result is DENY"
	case v.Reason != "":
		return "the message was rejected during review: " + v.Reason
	}
	return "the message was rejected during review"
}
