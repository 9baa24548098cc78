package chat

import (
	"strings"
	"testing"
	"time"
)

const roomARN = "arn:aws:ivschat:us-east-1:123456789012:room/AbCdEfGhIjKl"

func TestBanUserInputValidate(t *testing.T) {
	tests := []struct {
		rule string
		in   BanUserInput
		want []string
	}{
		{"a room and a user is valid", BanUserInput{RoomIdentifier: roomARN, UserID: ptr("u")}, nil},
		{"a duration of one second to a year is valid", BanUserInput{RoomIdentifier: roomARN, UserID: ptr("u"), DurationSeconds: ptr(MaxBanSeconds)}, nil},
		{"a reason of 256 characters is valid", BanUserInput{RoomIdentifier: roomARN, UserID: ptr("u"), Reason: ptr(str("é", 256))}, nil},
		{"no room fails", BanUserInput{UserID: ptr("u")}, []string{"roomIdentifier"}},
		{"a logging configuration ARN fails", BanUserInput{RoomIdentifier: "arn:aws:ivschat:us-east-1:123456789012:logging-configuration/AbCdEfGhIjKl", UserID: ptr("u")}, []string{"roomIdentifier"}},
		{"no user fails", BanUserInput{RoomIdentifier: roomARN}, []string{"userId"}},
		{"a user id of 129 characters fails", BanUserInput{RoomIdentifier: roomARN, UserID: ptr(str("u", 129))}, []string{"userId"}},
		{"a duration of 0 fails", BanUserInput{RoomIdentifier: roomARN, UserID: ptr("u"), DurationSeconds: ptr(0)}, []string{"durationSeconds"}},
		{"a duration over a year fails", BanUserInput{RoomIdentifier: roomARN, UserID: ptr("u"), DurationSeconds: ptr(MaxBanSeconds + 1)}, []string{"durationSeconds"}},
		{"an empty reason fails", BanUserInput{RoomIdentifier: roomARN, UserID: ptr("u"), Reason: ptr("")}, []string{"reason"}},
		{"a reason of 257 characters fails", BanUserInput{RoomIdentifier: roomARN, UserID: ptr("u"), Reason: ptr(str("r", 257))}, []string{"reason"}},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			_, err := tc.in.Validate()
			assertFields(t, err, tc.want...)
		})
	}
}

func TestBan(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	timed := NewBan(&BanUserInput{UserID: ptr("spammer"), DurationSeconds: ptr(90), Reason: ptr("spam")}, "AbCdEfGhIjKl", now)
	forever := NewBan(&BanUserInput{UserID: ptr("troll")}, "AbCdEfGhIjKl", now)
	t.Run("a timed ban holds until its end, exclusive", func(t *testing.T) {
		if !timed.ActiveAt(now.Add(89*time.Second)) || timed.ActiveAt(now.Add(90*time.Second)) {
			t.Fatal("wrong end")
		}
	})
	t.Run("a ban without duration holds forever", func(t *testing.T) {
		if !forever.ActiveAt(now.Add(100 * 365 * 24 * time.Hour)) {
			t.Fatal("ended")
		}
	})
	t.Run("the denial says until when and why", func(t *testing.T) {
		e := timed.Denied()
		if e.Kind != KindAccessDenied || !strings.Contains(e.Message, "until 2026-12-01T10:01:30Z: spam") {
			t.Fatalf("%v %q", e.Kind, e.Message)
		}
		if msg := forever.Denied().Message; !strings.HasSuffix(msg, "until unbanned") {
			t.Fatalf("%q", msg)
		}
	})
	t.Run("ban ids are engine keys whatever the user id holds", func(t *testing.T) {
		for _, u := range []string{"a.b", "a b\n", "ü/*>", "-"} {
			id := RoomUserKey("AbCdEfGhIjKl", u)
			for _, r := range strings.TrimPrefix(id, "AbCdEfGhIjKl.") {
				if !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", r) {
					t.Fatalf("id %q of %q has %q", id, u, r)
				}
			}
		}
		if RoomUserKey("r", "a") == RoomUserKey("r", "b") {
			t.Fatal("two users, one id")
		}
	})
}
