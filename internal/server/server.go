// Package server wires one ivschatd node: the engine, the IVS Chat service, the control-plane
// API and the messaging gateway, behind one listener; and runs them until shutdown.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/ivschatd/ivschatd/internal/admin"
	"github.com/ivschatd/ivschatd/internal/api"
	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/chatlog"
	"github.com/ivschatd/ivschatd/internal/console"
	"github.com/ivschatd/ivschatd/internal/engine"
	"github.com/ivschatd/ivschatd/internal/gateway"
	"github.com/ivschatd/ivschatd/internal/metrics"
	"github.com/ivschatd/ivschatd/internal/review"
	"github.com/ivschatd/ivschatd/internal/service"
)

// Config is everything a node is configured with.
type Config struct {
	Addr string
	// WSAddr, if set, is a second listener that serves only WebSocket messaging, so that the
	// public messaging edge and the private control plane can be split.
	WSAddr string
	// AdminAddr, if set, is the listener of the operator endpoints (internal/admin).
	AdminAddr string
	// PublicWSURL is the messaging URL as browsers reach it, for the console's demo chat;
	// empty means the messaging listener's own address.
	PublicWSURL string
	// TLSCertFile and TLSKeyFile, if set, make every listener serve HTTPS and WSS with this
	// key pair, read again by ReloadTLS.
	TLSCertFile, TLSKeyFile string
	DataDir                 string
	Region                  string
	AccountID               string
	NATSURL                 string
	Replicas                int
	CredentialsFile         string
	AccessKeyID             string
	SecretAccessKey         string

	MaxRooms                 int
	MaxLoggingConfigurations int
	TokenLifetime            time.Duration
	TokenKeyRotation         time.Duration
	// ReadHeaderTimeout drops a client that has not sent its request headers (an HTTP call
	// or a WebSocket handshake) in time.
	ReadHeaderTimeout time.Duration
	// API bounds the control plane's request bodies: time to arrive, bytes read before the
	// signature is checked.
	API     api.Limits
	Gateway gateway.Config
	Review  review.Config
	Chatlog chatlog.Config
}

// DefaultConfig is the configuration of `ivschatd` with no flags.
func DefaultConfig() Config {
	svc := service.DefaultConfig()
	return Config{
		Addr:                     "127.0.0.1:8080",
		AdminAddr:                "127.0.0.1:8081",
		DataDir:                  "data",
		Region:                   svc.Region,
		AccountID:                "123456789012",
		Replicas:                 0,
		MaxRooms:                 svc.Quotas.MaxRooms,
		MaxLoggingConfigurations: svc.Quotas.MaxLoggingConfigurations,
		TokenLifetime:            svc.TokenLifetime,
		TokenKeyRotation:         24 * time.Hour,
		ReadHeaderTimeout:        10 * time.Second,
		API:                      api.DefaultLimits(),
		Gateway:                  gateway.DefaultConfig(),
		Review:                   review.DefaultConfig(),
		Chatlog:                  chatlog.DefaultConfig(),
	}
}

// MaxHeaderBytes bounds the request line and headers of an HTTP call or a WebSocket handshake
// (net/http's default is 1 MiB). A signed SDK request needs about 2 KiB; a chat token in
// Sec-WebSocket-Protocol stays far below 10 KiB.
const MaxHeaderBytes = 64 << 10

// Server is a running node.
type Server struct {
	cfg      Config
	log      *slog.Logger
	engine   *engine.Engine
	service  *service.Service
	gateway  *gateway.Gateway
	shipper  *chatlog.Shipper
	http     *http.Server
	listener net.Listener
	// wsHTTP and wsListener serve --ws-addr, when set.
	wsHTTP     *http.Server
	wsListener net.Listener
	// adminHTTP and adminListener serve --admin-addr, when set.
	adminHTTP     *http.Server
	adminListener net.Listener
	admin         *admin.Handler
	tap           *chat.Tap
	principals    api.Principals
	metrics       *metrics.Metrics
	// cert is the key pair of --tls-cert and --tls-key; nil serves plain HTTP.
	cert *certificate
	// serving is true from the moment every listener serves until shutdown begins or one
	// of them fails.
	serving atomic.Bool
	// DevCredentials is true when the node accepts the development key pair.
	DevCredentials bool
	done           chan error
}

