// Package api is the IVS Chat control plane over HTTP: restJson1 routing and codec, SigV4
// authentication, the table of operations (each one line: read the request, call the
// service, view the result), and the mapping of errors to the wire.
package api

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/metrics"
	"github.com/ivschatd/ivschatd/internal/service"
	"github.com/ivschatd/ivschatd/internal/sigv4"
)

// MaxBodyBytes caps a request body; the largest valid request is far smaller.
const MaxBodyBytes = 1 << 20

// Limits bound what a client can make the control plane hold before its signature is checked.
type Limits struct {
	// BodyTimeout is how long a request may take to arrive, counted from the end of its headers
	// (which http.Server's ReadHeaderTimeout bounds); 0 means no bound.
	BodyTimeout time.Duration
	// MaxPendingBodyBytes bounds the declared sizes of the bodies being read whose signature is
	// not verified yet, on this node; a body of unknown length counts as MaxBodyBytes. It must
	// be at least MaxBodyBytes.
	MaxPendingBodyBytes int64
}

// DefaultLimits: 64 MiB of unverified bodies (64 of the largest size), and 20 s for a body,
// which lets the largest one arrive at 50 KiB/s.
func DefaultLimits() Limits {
	return Limits{BodyTimeout: 20 * time.Second, MaxPendingBodyBytes: 64 * MaxBodyBytes}
}

// Validate refuses limits that would leave a client unbounded or refuse every large body.
func (l Limits) Validate() error {
	if l.BodyTimeout <= 0 {
		return fmt.Errorf("--body-timeout must be positive, got %s", l.BodyTimeout)
	}
	if l.MaxPendingBodyBytes < MaxBodyBytes {
		return fmt.Errorf("--max-pending-body-bytes must be at least the largest body, %d, got %d", MaxBodyBytes, l.MaxPendingBodyBytes)
	}
	return nil
}

// Handler serves the control-plane API.
type Handler struct {
	service    *service.Service
	principals Principals
	verifier   *sigv4.Verifier
	limits     Limits
	// pendingBodyBytes is the sum of the declared sizes of the bodies being read before their
	// signature is checked.
	pendingBodyBytes atomic.Int64
	log              *slog.Logger
	// Metrics counts and times every request (nil: not counted). Set it before serving.
	Metrics *metrics.Metrics
}

// New makes the control-plane handler.
func New(s *service.Service, principals Principals, limits Limits, log *slog.Logger) *Handler {
	h := &Handler{service: s, principals: principals, limits: limits, log: log}
	h.verifier = &sigv4.Verifier{Service: "ivschat", Region: s.Region(), Lookup: func(id string) (sigv4.Credentials, bool) {
		p, ok := principals[id]
		if !ok {
			return sigv4.Credentials{}, false
		}
		return sigv4.Credentials{SecretAccessKey: p.SecretAccessKey, SessionToken: p.SessionToken}, true
	}}
	return h
}

// exchange is what one request's line in the log and its metrics say.
type exchange struct {
	http.ResponseWriter
	status    int
	operation string // "" until the request is routed to one
	account   string // "" until the caller is authenticated
}

func (x *exchange) WriteHeader(status int) {
	if x.status == 0 {
		x.status = status
	}
	x.ResponseWriter.WriteHeader(status)
}

func (x *exchange) Write(b []byte) (int, error) {
	if x.status == 0 {
		x.status = http.StatusOK
	}
	return x.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (x *exchange) Unwrap() http.ResponseWriter { return x.ResponseWriter }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := newRequestID()
	w.Header().Set("x-amzn-RequestId", id)
	x := &exchange{ResponseWriter: w}
	h.serve(x, r)
	took := time.Since(start)
	if x.status == 0 {
		x.status = http.StatusOK
	}
	h.Metrics.APIRequest(x.operation, x.status, took)
	if x.status < 300 {
		switch x.operation {
		case "SendEvent":
			h.Metrics.Event(metrics.EventAPI)
		case "DisconnectUser":
			h.Metrics.Event(metrics.EventDisconnectUser)
		}
	}
	// Never the body: it holds message text, attributes and tokens. The duration is in
	// milliseconds, a number in either log format (slog's Duration is nanoseconds in JSON).
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "request", slog.String("operation", x.operation),
		slog.String("account", x.account), slog.Int("status", x.status), slog.Float64("duration_ms", float64(took.Microseconds())/1000),
		slog.String("request_id", id))
}

