package servertest

import (
	"runtime"
	"testing"

	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/storage"
)

// loopbackOverrides are the global options StartConfig replaces so that a
// production config (ports 5222/5280 on every interface, files under
// /var/lib/prosody) runs as a test server: loopback, port 0.
func loopbackOverrides() map[string]any {
	lo := []any{"127.0.0.1"}
	zero := []any{int64(0)}
	return map[string]any{
		"interfaces": lo, "c2s_interfaces": lo, "http_interfaces": lo, "https_interfaces": lo,
		"component_interfaces": lo, "c2s_direct_tls_interfaces": lo,
		"c2s_ports": zero, "component_ports": zero, "http_ports": zero, "https_ports": zero,
		"c2s_direct_tls_ports": []any{}, "legacy_ssl_ports": []any{},
	}
}

// StartConfig starts a server from an already loaded config (for example
// a file with Include read by config.Load). It rewrites the listening
// options of the global section to loopback and port 0 (the config's
// own ports and interfaces are replaced), keeps all data in memory
// whatever the storage option says, and otherwise behaves like Start:
// WithTLS replaces the config's certificate files with a self-signed
// certificate for every VirtualHost. cfg is modified.
func StartConfig(t testing.TB, cfg *config.Config, opts ...Option) *Server {
	t.Helper()
	var st settings
	for _, o := range opts {
		o(&st)
	}
	before := runtime.NumGoroutine()
	if cfg.Global == nil {
		cfg.Global = config.Options{}
	}
	for name, v := range loopbackOverrides() {
		cfg.Global[name] = &config.Option{Name: name, Value: v, Pos: config.Pos{File: "servertest"}}
	}
	return start(t, cfg, st, before, server.WithStore(storage.NewMemoryStore()))
}
