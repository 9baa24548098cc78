package gateway

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name, remote, forwarded string
		want                    string
	}{
		{"a direct client is its peer address", "203.0.113.7:5000", "", "203.0.113.7"},
		{"X-Forwarded-For from an untrusted peer is ignored", "203.0.113.7:5000", "198.51.100.1", "203.0.113.7"},
		{"a trusted proxy's X-Forwarded-For names the client", "10.1.2.3:5000", "198.51.100.1", "198.51.100.1"},
		{"proxies in the chain are skipped from the right", "10.1.2.3:5000", "198.51.100.1, 10.9.9.9", "198.51.100.1"},
		{"a spoofed leftmost entry is not believed", "10.1.2.3:5000", "6.6.6.6, 198.51.100.1", "198.51.100.1"},
		{"a garbled hop stops the walk at the last good address", "10.1.2.3:5000", "junk", "10.1.2.3"},
		{"IPv4-mapped IPv6 peers are unmapped", "[::ffff:203.0.113.7]:5000", "", "203.0.113.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
			if tc.forwarded != "" {
				r.Header.Set("X-Forwarded-For", tc.forwarded)
			}
			if got := clientIP(r, proxies); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}
