package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testKeyID   = "AKIDEXAMPLE"
	testSecret  = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testTokenID = "ASIAEXAMPLE"
	testToken   = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN//+=="
	testRegion  = "us-west-2"
	testService = "ivschat"
	testRoomARN = "arn:aws:ivschat:us-west-2:123456789012:room/AbCdEfGh1234"
)

var signTime = time.Date(2024, 1, 19, 16, 22, 35, 0, time.UTC)

func testVerifier(now time.Time) *Verifier {
	return &Verifier{Service: testService, Region: testRegion, Now: func() time.Time { return now },
		Lookup: func(id string) (Credentials, bool) {
			switch id {
			case testKeyID:
				return Credentials{SecretAccessKey: testSecret}, true
			case testTokenID:
				return Credentials{SecretAccessKey: testSecret, SessionToken: testToken}, true
			}
			return Credentials{}, false
		}}
}

// sdkEscape percent-encodes a path label the way the AWS SDKs do: every byte but the
// unreserved ones.
func sdkEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
		}
	}
	return b.String()
}

type request struct {
	method   string
	path     string // escaped path as sent on the wire
	rawQuery string
	host     string
	body     []byte
	header   map[string]string // set before signing, so signed
	creds    aws.Credentials
	region   string
	service  string
	at       time.Time
}

func (rq request) withDefaults() request {
	if rq.method == "" {
		rq.method = http.MethodPost
	}
	if rq.path == "" {
		rq.path = "/CreateRoom"
	}
	if rq.host == "" {
		rq.host = "ivschat.local:8443"
	}
	if rq.creds.AccessKeyID == "" {
		rq.creds = aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
	}
	if rq.region == "" {
		rq.region = testRegion
	}
	if rq.service == "" {
		rq.service = testService
	}
	if rq.at.IsZero() {
		rq.at = signTime
	}
	return rq
}

// sign signs a request with the AWS SDK's signer and returns it as a server receives it,
// with the body read.
func sign(t testing.TB, rq request) (*http.Request, []byte) {
	t.Helper()
	rq = rq.withDefaults()
	u, err := url.Parse("http://" + rq.host + rq.path)
	if err != nil {
		t.Fatalf("url: %v", err)
	}
	u.RawQuery = rq.rawQuery
	var body io.Reader
	if rq.body != nil {
		body = bytes.NewReader(rq.body)
	}
	req, err := http.NewRequest(rq.method, u.String(), body)
	if err != nil {
		t.Fatal(err)
	}
	if rq.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range rq.header {
		req.Header.Set(k, v)
	}
	sum := sha256.Sum256(rq.body)
	if err := v4.NewSigner().SignHTTP(context.Background(), rq.creds, req, hex.EncodeToString(sum[:]), rq.service, rq.region, rq.at); err != nil {
		t.Fatal(err)
	}
	return received(t, req)
}

// received sends req through the HTTP/1.1 wire format and parses it as a server does.
func received(t testing.TB, req *http.Request) (*http.Request, []byte) {
	t.Helper()
	var wire bytes.Buffer
	if err := req.Write(&wire); err != nil {
		t.Fatal(err)
	}
	r, err := http.ReadRequest(bufio.NewReader(&wire))
	if err != nil {
		t.Fatalf("read request: %v\n%s", err, wire.String())
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return r, b
}

func verifyCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if !errors.As(err, &e) {
		return "not a *sigv4.Error: " + err.Error()
	}
	return e.Code
}

