package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ivschatd/ivschatd/internal/api"
	"github.com/ivschatd/ivschatd/internal/server"
)

// options is everything the command line, the environment and the configuration file set.
type options struct {
	cfg server.Config
	// natsWait bounds the wait for an external NATS at start.
	natsWait   time.Duration
	logLevel   string
	logFormat  string
	configFile string
	version    bool
	flags      *flag.FlagSet
}

// Flags that are not configuration, and so neither read from a configuration file nor printed
// by `ivschatd config`.
var notInFile = map[string]bool{"config": true, "version": true, "pprof-addr": true}

// newFlags registers every flag over o, with today's defaults.
func newFlags(o *options) *flag.FlagSet {
	o.cfg = server.DefaultConfig()
	o.logLevel, o.logFormat = "info", "text"
	cfg := &o.cfg
	fs := flag.NewFlagSet("ivschatd", flag.ContinueOnError)
	fs.StringVar(&o.configFile, "config", "", "YAML file of configuration: every flag under its own name (data-dir: /var/lib/ivschatd); flags and the environment override it")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.Var(choiceFlag{&o.logLevel, []string{"debug", "info", "warn", "error"}}, "log-level", "least important log lines written: `debug|info|warn|error`")
	fs.Var(choiceFlag{&o.logFormat, []string{"text", "json"}}, "log-format", "log lines as `text|json` (slog's key=value text, or one JSON object a line)")
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address of the control-plane API and the WebSocket messaging endpoint")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory of the embedded engine's JetStream store")
	fs.StringVar(&cfg.Region, "region", cfg.Region, "AWS region this server answers for (SigV4 scope and ARNs)")
	fs.StringVar(&cfg.AccountID, "account-id", cfg.AccountID, "12-digit account of the default principal")
	fs.StringVar(&cfg.NATSURL, "nats-url", "", "comma-separated NATS server URLs of an external cluster; empty runs the engine embedded")
	fs.DurationVar(&o.natsWait, "nats-connect-timeout", 30*time.Second, "how long to wait for the --nats-url servers at start before giving up")
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
	fs.StringVar(&cfg.TLSCertFile, "tls-cert", "", "PEM certificate chain: every listener (--addr, --ws-addr, --admin-addr) serves HTTPS and WSS; read again on SIGHUP")
	fs.StringVar(&cfg.TLSKeyFile, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&cfg.AdminAddr, "admin-addr", cfg.AdminAddr, "listen address of the web console (/) and the operator endpoints: /metrics, /healthz, /readyz, /debug/pprof/ (empty: off)")
	fs.StringVar(&cfg.PublicWSURL, "public-ws-url", "", "messaging URL as browsers reach it (ws:// or wss://), for the console's demo chat; empty: the messaging listener's address")
	fs.Func("pprof-addr", "replaced by --admin-addr, which serves the profiles at /debug/pprof/", func(string) error {
		return errors.New("--pprof-addr was replaced by --admin-addr: the profiles are at /debug/pprof/ on the admin listener")
	})
	return fs
}

const usageHead = `ivschatd serves the Amazon IVS Chat APIs: the control plane the AWS SDKs and CLI call
(SigV4-signed HTTP) and the WebSocket messaging API of the IVS chat messaging SDKs.

Usage:
  ivschatd [flags]          serve
  ivschatd config [flags]   print the configuration the flags, environment and file make, as a file
  ivschatd version          print the version (also --version)

Each setting is taken from, in this order: its flag; its environment variable (--data-dir is
IVSCHATD_DATA_DIR, and so on); the --config file (data-dir: ...); its default.
IVSCHATD_ACCESS_KEY_ID and IVSCHATD_SECRET_ACCESS_KEY add one principal of --account-id.
With no credentials configured, the development key pair %s / %s is accepted,
and only on a loopback address.

Flags:
`

// load reads the configuration from args, the environment (lookup) and the configuration
// file, in that order of precedence, and checks it. --help writes the usage to help and
// returns flag.ErrHelp.
func load(args []string, lookup func(string) (string, bool), help io.Writer) (*options, error) {
	o := &options{}
	fs := newFlags(o)
	o.flags = fs
	fs.SetOutput(io.Discard) // a bad flag is one line (the error), not the whole usage
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(help, usageHead, api.DevAccessKeyID, api.DevSecretAccessKey)
			fs.SetOutput(help)
			fs.PrintDefaults()
			return nil, err
		}
		return nil, fmt.Errorf("%v (see ivschatd --help)", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (see ivschatd --help)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := applyEnv(fs, lookup, set); err != nil {
		return nil, err
	}
	if o.configFile != "" {
		if err := applyFile(fs, o.configFile, set); err != nil {
			return nil, err
		}
	}
	o.cfg.AccessKeyID, _ = lookup("IVSCHATD_ACCESS_KEY_ID")
	o.cfg.SecretAccessKey, _ = lookup("IVSCHATD_SECRET_ACCESS_KEY")
	if err := validate(fs, &o.cfg); err != nil {
		return nil, err
	}
	if o.natsWait < time.Second {
		return nil, fmt.Errorf("--nats-connect-timeout %s: must be at least 1s", o.natsWait)
	}
	return o, nil
}

// envName is a flag's environment variable: IVSCHATD_DATA_DIR for --data-dir.
func envName(flagName string) string {
	return "IVSCHATD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// applyEnv sets every flag not given on the command line from its environment variable, and
// adds it to set.
func applyEnv(fs *flag.FlagSet, lookup func(string) (string, bool), set map[string]bool) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		name := envName(f.Name)
		if v, ok := lookup(name); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", name, maskURLs(v), e)
			}
			set[f.Name] = true
		}
	})
	return err
}

// choiceFlag is a string flag with a fixed set of values.
type choiceFlag struct {
	p       *string
	choices []string
}

func (f choiceFlag) String() string {
	if f.p == nil {
		return ""
	}
	return *f.p
}

func (f choiceFlag) Set(v string) error {
	for _, c := range f.choices {
		if v == c {
			*f.p = v
			return nil
		}
	}
	return fmt.Errorf("%q is not one of %s", v, strings.Join(f.choices, ", "))
}
