// Package engine is ivschatd's only contact with NATS: it runs JetStream inside the process
// or joins an external NATS cluster, and offers what the rest of the server needs from it:
// tables of resources, single-use token claims, the sealing keyring, and the Broker of room
// signals.
//
// Healthy says whether the NATS connection is up (liveness); Ready says, within about a
// second, whether a write to the store succeeds right now (readiness), and if not why.
package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ivschatd/ivschatd/internal/chat"
)

// Config chooses and tunes the engine.
type Config struct {
	// URL lists external NATS servers (comma-separated). Empty runs an embedded server.
	URL string
	// DataDir holds the embedded server's JetStream store.
	DataDir string
	// Replicas is the replication factor of every bucket and stream (external clusters only).
	// Zero chooses by the cluster's size: 3 on a cluster of three or more servers, else 1.
	Replicas int
	// TokenKeyRotation is how old the newest sealing key may grow before a new one is made;
	// zero never rotates.
	TokenKeyRotation time.Duration
	// TokenLifetime is how long a token may be used to connect; superseded keys are kept at
	// least this long so that tokens they sealed still open.
	TokenLifetime time.Duration
	// ChatLog bounds the stream of chat-log records waiting for their destinations.
	ChatLog ChatLogStreamConfig
	// Log receives the engine's reports and the embedded NATS server's warnings and errors;
	// nil discards them.
	Log *slog.Logger
}

// Engine is a connection to JetStream with the buckets and subjects of ivschatd.
type Engine struct {
	cfg      Config
	embedded *server.Server
	// embeddedOpts configured the embedded server; restarting its JetStream reapplies them.
	embeddedOpts *server.Options
	// memoryBuckets are the configurations of the buckets kept in memory, made again when
	// the embedded JetStream restarts.
	memoryBuckets []jetstream.KeyValueConfig
	dirLock       *dataDirLock
	nc            *nats.Conn
	js            jetstream.JetStream

	Rooms                 *Table[chat.Room]
	LoggingConfigurations *Table[chat.LoggingConfiguration]
	// Presence is who is connected to each room on every node; the gateway starts it.
	Presence *Presence
	// Bans are the timed and open-ended bans of users from rooms; a timed one expires by its
	// key's TTL, in the engine.
	Bans *Table[chat.Ban]

	tokens    *tokenClaims
	budgets   *roomBudgets
	userRates *roomRates
	health    jetstream.KeyValue
	probeKey  string
	// node names this process in the cluster (presence); nodes holds every node's heartbeat.
	node  string
	nodes jetstream.KeyValue
	// presence holds the counts of users' connections to rooms with presence events.
	presence jetstream.KeyValue
	chatLog  jetstream.Stream
	history  jetstream.Stream
	keys     *keyStore
	guard    *writeGuard
	// life ends when the engine closes; cancel ends it.
	life    context.Context
	cancel  context.CancelFunc
	closing atomic.Bool
}

// Bucket names. They are part of the on-disk format: renaming one loses its data.
const (
	bucketRooms                 = "ivschat_rooms"
	bucketLoggingConfigurations = "ivschat_logging_configurations"
	bucketUsedTokens            = "ivschat_used_tokens"
	bucketKeys                  = "ivschat_keys"
	bucketRoomRates             = "ivschat_room_rates"
	bucketBans                  = "ivschatd_bans"
	bucketUserRates             = "ivschatd_user_rates"
	// bucketNodes holds one heartbeat record per live node (presence), in memory.
	bucketNodes = "ivschatd_nodes"
	// bucketPresence counts each user's connections to each room with presence events, in memory.
	bucketPresence = "ivschatd_presence"
	// bucketHealth holds one short-lived probe record per node, written by Ready.
	bucketHealth = "ivschat_health"
)

