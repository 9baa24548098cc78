// Package console is the web console of the admin listener: the rooms and logging
// configurations of the signed-in account, a room's messages and events as they happen,
// moderation, chat tokens, and the demo chat page (/demo) that joins a room as an application
// would. Its pages are plain HTML, CSS and JavaScript modules embedded in the binary; its
// actions are the control plane's own operations (api.Invoke), allowed by the principal's
// actions as a signed call would be; its live views are Server-Sent Events fed by the room
// signals (chat.Tap).
package console

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ivschatd/ivschatd/internal/api"
	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/service"
)

//go:embed static
var embedded embed.FS

// Config is what the console is built from.
type Config struct {
	Service    *service.Service
	Tap        *chat.Tap
	Principals api.Principals
	// Open serves the console without sign-in, as the development principal. Only for the
	// development credentials, which the server accepts on a loopback listener alone, serving
	// only loopback Host names there, so that a rebound DNS name cannot reach the console.
	Open bool
	// WSURL is the messaging endpoint that the demo chat connects to (the main listener or
	// --ws-addr), as a browser reaches it.
	WSURL           string
	SessionLifetime time.Duration
	Now             func() time.Time
	Log             *slog.Logger
}

// Handler serves the console.
type Handler struct {
	cfg      Config
	mux      *http.ServeMux
	sessions *sessions
	signIns  *signInLimiter
	// open is the one session of an open console.
	open *session
}

// New builds the console.
func New(cfg Config) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = DefaultSessionLifetime
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), sessions: newSessions(cfg.SessionLifetime, cfg.Now),
		signIns: newSignInLimiter(cfg.Now)}
	if cfg.Open {
		h.open = &session{principal: cfg.Principals[api.DevAccessKeyID], csrf: randomToken()}
	}
	static, _ := fs.Sub(embedded, "static")
	page := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			b, _ := fs.ReadFile(static, name)
			_, _ = w.Write(b)
		}
	}
	h.mux.HandleFunc("GET /{$}", page("index.html"))
	h.mux.HandleFunc("GET /demo", page("demo.html"))
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	h.mux.HandleFunc("GET /console/config", h.config)
	h.mux.HandleFunc("GET /console/session", h.session)
	h.mux.HandleFunc("POST /console/sign-in", h.signIn)
	h.mux.HandleFunc("POST /console/sign-out", h.signOut)
	h.mux.HandleFunc("POST /console/api/{operation}", h.invoke)
	h.mux.HandleFunc("GET /console/live/rooms", h.liveRooms)
	h.mux.HandleFunc("GET /console/live/rooms/{id}", h.liveRoom)
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' "+wsOrigin(h.cfg.WSURL)+
		"; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	if strings.HasPrefix(r.URL.Path, "/console/") {
		hd.Set("Cache-Control", "no-store")
	}
	h.mux.ServeHTTP(w, r)
}

// wsOrigin is the origin of the messaging endpoint, for the page's connect-src.
func wsOrigin(wsURL string) string {
	u, err := url.Parse(wsURL)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// refuse answers with an error in the control plane's shape (x-amzn-ErrorType and a JSON
// message), which the console's pages read like any other failed operation.
func refuse(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": message})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// config is what every page needs before sign-in: where chat members connect, and whether
// the console asks for a sign-in.
func (h *Handler) config(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]any{"wsUrl": h.cfg.WSURL, "signIn": !h.cfg.Open})
}

// current returns the request's session, or nil when it has none.
func (h *Handler) current(r *http.Request) *session {
	if h.open != nil {
		return h.open
	}
	c, err := r.Cookie(CookieName)
	if err != nil {
		return nil
	}
	return h.sessions.get(c.Value)
}

// operations are the control-plane operations the console's pages offer, in the order its
// session answer lists what the principal may do.
var operations = []string{"CreateRoom", "GetRoom", "UpdateRoom", "DeleteRoom", "ListRooms",
	"CreateLoggingConfiguration", "GetLoggingConfiguration", "UpdateLoggingConfiguration",
	"DeleteLoggingConfiguration", "ListLoggingConfigurations", "CreateChatToken", "SendEvent",
	"DeleteMessage", "DisconnectUser", "TagResource", "UntagResource", "ListTagsForResource",
	chat.ExtensionActionPrefix + "BanUser", chat.ExtensionActionPrefix + "UnbanUser", chat.ExtensionActionPrefix + "ListBans",
	chat.ExtensionActionPrefix + "ListRoomMessages"}

type sessionView struct {
	SignIn      bool      `json:"signIn"`
	AccessKeyID string    `json:"accessKeyId"`
	AccountID   string    `json:"accountId"`
	Region      string    `json:"region"`
	CSRFToken   string    `json:"csrfToken"`
	Expires     time.Time `json:"expires,omitzero"`
	Allowed     []string  `json:"allowed"`
}

