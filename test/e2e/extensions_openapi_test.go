package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ivschatd/ivschatd/internal/server"
)

// The extension operations are described by docs/extensions.openapi.json; every request the
// tests make and every response they get is checked against it. The check covers the part of
// JSON Schema the document uses: $ref, type, properties, required, additionalProperties: false,
// enum, minimum/maximum, minLength/maxLength (in code points), pattern, items, date-time.

type schema struct {
	Ref                  string             `json:"$ref"`
	Type                 string             `json:"type"`
	Properties           map[string]*schema `json:"properties"`
	Required             []string           `json:"required"`
	AdditionalProperties *bool              `json:"additionalProperties"`
	Enum                 []any              `json:"enum"`
	Minimum, Maximum     *float64
	MinLength, MaxLength *int
	Pattern              string  `json:"pattern"`
	Items                *schema `json:"items"`
	Format               string  `json:"format"`
}

type openAPIResponse struct {
	Ref     string `json:"$ref"`
	Content map[string]struct {
		Schema *schema `json:"schema"`
	} `json:"content"`
}

type openAPIDoc struct {
	Paths map[string]map[string]struct {
		OperationID string `json:"operationId"`
		RequestBody struct {
			Content map[string]struct {
				Schema *schema `json:"schema"`
			} `json:"content"`
		} `json:"requestBody"`
		Responses map[string]*openAPIResponse `json:"responses"`
	} `json:"paths"`
	Components struct {
		Schemas   map[string]*schema          `json:"schemas"`
		Responses map[string]*openAPIResponse `json:"responses"`
	} `json:"components"`
}

var (
	openAPIOnce sync.Once
	openAPI     *openAPIDoc
	openAPIErr  error
)

func extensionsAPI(t testing.TB) *openAPIDoc {
	t.Helper()
	openAPIOnce.Do(func() {
		b, err := os.ReadFile("../../docs/extensions.openapi.json")
		if err != nil {
			openAPIErr = err
			return
		}
		openAPI = new(openAPIDoc)
		openAPIErr = json.Unmarshal(b, openAPI)
	})
	if openAPIErr != nil {
		t.Fatalf("docs/extensions.openapi.json: %v", openAPIErr)
	}
	return openAPI
}

func (d *openAPIDoc) resolve(s *schema) *schema {
	for s != nil && s.Ref != "" {
		s = d.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
	}
	return s
}

// check reports the first way v breaks s, or "" if it conforms.
func (d *openAPIDoc) check(s *schema, v any, at string) string {
	s = d.resolve(s)
	if s == nil {
		return at + ": no schema"
	}
	if len(s.Enum) > 0 {
		found := false
		for _, e := range s.Enum {
			found = found || e == v
		}
		if !found {
			return fmt.Sprintf("%s: %v is not one of %v", at, v, s.Enum)
		}
	}
	switch s.Type {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return at + ": not an object"
		}
		for _, r := range s.Required {
			if _, ok := m[r]; !ok {
				return at + ": missing " + r
			}
		}
		for k, val := range m {
			p, ok := s.Properties[k]
			if !ok {
				if s.AdditionalProperties != nil && !*s.AdditionalProperties {
					return at + ": unexpected member " + k
				}
				continue
			}
			if msg := d.check(p, val, at+"."+k); msg != "" {
				return msg
			}
		}
	case "array":
		list, ok := v.([]any)
		if !ok {
			return at + ": not an array"
		}
		for i, it := range list {
			if msg := d.check(s.Items, it, fmt.Sprintf("%s[%d]", at, i)); msg != "" {
				return msg
			}
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return at + ": not a string"
		}
		n := utf8.RuneCountInString(str)
		if (s.MinLength != nil && n < *s.MinLength) || (s.MaxLength != nil && n > *s.MaxLength) {
			return fmt.Sprintf("%s: length %d out of range", at, n)
		}
		if s.Pattern != "" && !regexp.MustCompile(s.Pattern).MatchString(str) {
			return fmt.Sprintf("%s: %q does not match %s", at, str, s.Pattern)
		}
		if s.Format == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				return fmt.Sprintf("%s: %q is not a date-time", at, str)
			}
		}
	case "integer", "number", "boolean":
		if s.Type == "boolean" {
			if _, ok := v.(bool); !ok {
				return at + ": not a boolean"
			}
			return ""
		}
		f, ok := v.(float64)
		if !ok || (s.Type == "integer" && f != float64(int64(f))) {
			return fmt.Sprintf("%s: %v is not an %s", at, v, s.Type)
		}
		if (s.Minimum != nil && f < *s.Minimum) || (s.Maximum != nil && f > *s.Maximum) {
			return fmt.Sprintf("%s: %v out of range", at, f)
		}
	}
	return ""
}

