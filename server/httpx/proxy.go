package httpx

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/parley-xmpp/parley/server/ipset"
)

// Proxies is the set of trusted_proxies: addresses and CIDR ranges whose
// X-Forwarded-For and X-Forwarded-Proto headers are believed.
type Proxies struct {
	set ipset.Set
}

// ParseProxies parses IP addresses ("127.0.0.1", "::1") and CIDR ranges
// ("10.0.0.0/8").
func ParseProxies(items []string) (Proxies, error) {
	set, err := ipset.Parse(items)
	if err != nil {
		return Proxies{}, fmt.Errorf("httpx: %w", err)
	}
	return Proxies{set: set}, nil
}

// Trusted reports whether addr is a trusted proxy.
func (p Proxies) Trusted(addr netip.Addr) bool { return p.set.Contains(addr) }

// parseIP reads an address as found in RemoteAddr or X-Forwarded-For:
// "1.2.3.4", "1.2.3.4:5", "::1", "[::1]:5".
func parseIP(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}

// Client returns the client's address and whether it reached us over HTTPS,
// as Prosody's mod_http does with http_legacy_x_forwarded: only when the
// connecting peer is a trusted proxy are the forwarding headers read. The
// client address is then the last address in X-Forwarded-For (with the
// peer appended) that is not itself a trusted proxy, and
// "X-Forwarded-Proto: https" marks the request secure. remote is
// r.RemoteAddr (host:port) unless a forwarded address replaced it (then a
// bare IP).
func (p Proxies) Client(r *http.Request) (remote string, secure bool) {
	remote, secure = r.RemoteAddr, r.TLS != nil
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, ok := parseIP(host)
	if !ok || !p.Trusted(peer) {
		return remote, secure
	}
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		chain := strings.Split(strings.Join(xff, ","), ",")
		chain = append(chain, host)
		client := ""
		for _, item := range chain {
			item = strings.TrimSpace(item)
			a, ok := parseIP(item)
			if !ok || p.Trusted(a) {
				continue
			}
			client = a.String()
		}
		if client != "" {
			remote = client
		}
	}
	if strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https") {
		secure = true
	}
	return remote, secure
}
