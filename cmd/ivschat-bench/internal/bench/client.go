package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The members are a small WebSocket client of their own rather than a general library: a
// generator that shares two cores with the server must spend as little as it can per frame.
// It speaks exactly what the IVS chat SDKs do on the wire: an HTTP/1.1 upgrade offering the
// chat token as the only subprotocol, masked text frames out, unmasked frames in.

// HandshakeError is a refused upgrade: the HTTP status and the start of the body.
type HandshakeError struct {
	Status int
	Body   string
}

func (e *HandshakeError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body) }

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// dialWS opens a WebSocket to wsURL with the token as subprotocol, from the source address
// src when it is set. The returned reader holds whatever the server sent after the 101.
func dialWS(ctx context.Context, wsURL, token string, src net.IP) (net.Conn, *bufio.Reader, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return nil, nil, err
	}
	d := net.Dialer{}
	if src != nil {
		d.LocalAddr = &net.TCPAddr{IP: src}
		d.Control = bindAddressNoPort
	}
	c, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	k := base64.StdEncoding.EncodeToString(key[:])
	path := u.RequestURI()
	req := "GET " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + k + "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: " + token + "\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, nil, err
	}
	br := bufio.NewReaderSize(c, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		c.Close()
		return nil, nil, &HandshakeError{Status: resp.StatusCode, Body: string(bytes.TrimSpace(body))}
	}
	sum := sha1.Sum([]byte(k + wsGUID))
	if resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		c.Close()
		return nil, nil, errors.New("bad Sec-WebSocket-Accept")
	}
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != token {
		c.Close()
		return nil, nil, fmt.Errorf("subprotocol not echoed (got %d bytes, want the token)", len(got))
	}
	_ = c.SetDeadline(time.Time{})
	return c, br, nil
}

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT (linux/in.h).
const ipBindAddressNoPort = 24

// bindAddressNoPort lets the kernel pick the local port at connect time, by the whole
// address 4-tuple, instead of at bind time: without it every connection from a chosen source
// address holds a port of its own, and the TIME_WAIT ports of earlier scenarios make binds
// slow and then fail.
func bindAddressNoPort(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// member is one connected chat member.
type member struct {
	pool   *Pool
	room   int32 // index of its room in the scenario
	sender int32 // sender number, -1 for a member that only listens
	shard  int32 // which of the pool's latency histograms it records into
	conn   net.Conn
	br     *bufio.Reader

	wmu  sync.Mutex // frames out: requests and pongs
	wbuf []byte

	got      atomic.Int64 // MESSAGE frames carrying a bench timestamp
	lastRecv atomic.Int64 // unix nanoseconds of the last one
	own      atomic.Int64 // its own messages delivered back to it: sends the server accepted
	errs     atomic.Int64 // ERROR frames
	closed   atomic.Bool
	expected atomic.Bool // the close was asked for by the generator
}

// maskedFrame appends a masked client text frame.
func maskedFrame(dst []byte, op byte, payload []byte) []byte {
	n := len(payload)
	dst = append(dst, 0x80|op)
	switch {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	dst = append(dst, mask[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	for i := range payload {
		dst[start+i] ^= mask[i&3]
	}
	return dst
}

func (m *member) write(op byte, payload []byte) error {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	m.wbuf = maskedFrame(m.wbuf[:0], op, payload)
	_ = m.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := m.conn.Write(m.wbuf)
	return err
}

// contentPad makes every message's content the same length, like a short chat line.
const contentLen = 64

// appendSend appends a SEND_MESSAGE request whose content carries the send time, the
// sender's number and the message's sequence number.
func appendSend(dst []byte, sender int32, seq int64, at time.Time) []byte {
	dst = append(dst, `{"Action":"SEND_MESSAGE","RequestId":"`...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, `","Content":"`...)
	start := len(dst)
	dst = append(dst, 'T')
	dst = strconv.AppendInt(dst, at.UnixNano(), 10)
	dst = append(dst, '.')
	dst = strconv.AppendInt(dst, int64(sender), 10)
	dst = append(dst, '.')
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, '.')
	for len(dst)-start < contentLen {
		dst = append(dst, 'x')
	}
	return append(dst, `"}`...)
}

// send sends one timestamped message.
func (m *member) send(seq int64) error {
	var buf [256]byte
	return m.write(0x1, appendSend(buf[:0], m.sender, seq, time.Now()))
}

var contentMarker = []byte(`"Content":"T`)

// parseContent finds the bench timestamp in a delivered payload: send time in unix
// nanoseconds and the sender's number.
func parseContent(p []byte) (sent int64, sender int64, ok bool) {
	i := bytes.Index(p, contentMarker)
	if i < 0 {
		return 0, 0, false
	}
	p = p[i+len(contentMarker):]
	sent, p, ok = parseUint(p)
	if !ok || len(p) == 0 || p[0] != '.' {
		return 0, 0, false
	}
	sender, _, ok = parseUint(p[1:])
	return sent, sender, ok
}

func parseUint(p []byte) (int64, []byte, bool) {
	var v int64
	i := 0
	for ; i < len(p) && p[i] >= '0' && p[i] <= '9'; i++ {
		v = v*10 + int64(p[i]-'0')
	}
	return v, p[i:], i > 0
}

var errorPrefix = []byte(`{"Type":"ERROR"`)

// readLoop reads frames until the connection ends.
func (m *member) readLoop() {
	p := m.pool
	defer func() {
		m.closed.Store(true)
		m.conn.Close()
		if !m.expected.Load() {
			p.dropped.Add(1)
		}
	}()
	var hdr [8]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(m.br, hdr[:2]); err != nil {
			return
		}
		op := hdr[0] & 0x0F
		n := int64(hdr[1] & 0x7F)
		switch n {
		case 126:
			if _, err := io.ReadFull(m.br, hdr[:2]); err != nil {
				return
			}
			n = int64(binary.BigEndian.Uint16(hdr[:2]))
		case 127:
			if _, err := io.ReadFull(m.br, hdr[:8]); err != nil {
				return
			}
			n = int64(binary.BigEndian.Uint64(hdr[:8]))
		}
		if n > 1<<20 {
			return
		}
		if int64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(m.br, buf); err != nil {
			return
		}
		switch op {
		case 0x1:
			now := time.Now().UnixNano()
			if bytes.HasPrefix(buf, errorPrefix) {
				m.errs.Add(1)
				p.noteError(buf)
				continue
			}
			sent, sender, ok := parseContent(buf)
			if !ok {
				continue // events and anything else
			}
			m.got.Add(1)
			if int32(sender) == m.sender {
				m.own.Add(1)
			}
			p.lat[m.shard].record((now - sent) / 1000)
			m.lastRecv.Store(now)
		case 0x9: // ping
			if m.write(0xA, buf) != nil {
				return
			}
		case 0x8: // close: answer it and end
			code := []byte(nil)
			if len(buf) >= 2 {
				code = buf[:2]
			}
			_ = m.write(0x8, code)
			return
		}
	}
}

// close ends the connection from the generator's side.
func (m *member) close() {
	m.expected.Store(true)
	if m.closed.Load() {
		return
	}
	_ = m.write(0x8, []byte{0x03, 0xE8}) // 1000
	_ = m.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
}
