// Package gateway is the IVS Chat messaging API: WebSocket connections authenticated by chat
// tokens, the publish actions, and fan-out of each room's messages and events to its members
// on this node. It is the handler of the broker's room signals (chat.Broker): it subscribes to
// a room while the room has members here, and never sees NATS.
package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/metrics"
	"github.com/ivschatd/ivschatd/internal/review"
	"github.com/ivschatd/ivschatd/internal/service"
)

// Config bounds what a client can make the gateway do.
type Config struct {
	// MaxFrameBytes caps an inbound frame; larger ones close the connection with 1009.
	MaxFrameBytes int
	// QueueFrames bounds each connection's outbound queue; a client that lets it fill is dropped.
	QueueFrames int
	// PingInterval is how often idle connections are pinged; a peer silent for two intervals is dropped.
	PingInterval time.Duration
	// WriteTimeout bounds one write to a client.
	WriteTimeout time.Duration
	// CloseGrace is how long a closing connection waits for the client's close frame.
	CloseGrace time.Duration
	// ConnectionRequestRate caps requests per second on one connection (0: no cap).
	ConnectionRequestRate float64
	// ConnectionFrameRate and ConnectionFrameBurst are the budget of frames of every kind
	// (data, continuation, ping, pong, close) one connection may send, per second and at once;
	// past it the connection is closed with 1008. A rate of 0 sets no budget.
	ConnectionFrameRate  float64
	ConnectionFrameBurst int
	// MaxMessageFragments caps the continuation frames of one message; MessageTimeout bounds
	// the time from a fragmented message's first frame to its last. Past either the
	// connection is closed with 1008.
	MaxMessageFragments int
	MessageTimeout      time.Duration
	// HandshakeTimeout bounds the engine work of accepting a token.
	HandshakeTimeout time.Duration
	// TrustedProxies are the addresses whose X-Forwarded-For is believed when telling a
	// review handler the sender's IP.
	TrustedProxies []netip.Prefix
	// DrainTimeout is how long a shutdown waits for clients to reconnect elsewhere before
	// closing the connections left.
	DrainTimeout time.Duration
	// Metrics counts handshakes, messages, deliveries and drops (nil: not counted).
	Metrics *metrics.Metrics
}

// DefaultConfig is the gateway's configuration unless flags say otherwise.
func DefaultConfig() Config {
	return Config{
		MaxFrameBytes:         16 << 10,
		QueueFrames:           512,
		PingInterval:          30 * time.Second,
		WriteTimeout:          10 * time.Second,
		CloseGrace:            2 * time.Second,
		ConnectionRequestRate: 100,
		ConnectionFrameRate:   200,
		ConnectionFrameBurst:  400,
		MaxMessageFragments:   64,
		MessageTimeout:        10 * time.Second,
		HandshakeTimeout:      5 * time.Second,
		DrainTimeout:          5 * time.Second,
	}
}

func (c Config) frameLimits() frameLimits {
	return frameLimits{Rate: c.ConnectionFrameRate, Burst: c.ConnectionFrameBurst,
		Fragments: c.MaxMessageFragments, MessageTimeout: c.MessageTimeout}
}

// Gateway accepts WebSocket connections and runs them.
type Gateway struct {
	cfg      Config
	service  *service.Service
	broker   chat.Broker
	reviewer *review.Reviewer
	log      *slog.Logger

	metrics     *metrics.Metrics
	hubs        [hubShards]hubShard
	expiries    expiries
	connections atomic.Int64
	rooms       atomic.Int64
	wg          sync.WaitGroup
	// counting is the presence counts of closed connections still being written.
	counting sync.WaitGroup
	draining atomic.Bool
	stop     chan struct{}
}

// New makes a gateway over the service, and registers it as the handler of every room's
// signals on b, the broker the service publishes through.
func New(s *service.Service, b chat.Broker, reviewer *review.Reviewer, cfg Config, log *slog.Logger) *Gateway {
	g := &Gateway{cfg: cfg, service: s, broker: b, reviewer: reviewer, log: log, stop: make(chan struct{}), metrics: cfg.Metrics}
	for i := range g.hubs {
		g.hubs[i].hubs = map[chat.RoomKey]*hub{}
	}
	b.Register(g)
	return g
}

// Start runs what the gateway does on its own: pinging idle connections, until Shutdown.
func (g *Gateway) Start() { go g.pingLoop() }

// Connections is how many members are connected to this node.
func (g *Gateway) Connections() int64 { return g.connections.Load() }

// Rooms is how many rooms have members on this node.
func (g *Gateway) Rooms() int64 { return g.rooms.Load() }

