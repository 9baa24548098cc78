package gateway

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
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

// readAll runs an inbound reader over a client's bytes and returns what it produced: every
// control frame and message in order, then the error that ended it.
func readAll(data []byte, limit int) (got []clientFrame, err error) {
	in := newInbound(bytes.NewReader(data), limit, func(f clientFrame) error {
		got = append(got, f)
		if f.op == ws.OpClose {
			return errPeerClosed
		}
		return nil
	})
	for {
		// As the read loop does: wait for the first byte, then read the frame.
		if err := in.wait(); err != nil {
			return got, err
		}
		msg, err := in.next()
		if err != nil {
			return got, err
		}
		got = append(got, msg)
	}
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
	} {
		t.Run(tc.rule, func(t *testing.T) {
			frames, err := readAll(tc.data, 64)
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
	const limit = 256
	f.Fuzz(func(t *testing.T, data []byte) {
		frames, err := readAll(data, limit)
		if err == nil {
			t.Fatal("reading ended without an error")
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
