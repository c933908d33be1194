package httpx

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"

	"github.com/parley-xmpp/parley/server"
)

// Health is the "http_health" module (prosody-modules' mod_http_health,
// which docker-jitsi-meet enables and its healthcheck curls): GET /health
// answers 200 "OK" while the server runs, 503 once it is shutting down, and
// 403 to clients outside http_health_allow_ips (default 127.0.0.1 and ::1)
// and http_health_allow_cidr. The client address is taken behind
// trusted_proxies as for every HTTP module.
type Health struct {
	srv     *server.Server
	allow   Proxies // reused as an address/range matcher
	proxies Proxies
}

// NewHealth returns the http_health module.
func NewHealth() *Health { return &Health{} }

// Name implements server.Module.
func (h *Health) Name() string { return "http_health" }

// Load implements server.Module; the module is server-wide.
func (h *Health) Load(context.Context, *server.Host) error { return nil }

// LoadServer mounts the endpoint on http_paths.health (default /health).
func (h *Health) LoadServer(_ context.Context, srv *server.Server) error {
	cfg := srv.Config()
	st, err := LoadSettings(cfg)
	if err != nil {
		return err
	}
	ips := []string{"::1", "127.0.0.1"}
	if o, ok := cfg.Get(nil, "http_health_allow_ips"); ok {
		if ips, err = o.AsStrings(); err != nil {
			return fmt.Errorf("httpx: %w", err)
		}
	}
	if cidr := cfg.String(nil, "http_health_allow_cidr", ""); cidr != "" {
		ips = append(ips, cidr)
	}
	allow, err := ParseProxies(ips)
	if err != nil {
		return fmt.Errorf("httpx: http_health_allow_ips: %w", err)
	}
	h.srv, h.allow, h.proxies = srv, allow, st.Proxies
	path, err := Path(cfg, "health", "/health")
	if err != nil {
		return err
	}
	return Mount(srv, path, h)
}

// ServeHTTP implements http.Handler.
func (h *Health) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	remote, _ := h.proxies.Client(r)
	host := remote
	if hh, _, err := net.SplitHostPort(remote); err == nil {
		host = hh
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !h.allow.Trusted(a) {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if h.srv.Context().Err() != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("SHUTTING DOWN\n"))
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("OK\n"))
}
