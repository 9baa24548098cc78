package console

import (
	"math"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Failed sign-ins are limited per client address: a burst of signInBurst, then one every
// signInRefill. A correct secret does not count, so a user who mistypes a few times is not
// locked out; a guesser gets five tries a minute.
const (
	signInBurst  = 5
	signInRefill = 12 * time.Second
	// maxSignInClients bounds the addresses remembered; an address whose allowance is whole
	// again is forgotten first.
	maxSignInClients = 10000
)

// signInLimiter counts failed sign-ins per client address.
type signInLimiter struct {
	mu  sync.Mutex
	by  map[netip.Prefix]*rate.Limiter
	now func() time.Time
}

func newSignInLimiter(now func() time.Time) *signInLimiter {
	return &signInLimiter{by: map[netip.Prefix]*rate.Limiter{}, now: now}
}

// clientPrefix is who a sign-in comes from: the IPv4 address, or the IPv6 /64 (one host
// commonly holds a whole /64, so counting addresses within it would count nothing).
func clientPrefix(remoteAddr string) netip.Prefix {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}
	}
	a = a.Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// wait is how long a client must wait before its next sign-in is checked; zero when it may
// try now.
func (l *signInLimiter) wait(remoteAddr string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.by[clientPrefix(remoteAddr)]
	if lim == nil {
		return 0
	}
	tokens := lim.TokensAt(l.now())
	if tokens >= 1 {
		return 0
	}
	return time.Duration(math.Ceil((1 - tokens) * float64(signInRefill)))
}

// failed counts a refused sign-in of a client.
func (l *signInLimiter) failed(remoteAddr string) {
	p := clientPrefix(remoteAddr)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.by[p]
	if lim == nil {
		if len(l.by) >= maxSignInClients {
			l.forget(now)
		}
		lim = rate.NewLimiter(rate.Every(signInRefill), signInBurst)
		l.by[p] = lim
	}
	lim.AllowN(now, 1)
}

// forget drops the clients whose allowance is whole again, and if none is, one of the others:
// memory stays bounded whatever the number of addresses that try.
func (l *signInLimiter) forget(now time.Time) {
	for p, lim := range l.by {
		if lim.TokensAt(now) >= signInBurst {
			delete(l.by, p)
		}
	}
	for p := range l.by {
		if len(l.by) < maxSignInClients {
			return
		}
		delete(l.by, p)
	}
}
