package server

import (
	"fmt"
	"net"
	"net/http"

	"github.com/ivschatd/ivschatd/internal/api"
	"github.com/ivschatd/ivschatd/internal/chat"
	"github.com/ivschatd/ivschatd/internal/gateway"
)

// loopbackHostsOnly serves only requests whose Host names loopback. It guards every listener
// while the development key pair is accepted: the pair is public, so a page in the
// developer's browser whose DNS name an attacker rebinds to 127.0.0.1 could otherwise create
// rooms and mint tokens on a local server.
func loopbackHostsOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if api.LoopbackHost(r.Host) {
			next.ServeHTTP(w, r)
			return
		}
		msg := api.LoopbackHostsMessage(r.Host)
		if gateway.IsUpgrade(r) {
			http.Error(w, "ivschatd: "+msg, http.StatusForbidden)
			return
		}
		api.WriteError(w, chat.AccessDenied(msg))
	})
}

// checkLoopbackListen refuses, before anything is bound, a listen address that is not
// loopback while the development key pair is accepted.
func checkLoopbackListen(flag, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %s: %w", flag, addr, err)
	}
	if host == "" || !api.LoopbackHost(host) {
		return fmt.Errorf("refusing to listen on %s (%s) with the development credentials: configure --credentials or IVSCHATD_ACCESS_KEY_ID and IVSCHATD_SECRET_ACCESS_KEY, or listen on a loopback address (127.0.0.1, [::1], localhost)", addr, flag)
	}
	return nil
}
