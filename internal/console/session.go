package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/ivschatd/ivschatd/internal/api"
)

// CookieName is the console's session cookie.
const CookieName = "ivschatd_console"

// DefaultSessionLifetime is how long a sign-in lasts; the session ends then whatever happens.
const DefaultSessionLifetime = 8 * time.Hour

// maxSessions bounds the sessions a node keeps: signing in again and again cannot grow memory
// without end. Past it, the session closest to its expiry makes room.
const maxSessions = 1000

// session is one sign-in: the principal, the token that state-changing requests must echo,
// and the end.
type session struct {
	id        string
	principal *api.Principal
	csrf      string
	expires   time.Time
}

// sessions are the signed-in sessions of this node, by cookie value.
type sessions struct {
	lifetime time.Duration
	now      func() time.Time

	mu   sync.Mutex
	byID map[string]*session
}

func newSessions(lifetime time.Duration, now func() time.Time) *sessions {
	return &sessions{lifetime: lifetime, now: now, byID: map[string]*session{}}
}

// randomToken is 32 random bytes, base64url: a session id or a CSRF token.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather than return short)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session for a principal.
func (s *sessions) create(p *api.Principal) *session {
	now := s.now()
	sess := &session{id: randomToken(), principal: p, csrf: randomToken(), expires: now.Add(s.lifetime)}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, o := range s.byID {
		if !now.Before(o.expires) {
			delete(s.byID, id)
		}
	}
	if len(s.byID) >= maxSessions {
		var oldest *session
		for _, o := range s.byID {
			if oldest == nil || o.expires.Before(oldest.expires) {
				oldest = o
			}
		}
		delete(s.byID, oldest.id)
	}
	s.byID[sess.id] = sess
	return sess
}

// get returns the live session of a cookie value, or nil.
func (s *sessions) get(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.byID[id]
	if sess == nil {
		return nil
	}
	if !s.now().Before(sess.expires) {
		delete(s.byID, id)
		return nil
	}
	return sess
}

// end removes a session.
func (s *sessions) end(id string) {
	s.mu.Lock()
	delete(s.byID, id)
	s.mu.Unlock()
}

// live reports whether a session still holds (not signed out, not expired).
func (s *sessions) live(sess *session) bool { return s.get(sess.id) == sess }

// signIn checks an access key id and secret against the configured principals, in time that
// does not depend on how much of the secret was right.
func signIn(ps api.Principals, accessKeyID, secret string) (*api.Principal, bool) {
	p := ps[accessKeyID]
	if p == nil {
		// Compare anyway, so an unknown key id takes as long as a wrong secret.
		subtle.ConstantTimeCompare([]byte(secret), []byte(secret))
		return nil, false
	}
	return p, subtle.ConstantTimeCompare([]byte(secret), []byte(p.SecretAccessKey)) == 1
}

// cookie is the session cookie: HttpOnly (no script reads it), SameSite=Strict (no other
// site's page sends it), Secure on TLS, ending with the session.
func (s *session) cookie(secure bool) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: s.id, Path: "/", Expires: s.expires, MaxAge: int(time.Until(s.expires).Seconds()),
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode}
}

// expiredCookie clears the session cookie in the browser.
func expiredCookie(secure bool) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode}
}

// CSRFHeader carries a session's CSRF token on every state-changing request.
const CSRFHeader = "X-Csrf-Token"

// Refusals of a state-changing request that may come from another site.
var (
	errCrossOrigin = errors.New("the request does not come from this console's own pages (Origin mismatch)")
	errNoCSRFToken = errors.New("the request lacks this session's CSRF token")
)

// sameOrigin checks that a state-changing request comes from a page of this listener: the
// Origin that browsers attach to every POST must be this listener's own. Without an Origin
// (a browser always sends one on POST), Sec-Fetch-Site must say same-origin; a request with
// neither is not from a browser page and carries no ambient cookie worth forging.
func sameOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
			return errCrossOrigin
		}
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host != r.Host || u.Scheme != scheme(r) {
		return errCrossOrigin
	}
	return nil
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// checkCSRF guards a state-changing request of a session: same origin, and the session's
// CSRF token in its header (which no other site's page can read or set).
func checkCSRF(r *http.Request, sess *session) error {
	if err := sameOrigin(r); err != nil {
		return err
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) != 1 {
		return errNoCSRFToken
	}
	return nil
}