// Start opens the engine, binds the listener and serves until Shutdown.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.API.Validate(); err != nil {
		return nil, err
	}
	if err := checkPublicWSURL(cfg.PublicWSURL); err != nil {
		return nil, err
	}
	principals, reach, dev, err := credentialsFor(cfg)
	if err != nil {
		return nil, err
	}
	if dev {
		if err := checkLoopbackListen("--addr", cfg.Addr); err != nil {
			return nil, err
		}
		if cfg.WSAddr != "" {
			if err := checkLoopbackListen("--ws-addr", cfg.WSAddr); err != nil {
				return nil, err
			}
		}
		if cfg.AdminAddr != "" {
			if err := checkLoopbackListen("--admin-addr", cfg.AdminAddr); err != nil {
				return nil, err
			}
		}
	}
	var cert *certificate
	if cfg.TLSCertFile != "" || cfg.TLSKeyFile != "" {
		if cfg.TLSCertFile == "" || cfg.TLSKeyFile == "" {
			return nil, errors.New("--tls-cert and --tls-key go together: give both, or neither for plain HTTP")
		}
		if cert, err = loadCertificate(cfg.TLSCertFile, cfg.TLSKeyFile); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	// A name such as localhost is resolved by the listen itself; what it bound must be loopback too.
	if dev && !isLoopback(ln.Addr()) {
		ln.Close()
		return nil, devRefusal(cfg.Addr)
	}
	var adminLn net.Listener
	if cfg.AdminAddr != "" {
		if adminLn, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
			ln.Close()
			return nil, fmt.Errorf("listen on %s (--admin-addr): %w", cfg.AdminAddr, err)
		}
		if dev && !isLoopback(adminLn.Addr()) {
			ln.Close()
			adminLn.Close()
			return nil, devRefusal(cfg.AdminAddr)
		}
	}
	eng, err := engine.Open(ctx, engine.Config{URL: cfg.NATSURL, DataDir: cfg.DataDir, Replicas: cfg.Replicas,
		TokenLifetime: cfg.TokenLifetime, TokenKeyRotation: cfg.TokenKeyRotation, ChatLog: cfg.Chatlog.Stream, Log: log})
	if err != nil {
		ln.Close()
		if adminLn != nil {
			adminLn.Close()
		}
		return nil, err
	}
	// The tap lets the console watch rooms through the same seam the gateway subscribes on.
	broker := chat.NewTap(engine.NewBroker(eng))
	svc := service.New(eng, broker, service.Config{Region: cfg.Region, TokenLifetime: cfg.TokenLifetime, Reach: reach,
		Quotas: service.Quotas{MaxRooms: cfg.MaxRooms, MaxLoggingConfigurations: cfg.MaxLoggingConfigurations}})
	s := &Server{cfg: cfg, log: log, engine: eng, service: svc, listener: ln, DevCredentials: dev, done: make(chan error, 1), cert: cert,
		tap: broker, principals: principals}
	// The gauges read the gateway and the shipper when scraped; by then they exist.
	s.metrics = metrics.New(metrics.Gauges{
		Connections:    func() int64 { return s.gateway.Connections() },
		Rooms:          func() int64 { return s.gateway.Rooms() },
		ChatLogPending: func() map[string]uint64 { return s.shipper.Pending() },
	})
	cfg.Gateway.Metrics, cfg.Review.Metrics, cfg.Chatlog.Metrics = s.metrics, s.metrics, s.metrics
	s.shipper = newShipper(eng, cfg, log)
	s.shipper.Start()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	reviewer := review.New(cfg.Review)
	reviewer.Start()
	s.gateway = gateway.New(svc, broker, reviewer, cfg.Gateway, log)
	s.gateway.Start()
	// Every node answers for its own members when any node is asked who is in a room.
	if err := eng.Presence.Start(ctx, s.gateway, svc.PresenceChanged); err != nil {
		ln.Close()
		if adminLn != nil {
			adminLn.Close()
		}
		s.gateway.Shutdown(ctx)
		s.shipper.Stop(ctx)
		eng.Close()
		return nil, err
	}
	controlPlane := api.New(svc, principals, cfg.API, log)
	controlPlane.Metrics = s.metrics
	// One listener serves both APIs: WebSocket upgrades go to the messaging gateway.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if gateway.IsUpgrade(r) {
			s.gateway.ServeHTTP(w, r)
			return
		}
		controlPlane.ServeHTTP(w, r)
	})
	var handler http.Handler = mux
	if dev {
		handler = loopbackHostsOnly(mux)
	}
	s.http = &http.Server{Handler: handler, ReadHeaderTimeout: cfg.ReadHeaderTimeout, IdleTimeout: 120 * time.Second,
		MaxHeaderBytes: MaxHeaderBytes, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	go func() {
		err := s.http.Serve(s.secure(ln))
		s.serving.Store(false)
		s.done <- err
	}()
	if cfg.WSAddr != "" {
		wsln, err := net.Listen("tcp", cfg.WSAddr)
		if err != nil {
			_ = s.Shutdown(context.Background())
			return nil, fmt.Errorf("listen on %s: %w", cfg.WSAddr, err)
		}
		if dev && !isLoopback(wsln.Addr()) {
			wsln.Close()
			_ = s.Shutdown(context.Background())
			return nil, checkLoopbackListen("--ws-addr", wsln.Addr().String())
		}
		s.wsListener = wsln
		wsMux := http.NewServeMux()
		wsMux.HandleFunc("GET /healthz", s.healthz)
		wsMux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			if !gateway.IsUpgrade(r) {
				http.Error(w, "this listener serves WebSocket messaging only", http.StatusNotFound)
				return
			}
			s.gateway.ServeHTTP(w, r)
		})
		var wsHandler http.Handler = wsMux
		if dev {
			wsHandler = loopbackHostsOnly(wsMux)
		}
		s.wsHTTP = &http.Server{Handler: wsHandler, ReadHeaderTimeout: cfg.ReadHeaderTimeout, MaxHeaderBytes: MaxHeaderBytes,
			ErrorLog: s.http.ErrorLog}
		go func() {
			_ = s.wsHTTP.Serve(s.secure(wsln))
			s.serving.Store(false)
		}()
	}
	if adminLn != nil {
		s.serveAdmin(adminLn)
	}
	s.serving.Store(true)
	return s, nil
}

