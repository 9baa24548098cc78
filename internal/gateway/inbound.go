package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// inbound reads what a client sends (RFC 6455 §5 from the server's side) straight from the
// socket: it holds no buffer while the client is quiet, so an idle member costs only its
// goroutine, and a message is allocated only when one arrives.
type inbound struct {
	rd   wsutil.Reader
	src  waitingReader
	sink frameSink

	limits frameLimits
	clock  func() time.Duration // monotonic time; replaced in tests
	budget frameBudget
	// fragments counts the continuation frames of the message being read; due is when
	// that message must be complete (zero while no fragmented message is open).
	fragments int
	due       time.Duration
	ctl       [ws.MaxControlFramePayloadSize]byte // the payload of the control frame being read
}

// frameSink is told what the reader sees besides messages.
type frameSink interface {
	// onControl gets every control frame as it arrives, also between the fragments of a
	// message; an error from it ends the reading. The payload is the reader's: it must not
	// be kept after onControl returns.
	onControl(clientFrame) error
	// onMessageDue says by when the fragmented message just begun must be complete, as a
	// wall-clock time for the socket's read deadline; zero when it is complete.
	onMessageDue(time.Time)
}

// frameLimits bound the work one client can cause with frames, whatever they carry: a
// frame costs the server a header parse (and a pong for a ping, an ERROR for a binary
// frame) even when it carries nothing.
type frameLimits struct {
	// Rate is the frames per second one connection may send, sustained; Burst how many may
	// come at once. A rate of 0 sets no budget.
	Rate  float64
	Burst int
	// Fragments is how many continuation frames one message may have (0: no cap).
	Fragments int
	// MessageTimeout is how long a fragmented message may take from its first frame to its
	// last (0: no bound).
	MessageTimeout time.Duration
}

// frameBudget is a token bucket of frames in its GCRA form: one clock value and integer
// arithmetic, owned by the reader goroutine, so counting a frame takes no lock.
type frameBudget struct {
	next      time.Duration // when the bucket is full again (its "theoretical arrival time")
	interval  time.Duration // one frame's share of a second
	tolerance time.Duration // how far ahead of now next may run: burst-1 intervals
}

func newFrameBudget(l frameLimits) frameBudget {
	if l.Rate <= 0 {
		return frameBudget{}
	}
	interval := time.Duration(float64(time.Second) / l.Rate)
	burst := max(l.Burst, 1)
	return frameBudget{interval: max(interval, 1), tolerance: time.Duration(burst-1) * max(interval, 1)}
}

// take counts one frame at now and reports whether it is within the budget.
func (b *frameBudget) take(now time.Duration) bool {
	if b.interval == 0 {
		return true
	}
	next := max(b.next, now)
	if next-now > b.tolerance {
		return false
	}
	b.next = next + b.interval
	return true
}

// monotonic is the time since the process started, from the monotonic clock.
func monotonic() time.Duration { return time.Since(processStart) }

var processStart = time.Now()

// clientFrame is one complete message or control frame from a client.
type clientFrame struct {
	op      ws.OpCode
	payload []byte
}

// protocolFailure is a client error that ends the connection with a close code.
type protocolFailure struct {
	code   int
	reason string
}

func (p *protocolFailure) Error() string { return p.reason }

// newInbound reads a client's frames from src. (Not inlined: it would enlarge the read
// loop's frame, which an idle member keeps on its stack.)
//
//go:noinline
func newInbound(src io.Reader, maxMessageBytes int, limits frameLimits, sink frameSink) *inbound {
	in := &inbound{sink: sink, src: waitingReader{src: src}, limits: limits, clock: monotonic, budget: newFrameBudget(limits)}
	in.rd = wsutil.Reader{
		Source:         &in.src,
		State:          ws.StateServerSide,
		CheckUTF8:      true,
		MaxMessageSize: int64(maxMessageBytes),
		OnContinuation: func(ws.Header, io.Reader) error { return in.continuation() },
		OnIntermediate: func(h ws.Header, body io.Reader) error {
			if err := in.count(); err != nil {
				return err
			}
			return in.control(h.OpCode, body)
		},
	}
	return in
}

// wait blocks until the client sends something. Waiting here, in a shallow call, rather
// than deep inside the frame parser keeps an idle member's goroutine on the smallest stack:
// 2 KiB instead of the 4 KiB the parser's calls need (measured with runtime.MemStats).
func (in *inbound) wait() error { return in.src.wait() }

// waitingReader reads a client's bytes for the frame parser. While the client is quiet it
// holds one byte of its own; while frames arrive it borrows a buffer from a pool, so that a
// frame's header, mask and payload usually come in one read.
type waitingReader struct {
	src   io.Reader
	ahead [1]byte
	has   bool
	buf   *bufio.Reader // borrowed while frames arrive; nil while waiting
}

var readBuffers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 512) }}

