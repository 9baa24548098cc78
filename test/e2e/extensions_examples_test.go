package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/ivschatd/ivschatd/internal/api"
)

// callExtension is the Go example of docs/extensions.md: an extension operation, signed with
// the AWS SDK's v4 signer exactly as the IVS Chat client signs the control plane.
func callExtension(ctx context.Context, endpoint string, creds aws.Credentials, operation string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/ivschatd/"+operation, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "ivschat", "us-east-1", time.Now()); err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		// The error's code is in x-amzn-ErrorType, its message in the body.
		return fmt.Errorf("%s: %s %s", operation, resp.Header.Get("x-amzn-ErrorType"), answer)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(answer, out)
}

func TestExtensionExamples(t *testing.T) {
	srv := startServer(t, nil)
	c := devClient(srv)
	ctx := context.Background()
	arn := aws.ToString(newRoom(t, c, nil).Arn)
	creds := aws.Credentials{AccessKeyID: api.DevAccessKeyID, SecretAccessKey: api.DevSecretAccessKey}

	t.Run("Go: the SDK's v4 signer", func(t *testing.T) {
		var ban struct{ UserID, ExpireTime string }
		if err := callExtension(ctx, srv.URL(), creds, "BanUser", map[string]any{"roomIdentifier": arn, "userId": "go-user", "durationSeconds": 3600}, &ban); err != nil {
			t.Fatal(err)
		}
		if ban.UserID != "go-user" || ban.ExpireTime == "" {
			t.Fatalf("ban %+v", ban)
		}
		if err := callExtension(ctx, srv.URL(), creds, "UnbanUser", map[string]any{"roomIdentifier": arn, "userId": "go-user"}, nil); err != nil {
			t.Fatal(err)
		}
		err := callExtension(ctx, srv.URL(), creds, "BanUser", map[string]any{"roomIdentifier": arn, "userId": "go-user", "durationSeconds": 0}, nil)
		if err == nil || !strings.Contains(err.Error(), "ValidationException") {
			t.Fatalf("error %v, want a ValidationException", err)
		}
	})
	t.Run("Python: botocore's SigV4Auth", func(t *testing.T) {
		cmd := exec.Command("python3", "py/extensions.py", srv.URL(), arn, "py-user")
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+api.DevAccessKeyID, "AWS_SECRET_ACCESS_KEY="+api.DevSecretAccessKey)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("python3 py/extensions.py: %v\n%s", err, out)
		}
		var got []string
		for sc := bufio.NewScanner(bytes.NewReader(out)); sc.Scan(); {
			var line struct {
				Operation string
				Status    int
				Answer    map[string]any
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			got = append(got, fmt.Sprintf("%s %d %v", line.Operation, line.Status, line.Answer["userId"] != nil || line.Answer["bans"] != nil || line.Answer["code"] != nil))
		}
		want := []string{"BanUser 200 true", "ListBans 200 true", "UnbanUser 200 false", "BanUser 400 true"}
		if strings.Join(got, "; ") != strings.Join(want, "; ") {
			t.Fatalf("got %q, want %q\n%s", got, want, out)
		}
	})
}

// The code blocks of docs/extensions.md marked <!-- excerpt: FILE --> are FILE's lines, in
// order: the documentation shows tested code.
func TestExtensionDocsExcerpts(t *testing.T) {
	doc, err := os.ReadFile("../../docs/extensions.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := 0
	lines := strings.Split(string(doc), "\n")
	for i := 0; i < len(lines); i++ {
		file, ok := strings.CutPrefix(lines[i], "<!-- excerpt: ")
		if !ok {
			continue
		}
		file = strings.TrimSuffix(file, " -->")
		src, err := os.ReadFile("../../" + file)
		if err != nil {
			t.Fatalf("excerpt of %s: %v", file, err)
		}
		srcLines := strings.Split(string(src), "\n")
		at := 0
		for i += 2; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
			l := lines[i]
			if strings.TrimSpace(l) == "// …" || strings.TrimSpace(l) == "# …" {
				continue
			}
			for at < len(srcLines) && srcLines[at] != l {
				at++
			}
			if at == len(srcLines) {
				t.Fatalf("docs/extensions.md line %d is not in %s (in order): %q", i+1, file, l)
			}
			at++
		}
		blocks++
	}
	if blocks < 3 {
		t.Fatalf("%d excerpts, want the Go, Python and JavaScript examples", blocks)
	}
}
