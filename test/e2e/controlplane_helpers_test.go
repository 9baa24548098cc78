package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"

	"github.com/ivschatd/ivschatd/internal/api"
	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/server"
	"github.com/ivschatd/ivschatd/test/sdkclient"
)

// Helpers shared by the control-plane tests: typed SDK errors, raw signed HTTP, fixtures.

// defaultAccount is the account of the development principal (server.DefaultConfig).
const defaultAccount = "123456789012"

// as returns err as the SDK's typed error E, failing the test when it is something else.
func as[E error](t testing.TB, err error) E {
	t.Helper()
	var target E
	if !errors.As(err, &target) {
		t.Fatalf("got error %v (%T), want %T", err, err, target)
	}
	return target
}

// errorCode is the AWS error code the SDK read from the response; "" when err is not an API error.
func errorCode(err error) string {
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// httpStatus is the status of the response the SDK failed on; 0 when there was none.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// wantAPIError checks an SDK error's code and HTTP status.
func wantAPIError(t testing.TB, err error, status int, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s (%d)", code, status)
	}
	if got := errorCode(err); got != code {
		t.Fatalf("error code %q, want %q (error: %v)", got, code, err)
	}
	if got := httpStatus(err); got != status {
		t.Fatalf("HTTP status %d, want %d (error: %v)", got, status, err)
	}
}

// fieldNames lists the names in a ValidationException's fieldList, sorted.
func fieldNames(ve *types.ValidationException) []string {
	var names []string
	for _, f := range ve.FieldList {
		names = append(names, aws.ToString(f.Name))
	}
	sort.Strings(names)
	return names
}

// wantValidation checks that err is a ValidationException naming exactly the given fields.
func wantValidation(t testing.TB, err error, fields ...string) *types.ValidationException {
	t.Helper()
	ve := as[*types.ValidationException](t, err)
	if got := httpStatus(err); got != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", got)
	}
	sort.Strings(fields)
	if got := fieldNames(ve); !slices.Equal(got, fields) {
		t.Fatalf("fieldList %q, want %q (message %q)", got, fields, aws.ToString(ve.Message))
	}
	for _, f := range ve.FieldList {
		if aws.ToString(f.Message) == "" {
			t.Fatalf("field %s has no message", aws.ToString(f.Name))
		}
	}
	wantReason := types.ValidationExceptionReasonFieldValidationFailed
	if len(fields) == 0 {
		wantReason = types.ValidationExceptionReasonOther
	}
	if ve.Reason != wantReason {
		t.Fatalf("reason %q, want %q", ve.Reason, wantReason)
	}
	return ve
}

// wantNotFound checks that err is a ResourceNotFoundException (404) about resource id.
func wantNotFound(t testing.TB, err error, id string) {
	t.Helper()
	rnf := as[*types.ResourceNotFoundException](t, err)
	if got := httpStatus(err); got != http.StatusNotFound {
		t.Fatalf("status %d, want 404", got)
	}
	if aws.ToString(rnf.ResourceId) != id || rnf.ResourceType == "" || aws.ToString(rnf.Message) == "" {
		t.Fatalf("ResourceNotFoundException %+v, want resourceId %s, a resourceType and a message", rnf, id)
	}
}

var mustNoErr = sdkclient.MustNoErr

// idOf is the last segment of an ARN.
func idOf(arn string) string {
	for i := len(arn) - 1; i >= 0; i-- {
		if arn[i] == '/' {
			return arn[i+1:]
		}
	}
	return arn
}

// isID reports whether s is an IVS Chat id: 12 characters of [A-Za-z0-9].
func isID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// newRoom creates a room and ends the test if the call fails.
var newRoom = sdkclient.NewRoom

func getRoom(t testing.TB, c *ivschat.Client, arn *string) *ivschat.GetRoomOutput {
	t.Helper()
	out, err := c.GetRoom(context.Background(), &ivschat.GetRoomInput{Identifier: arn})
	if err != nil {
		t.Fatalf("GetRoom: %v", err)
	}
	return out
}

func s3Destination(bucket string) types.DestinationConfiguration {
	return &types.DestinationConfigurationMemberS3{Value: types.S3DestinationConfiguration{BucketName: aws.String(bucket)}}
}

func newLoggingConfiguration(t testing.TB, c *ivschat.Client, name string) *ivschat.CreateLoggingConfigurationOutput {
	t.Helper()
	out, err := c.CreateLoggingConfiguration(context.Background(), &ivschat.CreateLoggingConfigurationInput{
		Name: aws.String(name), DestinationConfiguration: s3Destination("chat-logs")})
	if err != nil {
		t.Fatalf("CreateLoggingConfiguration: %v", err)
	}
	return out
}

// testPrincipal is one entry of a credentials file.
type testPrincipal struct {
	AccessKeyID     string   `json:"accessKeyId"`
	SecretAccessKey string   `json:"secretAccessKey"`
	SessionToken    string   `json:"sessionToken,omitempty"`
	AccountID       string   `json:"accountId"`
	Actions         []string `json:"actions,omitempty"`
}