// Open starts or joins the engine and loads its state; it returns once the node can serve.
func Open(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.URL == "" || cfg.Replicas < 0 {
		cfg.Replicas = 1
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{cfg: cfg, guard: newWriteGuard()}
	e.life, e.cancel = context.WithCancel(context.Background())
	var err error
	if cfg.URL == "" {
		err = e.startEmbedded()
	} else {
		opts := append(e.connOptions(), e.connectionEvents()...)
		e.nc, err = nats.Connect(cfg.URL, append(opts, nats.MaxReconnects(-1),
			nats.ReconnectWait(250*time.Millisecond), nats.RetryOnFailedConnect(true))...)
	}
	if err != nil {
		e.Close()
		return nil, err
	}
	if e.cfg.Replicas == 0 {
		if e.cfg.Replicas, err = e.defaultReplicas(ctx); err != nil {
			e.Close()
			return nil, err
		}
	}
	if err := e.openBuckets(ctx); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

func (e *Engine) startEmbedded() error {
	dir := filepath.Join(e.cfg.DataDir, "jetstream")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("engine: data dir: %w", err)
	}
	lock, err := lockDataDir(e.cfg.DataDir)
	if err != nil {
		return err
	}
	e.dirLock = lock
	e.embeddedOpts = &server.Options{
		ServerName: "ivschatd",
		DontListen: true,
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true,
		NoLog:      true,
	}
	ns, err := server.NewServer(e.embeddedOpts.Clone())
	if err != nil {
		return fmt.Errorf("engine: embedded NATS: %w", err)
	}
	ns.SetLoggerV2(natsLog{log: e.cfg.Log, watch: e.noteNATSError}, false, false, false)
	e.guard.recover = e.recoverStore
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return errors.New("engine: embedded NATS did not start within 30s")
	}
	e.embedded = ns
	e.nc, err = nats.Connect("", append(e.connOptions(), nats.InProcessServer(ns))...)
	if err != nil {
		return fmt.Errorf("engine: connect to embedded NATS: %w", err)
	}
	return nil
}

