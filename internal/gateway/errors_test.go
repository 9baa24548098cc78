package gateway

import (
	"testing"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// The messaging API's numbers for each kind of refusal: the errorCode of an ERROR frame the
// messaging SDKs act on (401 makes them fetch a new token), and a refused handshake's status.
func TestErrorCodes(t *testing.T) {
	tests := []struct {
		name string
		kind chat.Kind
		want int
	}{
		{"a malformed request is 400", chat.KindValidation, 400},
		{"an expired session or a shutdown is 401, so the SDK reconnects with a new token", chat.KindUnauthenticated, 401},
		{"a missing capability, a used token or a ban is 403", chat.KindAccessDenied, 403},
		{"a deleted room is 404", chat.KindNotFound, 404},
		{"a message its review handler denied is 406", chat.KindRejected, 406},
		{"a member over its size limit is 413", chat.KindTooLarge, 413},
		{"a rate reached is 429", chat.KindThrottling, 429},
		{"a server that cannot take the connection now is 503", chat.KindUnavailable, 503},
		{"a failure of the server is 500", chat.KindInternal, 500},
		{"a kind the messaging API has no number for is 500", chat.KindConflict, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := code(tt.kind); got != tt.want {
				t.Fatalf("code(%d) = %d, want %d", tt.kind, got, tt.want)
			}
		})
	}
}

// A refused token says why, in the metric of the handshake; an error that is not a refusal
// means the token could not be checked.
func TestTokenRefusal(t *testing.T) {
	ban := (&chat.Ban{UserID: "bob", RoomID: "AbCdEfGhIjKl"}).Denied()
	tests := []struct {
		name       string
		err        error
		wantRefuse bool
		wantStatus int
	}{
		{"a malformed token is 401", chat.ErrTokenInvalid, true, 401},
		{"an expired token is 401", chat.ErrTokenExpired, true, 401},
		{"a used token is 403", chat.ErrTokenUsed, true, 403},
		{"a banned user's token is 403", ban, true, 403},
		{"a token of a deleted room is 404", chat.ErrRoomGone, true, 404},
		{"the store refusing writes is no refusal of the token", &chat.Error{Kind: chat.KindInternal, Message: "disk full"}, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refusal, _ := tokenRefusal(tt.err)
			if (refusal != nil) != tt.wantRefuse {
				t.Fatalf("tokenRefusal(%v) = %v, want a refusal: %v", tt.err, refusal, tt.wantRefuse)
			}
			if refusal != nil && code(refusal.Kind) != tt.wantStatus {
				t.Fatalf("status %d, want %d", code(refusal.Kind), tt.wantStatus)
			}
		})
	}
}