// IsUpgrade reports whether a request asks for a WebSocket.
func IsUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

// headerHasToken reports whether a comma-separated header lists token, in any case.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// refuse answers a handshake that will not be upgraded, with the status its error's kind has.
func refuse(w http.ResponseWriter, e *chat.Error) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code(e.Kind))
	fmt.Fprintf(w, "ivschatd: %s\n", e.Message)
}

// tokenFrom takes the chat token from the Sec-WebSocket-Protocol offer. Clients offer exactly
// one value, the token; a list is accepted and its first value used.
func tokenFrom(r *http.Request) string {
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for part := range strings.SplitSeq(v, ",") {
			if p := strings.TrimSpace(part); p != "" {
				return p
			}
		}
	}
	return ""
}

// ServeHTTP checks the chat token and upgrades the connection. Refusals happen before the
// upgrade, with an HTTP status that says why.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.draining.Load() {
		g.metrics.Connect(metrics.ConnectShuttingDown)
		refuse(w, &chat.Error{Kind: chat.KindUnavailable, Message: "the server is shutting down; connect again with a new token"})
		return
	}
	token := tokenFrom(r)
	if token == "" {
		g.metrics.Connect(metrics.ConnectNoToken)
		refuse(w, &chat.Error{Kind: chat.KindUnauthenticated, Message: "no chat token: pass it as the WebSocket subprotocol"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.HandshakeTimeout)
	grant, room, err := g.service.OpenToken(ctx, token)
	cancel()
	if err != nil {
		refusal, result := tokenRefusal(err)
		if refusal == nil {
			if r.Context().Err() != nil {
				// The client went away during the check: its business, not a failure of ours.
				g.log.Debug("handshake abandoned by the client", "remote", r.RemoteAddr, "error", err)
				g.metrics.Connect(metrics.ConnectAbandoned)
				return
			}
			g.log.Error("accepting a chat token", "error", err)
			refusal = &chat.Error{Kind: chat.KindUnavailable, Message: "the token could not be checked; retry with a new token"}
		}
		g.metrics.Connect(result)
		refuse(w, refusal)
		return
	}
	// Join before the handshake completes: a client may send as soon as it sees the 101, and
	// must already be a member to receive its own message.
	c := &conn{gw: g, token: grant, ip: clientIP(r, g.cfg.TrustedProxies), since: time.Now().UnixNano()}
	g.wg.Add(1)
	g.connections.Add(1)
	if room.PresenceEvents() && !g.count(r.Context(), w, c, room) {
		return
	}
	fresh, err := g.join(c, room)
	if err != nil {
		g.log.Error("joining a room", "error", err)
		g.metrics.Connect(metrics.ConnectError)
		c.teardown()
		refuse(w, &chat.Error{Kind: chat.KindUnavailable, Message: "the room could not be joined; retry with a new token"})
		return
	}
	if fresh && !g.catchUp(r.Context(), c) {
		g.metrics.Connect(metrics.ConnectRoomGone)
		c.teardown()
		refuse(w, chat.ErrRoomGone)
		return
	}
	if n := c.hub.state.Load().settings.Replay; n > 0 && !g.replay(r.Context(), c, n) {
		g.metrics.Connect(metrics.ConnectError)
		c.teardown()
		refuse(w, &chat.Error{Kind: chat.KindUnavailable, Message: "the room's history could not be read; retry with a new token"})
		return
	}
	upgrader := ws.HTTPUpgrader{
		Timeout:  g.cfg.WriteTimeout,
		Protocol: func(offered string) bool { return offered == token },
	}
	raw, rw, _, err := upgrader.Upgrade(r, w)
	if err != nil {
		// The upgrader has answered with the status the handshake's fault calls for.
		if raw != nil {
			_ = raw.Close()
		}
		g.metrics.Connect(metrics.ConnectUpgradeFailed)
		c.because("the WebSocket handshake failed")
		c.teardown()
		return
	}
	g.metrics.Connect(metrics.ConnectAccepted)
	if g.log.Enabled(r.Context(), slog.LevelDebug) {
		g.log.Debug("member connected", "room", grant.RoomARN, "user", grant.UserID, "ip", c.ip)
	}
	if !c.attach(raw) {
		return // dropped while the handshake was in flight
	}
	// A client must wait for the 101 before it sends, but bytes it sent early are not lost.
	// net/http's buffer itself is not kept: it would weigh 4 KiB on every idle member.
	var src io.Reader = raw
	if n := rw.Reader.Buffered(); n > 0 {
		early, _ := rw.Reader.Peek(n)
		src = io.MultiReader(bytes.NewReader(bytes.Clone(early)), raw)
	}
	// Read on a fresh goroutine and return: net/http keeps its connection state, buffers and
	// the deep stack of this handler alive for as long as the handler runs, which would make
	// every idle member several kilobytes heavier.
	go c.readLoop(src)
}

// count counts a new connection in its room's presence (ivschatd:presence-events) before it
// joins, so that the room hears of the user's first connection and the user does not. On a
// failure it refuses the handshake and reports false.
func (g *Gateway) count(ctx context.Context, w http.ResponseWriter, c *conn, room *chat.Room) bool {
	if err := g.service.CountConnection(ctx, room.Key(), c.token.UserID, 1); err != nil {
		g.log.Error("counting a connection for presence events", "error", err)
		g.metrics.Connect(metrics.ConnectError)
		c.teardown()
		refuse(w, &chat.Error{Kind: chat.KindUnavailable, Message: "the connection could not be counted in the room's presence; retry with a new token"})
		return false
	}
	c.counted = true
	return true
}

// uncount counts a closed connection out of its room's presence, on a goroutine of its own:
// a connection may be torn down by a room's fan-out, which must not wait for the engine.
func (g *Gateway) uncount(c *conn) {
	a, ok := chat.ParseARN(c.token.RoomARN)
	if !ok {
		return
	}
	g.counting.Add(1)
	go func() {
		defer g.counting.Done()
		if err := g.service.CountConnection(context.Background(), chat.RoomKey{Account: a.Account, ID: a.ID}, c.token.UserID, -1); err != nil {
			g.log.Warn("counting a closed connection out of the room's presence", "room", c.token.RoomARN, "error", err)
		}
	}()
}

// catchUp re-reads the room once a new hub has subscribed: an update or deletion made on
// another node just before the subscription existed sent its signal to no one here. It
// reports false if the room is gone.
func (g *Gateway) catchUp(ctx context.Context, c *conn) bool {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.HandshakeTimeout)
	defer cancel()
	cur, found, err := g.service.CurrentRoom(ctx, c.hub.key)
	if err != nil {
		return true // the engine is unsure; keep the settings the token was checked against
	}
	if !found {
		return false
	}
	c.hub.refresh(cur)
	return true
}

