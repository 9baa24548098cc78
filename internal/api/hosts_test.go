package api

import (
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestLoopbackHost(t *testing.T) {
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"localhost", true},
		{"localhost:8080", true},
		{"LocalHost:8080", true},
		{"localhost.:8080", true},
		{"chat.localhost:8080", true},
		{"a.b.localhost", true},
		{"127.0.0.1", true},
		{"127.0.0.1:8080", true},
		{"127.8.9.10:1", true},
		{"[::1]", true},
		{"[::1]:8080", true},
		{"::1", true},

		{"", false},
		{"attacker.example", false},
		{"attacker.example:8080", false},
		{"localhost.attacker.example", false},
		{"127.0.0.1.attacker.example", false},
		{"attacker.example#.localhost", false},
		{"-x.localhost", false},
		{"a..localhost", false},
		{".localhost", false},
		{"localhost:8080:8080", false},
		{"0.0.0.0:8080", false},
		{"[::]:8080", false},
		{"10.0.0.1:8080", false},
		{"[::ffff:10.0.0.1]:8080", false},
		{"127.1", false},
		{"localhost@attacker.example", false},
	} {
		t.Run(tc.host, func(t *testing.T) {
			if got := LoopbackHost(tc.host); got != tc.ok {
				t.Fatalf("LoopbackHost(%q) = %v, want %v", tc.host, got, tc.ok)
			}
		})
	}
}

// FuzzLoopbackHost: whatever a client puts in Host, an accepted value names loopback: an
// address that is loopback, or localhost or a name of letters, digits, hyphens and dots under it.
func FuzzLoopbackHost(f *testing.F) {
	for _, s := range []string{"localhost:8080", "[::1]:1", "127.0.0.1", "x.localhost.", "attacker.example", "[::1", "a:b:c", "::ffff:127.0.0.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		if !LoopbackHost(host) {
			return
		}
		h := host
		if name, _, err := net.SplitHostPort(host); err == nil {
			h = name
		}
		h = strings.Trim(h, "[]")
		if a, err := netip.ParseAddr(h); err == nil {
			if !a.IsLoopback() {
				t.Fatalf("LoopbackHost(%q) accepted %s", host, a)
			}
			return
		}
		name := strings.ToLower(strings.TrimSuffix(h, "."))
		if name != "localhost" && !strings.HasSuffix(name, ".localhost") {
			t.Fatalf("LoopbackHost(%q) accepted a name outside localhost", host)
		}
		if strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789-.") != "" {
			t.Fatalf("LoopbackHost(%q) accepted a name with other characters", host)
		}
	})
}
