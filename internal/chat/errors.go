// Package chat is the domain of ivschatd: rooms, logging configurations, chat tokens,
// messaging payloads, identifiers and the limits the IVS Chat APIs impose on them; and the
// room signals that every node serving a room acts on, with the Broker seam that carries
// them (the engine implements it over NATS; MemoryBus joins nodes inside one process).
// It does no I/O; transports and the engine build on it.
package chat

import (
	"fmt"
	"strings"
)

// Kind says what went wrong, in the terms of the IVS Chat APIs. It is ivschatd's one error
// vocabulary: every refusal the server gives is an *Error of some Kind, and each transport
// maps a Kind to its wire in one place (api: an AWS error code and HTTP status; gateway: an
// ERROR frame code, or the status of a refused handshake).
type Kind int

const (
	// KindInternal is a failure of the server itself; the request may be retried.
	KindInternal Kind = iota
	// KindValidation is a request that breaks the model's constraints.
	KindValidation
	// KindTooLarge is a member over its size limit, where the API tells size apart from
	// other validation (the messaging API's 413).
	KindTooLarge
	KindNotFound
	KindConflict
	KindQuotaExceeded
	// KindUnauthenticated is a caller whose credentials or chat token are not accepted.
	KindUnauthenticated
	// KindAccessDenied is a known caller acting beyond what it may do.
	KindAccessDenied
	KindThrottling
	// KindRejected is a message its room's review handler denied.
	KindRejected
	// KindUnavailable is a request the server cannot take now; retry shortly.
	KindUnavailable
	// KindTimeout is a request that did not arrive in time.
	KindTimeout
	// KindUnknownOperation is a request for no operation the API has; KindMethodNotAllowed
	// one for an operation the API has, with the wrong HTTP method.
	KindUnknownOperation
	KindMethodNotAllowed
)

// FieldError names one input member that failed validation.
type FieldError struct {
	Name    string `json:"name"`
	Message string `json:"message"`
}

// Error is a domain error: what went wrong, in terms a caller of the API can act on.
type Error struct {
	Kind    Kind
	Message string
	// Fields lists every failing member of a validation error.
	Fields []FieldError
	// ResourceID and ResourceType identify the resource of a not-found, conflict or quota error.
	ResourceID   string
	ResourceType string
	// Limit is the quota that was reached.
	Limit int
}

func (e *Error) Error() string { return e.Message }

// Errorf is an error of the kind with a formatted message.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// NotFound reports that a resource does not exist (or belongs to another account).
func NotFound(resourceType, id string) *Error {
	return &Error{Kind: KindNotFound, Message: fmt.Sprintf("%s %s not found", resourceTypeLabel(resourceType), id),
		ResourceID: id, ResourceType: resourceType}
}

// Conflict reports a request that contradicts the current state of a resource.
func Conflict(resourceType, id, message string) *Error {
	return &Error{Kind: KindConflict, Message: message, ResourceID: id, ResourceType: resourceType}
}

// QuotaExceeded reports that creating a resource would pass a quota.
func QuotaExceeded(resourceType string, limit int, message string) *Error {
	return &Error{Kind: KindQuotaExceeded, Message: message, ResourceType: resourceType, ResourceID: "", Limit: limit}
}

// AccessDenied reports a principal acting beyond its permissions.
func AccessDenied(message string) *Error { return &Error{Kind: KindAccessDenied, Message: message} }

// Invalid reports a request that breaks the model's constraints; fields names each failing member.
func Invalid(fields ...FieldError) *Error {
	msgs := make([]string, len(fields))
	for i, f := range fields {
		msgs[i] = f.Name + ": " + f.Message
	}
	return &Error{Kind: KindValidation, Message: strings.Join(msgs, "; "), Fields: fields}
}

// Resource types as the API names them in error members.
const (
	ResourceRoom                 = "ROOM"
	ResourceLoggingConfiguration = "LOGGING_CONFIGURATION"
)

func resourceTypeLabel(t string) string {
	switch t {
	case ResourceRoom:
		return "room"
	case ResourceLoggingConfiguration:
		return "logging configuration"
	}
	return "resource"
}