// clientIP is the sender's address: the peer's, or, when the peer is a trusted proxy, the
// nearest untrusted address in X-Forwarded-For (walking from the right, as each proxy appends).
func clientIP(r *http.Request, trusted []netip.Prefix) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	addr := peer.Addr().Unmap()
	if !isTrusted(addr, trusted) {
		return addr.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		addr = hop.Unmap()
		if !isTrusted(addr, trusted) {
			break
		}
	}
	return addr.String()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// pingLoop pings every connection each interval, so that dead peers are found by the read
// deadline. One loop serves the whole node, rather than a timer per connection.
func (g *Gateway) pingLoop() {
	t := time.NewTicker(g.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		g.eachHub(func(h *hub) { h.broadcast(pingFrame) })
	}
}

func (g *Gateway) eachHub(fn func(*hub)) {
	for i := range g.hubs {
		sh := &g.hubs[i]
		sh.mu.Lock()
		hubs := make([]*hub, 0, len(sh.hubs))
		for _, h := range sh.hubs {
			hubs = append(hubs, h)
		}
		sh.mu.Unlock()
		for _, h := range hubs {
			fn(h)
		}
	}
}

// Shutdown asks every client to reconnect (ERROR 401 makes the SDK fetch a new token and
// connect again, through the load balancer to another node), waits for them to go until ctx
// ends, then closes what is left.
func (g *Gateway) Shutdown(ctx context.Context) {
	if g.draining.Swap(true) {
		return
	}
	// The last members' leaves are told before the node goes.
	defer g.counting.Wait()
	close(g.stop)
	bye := errorFrame("", "", chat.KindUnauthenticated, "the server is shutting down; connect again with a new token")
	g.eachHub(func(h *hub) { h.broadcast(bye) })
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	drain := time.NewTimer(g.cfg.DrainTimeout)
	defer drain.Stop()
	select {
	case <-done:
		return
	case <-ctx.Done():
	case <-drain.C:
	}
	g.eachHub(func(h *hub) {
		for _, c := range h.list(nil) {
			c.closeWith(closeGoingAway, "server shutting down")
		}
	})
	select {
	case <-done:
	case <-time.After(g.cfg.CloseGrace + time.Second):
		g.eachHub(func(h *hub) {
			for _, c := range h.list(nil) {
				c.teardown()
			}
		})
	}
}
