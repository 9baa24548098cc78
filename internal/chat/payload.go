package chat

import (
	"encoding/json"
	"time"
)

// Types of the payloads the messaging API delivers.
const (
	TypeMessage = "MESSAGE"
	TypeEvent   = "EVENT"
	TypeError   = "ERROR"
)

// System event names.
const (
	EventDeleteMessage  = "aws:DELETE_MESSAGE"
	EventDisconnectUser = "aws:DISCONNECT_USER"
)

// Sender is who sent a MESSAGE: the user id and attributes of the sender's token.
type Sender struct {
	UserID     string            `json:"UserId"`
	Attributes map[string]string `json:"Attributes"`
}

// Message is the MESSAGE payload, with members in the order the service emits them.
type Message struct {
	Type       string            `json:"Type"`
	ID         string            `json:"Id"`
	RequestID  string            `json:"RequestId"`
	Attributes map[string]string `json:"Attributes"`
	Content    string            `json:"Content"`
	SendTime   string            `json:"SendTime"`
	Sender     Sender            `json:"Sender"`
}

// Event is the EVENT payload.
type Event struct {
	Type       string            `json:"Type"`
	ID         string            `json:"Id"`
	EventName  string            `json:"EventName"`
	RequestID  string            `json:"RequestId"`
	Attributes map[string]string `json:"Attributes"`
	SendTime   string            `json:"SendTime"`
}

// ErrorPayload is the ERROR payload, sent only to the connection whose request failed.
type ErrorPayload struct {
	Type         string `json:"Type"`
	ID           string `json:"Id"`
	RequestID    string `json:"RequestId"`
	ErrorCode    int    `json:"ErrorCode"`
	ErrorMessage string `json:"ErrorMessage"`
}

// TimeLayout is how the control plane writes a time, and chat-log records too: UTC with
// millisecond precision. Messaging payloads use SendTime instead.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// SendTime formats a delivery time as the service does: UTC, RFC 3339 with nanoseconds.
func SendTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// NewMessage builds a MESSAGE payload.
func NewMessage(id, requestID, content string, attributes map[string]string, sender *Token, at time.Time) *Message {
	return &Message{Type: TypeMessage, ID: id, RequestID: requestID, Attributes: nonNil(attributes),
		Content: content, SendTime: SendTime(at),
		Sender: Sender{UserID: sender.UserID, Attributes: nonNil(sender.Attributes)}}
}

// NewEvent builds an EVENT payload.
func NewEvent(id, requestID, name string, attributes map[string]string, at time.Time) *Event {
	return &Event{Type: TypeEvent, ID: id, EventName: name, RequestID: requestID, Attributes: nonNil(attributes), SendTime: SendTime(at)}
}

// NewDeleteMessageEvent builds the aws:DELETE_MESSAGE event. Both MessageId and the older
// MessageID are sent: older SDKs read only the latter.
func NewDeleteMessageEvent(id, requestID, messageID, reason string, at time.Time) *Event {
	attrs := map[string]string{"MessageId": messageID, "MessageID": messageID}
	if reason != "" {
		attrs["Reason"] = reason
	}
	return NewEvent(id, requestID, EventDeleteMessage, attrs, at)
}

// NewDisconnectUserEvent builds the aws:DISCONNECT_USER event.
func NewDisconnectUserEvent(id, requestID, userID, reason string, at time.Time) *Event {
	attrs := map[string]string{"UserId": userID}
	if reason != "" {
		attrs["Reason"] = reason
	}
	return NewEvent(id, requestID, EventDisconnectUser, attrs, at)
}

// NewError builds an ERROR payload.
func NewError(id, requestID string, code int, message string) *ErrorPayload {
	return &ErrorPayload{Type: TypeError, ID: id, RequestID: requestID, ErrorCode: code, ErrorMessage: message}
}

// Encode marshals a payload once; the same bytes go to every recipient and to the chat log.
func Encode(payload any) []byte {
	b, err := json.Marshal(payload)
	if err != nil {
		panic("chat: payload does not marshal: " + err.Error())
	}
	return b
}

// SendEventInput is the SendEvent request.
type SendEventInput struct {
	RoomIdentifier string            `json:"roomIdentifier"`
	EventName      *string           `json:"eventName"`
	Attributes     map[string]string `json:"attributes"`
}

// Validate checks the request and returns the room's ARN.
func (in *SendEventInput) Validate() (ARN, error) {
	var v validator
	room, _ := v.arnOf("roomIdentifier", in.RoomIdentifier, arnRoom)
	if v.required("eventName", in.EventName != nil) {
		v.length("eventName", *in.EventName, 1, 100)
	}
	v.attributeMap("attributes", in.Attributes)
	return room, v.err()
}

// DeleteMessageInput is the DeleteMessage request.
type DeleteMessageInput struct {
	RoomIdentifier string  `json:"roomIdentifier"`
	ID             *string `json:"id"`
	Reason         *string `json:"reason"`
}

// Validate checks the request and returns the room's ARN.
func (in *DeleteMessageInput) Validate() (ARN, error) {
	var v validator
	room, _ := v.arnOf("roomIdentifier", in.RoomIdentifier, arnRoom)
	if v.required("id", in.ID != nil) && !IsID(*in.ID) {
		v.fail("id", "must be a message id of 12 letters and digits")
	}
	if in.Reason != nil {
		v.length("reason", *in.Reason, 1, MaxReasonLength)
	}
	return room, v.err()
}

// DisconnectUserInput is the DisconnectUser request.
type DisconnectUserInput struct {
	RoomIdentifier string  `json:"roomIdentifier"`
	UserID         *string `json:"userId"`
	Reason         *string `json:"reason"`
}

// Validate checks the request and returns the room's ARN.
func (in *DisconnectUserInput) Validate() (ARN, error) {
	var v validator
	room, _ := v.arnOf("roomIdentifier", in.RoomIdentifier, arnRoom)
	v.userID(in.UserID)
	if in.Reason != nil {
		v.length("reason", *in.Reason, 1, MaxReasonLength)
	}
	return room, v.err()
}

// MaxReasonLength bounds the reason of a deletion or disconnection.
const MaxReasonLength = 256

// Deref returns *s, or "" for nil.
func Deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
