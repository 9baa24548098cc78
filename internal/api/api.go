// Package api is the IVS Chat control plane over HTTP: restJson1 routing and codec, SigV4
// authentication, and the mapping of errors to the wire.
package api

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/service"
	"github.com/ivschatd/ivschatd/internal/sigv4"
)

// MaxBodyBytes caps a request body; the largest valid request is far smaller.
const MaxBodyBytes = 1 << 20

// Handler serves the control-plane API.
type Handler struct {
	service    *service.Service
	principals Principals
	verifier   *sigv4.Verifier
	log        *slog.Logger
}

// New makes the control-plane handler.
func New(s *service.Service, principals Principals, log *slog.Logger) *Handler {
	h := &Handler{service: s, principals: principals, log: log}
	h.verifier = &sigv4.Verifier{Service: "ivschat", Region: s.Region(), Lookup: func(id string) (sigv4.Credentials, bool) {
		p, ok := principals[id]
		if !ok {
			return sigv4.Credentials{}, false
		}
		return sigv4.Credentials{SecretAccessKey: p.SecretAccessKey, SessionToken: p.SessionToken}, true
	}}
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-amzn-RequestId", newRequestID())
	name, op, c, werr := h.route(r)
	if werr != nil {
		werr.write(w)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			requestError(reasonOther, fmt.Sprintf("the request body is larger than %d bytes", MaxBodyBytes)).write(w)
			return
		}
		requestError(reasonOther, "the request body could not be read").write(w)
		return
	}
	keyID, err := h.verifier.Verify(r, body)
	if err != nil {
		toWire(err).write(w)
		return
	}
	p := h.principals[keyID]
	if !p.Allows(name) {
		toWire(chat.AccessDenied(fmt.Sprintf("User %s is not authorized to perform ivschat:%s", p.AccessKeyID, name))).write(w)
		return
	}
	c.ctx, c.account, c.body = r.Context(), p.AccountID, body
	status, out, err := op(h.service, c)
	if err != nil {
		var ce *chat.Error
		if !errors.As(err, &ce) {
			h.log.Error("operation failed", "operation", name, "error", err)
		}
		toWire(err).write(w)
		return
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(out)
}

// route finds the operation of a request from its method and escaped path. The tag routes
// carry a percent-encoded ARN in one path segment, so routing must not look at the decoded path.
func (h *Handler) route(r *http.Request) (string, operation, *call, *wireError) {
	path := r.URL.EscapedPath()
	if rest, isTags := strings.CutPrefix(path, "/tags/"); isTags {
		t, found := tagOperations[r.Method]
		if !found {
			return "", nil, nil, methodNotAllowed(r.Method, path)
		}
		arn, err := url.PathUnescape(rest)
		if err != nil || !utf8.ValidString(arn) {
			return "", nil, nil, toWire(chat.Invalid(chat.FieldError{Name: "resourceArn", Message: "the path label is not a valid percent-encoded ARN"}))
		}
		c := &call{resourceARN: arn}
		if r.Method == http.MethodDelete {
			q, err := url.ParseQuery(r.URL.RawQuery)
			if err != nil {
				return "", nil, nil, toWire(chat.Invalid(chat.FieldError{Name: "tagKeys", Message: "the query string is not valid percent-encoding"}))
			}
			c.tagKeys = q["tagKeys"]
		}
		return t.name, t.op, c, nil
	}
	name := strings.TrimPrefix(path, "/")
	op, found := operations[name]
	if !found {
		return "", nil, nil, &wireError{status: http.StatusNotFound, code: "UnknownOperationException",
			body: map[string]any{"message": fmt.Sprintf("no operation at %s %s", r.Method, path), "reason": reasonUnknownOperation}}
	}
	if r.Method != http.MethodPost {
		return "", nil, nil, methodNotAllowed(r.Method, path)
	}
	return name, op, &call{}, nil
}

func methodNotAllowed(method, path string) *wireError {
	return &wireError{status: http.StatusMethodNotAllowed, code: "UnknownOperationException",
		body: map[string]any{"message": fmt.Sprintf("%s is not allowed on %s", method, path), "reason": reasonUnknownOperation}}
}

// decode reads a JSON request body into an operation's input. An empty body is an empty
// object, as SDKs send for operations with no members set.
func decode(body []byte, v any) error {
	if len(body) == 0 {
		return nil
	}
	if !utf8.Valid(body) {
		return chat.Invalid(chat.FieldError{Name: "body", Message: "the request body is not valid UTF-8"})
	}
	// Every input is a structure. encoding/json would take a null body for an empty one and,
	// say, create a room from it; anything but an object is refused instead.
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) > 0 && trimmed[0] != '{' {
		return chat.Invalid(chat.FieldError{Name: "body", Message: "the request body must be a JSON object"})
	}
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			field := typeErr.Field
			if field == "" {
				return chat.Invalid(chat.FieldError{Name: "body", Message: "the request body must be a JSON object"})
			}
			return chat.Invalid(chat.FieldError{Name: field, Message: fmt.Sprintf("must be a JSON %s, got %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value)})
		}
		return chat.Invalid(chat.FieldError{Name: "body", Message: "the request body is not valid JSON: " + err.Error()})
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int64", "int32":
		return "integer"
	case "string":
		return "string"
	case "map", "struct":
		return "object"
	case "slice":
		return "array"
	case "ptr":
		return "value of another type"
	}
	return goKind
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
