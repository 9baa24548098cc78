package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/sigv4"
)

// wireError is an error as the restJson1 protocol carries it: the code goes in
// x-amzn-ErrorType, the members in the JSON body.
type wireError struct {
	status int
	code   string
	body   map[string]any
	// retryAfter asks the client to wait a second before it retries.
	retryAfter bool
}

// Validation reasons of the model.
const (
	reasonUnknownOperation = "UNKNOWN_OPERATION"
	reasonFieldValidation  = "FIELD_VALIDATION_FAILED"
	reasonOther            = "OTHER"
)

// toWire maps any error to the wire, in this one place: a domain error by its kind, a
// signature's by its own AWS code. Errors that are not the domain's are
// internal failures; their text stays in the log, not on the wire.
func toWire(err error) *wireError {
	var se *sigv4.Error
	if errors.As(err, &se) {
		return &wireError{status: http.StatusForbidden, code: se.Code, body: map[string]any{"message": se.Message}}
	}
	var ce *chat.Error
	if !errors.As(err, &ce) {
		return &wireError{status: http.StatusInternalServerError, code: "InternalServerException",
			body: map[string]any{"message": "internal error; the request may be retried"}}
	}
	body := map[string]any{"message": ce.Message}
	switch ce.Kind {
	case chat.KindValidation, chat.KindTooLarge:
		fields := ce.Fields
		if fields == nil {
			fields = []chat.FieldError{}
		}
		reason := reasonFieldValidation
		if len(ce.Fields) == 0 {
			reason = reasonOther
		}
		body["reason"], body["fieldList"] = reason, fields
		return &wireError{status: http.StatusBadRequest, code: "ValidationException", body: body}
	case chat.KindNotFound:
		resource(body, ce)
		return &wireError{status: http.StatusNotFound, code: "ResourceNotFoundException", body: body}
	case chat.KindConflict:
		resource(body, ce)
		return &wireError{status: http.StatusConflict, code: "ConflictException", body: body}
	case chat.KindQuotaExceeded:
		resource(body, ce)
		body["limit"] = ce.Limit
		return &wireError{status: http.StatusPaymentRequired, code: "ServiceQuotaExceededException", body: body}
	case chat.KindUnauthenticated, chat.KindAccessDenied:
		return &wireError{status: http.StatusForbidden, code: "AccessDeniedException", body: body}
	case chat.KindThrottling:
		resource(body, ce)
		body["limit"] = ce.Limit
		return &wireError{status: http.StatusTooManyRequests, code: "ThrottlingException", body: body}
	case chat.KindUnavailable:
		return &wireError{status: http.StatusServiceUnavailable, code: "ServiceUnavailableException", body: body, retryAfter: true}
	case chat.KindTimeout:
		return &wireError{status: http.StatusRequestTimeout, code: "RequestTimeoutException", body: body}
	case chat.KindUnknownOperation:
		body["reason"] = reasonUnknownOperation
		return &wireError{status: http.StatusNotFound, code: "UnknownOperationException", body: body}
	case chat.KindMethodNotAllowed:
		body["reason"] = reasonUnknownOperation
		return &wireError{status: http.StatusMethodNotAllowed, code: "UnknownOperationException", body: body}
	}
	return &wireError{status: http.StatusInternalServerError, code: "InternalServerException", body: body}
}

// resource adds the members that name an error's resource. A quota is reached by a resource
// that does not exist yet, so it has no id; the model's pattern ([a-zA-Z0-9]+) forbids an
// empty one, so the member is left out rather than sent as "".
func resource(body map[string]any, ce *chat.Error) {
	if ce.ResourceID != "" {
		body["resourceId"] = ce.ResourceID
	}
	body["resourceType"] = ce.ResourceType
}

func (e *wireError) write(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("x-amzn-ErrorType", e.code)
	if e.retryAfter {
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(e.body)
}

// WriteError answers a request with err in the shape of the control plane, for the parts of
// the server that refuse a call before it reaches the API.
func WriteError(w http.ResponseWriter, err error) {
	w.Header().Set("x-amzn-RequestId", newRequestID())
	toWire(err).write(w)
}
