package gateway

import (
	"bufio"
	"errors"
	"io"
	"sync"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// inbound reads what a client sends (RFC 6455 §5 from the server's side) straight from the
// socket: it holds no buffer while the client is quiet, so an idle member costs only its
// goroutine, and a message is allocated only when one arrives.
type inbound struct {
	rd  wsutil.Reader
	src waitingReader
	// onControl gets every control frame as it arrives, also between the fragments of a
	// message; an error from it ends the reading.
	onControl func(clientFrame) error
}

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
func newInbound(src io.Reader, maxMessageBytes int, onControl func(clientFrame) error) *inbound {
	in := &inbound{onControl: onControl, src: waitingReader{src: src}}
	in.rd = wsutil.Reader{
		Source:         &in.src,
		State:          ws.StateServerSide,
		CheckUTF8:      true,
		MaxMessageSize: int64(maxMessageBytes),
		OnIntermediate: func(h ws.Header, body io.Reader) error { return in.control(h.OpCode, body) },
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
		if h.OpCode.IsControl() {
			if err := in.control(h.OpCode, &in.rd); err != nil {
				return clientFrame{}, err
			}
			continue
		}
		payload, err := io.ReadAll(&in.rd)
		if err != nil {
			return clientFrame{}, classify(err)
		}
		return clientFrame{op: h.OpCode, payload: payload}, nil
	}
}

// control reads a control frame's payload (at most 125 bytes, as the header check made
// sure), checks a close frame's, and hands the frame on.
func (in *inbound) control(op ws.OpCode, body io.Reader) error {
	payload, err := io.ReadAll(body)
	if err != nil {
		return classify(err)
	}
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
	return in.onControl(clientFrame{op: op, payload: payload})
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
