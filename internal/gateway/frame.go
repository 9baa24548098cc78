package gateway

import "encoding/binary"

// WebSocket opcodes (RFC 6455 §5.2).
const (
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

// Close codes (RFC 6455 §7.4.1) used by the gateway.
const (
	closeNormal        = 1000
	closeGoingAway     = 1001
	closeProtocolError = 1002
	closeInvalidData   = 1007
	closePolicy        = 1008
	closeTooBig        = 1009
	closeInternalError = 1011
)

// frame builds one unmasked, unfragmented server frame. A payload is framed once per publish
// and the same bytes are written to every member; frames are never modified after this.
func frame(op byte, payload []byte) []byte {
	n := len(payload)
	var hdr int
	switch {
	case n < 126:
		hdr = 2
	case n <= 0xFFFF:
		hdr = 4
	default:
		hdr = 10
	}
	b := make([]byte, hdr+n)
	b[0] = 0x80 | op
	switch hdr {
	case 2:
		b[1] = byte(n)
	case 4:
		b[1] = 126
		binary.BigEndian.PutUint16(b[2:], uint16(n))
	default:
		b[1] = 127
		binary.BigEndian.PutUint64(b[2:], uint64(n))
	}
	copy(b[hdr:], payload)
	return b
}

// closeFrame builds a close frame; the reason is cut to fit the 125-byte control payload.
// Code 0 builds a close frame without a payload, the answer to one that had none.
func closeFrame(code int, reason string) []byte {
	if code == 0 {
		return frame(opClose, nil)
	}
	if len(reason) > 123 {
		reason = reason[:123]
	}
	p := make([]byte, 2+len(reason))
	binary.BigEndian.PutUint16(p, uint16(code))
	copy(p[2:], reason)
	return frame(opClose, p)
}

func isClose(f []byte) bool { return f[0] == 0x80|opClose }

// pingFrame is shared by every connection.
var pingFrame = frame(opPing, nil)
