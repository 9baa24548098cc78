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

// Kind classifies an error the way the IVS Chat API reports it. Transports map a Kind to
// their wire form in one place each (an AWS error code and status, or an ERROR frame code).
type Kind int

const (
	KindInternal Kind = iota
	KindValidation
	KindNotFound
	KindConflict
	KindQuotaExceeded
	KindAccessDenied
	KindThrottling
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
