// Package e2e drives a real ivschatd (real listener, embedded engine) through the official
// clients: the aws-sdk-go-v2 ivschat client for the control plane, a WebSocket client for
// messaging.
package e2e

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ivschat"

	"github.com/ivschatd/ivschatd/internal/api"
	"github.com/ivschatd/ivschatd/internal/server"
	"github.com/ivschatd/ivschatd/test/sdkclient"
)

// startServer runs a node on a loopback port with a fresh data dir until the test ends.
// change, if given, adjusts the configuration first.
func startServer(t testing.TB, change func(*server.Config)) *server.Server {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	if change != nil {
		change(&cfg)
	}
	srv, err := server.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("start ivschatd: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv
}

// startNode runs a node that the test stops itself with stopNode, so that another can be
// started on the same data dir.
func startNode(t testing.TB, cfg server.Config) *server.Server {
	t.Helper()
	srv, err := server.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("start ivschatd: %v", err)
	}
	return srv
}

func stopNode(t testing.TB, srv *server.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// client is the official Go SDK client pointed at a node with the given key pair.
func client(srv *server.Server, accessKeyID, secret string) *ivschat.Client {
	return sdkclient.IVSChat(srv.URL(), "us-east-1", accessKeyID, secret, "")
}

// devClient is the official Go SDK client with the development credentials.
func devClient(srv *server.Server) *ivschat.Client {
	return client(srv, api.DevAccessKeyID, api.DevSecretAccessKey)
}
