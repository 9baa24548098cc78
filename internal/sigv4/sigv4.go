// Package sigv4 verifies AWS Signature Version 4 on incoming HTTP requests, as the AWS SDKs
// and CLI sign them: header authentication with AWS4-HMAC-SHA256.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Algorithm is the only signing algorithm accepted.
const Algorithm = "AWS4-HMAC-SHA256"

// MaxSkew is how far a request's X-Amz-Date may be from the server's clock.
const MaxSkew = 15 * time.Minute

// Codes of the authentication errors, as AWS services name them.
const (
	CodeMissingToken        = "MissingAuthenticationTokenException"
	CodeIncompleteSignature = "IncompleteSignatureException"
	CodeUnrecognizedClient  = "UnrecognizedClientException"
	CodeInvalidSignature    = "InvalidSignatureException"
)

// Error is an authentication failure; Code is the AWS error code to answer with.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func fail(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Authorization is a parsed Authorization header.
type Authorization struct {
	AccessKeyID   string
	Date          string // yyyymmdd of the credential scope
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
}

// ParseAuthorization parses "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…".
func ParseAuthorization(h string) (*Authorization, error) {
	alg, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || alg != Algorithm {
		return nil, fail(CodeIncompleteSignature, "Authorization header must use the %s algorithm", Algorithm)
	}
	a := &Authorization{}
	var haveCred, haveSigned, haveSig bool
	seen := map[string]bool{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fail(CodeIncompleteSignature, "Authorization header component %q is not of the form key=value", strings.TrimSpace(part))
		}
		// A repeated component would leave the choice of value to the parser: the one the
		// signer meant and the one checked could differ.
		if seen[k] {
			return nil, fail(CodeIncompleteSignature, "Authorization header has the component %s more than once", k)
		}
		seen[k] = true
		switch k {
		case "Credential":
			fields := strings.Split(v, "/")
			if len(fields) != 5 || fields[4] != "aws4_request" || fields[0] == "" {
				return nil, fail(CodeIncompleteSignature, "Credential must be <access key id>/<yyyymmdd>/<region>/<service>/aws4_request")
			}
			a.AccessKeyID, a.Date, a.Region, a.Service = fields[0], fields[1], fields[2], fields[3]
			haveCred = true
		case "SignedHeaders":
			if v == "" {
				return nil, fail(CodeIncompleteSignature, "SignedHeaders is empty")
			}
			a.SignedHeaders = strings.Split(v, ";")
			haveSigned = true
		case "Signature":
			if len(v) != 64 {
				return nil, fail(CodeIncompleteSignature, "Signature must be 64 hexadecimal characters")
			}
			if _, err := hex.DecodeString(v); err != nil {
				return nil, fail(CodeIncompleteSignature, "Signature must be 64 hexadecimal characters")
			}
			a.Signature = strings.ToLower(v)
			haveSig = true
		}
	}
	var missing []string
	if !haveCred {
		missing = append(missing, "Credential")
	}
	if !haveSigned {
		missing = append(missing, "SignedHeaders")
	}
	if !haveSig {
		missing = append(missing, "Signature")
	}
	if len(missing) > 0 {
		return nil, fail(CodeIncompleteSignature, "Authorization header is missing %s", strings.Join(missing, ", "))
	}
	return a, nil
}

// Credentials is what the verifier needs to know of a principal.
type Credentials struct {
	SecretAccessKey string
	// SessionToken, when set, must arrive as X-Amz-Security-Token.
	SessionToken string
}

// Verifier checks signatures for one service and region.
type Verifier struct {
	Service string
	Region  string
	// Lookup finds the credentials of an access key id.
	Lookup func(accessKeyID string) (Credentials, bool)
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	keysMu sync.Mutex
	keys   map[string][]byte
}

// Verify checks the request's signature over body and returns the access key id that signed it.
func (v *Verifier) Verify(r *http.Request, body []byte) (string, error) {
	c, err := v.Check(r)
	if err != nil {
		return "", err
	}
	if err := c.Verify(body); err != nil {
		return "", err
	}
	return c.AccessKeyID(), nil
}

// Claim is a request whose headers have been checked: a known access key, the scope of this
// service and region, a date within MaxSkew, the session token. Only its signature, which
// covers the body, is left to verify.
type Claim struct {
	v       *Verifier
	r       *http.Request
	auth    *Authorization
	creds   Credentials
	amzDate string
}

// AccessKeyID is the key the request claims to be signed with.
func (c *Claim) AccessKeyID() string { return c.auth.AccessKeyID }

