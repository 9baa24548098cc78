package api

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// LoopbackHost reports whether a Host header (or the host of a listen address) names this
// machine's loopback interface, with any port: localhost and the names under .localhost,
// which RFC 6761 keeps out of DNS and browsers resolve to loopback themselves, an address of
// 127.0.0.0/8, or ::1. A DNS name that merely resolves to 127.0.0.1 is not one: that is what
// a rebinding attack looks like.
func LoopbackHost(host string) bool {
	h := host
	if name, _, err := net.SplitHostPort(host); err == nil {
		h = name
	} else if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return a.IsLoopback()
	}
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if h == "localhost" {
		return true
	}
	label, ok := strings.CutSuffix(h, ".localhost")
	return ok && validLabels(label)
}

// validLabels reports whether s is one or more DNS labels of letters, digits and hyphens.
func validLabels(s string) bool {
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// LoopbackHostsMessage says why a request for another host is refused while the development
// key pair is accepted.
func LoopbackHostsMessage(host string) string {
	return "Host " + quote(host) + " is not served: with the development credentials this server answers only for " +
		"loopback host names (localhost, *.localhost, 127.0.0.1, [::1]), so that a web page whose DNS name is rebound " +
		"to 127.0.0.1 cannot drive it; configure credentials (--credentials) to serve other names"
}

func quote(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return strconv.Quote(s)
}
