package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ivschatd/ivschatd/test/sdkclient"
)

// docBlock is the fenced block that follows `<!-- name -->` in docs/deployment.md.
func docBlock(t *testing.T, name string) string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/deployment.md")
	mustNoErr(t, err)
	m := regexp.MustCompile("(?s)<!-- " + regexp.QuoteMeta(name) + " -->\n```[a-z]*\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatalf("docs/deployment.md has no block marked <!-- %s -->", name)
	}
	return string(m[1])
}

func TestDeploymentGuideSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("systemd-analyze is not installed; scripts/test installs Debian's systemd")
		}
		t.Skip("systemd-analyze is not installed")
	}
	unit := docBlock(t, "unit: ivschatd.service")
	const installed = "/usr/local/bin/ivschatd"
	if !strings.Contains(unit, "ExecStart="+installed+" ") {
		t.Fatalf("the unit does not start %s:\n%s", installed, unit)
	}
	// verify checks that ExecStart's binary exists: point it at the one built here.
	bin := sdkclient.BuildIVSChatd(t)
	file := filepath.Join(t.TempDir(), "ivschatd.service")
	mustNoErr(t, os.WriteFile(file, []byte(strings.Replace(unit, installed, bin, 1)), 0o644))
	out, err := exec.Command(analyze, "verify", "--man=no", file).CombinedOutput()
	if err != nil || strings.Contains(string(out), "ivschatd.service") {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	t.Run("the guide's configuration file loads", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "ivschatd.yaml")
		mustNoErr(t, os.WriteFile(cfg, []byte(docBlock(t, "config: ivschatd.yaml")), 0o600))
		out, err := exec.Command(bin, "config", "--config", cfg).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "tls-cert: /etc/ivschatd/tls/fullchain.pem") {
			t.Errorf("ivschatd config: %v\n%s", err, out)
		}
	})
}
