package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/service"
)

// Invoke runs one control-plane operation for an account on behalf of another transport of
// the same operations, the web console: the request body, the service call and the answer are
// those of a signed call to POST /<operation>. The caller has authenticated the principal and
// checked that it allows the operation. The tag operations take their resource in the body:
// {"resourceArn": ..., "tags": {...}} or {"resourceArn": ..., "tagKeys": [...]}. Extension
// operations are named by their action, ivschatd:<Operation>.
func Invoke(ctx context.Context, s *service.Service, account, operation string, body []byte) (status int, result any, err error) {
	c := &call{ctx: ctx, account: account, body: body}
	if op, found := operations[operation]; found {
		return op(s, c)
	}
	if ext, isExt := strings.CutPrefix(operation, chat.ExtensionActionPrefix); isExt {
		if op, found := extensionOperations[ext]; found {
			return op(s, c)
		}
	}
	for _, t := range tagOperations {
		if t.name != operation {
			continue
		}
		var in struct {
			ResourceARN string   `json:"resourceArn"`
			TagKeys     []string `json:"tagKeys"`
		}
		if err := decode(body, &in); err != nil {
			return 0, nil, err
		}
		c.resourceARN, c.tagKeys = in.ResourceARN, in.TagKeys
		return t.op(s, c)
	}
	return 0, nil, chat.Invalid(chat.FieldError{Name: "operation", Message: fmt.Sprintf("%q is not an IVS Chat operation", operation)})
}

// NotAuthorized is the refusal of an operation the principal's actions do not allow.
func NotAuthorized(p *Principal, operation string) error {
	return chat.AccessDenied(fmt.Sprintf("User %s is not authorized to perform %s", p.AccessKeyID, action(operation)))
}

// WriteResult answers with an operation's result as the control plane does.
func WriteResult(w http.ResponseWriter, status int, result any) {
	if status == http.StatusNoContent || result == nil {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(result)
}