func (h *Handler) viewSession(s *session) *sessionView {
	v := &sessionView{SignIn: !h.cfg.Open, AccessKeyID: s.principal.AccessKeyID, AccountID: s.principal.AccountID,
		Region: h.cfg.Service.Region(), CSRFToken: s.csrf, Expires: s.expires, Allowed: []string{}}
	for _, op := range operations {
		if s.principal.Allows(op) {
			v.Allowed = append(v.Allowed, op)
		}
	}
	return v
}

func (h *Handler) session(w http.ResponseWriter, r *http.Request) {
	s := h.current(r)
	if s == nil {
		refuse(w, http.StatusUnauthorized, "NotSignedIn", "sign in with an access key id and secret access key")
		return
	}
	writeJSON(w, h.viewSession(s))
}

// maxBody bounds what the console reads of a request: every input of the API fits.
const maxBody = 1 << 20

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
}

func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	// A sign-in forged by another site would sign the browser into the forger's account.
	if err := sameOrigin(r); err != nil {
		refuse(w, http.StatusForbidden, "AccessDeniedException", err.Error())
		return
	}
	if h.open != nil {
		writeJSON(w, h.viewSession(h.open))
		return
	}
	body, err := readBody(w, r)
	var in struct {
		AccessKeyID     string `json:"accessKeyId"`
		SecretAccessKey string `json:"secretAccessKey"`
	}
	if err != nil || json.Unmarshal(body, &in) != nil {
		refuse(w, http.StatusBadRequest, "ValidationException", "the sign-in takes a JSON object {accessKeyId, secretAccessKey}")
		return
	}
	// Checked before the secret, so a right guess during the wait tells nothing.
	if wait := h.signIns.wait(r.RemoteAddr); wait > 0 {
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		refuse(w, http.StatusTooManyRequests, "ThrottlingException",
			fmt.Sprintf("too many failed sign-ins from this address: try again in %d s", secs))
		return
	}
	p, ok := signIn(h.cfg.Principals, in.AccessKeyID, in.SecretAccessKey)
	if !ok {
		h.signIns.failed(r.RemoteAddr)
		h.cfg.Log.Info("console sign-in refused", "accessKeyId", in.AccessKeyID, "remote", r.RemoteAddr)
		refuse(w, http.StatusUnauthorized, "NotSignedIn", "the access key id or the secret access key is wrong")
		return
	}
	if old := h.current(r); old != nil {
		h.sessions.end(old.id)
	}
	s := h.sessions.create(p)
	h.cfg.Log.Info("console sign-in", "accessKeyId", p.AccessKeyID, "account", p.AccountID, "remote", r.RemoteAddr)
	http.SetCookie(w, s.cookie(r.TLS != nil))
	writeJSON(w, h.viewSession(s))
}

func (h *Handler) signOut(w http.ResponseWriter, r *http.Request) {
	s := h.current(r)
	if s == nil || h.open != nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err := checkCSRF(r, s); err != nil {
		refuse(w, http.StatusForbidden, "AccessDeniedException", err.Error())
		return
	}
	h.sessions.end(s.id)
	http.SetCookie(w, expiredCookie(r.TLS != nil))
	w.WriteHeader(http.StatusNoContent)
}

// invoke runs a control-plane operation for the session's principal: POST
// /console/api/<Operation> with the operation's JSON body, answered as the API answers.
func (h *Handler) invoke(w http.ResponseWriter, r *http.Request) {
	s := h.current(r)
	if s == nil {
		refuse(w, http.StatusUnauthorized, "NotSignedIn", "sign in first: the session has ended or never began")
		return
	}
	if err := checkCSRF(r, s); err != nil {
		refuse(w, http.StatusForbidden, "AccessDeniedException", err.Error())
		return
	}
	op := r.PathValue("operation")
	if !s.principal.Allows(op) {
		api.WriteError(w, api.NotAuthorized(s.principal, op))
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		refuse(w, http.StatusRequestEntityTooLarge, "ValidationException", "the request body is larger than 1 MiB")
		return
	}
	status, out, err := api.Invoke(r.Context(), h.cfg.Service, s.principal.AccountID, op, body)
	if err != nil {
		var ce *chat.Error
		if !errors.As(err, &ce) {
			h.cfg.Log.Error("console operation failed", "operation", op, "error", err)
		}
		api.WriteError(w, err)
		return
	}
	h.cfg.Log.Info("console operation", "operation", op, "accessKeyId", s.principal.AccessKeyID, "account", s.principal.AccountID)
	api.WriteResult(w, status, out)
}