func TestVerifyAccepts(t *testing.T) {
	tags := "/tags/" + sdkEscape(testRoomARN)
	tests := []struct {
		name string
		rq   request
	}{
		{"POST with a JSON body", request{body: []byte(`{"name":"lobby","tags":{"a":"b"}}`)}},
		{"POST with the empty object", request{body: []byte(`{}`)}},
		{"POST with no body", request{}},
		{"POST with a unicode body", request{body: []byte(`{"name":"ü😀"}`)}},
		{"GET on a percent-encoded ARN", request{method: http.MethodGet, path: tags}},
		{"GET on an ARN escaped like url.PathEscape (colons left as they are)", request{method: http.MethodGet, path: "/tags/" + url.PathEscape(testRoomARN)}},
		{"POST tags on a percent-encoded ARN", request{path: tags, body: []byte(`{"tags":{"k":"v"}}`)}},
		{"DELETE with repeated tagKeys", request{method: http.MethodDelete, path: tags, rawQuery: "tagKeys=k1&tagKeys=k2&tagKeys=k1"}},
		{"DELETE with keys with spaces as %20", request{method: http.MethodDelete, path: tags, rawQuery: "tagKeys=a%20b&tagKeys=c"}},
		{"DELETE with keys with spaces as +", request{method: http.MethodDelete, path: tags, rawQuery: "tagKeys=a+b&tagKeys=c"}},
		{"DELETE with unicode keys", request{method: http.MethodDelete, path: tags,
			rawQuery: url.Values{"tagKeys": {"ключ", "a", "😀", "é"}}.Encode()}},
		{"DELETE with keys whose order changes once encoded", request{method: http.MethodDelete, path: tags,
			rawQuery: url.Values{"tagKeys": {"a-b", "a/b", "a~b", "a b", "a+b", "a*b", "a%b", "a=b&c"}}.Encode()}},
		{"DELETE with an empty key and an empty value", request{method: http.MethodDelete, path: tags, rawQuery: "tagKeys=&tagKeys=x&other"}},
		{"temporary credentials with a session token", request{creds: aws.Credentials{AccessKeyID: testTokenID, SecretAccessKey: testSecret, SessionToken: testToken},
			body: []byte(`{}`)}},
		{"a signed X-Amz-Content-Sha256 like the JS SDK sends", request{body: []byte(`{"a":1}`),
			header: map[string]string{"X-Amz-Content-Sha256": sha256Hex([]byte(`{"a":1}`))}}},
		{"an empty-body hash header on GET", request{method: http.MethodGet, path: tags,
			header: map[string]string{"X-Amz-Content-Sha256": sha256Hex(nil)}}},
		{"signed SDK headers with runs of spaces", request{body: []byte(`{}`),
			header: map[string]string{"Amz-Sdk-Request": "attempt=1;   max=3", "Amz-Sdk-Invocation-Id": "  7c0e  9d  ", "X-Amz-User-Agent": "aws-sdk-js/3.952.0"}}},
		{"host without a port", request{host: "ivschat.us-west-2.amazonaws.com"}},
		{"host on the default port, which the SDK leaves out", request{host: "ivschat.local:80"}},
		{"IPv6 host with a port", request{host: "[::1]:8443", body: []byte(`{}`)}},
		{"a date just before midnight", request{at: time.Date(2024, 1, 19, 23, 59, 59, 0, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, body := sign(t, tt.rq)
			at := tt.rq.withDefaults().at
			id, err := testVerifier(at).Verify(r, body)
			if err != nil {
				t.Fatalf("Verify: %v\nAuthorization: %s\nURI: %s", err, r.Header.Get("Authorization"), r.RequestURI)
			}
			if want := tt.rq.withDefaults().creds.AccessKeyID; id != want {
				t.Fatalf("Verify returned key %q, want %q", id, want)
			}
		})
	}
	t.Run("15 minutes of skew either way is accepted", func(t *testing.T) {
		r, body := sign(t, request{body: []byte(`{}`)})
		for _, d := range []time.Duration{MaxSkew, -MaxSkew} {
			if _, err := testVerifier(signTime.Add(d)).Verify(r, body); err != nil {
				t.Fatalf("skew %v: %v", d, err)
			}
		}
	})
	t.Run("a nil clock is the system clock", func(t *testing.T) {
		r, body := sign(t, request{at: time.Now(), body: []byte(`{}`)})
		v := testVerifier(time.Time{})
		v.Now = nil
		if _, err := v.Verify(r, body); err != nil {
			t.Fatal(err)
		}
	})
}

// edit changes one header of a signed request after signing.
func edit(name string, change func(string) string) func(*http.Request, []byte) []byte {
	return func(r *http.Request, body []byte) []byte {
		r.Header.Set(name, change(r.Header.Get(name)))
		return body
	}
}

func TestVerifyRefuses(t *testing.T) {
	tags := "/tags/" + sdkEscape(testRoomARN)
	tests := []struct {
		name   string
		rq     request
		change func(*http.Request, []byte) []byte
		now    time.Time
		code   string
	}{
		{"no Authorization header", request{}, func(r *http.Request, b []byte) []byte { r.Header.Del("Authorization"); return b }, signTime, CodeMissingToken},
		{"presigned query authentication", request{rawQuery: "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00"},
			func(r *http.Request, b []byte) []byte { r.Header.Del("Authorization"); return b }, signTime, CodeIncompleteSignature},
		{"another algorithm", request{}, edit("Authorization", func(string) string { return "Basic dXNlcjpwYXNz" }), signTime, CodeIncompleteSignature},
		{"algorithm alone", request{}, edit("Authorization", func(string) string { return "AWS4-HMAC-SHA256" }), signTime, CodeIncompleteSignature},
		{"garbled components", request{}, edit("Authorization", func(string) string { return "AWS4-HMAC-SHA256 garbage" }), signTime, CodeIncompleteSignature},
		{"no Signature", request{}, edit("Authorization", func(h string) string { return h[:strings.Index(h, ", Signature=")] }), signTime, CodeIncompleteSignature},
		{"no SignedHeaders", request{}, edit("Authorization", func(h string) string {
			return strings.Replace(h, "SignedHeaders=", "Unsigned=", 1)
		}), signTime, CodeIncompleteSignature},
		{"no Credential", request{}, edit("Authorization", func(h string) string { return strings.Replace(h, "Credential=", "Cred=", 1) }), signTime, CodeIncompleteSignature},
		{"short credential scope", request{}, edit("Authorization", func(h string) string {
			return strings.Replace(h, "/ivschat/aws4_request", "/ivschat", 1)
		}), signTime, CodeIncompleteSignature},
		{"credential scope without aws4_request", request{}, edit("Authorization", func(h string) string {
			return strings.Replace(h, "aws4_request", "aws5_request", 1)
		}), signTime, CodeIncompleteSignature},
		{"short signature", request{}, edit("Authorization", func(h string) string { return h[:len(h)-1] }), signTime, CodeIncompleteSignature},
		{"signature that is not hex", request{}, edit("Authorization", func(h string) string { return h[:len(h)-1] + "g" }), signTime, CodeIncompleteSignature},
		{"empty SignedHeaders", request{}, edit("Authorization", func(h string) string {
			i, j := strings.Index(h, "SignedHeaders="), strings.Index(h, ", Signature=")
			return h[:i] + "SignedHeaders=" + h[j:]
		}), signTime, CodeIncompleteSignature},
		{"host not signed", request{}, edit("Authorization", func(h string) string { return strings.Replace(h, "host;", "", 1) }), signTime, CodeIncompleteSignature},
		{"x-amz-date not signed", request{}, edit("Authorization", func(h string) string { return strings.Replace(h, ";x-amz-date", "", 1) }), signTime, CodeIncompleteSignature},
		{"signed header missing from the request", request{header: map[string]string{"X-Custom": "v"}},
			func(r *http.Request, b []byte) []byte { r.Header.Del("X-Custom"); return b }, signTime, CodeIncompleteSignature},
		{"signed header names in upper case", request{}, edit("Authorization", func(h string) string { return strings.Replace(h, "host;", "Host;", 1) }), signTime, CodeIncompleteSignature},
		{"no X-Amz-Date", request{}, func(r *http.Request, b []byte) []byte { r.Header.Del("X-Amz-Date"); return b }, signTime, CodeIncompleteSignature},
		{"X-Amz-Date in another format", request{}, edit("X-Amz-Date", func(string) string { return signTime.Format(time.RFC1123) }), signTime, CodeIncompleteSignature},
		{"invalid percent-encoding in the query", request{}, func(r *http.Request, b []byte) []byte { r.URL.RawQuery = "tagKeys=%zz"; return b },
			signTime, CodeIncompleteSignature},

		{"unknown access key", request{creds: aws.Credentials{AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: testSecret}}, nil, signTime, CodeUnrecognizedClient},
		{"session token missing", request{creds: aws.Credentials{AccessKeyID: testTokenID, SecretAccessKey: testSecret}}, nil, signTime, CodeUnrecognizedClient},
		{"session token wrong", request{creds: aws.Credentials{AccessKeyID: testTokenID, SecretAccessKey: testSecret, SessionToken: "other"}}, nil, signTime, CodeUnrecognizedClient},
		{"session token on long-term credentials", request{creds: aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret, SessionToken: testToken}}, nil, signTime, CodeUnrecognizedClient},

		{"wrong secret", request{creds: aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: "not the secret"}}, nil, signTime, CodeInvalidSignature},
		{"wrong region", request{region: "us-east-1"}, nil, signTime, CodeInvalidSignature},
		{"wrong service", request{service: "ivs"}, nil, signTime, CodeInvalidSignature},
		{"date 16 minutes ahead of the server", request{at: signTime.Add(16 * time.Minute)}, nil, signTime, CodeInvalidSignature},
		{"date 16 minutes behind the server", request{at: signTime.Add(-16 * time.Minute)}, nil, signTime, CodeInvalidSignature},
		{"date a second past 15 minutes behind", request{}, nil, signTime.Add(MaxSkew + time.Second), CodeInvalidSignature},
		{"credential date not the X-Amz-Date day", request{}, edit("Authorization", func(h string) string {
			return strings.Replace(h, "/20240119/", "/20240120/", 1)
		}), signTime, CodeInvalidSignature},
		{"X-Amz-Date changed after signing", request{}, edit("X-Amz-Date", func(string) string { return signTime.Add(time.Second).Format("20060102T150405Z") }), signTime, CodeInvalidSignature},
		{"body changed after signing", request{body: []byte(`{"name":"a"}`)}, func(r *http.Request, b []byte) []byte { return []byte(`{"name":"b"}`) }, signTime, CodeInvalidSignature},
		{"payload hash header that does not match the body", request{body: []byte(`{}`),
			header: map[string]string{"X-Amz-Content-Sha256": strings.Repeat("0", 64)}}, nil, signTime, CodeInvalidSignature},
		{"payload hash header UNSIGNED-PAYLOAD", request{body: []byte(`{}`),
			header: map[string]string{"X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"}}, nil, signTime, CodeInvalidSignature},
		{"path changed after signing", request{method: http.MethodGet, path: tags}, func(r *http.Request, b []byte) []byte {
			r.URL.RawPath = strings.Replace(r.URL.RawPath, "AbCdEfGh1234", "AbCdEfGh1235", 1)
			r.URL.Path = strings.Replace(r.URL.Path, "AbCdEfGh1234", "AbCdEfGh1235", 1)
			return b
		}, signTime, CodeInvalidSignature},
		{"query changed after signing", request{method: http.MethodDelete, path: tags, rawQuery: "tagKeys=a"}, func(r *http.Request, b []byte) []byte {
			r.URL.RawQuery = "tagKeys=a&tagKeys=b"
			return b
		}, signTime, CodeInvalidSignature},
		{"method changed after signing", request{method: http.MethodGet, path: tags}, func(r *http.Request, b []byte) []byte { r.Method = http.MethodDelete; return b }, signTime, CodeInvalidSignature},
		{"host changed after signing", request{}, func(r *http.Request, b []byte) []byte { r.Host = "evil.example:8443"; return b }, signTime, CodeInvalidSignature},
		{"signed header changed after signing", request{header: map[string]string{"Content-Type": "application/json"}},
			edit("Content-Type", func(string) string { return "text/plain" }), signTime, CodeInvalidSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, body := sign(t, tt.rq)
			if tt.change != nil {
				body = tt.change(r, body)
			}
			id, err := testVerifier(tt.now).Verify(r, body)
			if got := verifyCode(err); got != tt.code {
				t.Fatalf("Verify = %q, %v; want code %s", id, err, tt.code)
			}
			if id != "" {
				t.Fatalf("a refused request returned key %q", id)
			}
			if !strings.Contains(err.Error(), tt.code) {
				t.Fatalf("error text %q does not carry its code", err.Error())
			}
		})
	}
}