// wait returns once a byte is at hand, giving the buffer back if it holds nothing.
func (w *waitingReader) wait() error {
	if w.has {
		return nil
	}
	if w.buf != nil {
		if w.buf.Buffered() > 0 {
			return nil
		}
		w.release()
	}
	n, err := w.src.Read(w.ahead[:])
	w.has = n == 1
	if w.has {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

func (w *waitingReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if w.has {
		p[0], w.has = w.ahead[0], false
		return 1, nil
	}
	if w.buf == nil {
		w.buf = readBuffers.Get().(*bufio.Reader)
		w.buf.Reset(w.src)
	}
	return w.buf.Read(p)
}

// release gives a borrowed buffer back.
//
//go:noinline
func (w *waitingReader) release() {
	if w.buf != nil {
		w.buf.Reset(nil)
		readBuffers.Put(w.buf)
		w.buf = nil
	}
}

// next returns the client's next text or binary message, after passing the control frames
// before it to onControl. A text message is valid UTF-8 and no message exceeds the limit.
// An error is the socket's, onControl's, or a *protocolFailure that says how to close.
func (in *inbound) next() (clientFrame, error) {
	for {
		h, err := in.rd.NextFrame()
		if err != nil {
			return clientFrame{}, classify(err)
		}
		if err := in.count(); err != nil {
			return clientFrame{}, err
		}
		if h.OpCode.IsControl() {
			if err := in.control(h.OpCode, &in.rd); err != nil {
				return clientFrame{}, err
			}
			continue
		}
		if !h.Fin {
			in.open()
		}
		payload, err := io.ReadAll(&in.rd)
		if due := in.due; due != 0 {
			in.due = 0
			in.sink.onMessageDue(time.Time{})
			if err != nil && isTimeout(err) && in.clock() >= due {
				return clientFrame{}, in.late()
			}
		}
		if err != nil {
			return clientFrame{}, classify(err)
		}
		return clientFrame{op: h.OpCode, payload: payload}, nil
	}
}

// count charges one frame, of any kind, to the connection's budget, and ends a fragmented
// message that has run out of time.
func (in *inbound) count() error {
	now := in.clock()
	if !in.budget.take(now) {
		return &protocolFailure{closePolicy, fmt.Sprintf("too many frames: at most %g per second", in.limits.Rate)}
	}
	if in.due != 0 && now > in.due {
		return in.late()
	}
	return nil
}

// open starts the clock of a fragmented message.
func (in *inbound) open() {
	in.fragments = 0
	if in.limits.MessageTimeout > 0 {
		in.due = in.clock() + in.limits.MessageTimeout
		in.sink.onMessageDue(time.Now().Add(in.limits.MessageTimeout))
	}
}

// continuation counts one more fragment of the open message.
func (in *inbound) continuation() error {
	if err := in.count(); err != nil {
		return err
	}
	in.fragments++
	if in.limits.Fragments > 0 && in.fragments > in.limits.Fragments {
		return &protocolFailure{closePolicy, fmt.Sprintf("too many fragments: a message may have at most %d continuation frames", in.limits.Fragments)}
	}
	return nil
}

func (in *inbound) late() error {
	return &protocolFailure{closePolicy, fmt.Sprintf("a fragmented message must be complete within %v", in.limits.MessageTimeout)}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// control reads a control frame's payload (at most 125 bytes, as the header check made
// sure) into the reader's own buffer, checks a close frame's, and hands the frame on. The
// payload is valid only during onControl.
func (in *inbound) control(op ws.OpCode, body io.Reader) error {
	n := 0
	for {
		m, err := body.Read(in.ctl[n:])
		n += m
		if err == io.EOF {
			break
		}
		if err != nil {
			return classify(err)
		}
	}
	payload := in.ctl[:n]
	if op == ws.OpClose {
		if len(payload) == 1 {
			return &protocolFailure{closeProtocolError, "a close frame's payload cannot be one byte"}
		}
		if len(payload) >= 2 {
			if err := ws.CheckCloseFrameData(ws.ParseCloseFrameDataUnsafe(payload)); err != nil {
				return classify(err)
			}
		}
	}
	return in.sink.onControl(clientFrame{op: op, payload: payload})
}

// classify turns a reading error into the close the client has earned, if any.
func classify(err error) error {
	var pe ws.ProtocolError
	switch {
	case errors.Is(err, ws.ErrProtocolInvalidUTF8), errors.Is(err, wsutil.ErrInvalidUTF8):
		return &protocolFailure{closeInvalidData, "text is not valid UTF-8"}
	case errors.As(err, &pe):
		return &protocolFailure{closeProtocolError, pe.Error()}
	case errors.Is(err, ws.ErrHeaderLengthMSB), errors.Is(err, ws.ErrHeaderLengthUnexpected):
		return &protocolFailure{closeProtocolError, err.Error()}
	case errors.Is(err, wsutil.ErrMessageTooLarge), errors.Is(err, wsutil.ErrFrameTooLarge):
		return &protocolFailure{closeTooBig, "message too big"}
	}
	return err
}
