package api

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Principal is a caller of the control plane: a key pair in an account, allowed some actions.
type Principal struct {
	AccessKeyID     string   `json:"accessKeyId"`
	SecretAccessKey string   `json:"secretAccessKey"`
	SessionToken    string   `json:"sessionToken,omitempty"`
	AccountID       string   `json:"accountId"`
	Actions         []string `json:"actions,omitempty"`
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

// credentialsFile is the format of --credentials.
type credentialsFile struct {
	Principals []*Principal `json:"principals"`
}

// LoadPrincipals reads a credentials file: {"principals":[{"accessKeyId", "secretAccessKey",
// "accountId", "sessionToken"?, "actions"?}]}. A principal without accountId belongs to
// defaultAccount.
func LoadPrincipals(path, defaultAccount string) (Principals, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("credentials file: %w", err)
	}
	var f credentialsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("credentials file %s: %w", path, err)
	}
	ps := Principals{}
	for i, p := range f.Principals {
		if p.AccountID == "" {
			p.AccountID = defaultAccount
		}
		if err := ps.Add(p); err != nil {
			return nil, fmt.Errorf("credentials file %s, principal %d: %w", path, i+1, err)
		}
	}
	return ps, nil
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
	ps[p.AccessKeyID] = p
	return nil
}
