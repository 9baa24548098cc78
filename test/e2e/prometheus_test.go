package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"

	"github.com/ivschatd/ivschatd/test/sdkclient"
)

// TestPrometheusScrapesANode runs Debian's prometheus against a node under a little load and
// reads the series back through Prometheus's own HTTP API.
func TestPrometheusScrapesANode(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("prometheus is not installed; scripts/test installs Debian's package")
		}
		t.Skip("prometheus is not installed (scripts/test installs Debian's package)")
	}
	srv := startServer(t, nil)
	target := strings.TrimPrefix(srv.AdminURL(), "http://")

	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	mustNoErr(t, os.WriteFile(config, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: ivschatd
    static_configs:
      - targets: [%q]
`, target)), 0o600))
	port := freePort(t)
	cmd := exec.Command(bin, "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port))
	var logs sdkclient.LockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	mustNoErr(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", logs.String())
		}
	})
	api := "http://127.0.0.1:" + strconv.Itoa(port)

	// A little load: two members, five messages, one control-plane error.
	c := devClient(srv)
	room := newRoom(t, c, &ivschat.CreateRoomInput{MaximumMessageRatePerSecond: aws.Int32(100)})
	alice := join(t, srv, newToken(t, c, room.Arn, "alice", capSend))
	bob := join(t, srv, newToken(t, c, room.Arn, "bob"))
	for i := range 5 {
		alice.send(map[string]any{"Action": "SEND_MESSAGE", "RequestId": strconv.Itoa(i), "Content": "hi"})
		alice.next()
		bob.next()
	}
	_, _ = c.GetRoom(t.Context(), &ivschat.GetRoomInput{Identifier: aws.String("nonsense")})

	for _, tt := range []struct{ query, want string }{
		{`up{job="ivschatd"}`, "1"},
		{`ivschatd_connections`, "2"},
		{`ivschatd_rooms_active`, "1"},
		{`ivschatd_messages_total{outcome="delivered"}`, "5"},
		{`ivschatd_deliveries_total`, "10"},
		{`sum(ivschatd_api_requests_total{operation="GetRoom",code="400"})`, "1"},
		{`ivschatd_connects_total{result="accepted"}`, "2"},
		{`count(go_goroutines) > 0`, "1"},
		{`count(process_resident_memory_bytes) > 0`, "1"},
	} {
		t.Run(tt.query, func(t *testing.T) {
			eventually(t, 60*time.Second, func() error {
				got, err := promQuery(api, tt.query)
				if err != nil {
					return err
				}
				if got != tt.want {
					return fmt.Errorf("%s = %q, want %q", tt.query, got, tt.want)
				}
				return nil
			})
		})
	}
}

// promQuery evaluates an instant query and returns its single value ("" when empty).
func promQuery(api, query string) (string, error) {
	resp, err := http.Get(api + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Status string
		Error  string
		Data   struct {
			Result []struct {
				Value [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", err
	}
	if out.Status != "success" {
		return "", fmt.Errorf("query %s: %s", query, out.Error)
	}
	if len(out.Data.Result) != 1 {
		return "", fmt.Errorf("query %s: %d series", query, len(out.Data.Result))
	}
	v, _ := out.Data.Result[0].Value[1].(string)
	return v, nil
}

// freePort is a loopback port nothing listens on at the moment.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	mustNoErr(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
