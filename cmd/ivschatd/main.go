// Command ivschatd is a self-hosted server for the Amazon IVS Chat APIs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // only served on --pprof-addr, never on the API listeners
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ivschatd/ivschatd/internal/api"
	"github.com/ivschatd/ivschatd/internal/server"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "ivschatd:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	cfg := server.DefaultConfig()
	fs := flag.NewFlagSet("ivschatd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address of the control-plane API and the WebSocket messaging endpoint")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory of the embedded engine's JetStream store")
	fs.StringVar(&cfg.Region, "region", cfg.Region, "AWS region this server answers for (SigV4 scope and ARNs)")
	fs.StringVar(&cfg.AccountID, "account-id", cfg.AccountID, "12-digit account of the default principal")
	fs.StringVar(&cfg.NATSURL, "nats-url", "", "comma-separated NATS server URLs of an external cluster; empty runs the engine embedded")
	fs.IntVar(&cfg.Replicas, "replicas", cfg.Replicas, "JetStream replication factor of every bucket and stream (external cluster); 0: 3 on a cluster of three or more servers, else 1")
	fs.StringVar(&cfg.CredentialsFile, "credentials", "", `JSON file of principals and what each account may name: {"principals":[{"accessKeyId","secretAccessKey","accountId","sessionToken"?,"actions"?}],"accounts"?:{"<account>":{"allow":{"lambda"?,"s3"?,"logs"?,"firehose"?:[names or patterns]}}}}`)
	fs.IntVar(&cfg.MaxRooms, "max-rooms", cfg.MaxRooms, "quota of rooms per account")
	fs.IntVar(&cfg.MaxLoggingConfigurations, "max-logging-configurations", cfg.MaxLoggingConfigurations, "quota of logging configurations per account")
	fs.DurationVar(&cfg.TokenLifetime, "token-lifetime", cfg.TokenLifetime, "how long a chat token may be used to connect")
	fs.DurationVar(&cfg.API.BodyTimeout, "body-timeout", cfg.API.BodyTimeout, "how long a control-plane request body may take to arrive after its headers")
	fs.Int64Var(&cfg.API.MaxPendingBodyBytes, "max-pending-body-bytes", cfg.API.MaxPendingBodyBytes, "declared bytes of control-plane request bodies read at once before their signature is checked; more get 503 ServiceUnavailableException")
	fs.StringVar(&cfg.WSAddr, "ws-addr", "", "optional separate listen address for WebSocket messaging only (upgrades are always accepted on --addr too)")
	fs.Float64Var(&cfg.Gateway.ConnectionRequestRate, "ws-connection-rate", cfg.Gateway.ConnectionRequestRate, "requests per second one WebSocket connection may send (0: no limit)")
	fs.Float64Var(&cfg.Gateway.ConnectionFrameRate, "ws-frame-rate", cfg.Gateway.ConnectionFrameRate, "frames of any kind (data, continuation, ping, pong) per second one WebSocket connection may send before it is closed with 1008 (0: no limit)")
	fs.IntVar(&cfg.Gateway.ConnectionFrameBurst, "ws-frame-burst", cfg.Gateway.ConnectionFrameBurst, "frames one WebSocket connection may send at once above --ws-frame-rate")
	fs.IntVar(&cfg.Gateway.MaxFrameBytes, "ws-max-frame-bytes", cfg.Gateway.MaxFrameBytes, "largest WebSocket frame accepted from a client")
	fs.IntVar(&cfg.Gateway.QueueFrames, "ws-queue-frames", cfg.Gateway.QueueFrames, "outbound frames queued per connection before a slow client is dropped")
	fs.DurationVar(&cfg.Gateway.PingInterval, "ws-ping-interval", cfg.Gateway.PingInterval, "how often connections are pinged; silent for two intervals, a client is dropped")
	fs.Var(pairsFlag{&cfg.Review.HTTPEndpoints, "<Lambda function ARN>=<http(s) URL>", reviewEndpoint}, "review-handler", "`ARN=URL`: review messages for this Lambda function ARN by POSTing to an HTTP(S) endpoint instead of invoking Lambda (repeatable; comma-separated in the environment)")
	fs.DurationVar(&cfg.Review.Timeout, "review-timeout", cfg.Review.Timeout, "how long a message review may take before the room's fallback result applies")
	fs.IntVar(&cfg.Review.Concurrency, "review-concurrency", cfg.Review.Concurrency, "message reviews in flight on this node at most")
	fs.Var(prefixList{&cfg.Gateway.TrustedProxies}, "trusted-proxies", "comma-separated addresses or CIDRs of proxies whose X-Forwarded-For gives the sender's IP to review handlers")
	chatlogFlags(fs, &cfg.Chatlog)
	fs.DurationVar(&cfg.TokenKeyRotation, "token-key-rotation", cfg.TokenKeyRotation, "age at which the token sealing key is replaced (0: never)")
	pprofAddr := fs.String("pprof-addr", "", "serve Go's net/http/pprof profiles on this loopback address (empty: off)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `ivschatd serves the Amazon IVS Chat APIs: the control plane the AWS SDKs and CLI call
(SigV4-signed HTTP) and the WebSocket messaging API of the IVS chat messaging SDKs.

Usage: ivschatd [flags]

Every flag can also be set by an environment variable: --data-dir is IVSCHATD_DATA_DIR, and so on.
IVSCHATD_ACCESS_KEY_ID and IVSCHATD_SECRET_ACCESS_KEY add one principal of --account-id.
With no credentials configured, the development key pair %s / %s is accepted,
and only on a loopback address.

Flags:
`, api.DevAccessKeyID, api.DevSecretAccessKey)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see ivschatd --help)", fs.Arg(0))
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	cfg.AccessKeyID = os.Getenv("IVSCHATD_ACCESS_KEY_ID")
	cfg.SecretAccessKey = os.Getenv("IVSCHATD_SECRET_ACCESS_KEY")

	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if *pprofAddr != "" {
		if err := servePprof(*pprofAddr); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv, err := server.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	engineDesc := "embedded engine in " + cfg.DataDir
	if cfg.NATSURL != "" {
		engineDesc = "NATS at " + cfg.NATSURL
	}
	fmt.Fprintf(stdout, "ivschatd listening on %s (region %s, %s); messaging at %s\n", srv.URL(), cfg.Region, engineDesc, srv.WSURL())
	if srv.DevCredentials {
		// Two lines a user pastes into a shell: a comment, and what the SDKs and CLIs read
		// (boto3 and the AWS CLI read AWS_DEFAULT_REGION, the Go and JS SDKs AWS_REGION).
		fmt.Fprintf(stdout, "# development credentials, accepted on loopback only (account %s):\n", cfg.AccountID)
		fmt.Fprintf(stdout, "export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=%s AWS_REGION=%s\n",
			api.DevAccessKeyID, api.DevSecretAccessKey, cfg.Region, cfg.Region)
	}
	select {
	case <-ctx.Done():
	case err := <-srv.Done():
		return err
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// applyEnv sets every flag not given on the command line from IVSCHATD_<FLAG_NAME>.
func applyEnv(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		name := "IVSCHATD_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, e)
			}
		}
	})
	return err
}

// reviewEndpoint checks a --review-handler pair: a Lambda function ARN and an HTTP(S) URL.
func reviewEndpoint(arn, url string) (string, bool) {
	return url, strings.HasPrefix(arn, "arn:aws:lambda:") && (strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "https://"))
}

// prefixList is a comma-separated list of addresses or CIDRs.
type prefixList struct{ list *[]netip.Prefix }

func (f prefixList) String() string {
	if f.list == nil {
		return ""
	}
	var parts []string
	for _, p := range *f.list {
		parts = append(parts, p.String())
	}
	return strings.Join(parts, ",")
}

func (f prefixList) Set(v string) error {
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if !strings.Contains(item, "/") {
			a, err := netip.ParseAddr(item)
			if err != nil {
				return fmt.Errorf("%q is not an address or CIDR", item)
			}
			*f.list = append(*f.list, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			return fmt.Errorf("%q is not an address or CIDR", item)
		}
		*f.list = append(*f.list, p.Masked())
	}
	return nil
}

// servePprof serves the profiling handlers that net/http/pprof registers on the default mux,
// which no API listener uses, on a loopback address only.
func servePprof(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof-addr: %w", err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		ln.Close()
		return fmt.Errorf("--pprof-addr %s: profiles are served on loopback addresses only", addr)
	}
	go func() { _ = http.Serve(ln, http.DefaultServeMux) }()
	return nil
}