// withPrincipals writes a credentials file and points the server at it.
func withPrincipals(t testing.TB, ps ...testPrincipal) func(*server.Config) {
	t.Helper()
	return withCredentials(t, nil, ps...)
}

// withCredentials writes a credentials file of principals and what their accounts may name
// beyond their own, and points the server at it.
func withCredentials(t testing.TB, allow map[string]chat.Allowance, ps ...testPrincipal) func(*server.Config) {
	t.Helper()
	accounts := map[string]any{}
	for account, a := range allow {
		accounts[account] = map[string]any{"allow": a}
	}
	b, err := json.Marshal(map[string]any{"principals": ps, "accounts": accounts})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "credentials.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return func(cfg *server.Config) { cfg.CredentialsFile = path }
}

// Raw HTTP, for what the SDK would never send.

// rawRequest is a request as it goes on the wire. Path is the escaped path; Query is sent
// exactly as given, even when it is not valid percent-encoding.
type rawRequest struct {
	Method string
	Path   string
	Query  string
	Body   []byte
	Header map[string]string
	// Host, when set, is sent (and signed) in place of the server's address.
	Host string
}

// signing says how a raw request is signed.
type signing struct {
	KeyID, Secret, SessionToken string
	Region, Service             string
	Time                        time.Time
	// SignedBody, when set, is signed in place of the body that is sent.
	SignedBody []byte
	// Unsigned sends no Authorization header.
	Unsigned bool
	// After, when set, changes the request once it is signed.
	After func(*http.Request)
}

// devSigning signs as the SDK would with the development credentials.
func devSigning() signing {
	return signing{KeyID: api.DevAccessKeyID, Secret: api.DevSecretAccessKey, Region: "us-east-1", Service: "ivschat"}
}

type rawResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// rawHTTP is a keep-alive client shared by the raw requests of all tests.
var rawHTTP = &http.Client{Timeout: 30 * time.Second}

// send signs req with s using the AWS SDK's own SigV4 signer and sends it to srv.
func send(t testing.TB, srv *server.Server, req rawRequest, s signing) rawResponse {
	t.Helper()
	u, err := url.Parse(srv.URL() + req.Path)
	if err != nil {
		t.Fatalf("url %q: %v", req.Path, err)
	}
	hr, err := http.NewRequest(req.Method, u.String(), bytes.NewReader(req.Body))
	if err != nil {
		t.Fatal(err)
	}
	if req.Body == nil {
		hr.Body, hr.ContentLength = http.NoBody, 0
	}
	if req.Method == http.MethodPost {
		hr.Header.Set("Content-Type", "application/json")
	}
	for k, v := range req.Header {
		hr.Header.Set(k, v)
	}
	hr.URL.RawQuery = req.Query
	if req.Host != "" {
		hr.Host = req.Host
	}
	if !s.Unsigned {
		signed := req.Body
		if s.SignedBody != nil {
			signed = s.SignedBody
		}
		sum := sha256.Sum256(signed)
		at := s.Time
		if at.IsZero() {
			at = time.Now()
		}
		creds := aws.Credentials{AccessKeyID: s.KeyID, SecretAccessKey: s.Secret, SessionToken: s.SessionToken}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, hr, hex.EncodeToString(sum[:]), s.Service, s.Region, at); err != nil {
			t.Fatal(err)
		}
		// The signer rewrites the query in canonical form; send what the test asked for.
		hr.URL.RawQuery = req.Query
	}
	if s.After != nil {
		s.After(hr)
	}
	resp, err := rawHTTP.Do(hr)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// object decodes a JSON object body.
func (r rawResponse) object(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.Body, err)
	}
	return m
}

// wantAWSError checks the restJson1 error shape: status, x-amzn-ErrorType, a JSON body with
// a message, and a request id.
func (r rawResponse) wantAWSError(t testing.TB, status int, code string) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d (body %s)", r.Status, status, r.Body)
	}
	if got := r.Header.Get("x-amzn-ErrorType"); got != code {
		t.Fatalf("x-amzn-ErrorType %q, want %q (body %s)", got, code, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	if r.Header.Get("x-amzn-RequestId") == "" {
		t.Fatal("no x-amzn-RequestId")
	}
	m := r.object(t)
	if msg, _ := m["message"].(string); msg == "" {
		t.Fatalf("body %s has no message", r.Body)
	}
	if code == "ValidationException" {
		// A field validation failure names its fields; any other reason is OTHER.
		fields, _ := m["fieldList"].([]any)
		switch m["reason"] {
		case "FIELD_VALIDATION_FAILED":
			if len(fields) == 0 {
				t.Fatalf("reason FIELD_VALIDATION_FAILED with no fieldList: %s", r.Body)
			}
		case "OTHER", "UNKNOWN_OPERATION":
		default:
			t.Fatalf("reason %v: %s", m["reason"], r.Body)
		}
	}
	return m
}

// tagsPath is the path of the tag operations on a resource: the ARN in one segment, escaped
// as the SDKs escape it (':' as %3A, '/' as %2F).
func tagsPath(arn string) string {
	return "/tags/" + strings.ReplaceAll(url.PathEscape(arn), ":", "%3A")
}