func (e *Engine) openBuckets(ctx context.Context) error {
	var err error
	if e.js, err = jetstream.New(e.nc); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	bucket := func(name string, history uint8, extra func(*jetstream.KeyValueConfig)) (jetstream.KeyValue, error) {
		kc := jetstream.KeyValueConfig{Bucket: name, History: history, Replicas: e.cfg.Replicas, Storage: jetstream.FileStorage}
		if extra != nil {
			extra(&kc)
		}
		kv, err := e.js.CreateOrUpdateKeyValue(ctx, kc)
		if err != nil {
			return nil, fmt.Errorf("engine: bucket %s: %w", name, err)
		}
		if kc.Storage == jetstream.MemoryStorage {
			e.memoryBuckets = append(e.memoryBuckets, kc)
		}
		return kv, nil
	}
	rooms, err := bucket(bucketRooms, 1, nil)
	if err != nil {
		return err
	}
	configs, err := bucket(bucketLoggingConfigurations, 1, nil)
	if err != nil {
		return err
	}
	// Per-key TTLs let each used token's record expire with the token itself.
	var usedTokens []jetstream.KeyValue
	for _, name := range usedTokenBuckets(e.cfg.Replicas) {
		kv, err := bucket(name, 1, func(kc *jetstream.KeyValueConfig) { kc.LimitMarkerTTL = time.Minute })
		if err != nil {
			return err
		}
		usedTokens = append(usedTokens, kv)
	}
	e.tokens = newTokenClaims(usedTokens, e.guard)
	go e.tokens.spreadLeaders(e.life, e.nc, e.js, e.cfg.Log)
	bans, err := bucket(bucketBans, 1, func(kc *jetstream.KeyValueConfig) {
		kc.LimitMarkerTTL = time.Minute
	})
	if err != nil {
		return err
	}
	keys, err := bucket(bucketKeys, 1, nil)
	if err != nil {
		return err
	}
	// Room budgets are about the current second: kept in memory, and forgotten by rooms gone
	// quiet.
	rates, err := bucket(bucketRoomRates, 1, func(kc *jetstream.KeyValueConfig) {
		kc.Storage, kc.TTL = jetstream.MemoryStorage, rateRecordTTL
	})
	if err != nil {
		return err
	}
	e.budgets = newRoomBudgets(e.life, e.nc, rates)
	// Slow mode's records of users' sends, for windows of up to an hour (ivschatd:user-rate).
	userRates, err := bucket(bucketUserRates, 1, func(kc *jetstream.KeyValueConfig) {
		kc.Storage, kc.TTL = jetstream.MemoryStorage, chat.MaxUserRateS*time.Second+rateRecordTTL
	})
	if err != nil {
		return err
	}
	e.userRates = newRoomRates(e.nc, userRates, "slow mode")
	// Probe records only need to outlive the probe; MaxAge drops those of nodes long gone.
	if e.health, err = bucket(bucketHealth, 1, func(kc *jetstream.KeyValueConfig) {
		kc.TTL = time.Minute
	}); err != nil {
		return err
	}
	e.probeKey = "probe." + rand.Text()
	// A node's heartbeat lives nodeTTL unless renewed: a dead node's record expires on its own.
	if e.nodes, err = bucket(bucketNodes, 1, func(kc *jetstream.KeyValueConfig) {
		// The marker of an expired record tells the others' watches that the node is gone.
		kc.Storage, kc.TTL, kc.LimitMarkerTTL = jetstream.MemoryStorage, nodeTTL, time.Minute
	}); err != nil {
		return err
	}
	if e.presence, err = bucket(bucketPresence, 1, func(kc *jetstream.KeyValueConfig) {
		kc.Storage = jetstream.MemoryStorage
	}); err != nil {
		return err
	}
	e.node = rand.Text()
	e.Presence = NewPresence(e)
	if err := e.openChatLogStream(ctx); err != nil {
		return err
	}
	if err := e.openHistoryStream(ctx); err != nil {
		return err
	}
	watchCtx := e.life
	ld := loader{js: e.js, log: e.cfg.Log, dirOf: e.streamDir}
	if e.Rooms, err = openTable[chat.Room](ctx, watchCtx, ld, rooms, e.guard); err != nil {
		return err
	}
	if e.LoggingConfigurations, err = openTable[chat.LoggingConfiguration](ctx, watchCtx, ld, configs, e.guard); err != nil {
		return err
	}
	if e.Bans, err = openTable[chat.Ban](ctx, watchCtx, ld, bans, e.guard); err != nil {
		return err
	}
	if e.keys, err = openKeyStore(ctx, watchCtx, ld, keys, e.guard, e.cfg.TokenKeyRotation, e.cfg.TokenLifetime); err != nil {
		return err
	}
	return nil
}

// streamDir is where the embedded server keeps a stream's files; "" for an external server.
func (e *Engine) streamDir(stream string) string {
	if e.embeddedOpts == nil {
		return ""
	}
	return filepath.Join(e.embeddedOpts.StoreDir, "jetstream", server.DEFAULT_GLOBAL_ACCOUNT, "streams", stream)
}

// Keyring returns the current sealing keyring, shared by every node of the cluster.
func (e *Engine) Keyring() *chat.Keyring { return e.keys.keyring() }

// RefreshKeyring reads the sealing keys from the bucket at once, rather than waiting for the
// watch: call it when a sealed value does not open, then try again with Keyring. Calls are
// spaced by the engine, so it is cheap to call for every failure.
func (e *Engine) RefreshKeyring(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	e.keys.refresh(ctx)
}

// RotateSealingKey makes a new newest sealing key for the whole cluster.
func (e *Engine) RotateSealingKey(ctx context.Context) error { return e.keys.rotate(ctx) }

