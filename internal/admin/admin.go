// Package admin serves a node's operator endpoints on the admin listener: Prometheus metrics,
// liveness, readiness and Go's profiles. The web console joins them here (Handle). None of it
// is served on the listeners that AWS clients and chat members reach.
package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"
)

// Check is one part of the node that must be ready for it to serve.
type Check struct {
	// Part names the part in the readiness answer: "engine", "store", "listeners".
	Part string
	// Ready returns nil when the part is ready, or an error that says why it is not. It must
	// return soon after ctx ends.
	Ready func(ctx context.Context) error
}

// CheckTimeout bounds the whole readiness answer: a part that cannot say in time is not ready.
const CheckTimeout = 3 * time.Second

// Handler serves the admin endpoints.
type Handler struct {
	mux    *http.ServeMux
	checks []Check
}

// New serves metrics at /metrics and the checks at /readyz, with /healthz and /debug/pprof/.
func New(metrics http.Handler, checks ...Check) *Handler {
	h := &Handler{mux: http.NewServeMux(), checks: checks}
	h.mux.Handle("GET /metrics", metrics)
	h.mux.HandleFunc("GET /healthz", Healthz)
	h.mux.HandleFunc("GET /readyz", h.readyz)
	h.mux.HandleFunc("/debug/pprof/", pprof.Index)
	h.mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	h.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	h.mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	h.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return h
}

// Handle adds a handler to the admin listener, as the console does.
func (h *Handler) Handle(pattern string, handler http.Handler) { h.mux.Handle(pattern, handler) }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Healthz answers 200 while the process serves HTTP: a liveness probe.
func Healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// Readiness is the body of /readyz.
type Readiness struct {
	Ready bool `json:"ready"`
	// NotReady names the parts that are not ready, in the order of Parts.
	NotReady []string `json:"notReady,omitempty"`
	// Parts says, for every part, "ok" or why it is not ready.
	Parts map[string]string `json:"parts"`
}

// Check asks every part at once and gathers the answers.
func (h *Handler) Check(ctx context.Context) Readiness {
	ctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	defer cancel()
	errs := make([]error, len(h.checks))
	var wg sync.WaitGroup
	for i, c := range h.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.Ready(ctx)
		}()
	}
	wg.Wait()
	out := Readiness{Ready: true, Parts: map[string]string{}}
	for i, c := range h.checks {
		if errs[i] == nil {
			out.Parts[c.Part] = "ok"
			continue
		}
		out.Ready = false
		out.NotReady = append(out.NotReady, c.Part)
		out.Parts[c.Part] = errs[i].Error()
	}
	return out
}

func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	rd := h.Check(r.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !rd.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(rd)
}