// failingBody is a request body that must not be read.
type failingBody struct{ t *testing.T }

func (b failingBody) Read([]byte) (int, error) {
	b.t.Error("the body was read")
	return 0, io.ErrUnexpectedEOF
}
func (b failingBody) Close() error { return nil }

func TestCheckRefusesFromTheHeadersAloneWithoutReadingTheBody(t *testing.T) {
	tests := []struct {
		name   string
		rq     request
		change func(*http.Request)
		code   string
	}{
		{"an unknown access key is refused", request{creds: aws.Credentials{AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: testSecret}}, nil, CodeUnrecognizedClient},
		{"a missing session token is refused", request{creds: aws.Credentials{AccessKeyID: testTokenID, SecretAccessKey: testSecret}}, nil, CodeUnrecognizedClient},
		{"a scope of another region is refused", request{region: "us-east-1"}, nil, CodeInvalidSignature},
		{"a scope of another service is refused", request{service: "ivs"}, nil, CodeInvalidSignature},
		{"a date 16 minutes ahead is refused", request{at: signTime.Add(16 * time.Minute)}, nil, CodeInvalidSignature},
		{"a second Credential is refused", request{}, func(r *http.Request) {
			r.Header.Set("Authorization", r.Header.Get("Authorization")+", Credential=OTHER/20240119/us-west-2/ivschat/aws4_request")
		}, CodeIncompleteSignature},
		{"a second Authorization header is refused", request{}, func(r *http.Request) {
			r.Header.Add("Authorization", r.Header.Get("Authorization"))
		}, CodeIncompleteSignature},
		{"a request without x-amz-date signed is refused", request{}, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), ";x-amz-date", "", 1))
		}, CodeIncompleteSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.rq.body = []byte(`{"name":"a"}`)
			r, _ := sign(t, tt.rq)
			r.Body = failingBody{t}
			if tt.change != nil {
				tt.change(r)
			}
			c, err := testVerifier(signTime).Check(r)
			if got := verifyCode(err); got != tt.code || c != nil {
				t.Fatalf("Check = %v, %v; want code %s", c, err, tt.code)
			}
		})
	}
	t.Run("a claim that passes the headers is verified over the body afterwards", func(t *testing.T) {
		r, body := sign(t, request{body: []byte(`{"name":"a"}`)})
		c, err := testVerifier(signTime).Check(r)
		if err != nil {
			t.Fatal(err)
		}
		if c.AccessKeyID() != testKeyID {
			t.Fatalf("claimed key %q", c.AccessKeyID())
		}
		if err := c.Verify([]byte(`{"name":"b"}`)); verifyCode(err) != CodeInvalidSignature {
			t.Fatalf("Verify of another body = %v", err)
		}
		if err := c.Verify(body); err != nil {
			t.Fatalf("Verify of the signed body = %v", err)
		}
	})
}

