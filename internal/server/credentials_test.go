package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCredentialsFor(t *testing.T) {
	write := func(t *testing.T, body string) string {
		path := filepath.Join(t.TempDir(), "credentials.json")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	const a, b = `{"accessKeyId":"AKIDA","secretAccessKey":"s","accountId":"111111111111"}`, `{"accessKeyId":"AKIDB","secretAccessKey":"s","accountId":"222222222222"}`
	for _, tc := range []struct {
		rule         string
		file         string // "" for none
		envKey       bool   // IVSCHATD_ACCESS_KEY_ID/SECRET of --account-id
		wantSingle   bool
		wantDev      bool
		wantErrorHas string
	}{
		{"the development pair alone is a single-account setup", "", false, true, true, ""},
		{"one environment principal is a single-account setup", "", true, true, false, ""},
		{"principals of one account are a single-account setup", `{"principals":[` + a + `,{"accessKeyId":"AKIDA2","secretAccessKey":"s","accountId":"111111111111"}]}`, false, true, false, ""},
		{"principals of two accounts are not", `{"principals":[` + a + `,` + b + `]}`, false, false, false, ""},
		{"a file principal and an environment principal of another account are not", `{"principals":[` + a + `]}`, true, false, false, ""},
		{"an allowance for an account no principal belongs to is refused", `{"principals":[` + a + `],"accounts":{"333333333333":{"allow":{"s3":["b"]}}}}`, false, false, false,
			"accounts.333333333333: no principal belongs to this account"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			cfg := DefaultConfig()
			if tc.file != "" {
				cfg.CredentialsFile = write(t, tc.file)
			}
			if tc.envKey {
				cfg.AccessKeyID, cfg.SecretAccessKey = "AKIDENV", "s"
			}
			_, reach, dev, err := credentialsFor(cfg)
			if tc.wantErrorHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrorHas) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErrorHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if reach.SingleAccount != tc.wantSingle || dev != tc.wantDev {
				t.Fatalf("single account %v, development pair %v; want %v, %v", reach.SingleAccount, dev, tc.wantSingle, tc.wantDev)
			}
		})
	}
}
