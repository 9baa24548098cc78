package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Messaging actions a client may publish.
const (
	ActionSendMessage    = "SEND_MESSAGE"
	ActionDeleteMessage  = "DELETE_MESSAGE"
	ActionDisconnectUser = "DISCONNECT_USER"
)

// ERROR frame codes of the messaging API.
const (
	CodeBadRequest      = 400
	CodeUnauthorized    = 401
	CodeForbidden       = 403
	CodeNotFound        = 404
	CodeRejected        = 406
	CodeTooLarge        = 413
	CodeTooManyRequests = 429
	CodeInternalFailure = 500
	maxRequestIDLength  = 256
)

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

// RequestError is why a request fails: the code and message of the ERROR frame its sender gets.
type RequestError struct {
	Code    int
	Message string
}

func (e *RequestError) Error() string { return fmt.Sprintf("%d: %s", e.Code, e.Message) }

func reqErr(code int, format string, args ...any) *RequestError {
	return &RequestError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ParseRequest decodes a text frame. It returns the request as far as it could be read (its
// RequestId is echoed even when the rest is wrong) and the error, if any.
func ParseRequest(frame []byte) (*Request, *RequestError) {
	var r Request
	if !utf8.Valid(frame) {
		return &r, reqErr(CodeBadRequest, "the frame is not valid UTF-8")
	}
	trimmed := bytes.TrimSpace(frame)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return &r, reqErr(CodeBadRequest, "a request must be one JSON object")
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
			return &r, reqErr(CodeBadRequest, "%s has the wrong type: it must be a %s", typeErr.Field, wireType(typeErr.Field))
		}
		return &r, reqErr(CodeBadRequest, "the request is not valid JSON")
	}
	if len(r.RequestID) > maxRequestIDLength {
		id := r.RequestID
		r.RequestID = ""
		return &r, reqErr(CodeTooLarge, "RequestId is %d bytes; the limit is %d", len(id), maxRequestIDLength)
	}
	switch r.Action {
	case ActionSendMessage, ActionDeleteMessage, ActionDisconnectUser:
		return &r, nil
	case "":
		return &r, reqErr(CodeBadRequest, "Action is required: one of SEND_MESSAGE, DELETE_MESSAGE, DISCONNECT_USER")
	}
	return &r, reqErr(CodeBadRequest, "unknown Action %q: use SEND_MESSAGE, DELETE_MESSAGE or DISCONNECT_USER", r.Action)
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
func (r *Request) Check(t *Token, room *Room) *RequestError {
	if !t.Can(capabilityOf[r.Action]) {
		return reqErr(CodeForbidden, "the chat token does not have the %s capability", capabilityOf[r.Action])
	}
	if r.Reason != nil && utf8.RuneCountInString(*r.Reason) > MaxReasonLength {
		return reqErr(CodeTooLarge, "Reason is longer than %d characters", MaxReasonLength)
	}
	switch r.Action {
	case ActionSendMessage:
		if r.Content == nil {
			return reqErr(CodeBadRequest, "Content is required")
		}
		return checkMessage(room, *r.Content, r.Attributes)
	case ActionDeleteMessage:
		if r.ID == nil || *r.ID == "" {
			return reqErr(CodeBadRequest, "Id of the message to delete is required")
		}
		if !IsID(*r.ID) {
			return reqErr(CodeBadRequest, "Id must be a message id of 12 letters and digits")
		}
	case ActionDisconnectUser:
		if r.UserID == nil || *r.UserID == "" {
			return reqErr(CodeBadRequest, "UserId of the user to disconnect is required")
		}
		if utf8.RuneCountInString(*r.UserID) > MaxUserIDLength {
			return reqErr(CodeTooLarge, "UserId is longer than %d characters", MaxUserIDLength)
		}
	}
	return nil
}

// checkMessage applies the room's limits to a message's content and attributes: what a
// client sends, and what a review handler returns in its place.
func checkMessage(room *Room, content string, attributes map[string]string) *RequestError {
	n := utf8.RuneCountInString(content)
	if n == 0 {
		return reqErr(CodeBadRequest, "Content must not be empty")
	}
	if n > room.MaximumMessageLength {
		return reqErr(CodeBadRequest, "Content is %d characters; the room allows at most %d", n, room.MaximumMessageLength)
	}
	if size := attributesSize(attributes); size > MaxAttributesBytes {
		return reqErr(CodeTooLarge, "Attributes are %d bytes; the limit is %d", size, MaxAttributesBytes)
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
