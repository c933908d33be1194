package httpx

import (
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/parley-xmpp/parley/config"
)

// Gate decides which HTTP requests an HTTP module serves, as Prosody's HTTP
// server routes by host: a module in the global modules_enabled serves
// every request; otherwise the request's Host names a VirtualHost that
// loaded the module, or http_default_host does. The XMPP host of a session
// is chosen later by the stream's 'to', which may be any VirtualHost
// (Prosody's mod_bosh and mod_websocket are global modules and do not check
// that the target host loaded them either).
type Gate struct {
	global      bool
	defaultHost string

	mu    sync.RWMutex
	hosts map[string]bool
}

// NewGate builds the gate of module from the configuration.
func NewGate(cfg *config.Config, module string) *Gate {
	return &Gate{
		global:      slices.Contains(cfg.Modules(nil), module),
		defaultHost: strings.ToLower(cfg.String(nil, "http_default_host", "")),
		hosts:       map[string]bool{},
	}
}

// Enable records that VirtualHost host loaded the module.
func (g *Gate) Enable(host string) {
	g.mu.Lock()
	g.hosts[strings.ToLower(host)] = true
	g.mu.Unlock()
}

// Allows reports whether the module serves r.
func (g *Gate) Allows(r *http.Request) bool {
	if g.global {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.hosts[host] || (g.defaultHost != "" && g.hosts[g.defaultHost])
}