func (h *Handler) serve(w *exchange, r *http.Request) {
	rc := http.NewResponseController(w)
	if h.limits.BodyTimeout > 0 {
		_ = rc.SetReadDeadline(time.Now().Add(h.limits.BodyTimeout))
	}
	name, op, c, err := h.route(r)
	if err != nil {
		refuseUnread(w, r, rc, err)
		return
	}
	w.operation = name
	// Everything the headers can prove is checked before a byte of the body is read: a
	// stranger cannot make the server hold a body.
	claim, err := h.verifier.Check(r)
	if err != nil {
		refuseUnread(w, r, rc, err)
		return
	}
	if r.ContentLength > MaxBodyBytes {
		refuseUnread(w, r, rc, errBodyTooLarge)
		return
	}
	body, err := h.readBody(w, r)
	if err != nil {
		refuseUnread(w, r, rc, err)
		return
	}
	err = claim.Verify(body)
	h.pendingBodyBytes.Add(-reservation(r))
	if err != nil {
		toWire(err).write(w)
		return
	}
	// The read deadline was for the request; net/http's background read of a finished request
	// would otherwise cancel the operation's context when it passes.
	_ = rc.SetReadDeadline(time.Time{})
	keyID := claim.AccessKeyID()
	p := h.principals[keyID]
	w.account = p.AccountID
	if !p.Allows(name) {
		toWire(NotAuthorized(p, name)).write(w)
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

// reservation is what a request's body counts against MaxPendingBodyBytes.
func reservation(r *http.Request) int64 {
	if r.ContentLength < 0 {
		return MaxBodyBytes
	}
	return r.ContentLength
}

// readBody reads the body of a request whose headers passed, within the pending-bytes bound.
// On success the body's reservation is held for the caller to give back after verifying it.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	n := reservation(r)
	if h.pendingBodyBytes.Add(n) > h.limits.MaxPendingBodyBytes {
		h.pendingBodyBytes.Add(-n)
		return nil, &chat.Error{Kind: chat.KindUnavailable, Message: "the server is reading as many request bodies as it allows; retry shortly"}
	}
	var body []byte
	var err error
	if r.ContentLength >= 0 {
		// Sized once: io.ReadAll would grow the buffer to twice the body on the way.
		body = make([]byte, r.ContentLength)
		_, err = io.ReadFull(r.Body, body)
	} else {
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	}
	if err == nil {
		return body, nil
	}
	h.pendingBodyBytes.Add(-n)
	var tooBig *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooBig):
		return nil, errBodyTooLarge
	case errors.As(err, &netErr) && netErr.Timeout():
		return nil, chat.Errorf(chat.KindTimeout, "the request body did not arrive within %s of its headers", h.limits.BodyTimeout)
	}
	return nil, &chat.Error{Kind: chat.KindValidation, Message: "the request body could not be read"}
}

// errBodyTooLarge refuses a body over MaxBodyBytes.
var errBodyTooLarge = chat.Errorf(chat.KindTooLarge, "the request body is larger than %d bytes", MaxBodyBytes)

// refuseUnread answers a request whose body will not be read. If it has one, the connection
// closes after the answer: net/http would otherwise first read up to 256 KiB of it, for as
// long as the client cares to take.
func refuseUnread(w http.ResponseWriter, r *http.Request, rc *http.ResponseController, err error) {
	if r.ContentLength != 0 {
		w.Header().Set("Connection", "close")
		_ = rc.SetReadDeadline(time.Now())
	}
	toWire(err).write(w)
}

// route finds the operation of a request from its method and escaped path. The tag routes
// carry a percent-encoded ARN in one path segment, so routing must not look at the decoded path.
func (h *Handler) route(r *http.Request) (string, operation, *call, error) {
	path := r.URL.EscapedPath()
	if rest, isTags := strings.CutPrefix(path, "/tags/"); isTags {
		t, found := tagOperations[r.Method]
		if !found {
			return "", nil, nil, methodNotAllowed(r.Method, path)
		}
		arn, err := url.PathUnescape(rest)
		if err != nil || !utf8.ValidString(arn) {
			return "", nil, nil, chat.Invalid(chat.FieldError{Name: "resourceArn", Message: "the path label is not a valid percent-encoded ARN"})
		}
		c := &call{resourceARN: arn}
		if r.Method == http.MethodDelete {
			q, err := url.ParseQuery(r.URL.RawQuery)
			if err != nil {
				return "", nil, nil, chat.Invalid(chat.FieldError{Name: "tagKeys", Message: "the query string is not valid percent-encoding"})
			}
			c.tagKeys = q["tagKeys"]
		}
		return t.name, t.op, c, nil
	}
	table, name, prefix := operations, strings.TrimPrefix(path, "/"), ""
	if ext, isExt := strings.CutPrefix(path, extensionPrefix); isExt {
		// Extension operations are named by their action, ivschatd:<Operation>.
		table, name, prefix = extensionOperations, ext, chat.ExtensionActionPrefix
	}
	op, found := table[name]
	if !found {
		return "", nil, nil, chat.Errorf(chat.KindUnknownOperation, "no operation at %s %s", r.Method, path)
	}
	if r.Method != http.MethodPost {
		return "", nil, nil, methodNotAllowed(r.Method, path)
	}
	return prefix + name, op, &call{}, nil
}

func methodNotAllowed(method, path string) error {
	return chat.Errorf(chat.KindMethodNotAllowed, "%s is not allowed on %s", method, path)
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
	if at := chat.LoneSurrogate(body); at >= 0 {
		return chat.Invalid(chat.FieldError{Name: "body", Message: fmt.Sprintf(
			"the request body has a lone UTF-16 surrogate escape %s at byte %d: a string must encode whole characters", body[at:at+6], at)})
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
