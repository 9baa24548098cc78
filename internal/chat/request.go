package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// Messaging actions a client may publish.
const (
	ActionSendMessage    = "SEND_MESSAGE"
	ActionDeleteMessage  = "DELETE_MESSAGE"
	ActionDisconnectUser = "DISCONNECT_USER"
)

const maxRequestIDLength = 256

// Request is one action a client publishes on its connection.
type Request struct {
	Action     string            `json:"Action"`
	RequestID  string            `json:"RequestId"`
	Content    *string           `json:"Content"`
	Attributes map[string]string `json:"Attributes"`
	ID         *string           `json:"Id"`
	UserID     *string           `json:"UserId"`
	Reason     *string           `json:"Reason"`
}

// ParseRequest decodes a text frame. It returns the request as far as it could be read (its
// RequestId is echoed even when the rest is wrong) and why it is refused, if it is.
func ParseRequest(frame []byte) (*Request, *Error) {
	var r Request
	if !utf8.Valid(frame) {
		return &r, Errorf(KindValidation, "the frame is not valid UTF-8")
	}
	trimmed := bytes.TrimSpace(frame)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return &r, Errorf(KindValidation, "a request must be one JSON object")
	}
	if err := json.Unmarshal(trimmed, &r); err != nil {
		// Recover the RequestId if possible, so the client can match the error to its request.
		var id struct {
			RequestID string `json:"RequestId"`
		}
		_ = json.Unmarshal(trimmed, &id)
		r = Request{}
		if len(id.RequestID) <= maxRequestIDLength {
			r.RequestID = id.RequestID
		}
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return &r, Errorf(KindValidation, "%s has the wrong type: it must be a %s", typeErr.Field, wireType(typeErr.Field))
		}
		return &r, Errorf(KindValidation, "the request is not valid JSON")
	}
	if len(r.RequestID) > maxRequestIDLength {
		id := r.RequestID
		r.RequestID = ""
		return &r, Errorf(KindTooLarge, "RequestId is %d bytes; the limit is %d", len(id), maxRequestIDLength)
	}
	switch r.Action {
	case ActionSendMessage, ActionDeleteMessage, ActionDisconnectUser:
		return &r, nil
	case "":
		return &r, Errorf(KindValidation, "Action is required: one of SEND_MESSAGE, DELETE_MESSAGE, DISCONNECT_USER")
	}
	return &r, Errorf(KindValidation, "unknown Action %q: use SEND_MESSAGE, DELETE_MESSAGE or DISCONNECT_USER", r.Action)
}

func wireType(field string) string {
	switch field {
	case "Attributes":
		return "object of string values"
	default:
		return "string"
	}
}

// capabilityOf is the token capability each action needs.
var capabilityOf = map[string]string{
	ActionSendMessage:    CapabilitySendMessage,
	ActionDeleteMessage:  CapabilityDeleteMessage,
	ActionDisconnectUser: CapabilityDisconnectUser,
}

// Check applies the room's and the token's rules to a parsed request: the capability, the
// required members, and the sizes.
func (r *Request) Check(t *Token, room *Room) *Error {
	if !t.Can(capabilityOf[r.Action]) {
		return Errorf(KindAccessDenied, "the chat token does not have the %s capability", capabilityOf[r.Action])
	}
	if r.Reason != nil && utf8.RuneCountInString(*r.Reason) > MaxReasonLength {
		return Errorf(KindTooLarge, "Reason is longer than %d characters", MaxReasonLength)
	}
	switch r.Action {
	case ActionSendMessage:
		if r.Content == nil {
			return Errorf(KindValidation, "Content is required")
		}
		return checkMessage(room, *r.Content, r.Attributes)
	case ActionDeleteMessage:
		if r.ID == nil || *r.ID == "" {
			return Errorf(KindValidation, "Id of the message to delete is required")
		}
		if !IsID(*r.ID) {
			return Errorf(KindValidation, "Id must be a message id of 12 letters and digits")
		}
	case ActionDisconnectUser:
		if r.UserID == nil || *r.UserID == "" {
			return Errorf(KindValidation, "UserId of the user to disconnect is required")
		}
		if utf8.RuneCountInString(*r.UserID) > MaxUserIDLength {
			return Errorf(KindTooLarge, "UserId is longer than %d characters", MaxUserIDLength)
		}
	}
	return nil
}

// checkMessage applies the room's limits to a message's content and attributes: what a
// client sends, and what a review handler returns in its place.
func checkMessage(room *Room, content string, attributes map[string]string) *Error {
	n := utf8.RuneCountInString(content)
	if n == 0 {
		return Errorf(KindValidation, "Content must not be empty")
	}
	if n > room.MaximumMessageLength {
		return Errorf(KindValidation, "Content is %d characters; the room allows at most %d", n, room.MaximumMessageLength)
	}
	if size := attributesSize(attributes); size > MaxAttributesBytes {
		return Errorf(KindTooLarge, "Attributes are %d bytes; the limit is %d", size, MaxAttributesBytes)
	}
	return nil
}

// attributesSize is what counts toward MaxAttributesBytes: keys plus values, in bytes.
func attributesSize(m map[string]string) int {
	n := 0
	for k, v := range m {
		n += len(k) + len(v)
	}
	return n
}