// Check verifies everything a request's headers prove on their own, so that a request that
// cannot succeed is refused before its body is read.
func (v *Verifier) Check(r *http.Request) (*Claim, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		if r.URL.Query().Get("X-Amz-Algorithm") != "" {
			return nil, fail(CodeIncompleteSignature, "query-string (presigned) authentication is not supported; sign the Authorization header")
		}
		return nil, fail(CodeMissingToken, "Missing Authentication Token: the request has no Authorization header")
	}
	if len(r.Header.Values("Authorization")) > 1 {
		return nil, fail(CodeIncompleteSignature, "the request has more than one Authorization header")
	}
	auth, err := ParseAuthorization(h)
	if err != nil {
		return nil, err
	}
	if auth.Service != v.Service {
		return nil, fail(CodeInvalidSignature, "Credential should be scoped to correct service: '%s'", v.Service)
	}
	if auth.Region != v.Region {
		return nil, fail(CodeInvalidSignature, "Credential should be scoped to a valid region: this server is in '%s', not '%s'", v.Region, auth.Region)
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		return nil, fail(CodeIncompleteSignature, "the request has no X-Amz-Date header")
	}
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return nil, fail(CodeIncompleteSignature, "X-Amz-Date must be of the form yyyymmddThhmmssZ")
	}
	if auth.Date != amzDate[:8] {
		return nil, fail(CodeInvalidSignature, "Credential date %s does not match X-Amz-Date %s", auth.Date, amzDate[:8])
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	if d := now().Sub(t); d > MaxSkew || d < -MaxSkew {
		return nil, fail(CodeInvalidSignature, "Signature expired or not yet valid: %s is more than 15 minutes from the server time %s",
			amzDate, now().UTC().Format("20060102T150405Z"))
	}
	signed := map[string]bool{}
	for _, name := range auth.SignedHeaders {
		signed[name] = true
	}
	if !signed["host"] {
		return nil, fail(CodeIncompleteSignature, "SignedHeaders must include host")
	}
	if !signed["x-amz-date"] {
		return nil, fail(CodeIncompleteSignature, "SignedHeaders must include x-amz-date")
	}
	creds, ok := v.Lookup(auth.AccessKeyID)
	if !ok {
		return nil, fail(CodeUnrecognizedClient, "The security token included in the request is invalid: access key id %s is not known", auth.AccessKeyID)
	}
	if tok := r.Header.Get("X-Amz-Security-Token"); tok != creds.SessionToken {
		return nil, fail(CodeUnrecognizedClient, "The security token included in the request is invalid")
	}
	return &Claim{v: v, r: r, auth: auth, creds: creds, amzDate: amzDate}, nil
}

// Verify checks the signature of the claimed request over its body.
func (c *Claim) Verify(body []byte) error {
	auth := c.auth
	payloadHash := sha256Hex(body)
	if claimed := c.r.Header.Get("X-Amz-Content-Sha256"); claimed != "" && claimed != payloadHash {
		return fail(CodeInvalidSignature, "X-Amz-Content-Sha256 does not match the SHA-256 of the request body")
	}
	canonical, err := CanonicalRequest(c.r, auth.SignedHeaders, payloadHash)
	if err != nil {
		return err
	}
	scope := auth.Date + "/" + auth.Region + "/" + auth.Service + "/aws4_request"
	stringToSign := Algorithm + "\n" + c.amzDate + "\n" + scope + "\n" + sha256Hex([]byte(canonical))
	want := hex.EncodeToString(hmacSHA256(c.v.signingKey(c.creds.SecretAccessKey, auth.Date, auth.Region, auth.Service), []byte(stringToSign)))
	if !hmac.Equal([]byte(want), []byte(auth.Signature)) {
		return fail(CodeInvalidSignature, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
	}
	return nil
}

// signingKey returns the derived key of a secret for a day, from a small cache: the four
// HMACs of the derivation are a noticeable part of verifying a request, and a key changes
// only once a day.
func (v *Verifier) signingKey(secret, date, region, service string) []byte {
	id := secret + "\x00" + date + "\x00" + region + "\x00" + service
	v.keysMu.Lock()
	defer v.keysMu.Unlock()
	if k, ok := v.keys[id]; ok {
		return k
	}
	if v.keys == nil || len(v.keys) >= maxCachedKeys {
		v.keys = map[string][]byte{}
	}
	k := SigningKey(secret, date, region, service)
	v.keys[id] = k
	return k
}

// maxCachedKeys bounds the signing-key cache; it is emptied when full.
const maxCachedKeys = 1024

// SigningKey derives the key that signs requests of one day, region and service.
func SigningKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), []byte(date))
	k = hmacSHA256(k, []byte(region))
	k = hmacSHA256(k, []byte(service))
	return hmacSHA256(k, []byte("aws4_request"))
}

// CanonicalRequest builds the canonical form of a request. The path is the escaped path as
// received, escaped once more: non-S3 services sign a double-encoded path.
func CanonicalRequest(r *http.Request, signedHeaders []string, payloadHash string) (string, error) {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	b.WriteString(escape(path, false))
	b.WriteByte('\n')
	q, err := canonicalQuery(r.URL.RawQuery)
	if err != nil {
		return "", err
	}
	b.WriteString(q)
	b.WriteByte('\n')
	for _, name := range signedHeaders {
		if name != strings.ToLower(name) {
			return "", fail(CodeIncompleteSignature, "SignedHeaders must be lowercase")
		}
		var values []string
		switch name {
		case "host":
			values = []string{r.Host}
		case "content-length":
			values = r.Header.Values("Content-Length")
			if len(values) == 0 && r.ContentLength >= 0 {
				values = []string{fmt.Sprint(r.ContentLength)}
			}
		default:
			values = r.Header.Values(name)
		}
		if len(values) == 0 {
			return "", fail(CodeIncompleteSignature, "signed header %q is not in the request", name)
		}
		for i, val := range values {
			values[i] = strings.Join(strings.Fields(val), " ")
		}
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(strings.Join(values, ","))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String(), nil
}

func canonicalQuery(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	type pair struct{ k, v string }
	var pairs []pair
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		var err1, err2 error
		k, err1 = url.QueryUnescape(k)
		v, err2 = url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return "", fail(CodeIncompleteSignature, "the query string has an invalid percent-encoding")
		}
		pairs = append(pairs, pair{escape(k, true), escape(v, true)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p.k + "=" + p.v
	}
	return strings.Join(parts, "&"), nil
}

// escape percent-encodes every byte but the unreserved ones (and '/' unless encodeSlash).
func escape(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
