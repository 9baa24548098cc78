package chat

import (
	"bytes"
	"fmt"
)

// Limits of ListRoomMessages: pages of kept messages are larger than the IVS lists' pages,
// since a late joiner's client asks for a screenful at once.
const (
	DefaultListMessages = 50
	MaxListMessages     = 100
)

// KeptMessage is a message a room keeps (ivschatd:history): the MESSAGE payload exactly as
// its members received it, and its place in the room's history (the engine's sequence, which
// grows with every message the room keeps).
type KeptMessage struct {
	Seq     uint64
	ID      string
	Payload []byte
}

// HistoryOrderKey orders ListRoomMessages newest first: by the history's sequence backwards
// (the time is the same for all, so the order is the id's, which is the inverted sequence in
// fixed-width hex). Send times would not do: nodes' clocks differ, and two messages may share one.
func HistoryOrderKey(m *KeptMessage) OrderKey {
	return OrderKey{ID: fmt.Sprintf("%016x", ^m.Seq)}
}

// ListRoomMessagesInput is the ListRoomMessages request.
type ListRoomMessagesInput struct {
	RoomIdentifier string  `json:"roomIdentifier"`
	MaxResults     *int    `json:"maxResults"`
	NextToken      *string `json:"nextToken"`
}

// Validate checks the request and returns the room's ARN and the page asked for.
func (in *ListRoomMessagesInput) Validate() (ARN, PageRequest, error) {
	var v validator
	room, _ := v.arnOf("roomIdentifier", in.RoomIdentifier, arnRoom)
	p := v.pageOf(in.MaxResults, in.NextToken, DefaultListMessages, MaxListMessages)
	return room, p, v.err()
}

// messagePrefix is how every MESSAGE payload begins (Encode keeps Message's member order);
// the id follows it.
var messagePrefix = []byte(`{"Type":"MESSAGE","Id":"`)

// MessageIDOf is the id of an encoded MESSAGE payload, or "" for any other payload. It reads
// payloads this server encoded (Encode of a Message), not input from clients.
func MessageIDOf(payload []byte) string {
	if !bytes.HasPrefix(payload, messagePrefix) || len(payload) < len(messagePrefix)+IDLength+1 {
		return ""
	}
	id := payload[len(messagePrefix) : len(messagePrefix)+IDLength]
	if payload[len(messagePrefix)+IDLength] != '"' || !IsID(string(id)) {
		return ""
	}
	return string(id)
}

// Replayed is what a new connection receives first: the last n of the kept messages, oldest
// first, leaving out those whose ids are in live (the messages that will reach the connection
// live, having arrived since it joined), so that none arrives twice.
func Replayed(kept []*KeptMessage, n int, live map[string]bool) []*KeptMessage {
	if n < len(kept) {
		kept = kept[len(kept)-n:]
	}
	out := make([]*KeptMessage, 0, len(kept))
	for _, m := range kept {
		if !live[m.ID] {
			out = append(out, m)
		}
	}
	return out
}
