package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ivschatd/ivschatd/internal/server"
)

func TestAdminListener(t *testing.T) {
	srv := startServer(t, nil)
	admin := srv.AdminURL()
	if admin == "" || admin == srv.URL() {
		t.Fatalf("admin URL %q beside API URL %q", admin, srv.URL())
	}
	for _, tt := range []struct {
		name, base, path string
		wantStatus       int
		wantIn           string
	}{
		{"admin /healthz answers ok", admin, "/healthz", 200, "ok"},
		{"main /healthz stays for load balancers", srv.URL(), "/healthz", 200, "ok"},
		{"admin /readyz says every part is ready", admin, "/readyz", 200, `"ready":true`},
		{"admin /metrics has the Go runtime collector", admin, "/metrics", 200, "go_goroutines"},
		{"admin /metrics has the process collector", admin, "/metrics", 200, "process_cpu_seconds_total"},
		{"admin /metrics has the node's own metrics", admin, "/metrics", 200, "ivschatd_connections"},
		{"admin serves Go's profiles", admin, "/debug/pprof/", 200, "goroutine"},
		{"the main listener does not serve profiles", srv.URL(), "/debug/pprof/", 404, "no operation at"},
		{"the main listener does not serve metrics", srv.URL(), "/metrics", 404, "no operation at"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := get(t, tt.base+tt.path)
			if status != tt.wantStatus || !strings.Contains(body, tt.wantIn) {
				t.Errorf("GET %s: %d, want %d with %q; body %.300s", tt.path, status, tt.wantStatus, tt.wantIn, body)
			}
		})
	}
	t.Run("readyz names every part", func(t *testing.T) {
		_, body := get(t, admin+"/readyz")
		var rd struct {
			Ready bool
			Parts map[string]string
		}
		if err := json.Unmarshal([]byte(body), &rd); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for p, v := range rd.Parts {
			parts = append(parts, p+"="+v)
		}
		sort.Strings(parts)
		if got := strings.Join(parts, " "); got != "engine=ok listeners=ok store=ok" {
			t.Errorf("parts %s", got)
		}
	})
}

func TestAdminListenerRefusesPublicAddressWithDevelopmentCredentials(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.AdminAddr, cfg.DataDir = "127.0.0.1:0", "0.0.0.0:0", t.TempDir()
	srv, err := server.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		_ = srv.Shutdown(context.Background())
		t.Fatal("a public admin address with the development credentials was accepted")
	}
	if !strings.Contains(err.Error(), "0.0.0.0:0") || !strings.Contains(err.Error(), "development credentials") {
		t.Errorf("error %q does not name the address and the reason", err)
	}
}

func TestAdminListenerOff(t *testing.T) {
	srv := startServer(t, func(c *server.Config) { c.AdminAddr = "" })
	if u := srv.AdminURL(); u != "" {
		t.Errorf("admin URL %q with an empty --admin-addr", u)
	}
}

func get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// scrape reads a node's metrics, keyed by name and labels as Prometheus writes them:
// `ivschatd_connects_total{result="accepted"}`.
func scrape(t testing.TB, srv *server.Server) map[string]float64 {
	t.Helper()
	resp, err := http.Get(srv.AdminURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("metrics are not in the text exposition format: %v", err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.Metric {
			key := name + labelsOf(m)
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[name+"_count"+labelsOf(m)] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

func labelsOf(m *dto.Metric) string {
	if len(m.Label) == 0 {
		return ""
	}
	var parts []string
	for _, l := range m.Label {
		parts = append(parts, l.GetName()+`="`+l.GetValue()+`"`)
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

func TestReadinessDuringShutdown(t *testing.T) {
	// A member that does not leave holds the drain open for as long as DrainTimeout.
	srv := startServer(t, func(c *server.Config) { c.Gateway.DrainTimeout = time.Minute })
	c := devClient(srv)
	room := newRoom(t, c, &ivschat.CreateRoomInput{})
	m := join(t, srv, newToken(t, c, room.Arn, "stays"))
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()

	// Shutdown runs on its own goroutine: poll until it has begun.
	status, body := get(t, srv.AdminURL()+"/readyz")
	for deadline := time.Now().Add(30 * time.Second); status == http.StatusOK && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		status, body = get(t, srv.AdminURL()+"/readyz")
	}
	if status != http.StatusServiceUnavailable || !strings.Contains(body, `"notReady":["listeners"]`) {
		t.Errorf("readyz while draining: %d %s, want 503 naming the listeners", status, body)
	}
	_ = m.ws.Close()
	if err := <-done; err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

func TestAdminListenerServesOnlyLoopbackHostsWithDevelopmentCredentials(t *testing.T) {
	srv := startServer(t, nil)
	req, err := http.NewRequest("GET", srv.AdminURL()+"/metrics", nil)
	mustNoErr(t, err)
	req.Host = "attacker.example"
	resp, err := http.DefaultClient.Do(req)
	mustNoErr(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET /metrics for Host attacker.example: %d, want 403", resp.StatusCode)
	}
}
