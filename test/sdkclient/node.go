package sdkclient

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BuildIVSChatd compiles ./cmd/ivschatd into a temporary directory and returns its path.
func BuildIVSChatd(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ivschatd")
	build := exec.Command("go", "build", "-o", bin, "github.com/ivschatd/ivschatd/cmd/ivschatd")
	build.Dir = repoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// repoRoot is the module's root directory, two levels above this file.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Node is an ivschatd process on a loopback port.
type Node struct {
	Cmd *exec.Cmd
	URL string
	log *LockedBuffer
}

// StartNode runs the binary with --data-dir dataDir and the given flags, its environment
// without any IVSCHATD_ variable but env, and waits until it says where it listens and its
// /healthz answers 200. The process is killed when the test ends, if still running.
func StartNode(t testing.TB, bin, dataDir string, env []string, args ...string) *Node {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--data-dir", dataDir}, args...)...)
	// The child takes its whole configuration from the flags.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IVSCHATD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{Cmd: cmd, log: &LockedBuffer{}}
	cmd.Stderr = n.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if n.Cmd.ProcessState == nil {
			_ = n.Cmd.Process.Kill()
			_ = n.Cmd.Wait()
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "ivschatd listening on "); ok {
				found <- strings.Fields(rest)[0]
			}
		}
		close(found)
	}()
	select {
	case url, ok := <-found:
		if !ok {
			t.Fatalf("ivschatd exited without listening: %s", n.Log())
		}
		n.URL = url
	case <-time.After(30 * time.Second):
		t.Fatalf("ivschatd did not say where it listens within 30s: %s", n.Log())
	}
	if strings.HasPrefix(n.URL, "https://") {
		return n // the caller trusts the test CA; a plain client does not
	}
	resp, err := http.Get(n.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
	return n
}

// Log is what the node has written to stderr so far (its log).
func (n *Node) Log() string { return n.log.String() }

// Kill ends the node with SIGKILL: no shutdown code runs.
func (n *Node) Kill(t testing.TB) {
	t.Helper()
	if err := n.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := n.Cmd.Wait()
	if ws, ok := n.Cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("ivschatd did not die of SIGKILL: %v", err)
	}
}

// Stop ends the node with SIGTERM and waits for it to exit.
func (n *Node) Stop(t testing.TB) {
	t.Helper()
	if err := n.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := n.Cmd.Wait(); err != nil {
		t.Fatalf("ivschatd after SIGTERM: %v\n%s", err, n.Log())
	}
}
