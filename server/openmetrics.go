package server

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// openMetricsDefaultIPs is Prosody's default openmetrics_allow_ips.
var openMetricsDefaultIPs = []string{"::1", "127.0.0.1"}

// openMetricsHandler is Prosody's mod_http_openmetrics: the server's own
// registry at /metrics, for the addresses in openmetrics_allow_ips
// (loopback by default) and the network openmetrics_allow_cidr; anyone
// else gets 403. The connecting peer's address is what counts: unlike
// Prosody, X-Forwarded-For from a trusted proxy does not open the metrics
// to the proxy's clients.
func (srv *Server) openMetricsHandler() (http.Handler, error) {
	ips := srv.cfg.Strings(nil, "openmetrics_allow_ips")
	if _, set := srv.cfg.Get(nil, "openmetrics_allow_ips"); !set {
		ips = openMetricsDefaultIPs
	}
	allowed := map[netip.Addr]bool{}
	for _, s := range ips {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("server: openmetrics_allow_ips: %q is not an IP address", s)
		}
		allowed[a.Unmap()] = true
	}
	var network netip.Prefix
	if cidr := srv.cfg.String(nil, "openmetrics_allow_cidr", ""); cidr != "" {
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			return nil, fmt.Errorf("server: openmetrics_allow_cidr: %w", err)
		}
		network = p.Masked()
	}
	metrics := promhttp.HandlerFor(srv.registry, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		peer, err := netip.ParseAddr(host)
		peer = peer.Unmap()
		if err != nil || !(allowed[peer] || (network.IsValid() && network.Contains(peer))) {
			http.Error(w, "Forbidden", http.StatusForbidden)
			return
		}
		metrics.ServeHTTP(w, r)
	}), nil
}