func TestParseAuthorization(t *testing.T) {
	sig := strings.Repeat("ab", 32)
	t.Run("parses every component", func(t *testing.T) {
		a, err := ParseAuthorization("AWS4-HMAC-SHA256 Credential=AKID/20240119/us-west-2/ivschat/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=" + strings.ToUpper(sig))
		if err != nil {
			t.Fatal(err)
		}
		if a.AccessKeyID != "AKID" || a.Date != "20240119" || a.Region != "us-west-2" || a.Service != "ivschat" ||
			strings.Join(a.SignedHeaders, ";") != "content-type;host;x-amz-date" || a.Signature != sig {
			t.Fatalf("parsed %+v", a)
		}
	})
	t.Run("accepts components without spaces and in any order", func(t *testing.T) {
		a, err := ParseAuthorization("AWS4-HMAC-SHA256 Signature=" + sig + ",SignedHeaders=host;x-amz-date,Credential=AKID/20240119/us-west-2/ivschat/aws4_request")
		if err != nil || a.AccessKeyID != "AKID" || a.Signature != sig {
			t.Fatalf("parsed %+v, %v", a, err)
		}
	})
	bad := []struct{ name, h string }{
		{"empty", ""},
		{"algorithm only", "AWS4-HMAC-SHA256"},
		{"another algorithm", "AWS4-HMAC-SHA512 Credential=AKID/20240119/us-west-2/ivschat/aws4_request, SignedHeaders=host, Signature=" + sig},
		{"component without =", "AWS4-HMAC-SHA256 Credential"},
		{"credential of 4 parts", "AWS4-HMAC-SHA256 Credential=AKID/20240119/us-west-2/ivschat, SignedHeaders=host, Signature=" + sig},
		{"credential without key id", "AWS4-HMAC-SHA256 Credential=/20240119/us-west-2/ivschat/aws4_request, SignedHeaders=host, Signature=" + sig},
		{"signature of 63 characters", "AWS4-HMAC-SHA256 Credential=AKID/20240119/us-west-2/ivschat/aws4_request, SignedHeaders=host, Signature=" + sig[1:]},
		{"missing signature", "AWS4-HMAC-SHA256 Credential=AKID/20240119/us-west-2/ivschat/aws4_request, SignedHeaders=host"},
		{"a second Credential", "AWS4-HMAC-SHA256 Credential=AKID/20240119/us-west-2/ivschat/aws4_request, SignedHeaders=host, Signature=" + sig +
			", Credential=OTHER/20240119/us-west-2/ivschat/aws4_request"},
		{"a second SignedHeaders", "AWS4-HMAC-SHA256 Credential=AKID/20240119/us-west-2/ivschat/aws4_request, SignedHeaders=host;x-amz-date, SignedHeaders=host, Signature=" + sig},
		{"a second Signature", "AWS4-HMAC-SHA256 Credential=AKID/20240119/us-west-2/ivschat/aws4_request, SignedHeaders=host, Signature=" + sig + ", Signature=" + sig},
		{"a repeated unknown component", "AWS4-HMAC-SHA256 Credential=AKID/20240119/us-west-2/ivschat/aws4_request, X=1, X=2, SignedHeaders=host, Signature=" + sig},
	}
	for _, tt := range bad {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			if a, err := ParseAuthorization(tt.h); verifyCode(err) != CodeIncompleteSignature {
				t.Fatalf("ParseAuthorization(%q) = %+v, %v", tt.h, a, err)
			}
		})
	}
}

