// Package servertest starts a complete parley server in-process for tests:
// real listeners on 127.0.0.1 with port 0, in-memory storage unless the
// config says otherwise, logs routed to the test's output, shutdown and a
// goroutine leak check in t.Cleanup.
package servertest

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/server"
)

// Server is a running test server.
type Server struct {
	*server.Server
	// C2SAddr is the client-to-server TCP address.
	C2SAddr string
	// DirectTLSAddr is the direct TLS address, if configured.
	DirectTLSAddr string
	// ComponentAddr is the XEP-0114 address, if external components exist.
	ComponentAddr string
	// HTTPURL is the base URL of the HTTP listener ("" without one).
	HTTPURL string
	// HTTPSURL is the base URL of the HTTPS listener ("" without one).
	HTTPSURL string
	// ClientTLS trusts the server's test certificate (nil without TLS).
	ClientTLS *tls.Config

	t testing.TB
}

type settings struct {
	serverOpts []server.Option
	tls        bool
	noLeak     bool
}

// Option adjusts Start.
type Option func(*settings)

// WithServerOptions passes options through to server.New.
func WithServerOptions(opts ...server.Option) Option {
	return func(s *settings) { s.serverOpts = append(s.serverOpts, opts...) }
}

// WithTLS gives every VirtualHost a fresh self-signed certificate; the
// returned Server's ClientTLS trusts it.
func WithTLS() Option { return func(s *settings) { s.tls = true } }

// WithoutLeakCheck skips the goroutine leak check (for tests that run
// servers in parallel).
func WithoutLeakCheck() Option { return func(s *settings) { s.noLeak = true } }

// Defaults is prepended to every test config: loopback, port 0, memory
// storage. A test config can override any of them.
const Defaults = `
interfaces = { "127.0.0.1" }
c2s_ports = { 0 }
component_ports = { 0 }
http_ports = { 0 }
https_ports = { 0 }
storage = "memory"
`

// Start parses cfgText (Prosody syntax, after Defaults), starts the server
// and registers its shutdown in t.Cleanup.
func Start(t testing.TB, cfgText string, opts ...Option) *Server {
	t.Helper()
	var st settings
	for _, o := range opts {
		o(&st)
	}
	before := runtime.NumGoroutine()
	cfg, err := config.Parse("servertest.cfg.lua", []byte(Defaults+cfgText), config.WithEnv(func(string) (string, bool) { return "", false }))
	if err != nil {
		t.Fatalf("servertest: config: %v", err)
	}
	return start(t, cfg, st, before)
}

// start builds and starts a server from a parsed config: the part Start
// and StartConfig share. base options come before the test's own.
func start(t testing.TB, cfg *config.Config, st settings, before int, base ...server.Option) *Server {
	t.Helper()
	level := slog.LevelWarn
	if _, bench := t.(*testing.B); bench {
		level = slog.LevelError // benchmark output is always shown
	}
	if os.Getenv("PARLEY_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: level}))
	sopts := append([]server.Option{server.WithLogger(log)}, base...)
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

// CreateUser makes an account on a VirtualHost with accounts.
func (s *Server) CreateUser(user, host, password string) {
	s.t.Helper()
	h := s.Host(host)
	if h == nil || h.Accounts == nil {
		s.t.Fatalf("servertest: host %q has no accounts", host)
	}
	if err := h.Accounts.SetPassword(context.Background(), user, password); err != nil {
		s.t.Fatalf("servertest: create user %s@%s: %v", user, host, err)
	}
}

// checkLeaks waits for goroutines started by the server to end and fails
// the test, with a dump, if some remain.
func checkLeaks(t testing.TB, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("servertest: %d goroutines leaked:\n%s", n-before, leakedStacks(string(buf)))
			return
		}
		<-tick.C
	}
}

// leakedStacks keeps the stacks that mention parley, which are ours.
func leakedStacks(all string) string {
	var out []string
	for _, g := range strings.Split(all, "\n\n") {
		if strings.Contains(g, "parley-xmpp/parley") && !strings.Contains(g, "servertest.checkLeaks") {
			out = append(out, g)
		}
	}
	return fmt.Sprint(strings.Join(out, "\n\n"))
}