// ClaimToken records the single use of a token. Exactly one caller across the cluster gets
// true for a given token id; the record expires with the token. It is tried until ctx ends:
// an error means the engine could not record the use in time (see tokens.go for how a claim
// goes on while a NATS server is lost).
func (e *Engine) ClaimToken(ctx context.Context, tokenID string, expires time.Time) (bool, error) {
	return e.tokens.claim(ctx, tokenID, expires)
}

// defaultReplicas is the replication factor for an external NATS that was given none: 3
// when the server is part of a cluster of three or more (as its INFO tells, with the
// addresses of its peers), so that losing a server loses nothing, else 1.
func (e *Engine) defaultReplicas(ctx context.Context) (int, error) {
	for !e.nc.IsConnected() {
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("engine: connect to NATS at %s: %w", e.cfg.URL, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	servers := len(e.nc.Servers())
	replicas := 1
	if e.nc.ConnectedClusterName() != "" && servers >= 3 {
		replicas = 3
	}
	e.cfg.Log.Info("engine: replicas chosen by the NATS cluster's size (set --replicas to choose)",
		"cluster", e.nc.ConnectedClusterName(), "servers", servers, "replicas", replicas)
	return replicas, nil
}

// Replicas is the replication factor of the engine's buckets and streams.
func (e *Engine) Replicas() int { return e.cfg.Replicas }

// connOptions are the options of the engine's connection, embedded or external. NoEcho keeps
// the server from returning what this node publishes on room subjects (the Broker hands it
// to the node's own members itself); JetStream's deliveries come from the server, not from
// this connection, so KV watches and consumers still see this node's own writes.
func (e *Engine) connOptions() []nats.Option {
	return []nats.Option{nats.Name("ivschatd"), nats.NoEcho(), e.errorHandler()}
}

// errorHandler reports the client library's asynchronous errors, except while closing, when
// watches ending is expected.
func (e *Engine) errorHandler() nats.Option {
	return nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
		if e.closing.Load() {
			return
		}
		subject := ""
		if sub != nil {
			subject = sub.Subject
		}
		e.cfg.Log.Warn("engine: NATS client error", "component", "nats-client", "err", err, "subject", subject)
	})
}

// connectionEvents log an external cluster's connection going and coming back: while it is
// gone, writes fail and reads fall back as docs/deployment.md says, and an operator wants
// to see when and to which server it came back.
func (e *Engine) connectionEvents() []nats.Option {
	return []nats.Option{
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if e.closing.Load() {
				return
			}
			e.cfg.Log.Warn("engine: disconnected from NATS; reconnecting", "component", "nats-client", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			e.cfg.Log.Info("engine: reconnected to NATS", "component", "nats-client", "server", nc.ConnectedUrlRedacted())
		}),
	}
}

// Healthy reports whether the engine connection is up.
func (e *Engine) Healthy() bool { return e.nc != nil && e.nc.IsConnected() }

// readyTimeout bounds Ready: a store that cannot take a tiny write in this long cannot serve.
const readyTimeout = time.Second

