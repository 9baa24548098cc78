// Command natsnode runs one NATS server with JetStream for ivschatd's cluster tests: three of
// them, started with each other's route ports, make a JetStream cluster on loopback that a
// test can take apart with kill -9, one server at a time.
//
//	natsnode --name nats-1 --store-dir DIR --cluster-port 6222 \
//	         --routes nats-route://127.0.0.1:6222,nats-route://127.0.0.1:6223,...
//
// It prints "natsnode listening on nats://127.0.0.1:PORT" once it accepts clients, and
// exits when its standard input closes (the test that started it has gone) or on SIGTERM.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "natsnode:", err)
		os.Exit(1)
	}
}

func run() error {
	name := flag.String("name", "nats-1", "server name (unique in the cluster)")
	port := flag.Int("port", -1, "client port on 127.0.0.1 (-1: any free port)")
	clusterPort := flag.Int("cluster-port", 0, "route port on 127.0.0.1")
	clusterName := flag.String("cluster-name", "ivschat-test", "cluster name")
	routes := flag.String("routes", "", "comma-separated nats-route:// URLs of every server, this one included")
	storeDir := flag.String("store-dir", "", "JetStream store directory")
	logToStderr := flag.Bool("log", false, "log to standard error")
	httpPort := flag.Int("http-port", 0, "monitoring port on 127.0.0.1 (/connz, /subsz; 0: none)")
	flag.Parse()
	if *clusterPort <= 0 || *storeDir == "" || *routes == "" {
		return fmt.Errorf("--cluster-port, --store-dir and --routes are required")
	}
	opts := &server.Options{
		ServerName: *name,
		Host:       "127.0.0.1",
		Port:       *port,
		JetStream:  true,
		StoreDir:   *storeDir,
		NoSigs:     true,
		NoLog:      !*logToStderr,
		Cluster:    server.ClusterOpts{Name: *clusterName, Host: "127.0.0.1", Port: *clusterPort},
	}
	if *httpPort > 0 {
		opts.HTTPHost, opts.HTTPPort = "127.0.0.1", *httpPort
	}
	for _, r := range strings.Split(*routes, ",") {
		u, err := url.Parse(strings.TrimSpace(r))
		if err != nil {
			return fmt.Errorf("route %q: %w", r, err)
		}
		opts.Routes = append(opts.Routes, u)
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return err
	}
	if *logToStderr {
		ns.ConfigureLogger()
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return fmt.Errorf("not ready for connections within 30s")
	}
	fmt.Printf("natsnode listening on %s\n", ns.ClientURL())

	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
	case <-stdinClosed:
	}
	ns.Shutdown()
	ns.WaitForShutdown()
	return nil
}
