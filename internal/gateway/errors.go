package gateway

import (
	"errors"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/metrics"
)

// code is the messaging API's number for an error kind: the errorCode of an ERROR frame, and
// the HTTP status of a refused handshake. This is the one place the gateway maps the domain's
// errors to its wire.
func code(k chat.Kind) int {
	switch k {
	case chat.KindValidation:
		return 400
	case chat.KindUnauthenticated:
		return 401
	case chat.KindAccessDenied:
		return 403
	case chat.KindNotFound:
		return 404
	case chat.KindRejected:
		return 406
	case chat.KindTooLarge:
		return 413
	case chat.KindThrottling:
		return 429
	case chat.KindUnavailable:
		return 503
	}
	return 500
}

// errorFrame is an ERROR frame of the kind, for one connection or for every member of a room.
func errorFrame(id, requestID string, kind chat.Kind, message string) []byte {
	if id == "" {
		id = chat.NewID()
	}
	return frame(opText, chat.Encode(chat.NewError(id, requestID, code(kind), message)))
}

// tokenRefusal is why a chat token was refused and what the handshake counts, or nil if the
// token could not be checked at all (the engine's fault, not the token's).
func tokenRefusal(err error) (*chat.Error, metrics.ConnectResult) {
	var ce *chat.Error
	if !errors.As(err, &ce) {
		return nil, metrics.ConnectError
	}
	switch {
	case errors.Is(err, chat.ErrTokenExpired):
		return ce, metrics.ConnectExpired
	case errors.Is(err, chat.ErrTokenUsed):
		return ce, metrics.ConnectTokenReused
	case ce.Kind == chat.KindUnauthenticated:
		return ce, metrics.ConnectTokenInvalid
	case ce.Kind == chat.KindAccessDenied: // the user's ban
		return ce, metrics.ConnectBanned
	case ce.Kind == chat.KindNotFound:
		return ce, metrics.ConnectRoomGone
	}
	return nil, metrics.ConnectError
}
