package gateway

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// clientBytes is one frame as a client sends it: masked unless told otherwise.
type clientBytes struct {
	op       byte
	payload  []byte
	notFinal bool
	unmasked bool
	rsv      byte
}

func (f clientBytes) encode() []byte {
	var b []byte
	first := f.op | f.rsv<<4
	if !f.notFinal {
		first |= 0x80
	}
	b = append(b, first)
	maskBit := byte(0x80)
	if f.unmasked {
		maskBit = 0
	}
	switch n := len(f.payload); {
	case n < 126:
		b = append(b, maskBit|byte(n))
	case n <= 0xFFFF:
		b = append(b, maskBit|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, maskBit|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if f.unmasked {
		return append(b, f.payload...)
	}
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	b = append(b, mask[:]...)
	for i, c := range f.payload {
		b = append(b, c^mask[i%4])
	}
	return b
}

func stream(frames ...clientBytes) []byte {
	var b []byte
	for _, f := range frames {
		b = append(b, f.encode()...)
	}
	return b
}

// recorder is the frame sink of the tests: it keeps every control frame in order among the
// messages, and ends the reading at a close as the connection does.
type recorder struct {
	got []clientFrame
	// dues counts the fragmented messages begun.
	dues int
}

func (r *recorder) onControl(f clientFrame) error {
	f.payload = bytes.Clone(f.payload) // the reader reuses it
	r.got = append(r.got, f)
	if f.op == ws.OpClose {
		return errPeerClosed
	}
	return nil
}

func (r *recorder) onMessageDue(due time.Time) {
	if !due.IsZero() {
		r.dues++
	}
}

// unlimited sets no frame limit, so that the framing rules are tested alone.
var unlimited = frameLimits{}

// readAll runs an inbound reader over a client's bytes and returns what it produced: every
// control frame and message in order, then the error that ended it. The reader's clock
// moves by tick each time it is read, so that time-based limits are tested without timing.
func readAll(data []byte, limit int, limits frameLimits, tick time.Duration) (got []clientFrame, err error) {
	rec := &recorder{}
	in := newInbound(bytes.NewReader(data), limit, limits, rec)
	var now time.Duration
	in.clock = func() time.Duration { now += tick; return now }
	for {
		// As the read loop does: wait for the first byte, then read the frame.
		if err := in.wait(); err != nil {
			return rec.got, err
		}
		msg, err := in.next()
		if err != nil {
			return rec.got, err
		}
		rec.got = append(rec.got, msg)
	}
}

func ping(payload string) clientBytes {
	return clientBytes{op: byte(ws.OpPing), payload: []byte(payload)}
}

func repeat(f clientBytes, n int) []clientBytes {
	out := make([]clientBytes, n)
	for i := range out {
		out[i] = f
	}
	return out
}

func repeat2(a, b clientBytes, n int) []clientBytes {
	var out []clientBytes
	for range n {
		out = append(out, a, b)
	}
	return out
}

func closeCode(err error) int {
	var f *protocolFailure
	if errors.As(err, &f) {
		return f.code
	}
	return 0
}

func closePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

func TestInboundFrames(t *testing.T) {
	text := byte(ws.OpText)
	for _, tc := range []struct {
		rule     string
		data     []byte
		want     []string // op:payload of each frame handed out, in order
		wantErr  error    // when the stream ends without a protocol failure
		wantCode int      // close code of a protocol failure
		limits   frameLimits
		tick     time.Duration // how far the reader's clock moves each time it is read
	}{
		{
			rule:    "a masked text frame is one message",
			data:    stream(clientBytes{op: text, payload: []byte(`{"Action":"SEND_MESSAGE"}`)}),
			want:    []string{`1:{"Action":"SEND_MESSAGE"}`},
			wantErr: io.EOF,
		},
		{
			rule: "fragments make one message, and a ping between them is handed out first",
			data: stream(
				clientBytes{op: text, payload: []byte("hel"), notFinal: true},
				clientBytes{op: byte(ws.OpPing), payload: []byte("p")},
				clientBytes{op: byte(ws.OpContinuation), payload: []byte("lo")},
			),
			want:    []string{"9:p", "1:hello"},
			wantErr: io.EOF,
		},
		{
			rule:    "a binary message is handed out without a UTF-8 check",
			data:    stream(clientBytes{op: byte(ws.OpBinary), payload: []byte{0xff, 0xfe}}),
			want:    []string{"2:\xff\xfe"},
			wantErr: io.EOF,
		},
		{
			rule:    "pings and pongs are handed out with their payloads",
			data:    stream(clientBytes{op: byte(ws.OpPing), payload: []byte("a")}, clientBytes{op: byte(ws.OpPong), payload: []byte("b")}),
			want:    []string{"9:a", "10:b"},
			wantErr: io.EOF,
		},
		{
			rule:    "a close with a code ends the reading",
			data:    stream(clientBytes{op: byte(ws.OpClose), payload: closePayload(1000, "bye")}, clientBytes{op: text, payload: []byte("after")}),
			want:    []string{"8:" + string(closePayload(1000, "bye"))},
			wantErr: errPeerClosed,
		},
		{
			rule:    "a close without a payload ends the reading",
			data:    stream(clientBytes{op: byte(ws.OpClose)}),
			want:    []string{"8:"},
			wantErr: errPeerClosed,
		},
		{
			rule:    "a stream that ends inside a frame is not a message",
			data:    stream(clientBytes{op: text, payload: []byte("hello")})[:6],
			wantErr: io.ErrUnexpectedEOF,
		},
		{rule: "an unmasked frame is a protocol error", data: stream(clientBytes{op: text, payload: []byte("x"), unmasked: true}), wantCode: closeProtocolError},
		{rule: "non-zero RSV bits are a protocol error", data: stream(clientBytes{op: text, payload: []byte("x"), rsv: 4}), wantCode: closeProtocolError},
		{rule: "a reserved opcode is a protocol error", data: stream(clientBytes{op: 0x3, payload: []byte("x")}), wantCode: closeProtocolError},
		{rule: "a continuation with no message started is a protocol error", data: stream(clientBytes{op: byte(ws.OpContinuation), payload: []byte("x")}), wantCode: closeProtocolError},
		{
			rule:     "a new message inside a fragmented one is a protocol error",
			data:     stream(clientBytes{op: text, payload: []byte("a"), notFinal: true}, clientBytes{op: text, payload: []byte("b")}),
			wantCode: closeProtocolError,
		},
		{rule: "a fragmented control frame is a protocol error", data: stream(clientBytes{op: byte(ws.OpPing), notFinal: true}), wantCode: closeProtocolError},
		{rule: "a control frame over 125 bytes is a protocol error", data: stream(clientBytes{op: byte(ws.OpPing), payload: make([]byte, 126)}), wantCode: closeProtocolError},
		{rule: "a 64-bit length with its top bit set is a protocol error", data: []byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}, wantCode: closeProtocolError},
		{rule: "a close with a one-byte payload is a protocol error", data: stream(clientBytes{op: byte(ws.OpClose), payload: []byte{3}}), wantCode: closeProtocolError},
		{rule: "a close with code 1005, which is never sent, is a protocol error", data: stream(clientBytes{op: byte(ws.OpClose), payload: closePayload(1005, "")}), wantCode: closeProtocolError},
		{rule: "a close whose reason is not UTF-8 is invalid data", data: stream(clientBytes{op: byte(ws.OpClose), payload: closePayload(1000, "\xff")}), wantCode: closeInvalidData},
		{rule: "text that is not UTF-8 is invalid data", data: stream(clientBytes{op: text, payload: []byte{'{', 0xff, '}'}}), wantCode: closeInvalidData},
		{
			rule: "text split inside a code point across fragments is valid",
			data: stream(
				clientBytes{op: text, payload: []byte("é")[:1], notFinal: true},
				clientBytes{op: byte(ws.OpContinuation), payload: []byte("é")[1:]},
			),
			want:    []string{"1:é"},
			wantErr: io.EOF,
		},
		{
			rule:     "a text message cut inside a code point is invalid data",
			data:     stream(clientBytes{op: text, payload: []byte("é")[:1]}),
			wantCode: closeInvalidData,
		},
		{rule: "a message over the limit is too big", data: stream(clientBytes{op: text, payload: bytes.Repeat([]byte("x"), 65)}), wantCode: closeTooBig},
		{
			rule: "a message over the limit is too big also when each fragment is under it",
			data: stream(
				clientBytes{op: text, payload: bytes.Repeat([]byte("x"), 40), notFinal: true},
				clientBytes{op: byte(ws.OpContinuation), payload: bytes.Repeat([]byte("x"), 40)},
			),
			wantCode: closeTooBig,
		},
		{
			rule:     "a declared length far over the limit is refused before any payload is read",
			data:     []byte{0x81, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4},
			wantCode: closeTooBig,
		},
		{
			rule:     "every frame counts against the budget, empty continuations included",
			data:     stream(append([]clientBytes{{op: text, notFinal: true}}, repeat(clientBytes{op: byte(ws.OpContinuation), notFinal: true}, 10)...)...),
			limits:   frameLimits{Rate: 1, Burst: 4},
			wantCode: closePolicy,
		},
		{
			rule:     "pings, pongs and binary frames count against the budget",
			data:     stream(ping("a"), clientBytes{op: byte(ws.OpPong)}, clientBytes{op: byte(ws.OpBinary), payload: []byte{1}}, ping("b")),
			limits:   frameLimits{Rate: 1, Burst: 3},
			want:     []string{"9:a", "10:", "2:\x01"},
			wantCode: closePolicy,
		},
		{
			rule:     "a ping between fragments counts against the budget",
			data:     stream(clientBytes{op: text, payload: []byte("a"), notFinal: true}, ping("1"), ping("2"), clientBytes{op: byte(ws.OpContinuation), payload: []byte("b")}),
			limits:   frameLimits{Rate: 1, Burst: 2},
			want:     []string{"9:1"},
			wantCode: closePolicy,
		},
		{
			rule:    "the budget refills at its rate",
			data:    stream(repeat(ping("p"), 20)...),
			limits:  frameLimits{Rate: 1000, Burst: 1},
			tick:    time.Millisecond,
			want:    strings.Split(strings.Repeat("9:p ", 20)[:20*4-1], " "),
			wantErr: io.EOF,
		},
		{
			rule: "a message may have as many continuation frames as the cap",
			data: stream(
				clientBytes{op: text, payload: []byte("a"), notFinal: true},
				clientBytes{op: byte(ws.OpContinuation), payload: []byte("b"), notFinal: true},
				clientBytes{op: byte(ws.OpContinuation), payload: []byte("c")},
			),
			limits:  frameLimits{Fragments: 2},
			want:    []string{"1:abc"},
			wantErr: io.EOF,
		},
		{
			rule: "a message with more continuation frames than the cap is a policy violation",
			data: stream(
				clientBytes{op: text, payload: []byte("a"), notFinal: true},
				clientBytes{op: byte(ws.OpContinuation), notFinal: true},
				clientBytes{op: byte(ws.OpContinuation), notFinal: true},
				clientBytes{op: byte(ws.OpContinuation), payload: []byte("c")},
			),
			limits:   frameLimits{Fragments: 2},
			wantCode: closePolicy,
		},
		{
			rule:    "the fragment cap counts each message afresh",
			data:    stream(repeat2(clientBytes{op: text, payload: []byte("a"), notFinal: true}, clientBytes{op: byte(ws.OpContinuation), payload: []byte("b")}, 5)...),
			limits:  frameLimits{Fragments: 1},
			want:    []string{"1:ab", "1:ab", "1:ab", "1:ab", "1:ab"},
			wantErr: io.EOF,
		},
		{
			rule:    "a fragmented message completed in time is one message",
			data:    stream(clientBytes{op: text, payload: []byte("a"), notFinal: true}, ping("p"), clientBytes{op: byte(ws.OpContinuation), payload: []byte("b")}),
			limits:  frameLimits{MessageTimeout: 10 * time.Second},
			tick:    time.Second,
			want:    []string{"9:p", "1:ab"},
			wantErr: io.EOF,
		},
		{
			rule:     "pings do not extend a fragmented message's deadline",
			data:     stream(append([]clientBytes{{op: text, payload: []byte("a"), notFinal: true}}, repeat(ping("p"), 5)...)...),
			limits:   frameLimits{MessageTimeout: 2500 * time.Millisecond},
			tick:     time.Second,
			want:     []string{"9:p", "9:p"},
			wantCode: closePolicy,
		},
		{
			rule:    "unfragmented messages have no deadline between them",
			data:    stream(repeat(clientBytes{op: text, payload: []byte("m")}, 5)...),
			limits:  frameLimits{MessageTimeout: time.Second},
			tick:    time.Hour,
			want:    []string{"1:m", "1:m", "1:m", "1:m", "1:m"},
			wantErr: io.EOF,
		},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			frames, err := readAll(tc.data, 64, tc.limits, tc.tick)
			var got []string
			for _, f := range frames {
				got = append(got, strconv.Itoa(int(f.op))+":"+string(f.payload))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("handed out %q, want %q", got, tc.want)
			}
			if code := closeCode(err); code != tc.wantCode {
				t.Fatalf("ended with %v (close code %d), want close code %d", err, code, tc.wantCode)
			}
			if tc.wantCode == 0 && !errors.Is(err, tc.wantErr) {
				t.Fatalf("ended with %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// FuzzInbound feeds arbitrary client bytes to the frame reader: it never panics or hangs,
// and what it hands out keeps the protocol's promises.
func FuzzInbound(f *testing.F) {
	f.Add(stream(clientBytes{op: byte(ws.OpText), payload: []byte(`{"Action":"SEND_MESSAGE","Content":"hi"}`)}))
	f.Add(stream(
		clientBytes{op: byte(ws.OpText), payload: []byte("a"), notFinal: true},
		clientBytes{op: byte(ws.OpPing), payload: []byte("p")},
		clientBytes{op: byte(ws.OpContinuation), payload: []byte("b")},
		clientBytes{op: byte(ws.OpClose), payload: closePayload(1000, "")},
	))
	f.Add([]byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4})
	f.Add(stream(append([]clientBytes{{op: byte(ws.OpText), notFinal: true}}, repeat(clientBytes{op: byte(ws.OpContinuation), notFinal: true}, 40)...)...))
	const limit = 256
	// The clock stands still: no frame is ever refunded, so the burst bounds what is handed out.
	limits := frameLimits{Rate: 1, Burst: 32, Fragments: 8, MessageTimeout: time.Second}
	f.Fuzz(func(t *testing.T, data []byte) {
		frames, err := readAll(data, limit, limits, 0)
		if err == nil {
			t.Fatal("reading ended without an error")
		}
		if len(frames) > limits.Burst {
			t.Fatalf("handed out %d frames with a budget of %d", len(frames), limits.Burst)
		}
		for _, fr := range frames {
			switch {
			case fr.op.IsControl() && len(fr.payload) > 125:
				t.Fatalf("control frame of %d bytes", len(fr.payload))
			case len(fr.payload) > limit:
				t.Fatalf("message of %d bytes over the %d limit", len(fr.payload), limit)
			case fr.op == ws.OpText && !utf8.Valid(fr.payload):
				t.Fatalf("text message of invalid UTF-8: %q", fr.payload)
			case fr.op != ws.OpText && fr.op != ws.OpBinary && !fr.op.IsControl():
				t.Fatalf("handed out opcode %d", fr.op)
			}
		}
	})
}

// BenchmarkInboundFrames reads a message of 60 empty continuation frames with pings between
// them, with and without the frame limits: the limits add no allocation and little time per
// frame.
func BenchmarkInboundFrames(b *testing.B) {
	msg := []clientBytes{{op: byte(ws.OpText), payload: []byte("{"), notFinal: true}}
	for i := range 60 {
		msg = append(msg, clientBytes{op: byte(ws.OpContinuation), notFinal: true})
		if i%10 == 0 {
			msg = append(msg, ping("p"))
		}
	}
	msg = append(msg, clientBytes{op: byte(ws.OpContinuation), payload: []byte("}")})
	data := stream(msg...)
	for _, bc := range []struct {
		name   string
		limits frameLimits
	}{
		{"unlimited", unlimited},
		{"limited", frameLimits{Rate: 1e9, Burst: 1e6, Fragments: 100, MessageTimeout: time.Hour}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			src := bytes.NewReader(data)
			in := newInbound(src, 1<<10, bc.limits, &discard{})
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(data)
				if err := in.wait(); err != nil {
					b.Fatal(err)
				}
				if _, err := in.next(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(msg)), "ns/frame")
		})
	}
}

type discard struct{}

func (discard) onControl(clientFrame) error { return nil }
func (discard) onMessageDue(time.Time)      {}
