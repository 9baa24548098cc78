package chat

import (
	"sort"
	"strings"
	"testing"
	"time"
)

func TestListRoomMessagesInputValidate(t *testing.T) {
	tests := []struct {
		rule string
		in   ListRoomMessagesInput
		want []string
		max  int
	}{
		{"a room alone asks for 50", ListRoomMessagesInput{RoomIdentifier: roomARN}, nil, 50},
		{"maxResults 1 is valid", ListRoomMessagesInput{RoomIdentifier: roomARN, MaxResults: ptr(1)}, nil, 1},
		{"maxResults 100 is valid", ListRoomMessagesInput{RoomIdentifier: roomARN, MaxResults: ptr(100)}, nil, 100},
		{"maxResults 0 fails", ListRoomMessagesInput{RoomIdentifier: roomARN, MaxResults: ptr(0)}, []string{"maxResults"}, 0},
		{"maxResults 101 fails", ListRoomMessagesInput{RoomIdentifier: roomARN, MaxResults: ptr(101)}, []string{"maxResults"}, 0},
		{"a nextToken of 1025 characters fails", ListRoomMessagesInput{RoomIdentifier: roomARN, NextToken: ptr(strings.Repeat("t", 1025))}, []string{"nextToken"}, 0},
		{"no room fails", ListRoomMessagesInput{}, []string{"roomIdentifier"}, 0},
		{"a logging configuration ARN fails", ListRoomMessagesInput{RoomIdentifier: "arn:aws:ivschat:us-east-1:123456789012:logging-configuration/AbCdEfGhIjKl"}, []string{"roomIdentifier"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			_, p, err := tc.in.Validate()
			assertFields(t, err, tc.want...)
			if err == nil && p.MaxResults != tc.max {
				t.Fatalf("page of %d, want %d", p.MaxResults, tc.max)
			}
		})
	}
}

func TestMessageIDOf(t *testing.T) {
	sender := &Token{UserID: "u"}
	tests := []struct {
		rule    string
		payload []byte
		want    string
	}{
		{"a MESSAGE gives its id", Encode(NewMessage("AbCdEfGhIjKl", "r", "hi", nil, sender, time.Now())), "AbCdEfGhIjKl"},
		{"an EVENT gives none", Encode(NewEvent("AbCdEfGhIjKl", "", "e", nil, time.Now())), ""},
		{"an ERROR gives none", Encode(NewError("AbCdEfGhIjKl", "", 400, "no")), ""},
		{"a cut payload gives none", []byte(`{"Type":"MESSAGE","Id":"AbCd`), ""},
		{"an id of the wrong length gives none", []byte(`{"Type":"MESSAGE","Id":"AbCdEfGhIjKlM"}`), ""},
		{"nothing gives none", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			if got := MessageIDOf(tc.payload); got != tc.want {
				t.Fatalf("MessageIDOf(%s) = %q, want %q", tc.payload, got, tc.want)
			}
		})
	}
}

func TestReplayed(t *testing.T) {
	kept := []*KeptMessage{{Seq: 1, ID: "a"}, {Seq: 2, ID: "b"}, {Seq: 5, ID: "c"}, {Seq: 9, ID: "d"}}
	ids := func(ms []*KeptMessage) string {
		var out []string
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return strings.Join(out, " ")
	}
	tests := []struct {
		rule string
		n    int
		live map[string]bool
		want string
	}{
		{"the last n, oldest first", 2, nil, "c d"},
		{"n beyond what is kept replays everything", 10, nil, "a b c d"},
		{"n of 0 replays nothing", 0, nil, ""},
		{"a message that will arrive live is not replayed", 3, map[string]bool{"d": true}, "b c"},
		{"live messages older than the replay change nothing", 2, map[string]bool{"a": true}, "c d"},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			if got := ids(Replayed(kept, tc.n, tc.live)); got != tc.want {
				t.Fatalf("replayed %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHistoryOrderKeyIsNewestFirst(t *testing.T) {
	seqs := []uint64{1, 0xff, 0x100, 7, 1 << 40, 2}
	var ms []*KeptMessage
	for _, s := range seqs {
		ms = append(ms, &KeptMessage{Seq: s})
	}
	sort.Slice(ms, func(i, j int) bool { return HistoryOrderKey(ms[i]).Before(HistoryOrderKey(ms[j])) })
	for i := 1; i < len(ms); i++ {
		if ms[i-1].Seq <= ms[i].Seq {
			t.Fatalf("%d listed before %d", ms[i-1].Seq, ms[i].Seq)
		}
	}
}