// serveAdmin serves the operator endpoints on their own listener.
func (s *Server) serveAdmin(ln net.Listener) {
	s.adminListener = ln
	s.admin = admin.New(s.metrics.Handler(),
		admin.Check{Part: "engine", Ready: s.engineConnected},
		admin.Check{Part: "store", Ready: s.engine.Ready},
		admin.Check{Part: "listeners", Ready: s.listenersReady})
	wsURL := s.cfg.PublicWSURL
	if wsURL == "" {
		wsURL = s.WSURL()
	}
	s.admin.Handle("/", console.New(console.Config{Service: s.service, Tap: s.tap, Principals: s.principals,
		Open: s.DevCredentials, WSURL: wsURL, Log: s.log}))
	var handler http.Handler = s.admin
	if s.DevCredentials {
		handler = loopbackHostsOnly(handler) // a rebound page must not read profiles either
	}
	s.adminHTTP = &http.Server{Handler: handler, ReadHeaderTimeout: s.cfg.ReadHeaderTimeout, MaxHeaderBytes: MaxHeaderBytes, ErrorLog: s.http.ErrorLog}
	go func() { _ = s.adminHTTP.Serve(s.secure(ln)) }()
}

// engineConnected says whether the engine is connected; the store check (engine.Ready) says
// whether it takes writes.
func (s *Server) engineConnected(context.Context) error {
	if !s.engine.Healthy() {
		return errors.New("not connected to NATS")
	}
	return nil
}

// listenersReady says whether the API and messaging listeners serve.
func (s *Server) listenersReady(context.Context) error {
	if !s.serving.Load() {
		return errors.New("the API and messaging listeners are not serving (shutting down, or one failed)")
	}
	return nil
}

// Admin is the node's admin handler (nil without --admin-addr); the console adds itself to it.
func (s *Server) Admin() *admin.Handler { return s.admin }

// AdminURL is the base URL of the admin listener, or "" when it is off.
func (s *Server) AdminURL() string {
	if s.adminListener == nil {
		return ""
	}
	return s.scheme("http") + s.adminListener.Addr().String()
}

// Metrics are the node's metrics.
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// checkPublicWSURL accepts an empty --public-ws-url or a ws:// or wss:// URL with a host and
// no query, which browsers can open as the messaging endpoint.
func checkPublicWSURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("--public-ws-url %q: want ws://HOST[:PORT] or wss://HOST[:PORT], the messaging endpoint as browsers reach it", raw)
	}
	return nil
}

