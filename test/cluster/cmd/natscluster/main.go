// Command natscluster runs a NATS cluster with JetStream in one process, on loopback, for
// end-to-end tests that need a cluster but not the failure of one server (those use natsnode,
// one server per process). It prints
//
//	natscluster ready nats://127.0.0.1:P1,nats://127.0.0.1:P2,nats://127.0.0.1:P3
//
// once JetStream has a leader that sees every server, the line --nats-url takes, and runs until
// its standard input closes (the test that started it has gone) or it gets SIGTERM.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
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
		fmt.Fprintln(os.Stderr, "natscluster:", err)
		os.Exit(1)
	}
}

func run() error {
	n := flag.Int("servers", 3, "servers in the cluster")
	dir := flag.String("store-dir", "", "parent of the servers' JetStream stores (default: a new temporary directory, removed at exit)")
	flag.Parse()
	if *dir == "" {
		d, err := os.MkdirTemp("", "natscluster-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	// JetStream clustering wants every route known up front: find free ports first.
	var routes []*url.URL
	var ports []int
	for range *n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: l.Addr().String()})
		l.Close()
	}
	var servers []*server.Server
	defer func() {
		for _, s := range servers {
			s.Shutdown()
			s.WaitForShutdown()
		}
	}()
	for i := range *n {
		ns, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("nats-%d", i+1),
			Host:       "127.0.0.1",
			Port:       -1,
			JetStream:  true,
			StoreDir:   fmt.Sprintf("%s/nats-%d", *dir, i+1),
			NoSigs:     true,
			NoLog:      true,
			Cluster:    server.ClusterOpts{Name: "ivschat-test", Host: "127.0.0.1", Port: ports[i]},
			Routes:     routes,
		})
		if err != nil {
			return err
		}
		servers = append(servers, ns)
	}
	var urls []string
	for i, ns := range servers {
		go ns.Start()
		if !ns.ReadyForConnections(30 * time.Second) {
			return fmt.Errorf("server %d not ready within 30s", i+1)
		}
		urls = append(urls, ns.ClientURL())
	}
	deadline := time.Now().Add(60 * time.Second)
	for !ready(servers) {
		if time.Now().After(deadline) {
			return fmt.Errorf("JetStream has no leader seeing all %d servers after 60s", *n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Printf("natscluster ready %s\n", strings.Join(urls, ","))

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
	return nil
}

// ready: one meta leader, which sees every server, and every server caught up with it.
func ready(servers []*server.Server) bool {
	leaders := 0
	for _, ns := range servers {
		if !ns.JetStreamIsCurrent() {
			return false
		}
		if ns.JetStreamIsLeader() { // only the leader knows the peers
			leaders++
			if len(ns.JetStreamClusterPeers()) != len(servers) {
				return false
			}
		}
	}
	return leaders == 1
}
