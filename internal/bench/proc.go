package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ProcSample is what /proc says of a process at one moment.
type ProcSample struct {
	At         time.Time `json:"at"`
	RSSKiB     int64     `json:"rss_kib"`
	HWMKiB     int64     `json:"hwm_kib"`
	Threads    int       `json:"threads"`
	CPUSeconds float64   `json:"cpu_s"` // user + system
	// Read and write system calls so far (/proc/<pid>/io syscr, syscw; writev counts as a
	// write): deliveries per write call shows how well writes are batched.
	ReadCalls  int64 `json:"syscr"`
	WriteCalls int64 `json:"syscw"`
}

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

// ReadProc samples /proc/<pid>/status and /proc/<pid>/stat.
func ReadProc(pid int) (ProcSample, error) {
	s := ProcSample{At: time.Now()}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			s.RSSKiB = n
		case "VmHWM":
			s.HWMKiB = n
		case "Threads":
			s.Threads = int(n)
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name may hold spaces; fields resume after its closing parenthesis.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, fmt.Errorf("/proc/%d/stat: no command", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	s.CPUSeconds = float64(ut+st) / clockTicks
	if io, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid)); err == nil {
		for _, l := range strings.Split(string(io), "\n") {
			k, v, _ := strings.Cut(l, ": ")
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			switch k {
			case "syscr":
				s.ReadCalls = n
			case "syscw":
				s.WriteCalls = n
			}
		}
	}
	return s, nil
}

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

// MachineCPU is the whole machine's CPU time so far, from /proc/stat, in seconds.
type MachineCPU struct {
	Busy    float64 // user, nice, system, irq, steal: everything but idle, iowait and softirq
	SoftIRQ float64 // softirq time, which no process is charged for (loopback TCP lives here)
}

// ReadMachineCPU reads the first line of /proc/stat.
func ReadMachineCPU() MachineCPU {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return MachineCPU{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return MachineCPU{}
	}
	v := make([]float64, 9)
	for i := 1; i < 9; i++ {
		n, _ := strconv.ParseInt(f[i], 10, 64)
		v[i] = float64(n) / clockTicks
	}
	// user nice system idle iowait irq softirq steal
	return MachineCPU{Busy: v[1] + v[2] + v[3] + v[6] + v[8], SoftIRQ: v[7]}
}

// LoadAverage is the first field of /proc/loadavg.
func LoadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
