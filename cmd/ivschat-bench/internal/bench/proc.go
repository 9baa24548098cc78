package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Proc is a server process the generator started.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	URL  string // http://host:port the process announced
	dir  string // removed when the process is stopped
	done chan error
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// StartProc runs a server and waits for the line that announces its address: the first
// "http://..." word of a line containing "listening on".
func StartProc(name string, argv []string, env []string, tmpDir string) (*Proc, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = &prefixWriter{prefix: name + ": ", w: os.Stderr}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Proc{Name: name, Cmd: cmd, dir: tmpDir, done: make(chan error, 1)}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if !sent && strings.Contains(line, "listening on") {
				for _, w := range strings.Fields(line) {
					if strings.HasPrefix(w, "http://") {
						urls <- w
						sent = true
						break
					}
				}
			}
		}
		if !sent {
			close(urls)
		}
	}()
	go func() { p.done <- cmd.Wait() }()
	select {
	case u, ok := <-urls:
		if !ok {
			p.Stop()
			return nil, fmt.Errorf("%s exited before announcing its address", name)
		}
		p.URL = u
		return p, nil
	case <-time.After(30 * time.Second):
		p.Stop()
		return nil, fmt.Errorf("%s did not announce its address within 30s", name)
	}
}

// Stop ends the process by its pid: SIGTERM, then SIGKILL after 20 seconds.
func (p *Proc) Stop() {
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
	if p.dir != "" {
		_ = os.RemoveAll(p.dir)
	}
}

type prefixWriter struct {
	prefix string
	w      *os.File
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i])
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}

// BuildIvschatd builds cmd/ivschatd of the module in dir into a temporary directory.
func BuildIvschatd(moduleDir string) (string, error) {
	out, err := os.MkdirTemp("", "ivschat-bench-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(out, "ivschatd")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/ivschatd")
	cmd.Dir = moduleDir
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/ivschatd: %w", err)
	}
	return bin, nil
}
