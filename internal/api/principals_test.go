package api

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ivschatd/ivschatd/internal/chat"
)

func TestLoadCredentials(t *testing.T) {
	const principal = `{"accessKeyId":"AKIDA","secretAccessKey":"s","accountId":"111111111111"}`
	for _, tc := range []struct {
		rule    string
		file    string
		allow   map[string]chat.Allowance
		wantErr string // "" loads
	}{
		{"principals alone load, with no allowances", `{"principals":[` + principal + `]}`, map[string]chat.Allowance{}, ""},
		{"an account's allowance loads", `{"principals":[` + principal + `],"accounts":{"111111111111":{"allow":{"lambda":["arn:aws:lambda:*:999999999999:function:*"],"s3":["bucket-a"],"logs":["/ivs/*"],"firehose":["stream"]}}}}`,
			map[string]chat.Allowance{"111111111111": {Lambda: []string{"arn:aws:lambda:*:999999999999:function:*"}, S3: []string{"bucket-a"}, Logs: []string{"/ivs/*"}, Firehose: []string{"stream"}}}, ""},
		{"a misspelt top-level key is refused", `{"principals":[` + principal + `],"acounts":{}}`, nil, `unknown field "acounts"`},
		{"a misspelt key of a principal is refused", `{"principals":[{"accessKeyId":"AKIDA","secretAccessKey":"s","acountId":"111111111111"}]}`, nil, `unknown field "acountId"`},
		{"a misspelt kind of allowance is refused", `{"principals":[` + principal + `],"accounts":{"111111111111":{"allow":{"lamda":["x"]}}}}`, nil, `unknown field "lamda"`},
		{"an account entry with something besides allow is refused", `{"principals":[` + principal + `],"accounts":{"111111111111":{"deny":{}}}}`, nil, `unknown field "deny"`},
		{"an account id that is not 12 digits is refused", `{"principals":[` + principal + `],"accounts":{"1111":{"allow":{}}}}`, nil, `"1111" is not a 12-digit account id`},
		{"a lambda entry that is not a function ARN pattern is refused", `{"principals":[` + principal + `],"accounts":{"111111111111":{"allow":{"lambda":["*"]}}}}`, nil, `accounts.111111111111.allow.lambda`},
		{"an empty name is refused", `{"principals":[` + principal + `],"accounts":{"111111111111":{"allow":{"s3":[""]}}}}`, nil, `accounts.111111111111.allow.s3`},
		{"a null account entry is refused", `{"principals":[` + principal + `],"accounts":{"111111111111":null}}`, nil, `accounts.111111111111: null`},
		{"a second JSON value is refused", `{"principals":[` + principal + `]} {}`, nil, "more than one JSON value"},
		{"an empty principals list is refused", `{"principals":[]}`, nil, `"principals" lists no principal`},
		{"a file without principals is refused", `{}`, nil, `"principals" lists no principal`},
		{"a misspelt principals key is refused", `{"principal":[` + principal + `]}`, nil, `unknown field "principal"`},
		{"actions naming operations load", `{"principals":[{"accessKeyId":"AKIDA","secretAccessKey":"s","accountId":"111111111111","actions":["ivschat:CreateChatToken","ivschat:tagresource","ivschat:*","*"]}]}`, map[string]chat.Allowance{}, ""},
		{"an unknown action is refused, with the list of actions", `{"principals":[{"accessKeyId":"AKIDA","secretAccessKey":"s","accountId":"111111111111","actions":["ivschat:CreateChatTokens"]}]}`, nil, `action "ivschat:CreateChatTokens" names no operation; the actions are *, ivschat:*, ivschat:CreateChatToken`},
		{"extension actions load", `{"principals":[{"accessKeyId":"AKIDA","secretAccessKey":"s","accountId":"111111111111","actions":["ivschatd:BanUser","ivschatd:listbans","ivschatd:*"]}]}`, map[string]chat.Allowance{}, ""},
		{"an unknown extension action is refused", `{"principals":[{"accessKeyId":"AKIDA","secretAccessKey":"s","accountId":"111111111111","actions":["ivschatd:BanUsers"]}]}`, nil, `action "ivschatd:BanUsers" names no operation`},
		{"an IVS operation is not an extension action", `{"principals":[{"accessKeyId":"AKIDA","secretAccessKey":"s","accountId":"111111111111","actions":["ivschatd:CreateRoom"]}]}`, nil, `action "ivschatd:CreateRoom" names no operation`},
		{"an action of another service is refused", `{"principals":[{"accessKeyId":"AKIDA","secretAccessKey":"s","accountId":"111111111111","actions":["s3:GetObject"]}]}`, nil, `action "s3:GetObject" names no operation`},
		{"an action without a namespace is refused", `{"principals":[{"accessKeyId":"AKIDA","secretAccessKey":"s","accountId":"111111111111","actions":["CreateRoom"]}]}`, nil, `action "CreateRoom" names no operation`},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "credentials.json")
			if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := LoadCredentials(path, "123456789012")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Principals["AKIDA"] == nil || !reflect.DeepEqual(c.Allow, tc.allow) {
				t.Fatalf("loaded %+v, allow %+v; want allow %+v", c.Principals, c.Allow, tc.allow)
			}
		})
	}
}

func TestPrincipalAllows(t *testing.T) {
	tests := []struct {
		rule      string
		actions   []string
		operation string
		want      bool
	}{
		{"no list allows an IVS operation", nil, "CreateRoom", true},
		{"no list allows an extension operation", nil, "ivschatd:BanUser", true},
		{"* allows both", []string{"*"}, "ivschatd:BanUser", true},
		{"ivschat:* allows an IVS operation", []string{"ivschat:*"}, "CreateRoom", true},
		{"ivschat:* does not allow an extension operation", []string{"ivschat:*"}, "ivschatd:BanUser", false},
		{"ivschatd:* allows an extension operation", []string{"ivschatd:*"}, "ivschatd:ListBans", true},
		{"ivschatd:* does not allow an IVS operation", []string{"ivschatd:*"}, "CreateRoom", false},
		{"an extension action allows its operation", []string{"ivschatd:BanUser"}, "ivschatd:BanUser", true},
		{"an extension action allows only its operation", []string{"ivschatd:BanUser"}, "ivschatd:UnbanUser", false},
		{"ivschat:BanUser is not the extension's action", []string{"ivschat:BanUser"}, "ivschatd:BanUser", false},
		{"actions match in any case, as IAM's do", []string{"IVSCHATD:banuser"}, "ivschatd:BanUser", true},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			p := &Principal{Actions: tc.actions}
			if got := p.Allows(tc.operation); got != tc.want {
				t.Fatalf("Allows(%q) with %q = %v", tc.operation, tc.actions, got)
			}
		})
	}
}
