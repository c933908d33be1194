package servertest

import (
	"context"
	"crypto/tls"
	"log/slog"
	"os"
	"runtime"
	"testing"
	"time"

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
	level := slog.LevelWarn
	if os.Getenv("PARLEY_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: level}))
	sopts := []server.Option{server.WithLogger(log), server.WithStore(storage.NewMemoryStore())}
	var clientTLS *tls.Config
	if st.tls {
		var names []string
		for _, h := range cfg.Hosts {
			names = append(names, h.Name)
		}
		serverTLS, ct, err := SelfSigned(names...)
		if err != nil {
			t.Fatalf("servertest: certificate: %v", err)
		}
		clientTLS = ct
		sopts = append(sopts, server.WithTLSConfig(serverTLS))
	}
	sopts = append(sopts, st.serverOpts...)
	srv, err := server.New(cfg, sopts...)
	if err != nil {
		t.Fatalf("servertest: new: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatalf("servertest: start: %v", err)
	}
	s := &Server{Server: srv, ClientTLS: clientTLS, t: t,
		C2SAddr:       srv.Addr(server.ListenC2S),
		DirectTLSAddr: srv.Addr(server.ListenC2SDirectTLS),
		ComponentAddr: srv.Addr(server.ListenComponent),
	}
	if a := srv.Addr(server.ListenHTTP); a != "" {
		s.HTTPURL = "http://" + a
	}
	if a := srv.Addr(server.ListenHTTPS); a != "" {
		s.HTTPSURL = "https://" + a
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("servertest: shutdown: %v", err)
		}
		if !st.noLeak {
			checkLeaks(t, before)
		}
	})
	return s
}