func TestSigningKey(t *testing.T) {
	// The example of the AWS SigV4 documentation ("Deriving the signing key").
	got := hex.EncodeToString(SigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam"))
	if want := "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"; got != want {
		t.Fatalf("SigningKey = %s, want %s", got, want)
	}
}

func TestCanonicalRequestDoubleEncodesThePath(t *testing.T) {
	r, _ := sign(t, request{method: http.MethodGet, path: "/tags/" + sdkEscape(testRoomARN)})
	c, err := CanonicalRequest(r, []string{"host"}, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	if err != nil {
		t.Fatal(err)
	}
	want := "GET\n/tags/arn%253Aaws%253Aivschat%253Aus-west-2%253A123456789012%253Aroom%252FAbCdEfGh1234\n\nhost:ivschat.local:8443\n\nhost\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if c != want {
		t.Fatalf("canonical request =\n%s\nwant\n%s", c, want)
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20240119/us-west-2/ivschat/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=" + strings.Repeat("0f", 32))
	f.Add("AWS4-HMAC-SHA256 Signature=" + strings.Repeat("AB", 32) + ",SignedHeaders=host,Credential=a/b/c/d/aws4_request")
	f.Add("AWS4-HMAC-SHA256 ,,,=,")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, Credential=e/b/c/d/aws4_request, SignedHeaders=host, Signature=" + strings.Repeat("0f", 32))
	f.Add("")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := ParseAuthorization(h)
		if err != nil {
			if a != nil || verifyCode(err) != CodeIncompleteSignature {
				t.Fatalf("ParseAuthorization(%q) = %+v, %v", h, a, err)
			}
			return
		}
		if a.AccessKeyID == "" || len(a.SignedHeaders) == 0 || len(a.Signature) != 64 || a.Signature != strings.ToLower(a.Signature) {
			t.Fatalf("ParseAuthorization(%q) accepted %+v", h, a)
		}
		if _, err := hex.DecodeString(a.Signature); err != nil {
			t.Fatalf("ParseAuthorization(%q) accepted a signature that is not hex: %q", h, a.Signature)
		}
		seen := map[string]bool{}
		for _, part := range strings.Split(strings.TrimSpace(h)[len(Algorithm):], ",") {
			k, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			if seen[k] {
				t.Fatalf("ParseAuthorization(%q) accepted the component %q twice", h, k)
			}
			seen[k] = true
		}
	})
}

