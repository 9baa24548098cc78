// Package procstat reads what Linux's /proc says of a process: memory, threads, CPU time and
// system calls. The benchmark tool and the cluster benchmark measure servers with it.
package procstat

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Sample is what /proc says of a process at one moment.
type Sample struct {
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

// Read samples /proc/<pid>/status and /proc/<pid>/stat.
func Read(pid int) (Sample, error) {
	s := Sample{At: time.Now()}
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
