package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
)

// Generator holds members: the coordinating process's own pool, or a worker process.
type Generator interface {
	Connect(ctx context.Context, req ConnectRequest) (ConnectResult, error)
	Stats(req StatsRequest) (PoolStats, error)
	CloseAll() error
	// Close ends a worker process; for a local pool it closes every member.
	Close() error
}

// Local is a pool in this process.
type Local struct{ *Pool }

func (l Local) Connect(ctx context.Context, req ConnectRequest) (ConnectResult, error) {
	return l.Pool.Connect(ctx, req), nil
}
func (l Local) Stats(req StatsRequest) (PoolStats, error) { return l.Pool.Stats(req), nil }
func (l Local) CloseAll() error                           { l.Pool.CloseAll(); return nil }
func (l Local) Close() error                              { l.Pool.CloseAll(); return nil }

// The coordinator talks to a worker with one JSON object per line each way: a request on
// the worker's stdin, its answer on its stdout.
type workerRequest struct {
	Op      string          `json:"op"` // connect, stats, closeall
	Connect *ConnectRequest `json:"connect,omitempty"`
	Stats   *StatsRequest   `json:"stats,omitempty"`
}

type workerResponse struct {
	Error   string         `json:"error,omitempty"`
	Connect *ConnectResult `json:"connect,omitempty"`
	Stats   *PoolStats     `json:"stats,omitempty"`
}

// Worker is a generator process: this same program, started with the worker argument.
type Worker struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	in  io.WriteCloser
	out *json.Decoder
	enc *json.Encoder
}

// StartWorker runs argv (this program in worker mode) as a generator.
func StartWorker(argv []string, env []string) (*Worker, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &Worker{cmd: cmd, in: in, out: json.NewDecoder(bufio.NewReaderSize(out, 1<<16)), enc: json.NewEncoder(in)}, nil
}

// Pid is the worker's process id.
func (w *Worker) Pid() int { return w.cmd.Process.Pid }

func (w *Worker) call(req workerRequest) (workerResponse, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var resp workerResponse
	if err := w.enc.Encode(req); err != nil {
		return resp, fmt.Errorf("worker %d: %w", w.Pid(), err)
	}
	if err := w.out.Decode(&resp); err != nil {
		return resp, fmt.Errorf("worker %d: %w", w.Pid(), err)
	}
	if resp.Error != "" {
		return resp, errors.New(resp.Error)
	}
	return resp, nil
}

func (w *Worker) Connect(ctx context.Context, req ConnectRequest) (ConnectResult, error) {
	resp, err := w.call(workerRequest{Op: "connect", Connect: &req})
	if err != nil {
		return ConnectResult{}, err
	}
	return *resp.Connect, nil
}

func (w *Worker) Stats(req StatsRequest) (PoolStats, error) {
	resp, err := w.call(workerRequest{Op: "stats", Stats: &req})
	if err != nil {
		return PoolStats{}, err
	}
	return *resp.Stats, nil
}

func (w *Worker) CloseAll() error {
	_, err := w.call(workerRequest{Op: "closeall"})
	return err
}

// Close closes the worker's stdin, which ends it, and waits for it.
func (w *Worker) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.in.Close()
	return w.cmd.Wait()
}

// ServeWorker is the worker process's main loop: requests on r, answers on w, until r ends.
func ServeWorker(r io.Reader, w io.Writer) error {
	pool := NewPool()
	defer pool.CloseAll()
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	for {
		var req workerRequest
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		var resp workerResponse
		switch req.Op {
		case "connect":
			if req.Connect == nil {
				resp.Error = "connect: no request"
				break
			}
			res := pool.Connect(context.Background(), *req.Connect)
			resp.Connect = &res
		case "stats":
			var sr StatsRequest
			if req.Stats != nil {
				sr = *req.Stats
			}
			st := pool.Stats(sr)
			resp.Stats = &st
		case "closeall":
			pool.CloseAll()
		default:
			resp.Error = "unknown op " + req.Op
		}
		if err := enc.Encode(resp); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
	}
}
