// Command ivschatd is a self-hosted server for the Amazon IVS Chat APIs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
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
	if len(args) > 0 {
		switch args[0] {
		case "version":
			printVersion(stdout)
			return nil
		case "config":
			o, err := load(args[1:], os.LookupEnv, stdout)
			if err != nil {
				return err
			}
			return printConfig(stdout, o.flags)
		}
	}
	o, err := load(args, os.LookupEnv, stdout)
	if err != nil {
		return err
	}
	if o.version {
		printVersion(stdout)
		return nil
	}
	cfg := o.cfg
	log, err := newLogger(stderr, o.logLevel, o.logFormat)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv, err := start(ctx, cfg, o.natsWait, log)
	if err != nil {
		return err
	}
	engineDesc := "embedded engine in " + cfg.DataDir
	if cfg.NATSURL != "" {
		engineDesc = "NATS at " + maskURLs(cfg.NATSURL)
	}
	fmt.Fprintf(stdout, "ivschatd listening on %s (region %s, %s); messaging at %s\n", srv.URL(), cfg.Region, engineDesc, srv.WSURL())
	if u := srv.AdminURL(); u != "" {
		fmt.Fprintf(stdout, "ivschatd admin endpoints on %s (/metrics, /healthz, /readyz, /debug/pprof/)\n", u)
		fmt.Fprintf(stdout, "ivschatd web console at %s/\n", u)
	}
	if srv.DevCredentials {
		// Two lines a user pastes into a shell: a comment, and what the SDKs and CLIs read
		// (boto3 and the AWS CLI read AWS_DEFAULT_REGION, the Go and JS SDKs AWS_REGION).
		fmt.Fprintf(stdout, "# development credentials, accepted on loopback only (account %s):\n", cfg.AccountID)
		fmt.Fprintf(stdout, "export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=%s AWS_REGION=%s\n",
			api.DevAccessKeyID, api.DevSecretAccessKey, cfg.Region, cfg.Region)
	}
	// SIGHUP reads the TLS key pair again, as a renewed certificate needs.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
		case err := <-srv.Done():
			return err
		case <-hup:
			if err := srv.ReloadTLS(); err != nil {
				log.Error("SIGHUP: the TLS key pair was not reloaded; the previous one stays", "error", err)
			} else if cfg.TLSCertFile != "" {
				log.Info("SIGHUP: TLS key pair reloaded", "cert", cfg.TLSCertFile)
			}
			continue
		}
		break
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
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

// start starts the node. With an external NATS it says that it is connecting, and again every
// few seconds, and gives up after wait with a message that names the servers: an unreachable
// --nats-url must not look like a hang.
func start(ctx context.Context, cfg server.Config, wait time.Duration, log *slog.Logger) (*server.Server, error) {
	if cfg.NATSURL == "" {
		return server.Start(ctx, cfg, log)
	}
	url := maskURLs(cfg.NATSURL)
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	began := time.Now()
	log.Info("connecting to NATS", "url", url)
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				log.Warn("still connecting to NATS", "url", url, "waited", time.Since(began).Round(time.Second), "gives_up_after", wait)
			}
		}
	}()
	srv, err := server.Start(ctx, cfg, log)
	if err == nil {
		return srv, nil
	}
	// The engine's error may quote the URL: its password stays out of the output.
	reason := err.Error()
	for _, u := range append([]string{cfg.NATSURL}, strings.Split(cfg.NATSURL, ",")...) {
		if u = strings.TrimSpace(u); u != "" {
			reason = strings.ReplaceAll(reason, u, maskURLs(u))
		}
	}
	if ctx.Err() == context.DeadlineExceeded {
		return nil, fmt.Errorf("NATS at %s did not answer within %s (--nats-connect-timeout): start it or correct --nats-url (%s)", url, wait, reason)
	}
	return nil, errors.New(reason)
}