// extensionCall signs a call of an extension operation as the AWS SDK's v4 signer does,
// sends it, and checks request and response against the OpenAPI description: a request the
// description refuses must get a ValidationException, and every response must be one it
// describes for its status.
func extensionCall(t testing.TB, srv *server.Server, operation string, body any, s signing) rawResponse {
	t.Helper()
	doc := extensionsAPI(t)
	path := "/ivschatd/" + operation
	op, ok := doc.Paths[path]["post"]
	if !ok {
		t.Fatalf("the OpenAPI description has no POST %s", path)
	}
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	var asJSON any
	_ = json.Unmarshal(raw, &asJSON)
	requestProblem := doc.check(op.RequestBody.Content["application/json"].Schema, asJSON, "request")
	resp := send(t, srv, rawRequest{Method: http.MethodPost, Path: path, Body: raw}, s)
	if requestProblem != "" && (resp.Status != http.StatusBadRequest || resp.Header.Get("x-amzn-ErrorType") != "ValidationException") {
		t.Fatalf("%s: the description refuses the request (%s), the server answered %d %s", operation, requestProblem, resp.Status, resp.Body)
	}
	r := op.Responses[strconv.Itoa(resp.Status)]
	if r == nil {
		t.Fatalf("%s: status %d is not described (body %s)", operation, resp.Status, resp.Body)
	}
	if r.Ref != "" {
		r = doc.Components.Responses[strings.TrimPrefix(r.Ref, "#/components/responses/")]
	}
	var got any
	if err := json.Unmarshal(resp.Body, &got); err != nil {
		t.Fatalf("%s: body %q is not JSON", operation, resp.Body)
	}
	if msg := doc.check(r.Content["application/json"].Schema, got, "response"); msg != "" {
		t.Fatalf("%s: the response breaks the description: %s (status %d, body %s)", operation, msg, resp.Status, resp.Body)
	}
	return resp
}

func TestExtensionsOpenAPIDescribesEveryOperation(t *testing.T) {
	doc := extensionsAPI(t)
	for _, op := range []string{"BanUser", "UnbanUser", "ListBans", "ListRoomMessages"} {
		t.Run(op+" is described", func(t *testing.T) {
			if o, ok := doc.Paths["/ivschatd/"+op]["post"]; !ok || o.OperationID != op {
				t.Fatalf("no POST /ivschatd/%s with operationId %s", op, op)
			}
		})
	}
	t.Run("the checker refuses what breaks a schema", func(t *testing.T) {
		req := doc.Paths["/ivschatd/BanUser"]["post"].RequestBody.Content["application/json"].Schema
		for _, bad := range []string{`{}`, `{"roomIdentifier":"x","userId":"u"}`, `{"roomIdentifier":"arn:aws:ivschat:us-east-1:123456789012:room/abc","userId":""}`,
			`{"roomIdentifier":"arn:aws:ivschat:us-east-1:123456789012:room/abc","userId":"u","durationSeconds":0}`} {
			var v any
			_ = json.Unmarshal([]byte(bad), &v)
			if doc.check(req, v, "request") == "" {
				t.Fatalf("%s passed", bad)
			}
		}
	})
}
