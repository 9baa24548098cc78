package chat

import (
	"fmt"
	"strings"
)

// Reach decides which outside resources an account's rooms and logging configurations may
// name: the Lambda function the server invokes to review messages, and the bucket, log group
// or delivery stream it writes chat logs to. The server reaches them with the operator's AWS
// credentials, not the caller's, so without this rule a tenant could make the server act as
// itself toward resources of other accounts.
//
// In a single-account setup the one account is the operator's: it owns every function and
// destination the server's credentials reach, whatever account a function's ARN names (the
// default --account-id is a placeholder). With several accounts, an account owns the
// functions whose ARN names it; a destination's name carries no account, so an account may
// name only the destinations the operator allows it. Allow widens an account's reach in
// either case.
type Reach struct {
	SingleAccount bool
	Allow         map[string]Allowance
}

// Allowance is what the operator lets one account name beyond its own. Each entry is a name,
// or a pattern in which '*' stands for any run of characters within one ':'-separated field.
// A Lambda entry names functions: a version or alias of an allowed function is allowed too.
type Allowance struct {
	Lambda   []string `json:"lambda"`
	S3       []string `json:"s3"`
	Logs     []string `json:"logs"`
	Firehose []string `json:"firehose"`
}

// Validate checks an allowance as an operator wrote it.
func (a Allowance) Validate() error {
	for _, l := range []struct {
		name     string
		patterns []string
	}{{"lambda", a.Lambda}, {"s3", a.S3}, {"logs", a.Logs}, {"firehose", a.Firehose}} {
		for _, p := range l.patterns {
			switch {
			case strings.TrimSpace(p) != p || p == "":
				return fmt.Errorf("allow.%s: %q is not a name or pattern", l.name, p)
			case l.name == "lambda" && !strings.HasPrefix(p, "arn:aws:lambda:"):
				return fmt.Errorf("allow.lambda: %q is not a Lambda function ARN pattern (arn:aws:lambda:<region>:<account>:function:<name>)", p)
			}
		}
	}
	return nil
}

// CheckReviewHandler refuses a review handler the account may not name. An empty uri names
// none.
func (r *Reach) CheckReviewHandler(account, uri string) error {
	if uri == "" || r.SingleAccount || lambdaAccount(uri) == account || matchAny(r.Allow[account].Lambda, unqualified(uri)) {
		return nil
	}
	return AccessDenied(fmt.Sprintf("account %s may not use Lambda function %s as a message review handler: "+
		"the function belongs to another account and the operator has not allowed it", account, uri))
}

// CheckDestination refuses a chat-log destination the account may not name.
func (r *Reach) CheckDestination(account string, d Destination) error {
	if r.SingleAccount {
		return nil
	}
	allow := r.Allow[account]
	var kind, name string
	var patterns []string
	switch {
	case d.S3 != nil:
		kind, name, patterns = "S3 bucket", d.S3.BucketName, allow.S3
	case d.CloudWatchLogs != nil:
		kind, name, patterns = "CloudWatch Logs log group", d.CloudWatchLogs.LogGroupName, allow.Logs
	case d.Firehose != nil:
		kind, name, patterns = "Firehose delivery stream", d.Firehose.DeliveryStreamName, allow.Firehose
	default:
		return nil
	}
	if matchAny(patterns, name) {
		return nil
	}
	return AccessDenied(fmt.Sprintf("account %s may not ship chat logs to %s %s: "+
		"the operator has not allowed it to this account", account, kind, name))
}

// lambdaAccount is the account a Lambda function ARN names, or "" for anything else.
func lambdaAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" || parts[2] != "lambda" {
		return ""
	}
	return parts[4]
}

// unqualified is a Lambda function ARN without its version or alias.
func unqualified(arn string) string {
	parts := strings.SplitN(arn, ":", 8)
	return strings.Join(parts[:min(len(parts), 7)], ":")
}

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if matchPattern(p, s) {
			return true
		}
	}
	return false
}

// matchPattern reports whether s matches p, where '*' matches any run of characters but ':',
// so that a wildcard stays within one field of an ARN.
func matchPattern(p, s string) bool {
	for len(p) > 0 {
		if p[0] == '*' {
			p = strings.TrimLeft(p, "*")
			for i := 0; ; i++ {
				if matchPattern(p, s[i:]) {
					return true
				}
				if i == len(s) || s[i] == ':' {
					return false
				}
			}
		}
		if len(s) == 0 || s[0] != p[0] {
			return false
		}
		p, s = p[1:], s[1:]
	}
	return s == ""
}