// FuzzVerify sends arbitrary headers, paths, queries and bodies to the verifier: it must not
// panic, must answer with one of its codes, and must accept nothing it did not see signed.
func FuzzVerify(f *testing.F) {
	r, body := sign(f, request{method: http.MethodDelete, path: "/tags/" + sdkEscape(testRoomARN), rawQuery: "tagKeys=a%20b&tagKeys=c"})
	f.Add(r.Method, r.Header.Get("Authorization"), r.Header.Get("X-Amz-Date"), r.URL.EscapedPath(), r.URL.RawQuery, r.Host, "", body)
	r, body = sign(f, request{body: []byte(`{"name":"x"}`), header: map[string]string{"X-Amz-Content-Sha256": sha256Hex([]byte(`{"name":"x"}`))}})
	f.Add(r.Method, r.Header.Get("Authorization"), r.Header.Get("X-Amz-Date"), r.URL.EscapedPath(), r.URL.RawQuery, r.Host, r.Header.Get("X-Amz-Content-Sha256"), body)
	f.Add("GET", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240119/us-west-2/ivschat/aws4_request, SignedHeaders=host;x-amz-date;content-length, Signature="+strings.Repeat("0", 64),
		"20240119T162235Z", "/%zz", "a=%zz&&=&b", "h", "", []byte{})
	f.Add("", "", "", "", "", "", "", []byte(nil))
	f.Fuzz(func(t *testing.T, method, auth, amzDate, path, rawQuery, host, payloadHash string, body []byte) {
		u := &url.URL{Path: path, RawQuery: rawQuery}
		if p, err := url.PathUnescape(path); err == nil {
			u.Path, u.RawPath = p, path
		}
		req := &http.Request{Method: method, URL: u, Host: host, Header: http.Header{}, ContentLength: int64(len(body))}
		req.Header.Set("Authorization", auth)
		req.Header.Set("X-Amz-Date", amzDate)
		if payloadHash != "" {
			req.Header.Set("X-Amz-Content-Sha256", payloadHash)
		}
		id, err := testVerifier(signTime).Verify(req, body)
		if err != nil {
			switch verifyCode(err) {
			case CodeMissingToken, CodeIncompleteSignature, CodeUnrecognizedClient, CodeInvalidSignature:
			default:
				t.Fatalf("Verify error %v has no known code", err)
			}
			return
		}
		// Only the seeds were signed: what verifies is one of them, or a spelling of one with
		// the same canonical request.
		if id != testKeyID {
			t.Fatalf("Verify accepted key %q", id)
		}
	})
}

// FuzzSignedRequestsVerify signs requests with arbitrary ARNs, tag keys and bodies using the
// SDK's signer: every one of them must verify.
func FuzzSignedRequestsVerify(f *testing.F) {
	f.Add(testRoomARN, "a b\nc", []byte(`{"tags":{"a":"b"}}`))
	f.Add("arn:aws:ivschat:us-west-2:123456789012:logging-configuration/x", "ключ\n😀\na/b\na-b", []byte{})
	f.Add("odd/ chars?#%", "=&+;", []byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, arn, keys string, body []byte) {
		for _, rq := range []request{
			{method: http.MethodDelete, path: "/tags/" + sdkEscape(arn), rawQuery: url.Values{"tagKeys": strings.Split(keys, "\n")}.Encode()},
			{method: http.MethodPost, path: "/tags/" + sdkEscape(arn), body: body},
		} {
			r, b := sign(t, rq)
			if _, err := testVerifier(signTime).Verify(r, b); err != nil {
				t.Fatalf("%s %s?%s: %v", rq.method, rq.path, rq.rawQuery, err)
			}
		}
	})
}
