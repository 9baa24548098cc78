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

// Action namespaces, each with the names of its operations: the IVS Chat model's, and
// ivschatd's own extension operations (docs/extensions.md).
var actionNamespaces = map[string]func() []string{
	"ivschat":  ivsOperationNames,
	"ivschatd": extensionOperationNames,
}

func ivsOperationNames() []string {
	var out []string
	for name := range operations {
		out = append(out, name)
	}
	for _, t := range tagOperations {
		out = append(out, t.name)
	}
	return out
}

func extensionOperationNames() []string {
	var out []string
	for name := range extensionOperations {
		out = append(out, name)
	}
	return out
}

// Actions lists every action a principal's "actions" may name: "*", each namespace's
// wildcard and each of its operations.
func Actions() []string {
	out := []string{"*"}
	for ns, names := range actionNamespaces {
		out = append(out, ns+":*")
		for _, name := range names() {
			out = append(out, ns+":"+name)
		}
	}
	slices.Sort(out)
	return out
}

// checkAction refuses an action that names no operation, so that a typo does not silently
// deny what it meant to allow. Names compare in any case, as IAM compares actions.
func checkAction(a string) error {
	if a == "*" {
		return nil
	}
	ns, op, found := strings.Cut(a, ":")
	for name, names := range actionNamespaces {
		if found && strings.EqualFold(ns, name) && (op == "*" || slices.ContainsFunc(names(), func(n string) bool { return strings.EqualFold(n, op) })) {
			return nil
		}
	}
	return fmt.Errorf("action %q names no operation; the actions are %s", a, strings.Join(Actions(), ", "))
}

// Allows reports whether the principal may call an operation: an IVS one by its name
// (CreateRoom), an extension one by its action (ivschatd:BanUser). No list means every
// action; "*" also allows everything; "ivschat:*" allows the IVS operations, "ivschatd:*"
// the extensions.
func (p *Principal) Allows(operation string) bool {
	if len(p.Actions) == 0 {
		return true
	}
	act := action(operation)
	all := "ivschat:*"
	if strings.HasPrefix(act, chat.ExtensionActionPrefix) {
		all = chat.ExtensionActionPrefix + "*"
	}
	for _, a := range p.Actions {
		if a == "*" || a == all || strings.EqualFold(a, act) {
			return true
		}
	}
	return false
}

// action is the IAM-style action of an operation: ivschat:<Operation> for the IVS ones;
// extension operations are already named by theirs.
func action(operation string) string {
	if strings.HasPrefix(operation, chat.ExtensionActionPrefix) {
		return operation
	}
	return "ivschat:" + operation
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