func devRefusal(addr string) error {
	return fmt.Errorf("refusing to listen on %s with the development credentials: configure --credentials or IVSCHATD_ACCESS_KEY_ID and IVSCHATD_SECRET_ACCESS_KEY, or listen on loopback", addr)
}

// URL is the base URL of the node's listener.
func (s *Server) URL() string { return s.scheme("http") + s.listener.Addr().String() }

// scheme is "http://" or "ws://", with an s when the listeners serve TLS.
func (s *Server) scheme(plain string) string {
	if s.cert != nil {
		return plain + "s://"
	}
	return plain + "://"
}

// secure wraps a listener in TLS when a key pair is configured.
func (s *Server) secure(ln net.Listener) net.Listener {
	if s.cert == nil {
		return ln
	}
	return tls.NewListener(ln, s.cert.config())
}

// ReloadTLS reads the key pair's files again (on SIGHUP): new handshakes use the new pair,
// live connections keep theirs. Without TLS it does nothing.
func (s *Server) ReloadTLS() error {
	if s.cert == nil {
		return nil
	}
	return s.cert.Reload()
}

// WSURL is the base URL of the messaging endpoint: --ws-addr if set, else the main listener.
func (s *Server) WSURL() string {
	if s.wsListener != nil {
		return s.scheme("ws") + s.wsListener.Addr().String()
	}
	return s.scheme("ws") + s.listener.Addr().String()
}

// Service is the node's IVS Chat service.
func (s *Server) Service() *service.Service { return s.service }

// Engine is the node's engine, for tests that reach below the service (sealing a token the
// API would not issue, say).
func (s *Server) Engine() *engine.Engine { return s.engine }

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if !s.engine.Healthy() {
		http.Error(w, "engine unavailable\n", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ok\n"))
}

// Gateway is the node's messaging gateway.
func (s *Server) Gateway() *gateway.Gateway { return s.gateway }

// Shutdown stops accepting, asks WebSocket clients to reconnect elsewhere, finishes requests
// in flight within ctx, and closes the engine.
func (s *Server) Shutdown(ctx context.Context) error {
	s.serving.Store(false)
	if s.adminHTTP != nil {
		// Readiness says "not ready" while the node drains; the admin endpoints go last.
		defer func() { _ = s.adminHTTP.Close() }()
	}
	httpDone := make(chan error, 1)
	go func() { httpDone <- s.http.Shutdown(ctx) }()
	if s.wsHTTP != nil {
		go func() { _ = s.wsHTTP.Shutdown(ctx) }()
	}
	s.gateway.Shutdown(ctx)
	err := <-httpDone
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.http.Close()
	}
	s.shipper.Stop(ctx)
	s.engine.Close()
	return err
}

// Done is closed with the serve error when the listener stops.
func (s *Server) Done() <-chan error { return s.done }

// credentialsFor builds the set of callers and what their accounts may name. With no callers
// configured, the development pair is accepted, and the caller must keep the listener on
// loopback.
func credentialsFor(cfg Config) (api.Principals, chat.Reach, bool, error) {
	creds := &api.Credentials{Principals: api.Principals{}}
	if cfg.CredentialsFile != "" {
		var err error
		if creds, err = api.LoadCredentials(cfg.CredentialsFile, cfg.AccountID); err != nil {
			return nil, chat.Reach{}, false, err
		}
	}
	ps := creds.Principals
	if cfg.AccessKeyID != "" || cfg.SecretAccessKey != "" {
		if err := ps.Add(&api.Principal{AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey, AccountID: cfg.AccountID}); err != nil {
			return nil, chat.Reach{}, false, fmt.Errorf("IVSCHATD_ACCESS_KEY_ID/IVSCHATD_SECRET_ACCESS_KEY: %w", err)
		}
	}
	dev := len(ps) == 0
	if dev {
		if err := ps.Add(&api.Principal{AccessKeyID: api.DevAccessKeyID, SecretAccessKey: api.DevSecretAccessKey, AccountID: cfg.AccountID}); err != nil {
			return nil, chat.Reach{}, false, err
		}
	}
	accounts := ps.Accounts()
	for account := range creds.Allow {
		if !accounts[account] {
			return nil, chat.Reach{}, false, fmt.Errorf("credentials file %s: accounts.%s: no principal belongs to this account", cfg.CredentialsFile, account)
		}
	}
	return ps, chat.Reach{SingleAccount: len(accounts) == 1, Allow: creds.Allow}, dev, nil
}

func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
