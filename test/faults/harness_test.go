// Package faults runs ivschatd processes into the faults a production node meets (a full
// disk, damaged store files, kill -9 in the middle of writes) and asserts what a client sees
// through the official Go SDK, and for how long. The loss of a NATS server is in test/cluster
// (TestNATSServerLoss), which runs the three servers it needs. docs/deployment.md ("When
// something fails") quotes the figures these tests log.
package faults

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ivschat"

	"github.com/ivschatd/ivschatd/internal/api"
	"github.com/ivschatd/ivschatd/test/sdkclient"
)

// clientOf is the Go SDK client for a node, with the development key pair.
func clientOf(n *sdkclient.Node) *ivschat.Client {
	return sdkclient.IVSChat(n.URL, "us-east-1", api.DevAccessKeyID, api.DevSecretAccessKey, "")
}

// smallDisk mounts a tmpfs of the given size on a fresh directory until the test ends.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root (CI runs as root)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fillDisk writes a file into dir until its disk is full; free removes it.
func fillDisk(t *testing.T, dir string) (free func()) {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for err == nil {
		_, err = f.Write(chunk)
	}
	f.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling %s: %v", dir, err)
	}
	return func() {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
}

// apiError is the AWS error code and message of err, or fails the test if err is not one.
func apiError(t *testing.T, err error) (code, message string) {
	t.Helper()
	var ae interface {
		ErrorCode() string
		ErrorMessage() string
	}
	if !errors.As(err, &ae) {
		t.Fatalf("not an AWS API error: %v", err)
	}
	return ae.ErrorCode(), ae.ErrorMessage()
}
