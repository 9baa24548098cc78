package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// Principal is a caller of the control plane: a key pair in an account, allowed some actions.
type Principal struct {
	AccessKeyID     string   `json:"accessKeyId"`
	SecretAccessKey string   `json:"secretAccessKey"`
	SessionToken    string   `json:"sessionToken,omitempty"`
	AccountID       string   `json:"accountId"`
	Actions         []string `json:"actions,omitempty"`
}

// Action namespaces: each maps to whether it has an operation of a name. ivschatd's own
// extension operations will be a second namespace, "ivschatd".
var actionNamespaces = map[string]func(operation string) bool{
	"ivschat": isOperation,
}

// isOperation reports whether an operation has the name, in any case (as IAM compares actions).
func isOperation(name string) bool {
	for op := range operations {
		if strings.EqualFold(op, name) {
			return true
		}
	}
	for _, t := range tagOperations {
		if strings.EqualFold(t.name, name) {
			return true
		}
	}
	return false
}

// Actions lists every action a principal's "actions" may name: "*", each namespace's
// wildcard and each of its operations.
func Actions() []string {
	out := []string{"*"}
	for ns := range actionNamespaces {
		out = append(out, ns+":*")
		for name := range operations {
			out = append(out, ns+":"+name)
		}
		for _, t := range tagOperations {
			out = append(out, ns+":"+t.name)
		}
	}
	slices.Sort(out)
	return out
}

// checkAction refuses an action that names no operation, so that a typo does not silently
// deny what it meant to allow.
func checkAction(a string) error {
	if a == "*" {
		return nil
	}
	ns, op, found := strings.Cut(a, ":")
	for name, has := range actionNamespaces {
		if found && strings.EqualFold(ns, name) && (op == "*" || has(op)) {
			return nil
		}
	}
	return fmt.Errorf("action %q names no operation; the actions are %s", a, strings.Join(Actions(), ", "))
}

// Allows reports whether the principal may call an operation. No list means every action;
// "ivschat:*" and "*" also allow everything.
func (p *Principal) Allows(operation string) bool {
	if len(p.Actions) == 0 {
		return true
	}
	for _, a := range p.Actions {
		if a == "*" || a == "ivschat:*" || strings.EqualFold(a, "ivschat:"+operation) {
			return true
		}
	}
	return false
}

// Principals is the set of known callers, by access key id.
type Principals map[string]*Principal

// Development credentials, accepted only while no others are configured and the server
// listens on loopback.
const (
	DevAccessKeyID     = "ivschatd-dev"
	DevSecretAccessKey = "ivschatd-dev-secret"
)

var accountPattern = regexp.MustCompile(`^[0-9]{12}$`)

// Credentials is what a credentials file configures: who may call, and what each account's
// rooms and logging configurations may name beyond the account's own (see chat.Reach).
type Credentials struct {
	Principals Principals
	Allow      map[string]chat.Allowance
}

// credentialsFile is the format of --credentials.
type credentialsFile struct {
	Principals []*Principal             `json:"principals"`
	Accounts   map[string]*accountEntry `json:"accounts"`
}

type accountEntry struct {
	Allow chat.Allowance `json:"allow"`
}

// LoadCredentials reads a credentials file:
//
//	{"principals": [{"accessKeyId", "secretAccessKey", "accountId"?, "sessionToken"?, "actions"?}],
//	 "accounts": {"<account id>": {"allow": {"lambda": [...], "s3": [...], "logs": [...], "firehose": [...]}}}}
//
// A principal without accountId belongs to defaultAccount. Unknown keys are refused, so that a
// misspelt one does not silently mean something weaker. That every listed account has a
// principal is for the caller to check, once it knows every principal.
func LoadCredentials(path, defaultAccount string) (*Credentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("credentials file: %w", err)
	}
	var f credentialsFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("credentials file %s: %w", path, err)
	}
	if dec.Decode(new(json.RawMessage)) != io.EOF {
		return nil, fmt.Errorf("credentials file %s: more than one JSON value", path)
	}
	if len(f.Principals) == 0 {
		return nil, fmt.Errorf(`credentials file %s: "principals" lists no principal; list at least one (without any, the file would leave the server with no callers)`, path)
	}
	c := &Credentials{Principals: Principals{}, Allow: map[string]chat.Allowance{}}
	for i, p := range f.Principals {
		if p == nil {
			return nil, fmt.Errorf("credentials file %s, principal %d: null", path, i+1)
		}
		if p.AccountID == "" {
			p.AccountID = defaultAccount
		}
		if err := c.Principals.Add(p); err != nil {
			return nil, fmt.Errorf("credentials file %s, principal %d: %w", path, i+1, err)
		}
	}
	for account, e := range f.Accounts {
		if !accountPattern.MatchString(account) {
			return nil, fmt.Errorf("credentials file %s: accounts: %q is not a 12-digit account id", path, account)
		}
		if e == nil {
			return nil, fmt.Errorf("credentials file %s: accounts.%s: null", path, account)
		}
		if err := e.Allow.Validate(); err != nil {
			return nil, fmt.Errorf("credentials file %s: accounts.%s.%w", path, account, err)
		}
		c.Allow[account] = e.Allow
	}
	return c, nil
}

// Accounts are the accounts of the principals, each once.
func (ps Principals) Accounts() map[string]bool {
	accounts := map[string]bool{}
	for _, p := range ps {
		accounts[p.AccountID] = true
	}
	return accounts
}

// Add registers a principal after checking it.
func (ps Principals) Add(p *Principal) error {
	switch {
	case p.AccessKeyID == "":
		return fmt.Errorf("accessKeyId is empty")
	case p.SecretAccessKey == "":
		return fmt.Errorf("secretAccessKey of %s is empty", p.AccessKeyID)
	case !accountPattern.MatchString(p.AccountID):
		return fmt.Errorf("accountId of %s must be 12 digits, got %q", p.AccessKeyID, p.AccountID)
	case ps[p.AccessKeyID] != nil:
		return fmt.Errorf("access key id %s is listed twice", p.AccessKeyID)
	}
	for _, a := range p.Actions {
		if err := checkAction(a); err != nil {
			return fmt.Errorf("actions of %s: %w", p.AccessKeyID, err)
		}
	}
	ps[p.AccessKeyID] = p
	return nil
}
