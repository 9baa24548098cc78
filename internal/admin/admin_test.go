package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestReadyz(t *testing.T) {
	ok := func(context.Context) error { return nil }
	storeFull := func(context.Context) error { return errors.New("store does not accept writes: no space left") }
	hangs := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	tests := []struct {
		name         string
		checks       []Check
		wantStatus   int
		wantNotReady []string
	}{
		{"every part ready answers 200", []Check{{"engine", ok}, {"listeners", ok}}, http.StatusOK, nil},
		{"a part not ready answers 503 naming it", []Check{{"engine", ok}, {"store", storeFull}, {"listeners", ok}}, http.StatusServiceUnavailable, []string{"store"}},
		{"a part that cannot answer in time is not ready", []Check{{"engine", hangs}, {"listeners", ok}}, http.StatusServiceUnavailable, []string{"engine"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(http.NotFoundHandler(), tt.checks...)
			rec := httptest.NewRecorder()
			start := time.Now()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
			if took := time.Since(start); took > CheckTimeout+2*time.Second {
				t.Errorf("readyz took %v, more than its bound %v", took, CheckTimeout)
			}
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var got Readiness
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body is not JSON: %v: %s", err, rec.Body)
			}
			if got.Ready != (tt.wantStatus == http.StatusOK) || !slices.Equal(got.NotReady, tt.wantNotReady) {
				t.Errorf("readiness %+v, want notReady %v", got, tt.wantNotReady)
			}
			for _, c := range tt.checks {
				msg, found := got.Parts[c.Part]
				if !found {
					t.Errorf("part %s missing from %+v", c.Part, got.Parts)
				}
				if want := slices.Contains(tt.wantNotReady, c.Part); want == (msg == "ok") {
					t.Errorf("part %s says %q", c.Part, msg)
				}
			}
		})
	}
}

func TestAdminRoutes(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("m 1\n")) })
	h := New(metrics)
	h.Handle("GET /console/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("console")) }))
	for _, tt := range []struct{ path, wantBody string }{
		{"/metrics", "m 1\n"},
		{"/healthz", "ok\n"},
		{"/console/", "console"},
	} {
		t.Run(tt.path+" is served", func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
			if rec.Code != http.StatusOK || rec.Body.String() != tt.wantBody {
				t.Errorf("%d %q, want 200 %q", rec.Code, rec.Body, tt.wantBody)
			}
		})
	}
	t.Run("/debug/pprof/ lists the profiles", func(t *testing.T) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/debug/pprof/", nil))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "goroutine") {
			t.Errorf("%d %q", rec.Code, rec.Body)
		}
	})
}
