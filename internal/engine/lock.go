package engine

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// lockFileName is the file in the data dir whose exclusive lock marks the dir as in use.
const lockFileName = "ivschatd.lock"

// dataDirLock is the exclusive lock one process holds on its data dir: two embedded
// servers on one store would each overwrite the other's files. The kernel releases the lock
// when the process ends, however it ends, so a stale lock file never blocks a restart.
type dataDirLock struct{ f *os.File }

// lockDataDir takes the data dir's lock without waiting and writes this process's pid into
// the lock file; if another process holds it, the error names the dir and that pid.
func lockDataDir(dir string) (*dataDirLock, error) {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("engine: data dir %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := "another process"
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(string(bytes.TrimSpace(b))); perr == nil {
				holder = "pid " + strconv.Itoa(pid)
			}
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("engine: data dir %s is in use by %s (lock %s); every ivschatd needs its own --data-dir", dir, holder, path)
		}
		return nil, fmt.Errorf("engine: lock data dir %s: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dataDirLock{f: f}, nil
}

// release gives the lock up; the file stays, with the last holder's pid in it.
func (l *dataDirLock) release() {
	if l != nil && l.f != nil {
		_ = l.f.Close()
		l.f = nil
	}
}