// Ready reports whether the node can serve writes: it is connected to NATS, JetStream is
// running, and the store accepted a small probe record (one key per node in its own bucket,
// replicated like every other). It answers within about a second, with an error that says
// which of these failed; a nil error means a write just succeeded. Meant for readiness
// probes: each call is one write.
func (e *Engine) Ready(ctx context.Context) error {
	if e.nc == nil || !e.nc.IsConnected() {
		status := "closed"
		if e.nc != nil {
			status = e.nc.Status().String()
		}
		return fmt.Errorf("engine: not connected to NATS (%s)", strings.ToLower(status))
	}
	if err := e.guard.err(); err != nil {
		return fmt.Errorf("engine: store does not accept writes: %w", err)
	}
	if e.embedded != nil && !e.embedded.JetStreamEnabled() {
		return errors.New("engine: JetStream is stopped (the embedded server stops it when the store cannot write)")
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := e.guard.write(ctx, e.probe); err != nil {
		return fmt.Errorf("engine: store does not accept writes: %w", err)
	}
	return nil
}

// probe writes this node's probe record.
func (e *Engine) probe(ctx context.Context) error {
	_, err := e.health.Put(ctx, e.probeKey, time.Now().UTC().AppendFormat(nil, time.RFC3339Nano))
	return err
}

// noteNATSError hears every error the embedded NATS server logs, for those that mean its
// store stopped taking writes.
func (e *Engine) noteNATSError(msg string) {
	if isWriteFailureLog(msg) {
		e.guard.failed(errors.New(msg))
	}
}

// recoverEvery spaces the attempts to bring a failed store back.
const recoverEvery = time.Second

// recoverStore brings the embedded store back after a write failure: once a probe file can
// be written next to the store, it restarts JetStream (which reloads every stream from its
// files and forgets the failure), checks that a write goes through, and lets writes in again.
// Watches are replaced at once rather than when the client library notices they went quiet.
func (e *Engine) recoverStore(g *writeGuard) {
	log := e.cfg.Log
	log.Error("engine: the store stopped taking writes; writes are refused until it takes them again", "err", g.err())
	tick := time.NewTicker(recoverEvery)
	defer tick.Stop()
	diskFull := false
	for {
		select {
		case <-e.life.Done():
			return
		case <-tick.C:
		}
		if err := diskTakesWrite(e.embeddedOpts.StoreDir); err != nil {
			if !diskFull {
				log.Warn("engine: the data dir does not take writes yet", "dir", e.embeddedOpts.StoreDir, "err", err)
				diskFull = true
			}
			continue
		}
		if e.embedded.JetStreamEnabled() {
			if err := e.embedded.ShutdownJetStream(); err != nil {
				log.Warn("engine: stop JetStream", "err", err)
				continue
			}
		}
		if err := e.embedded.ReloadOptions(e.embeddedOpts.Clone()); err != nil || !e.embedded.JetStreamEnabled() {
			log.Warn("engine: restart JetStream", "err", err)
			continue
		}
		ctx, cancel := context.WithTimeout(e.life, 5*readyTimeout)
		err := e.recreateMemoryBuckets(ctx)
		if err == nil {
			err = e.probe(ctx)
		}
		cancel()
		if err != nil {
			log.Warn("engine: JetStream restarted but a write still fails", "err", err)
			continue
		}
		g.recovered()
		e.Rooms.restartWatch()
		e.LoggingConfigurations.restartWatch()
		e.Bans.restartWatch()
		log.Info("engine: the store takes writes again")
		return
	}
}

// recreateMemoryBuckets makes the in-memory buckets again after JetStream restarted: their
// records (room budgets, slow mode's windows, heartbeats, presence counts) are about the
// moment and were lost with the restart, but without the buckets every send would fail its
// rate check. The handles the engine holds name the buckets, so they work again at once.
func (e *Engine) recreateMemoryBuckets(ctx context.Context) error {
	for _, kc := range e.memoryBuckets {
		if _, err := e.js.CreateOrUpdateKeyValue(ctx, kc); err != nil {
			return fmt.Errorf("bucket %s: %w", kc.Bucket, err)
		}
	}
	return nil
}

// Close stops watches, drains the connection and shuts the embedded server down.
func (e *Engine) Close() {
	e.closing.Store(true)
	if e.Presence != nil {
		e.Presence.Close()
	}
	if e.cancel != nil {
		e.cancel()
	}
	if e.nc != nil {
		_ = e.nc.Drain()
		deadline := time.Now().Add(5 * time.Second)
		for !e.nc.IsClosed() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		e.nc.Close()
	}
	if e.embedded != nil {
		e.embedded.Shutdown()
		e.embedded.WaitForShutdown()
	}
	e.dirLock.release()
}

// key is the KV key of a resource: accounts partition every bucket.
func key(account, id string) string { return account + "." + id }

func splitKey(k string) (account, id string, ok bool) {
	return strings.Cut(k, ".")
}
