// Package websocket is parley's XMPP over WebSocket transport (RFC 7395),
// the Prosody module "websocket": an adapter that feeds the session core
// with one parsed element per WebSocket text message and writes every
// queued frame as one message. It is built on gorilla/websocket.
package websocket

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/httpx"
	"github.com/parley-xmpp/parley/server/stanza"
)

// Options tune the transport with what the configuration file does not
// express. Zero fields take the defaults.
type Options struct {
	// PingInterval is how often an idle connection is sent a WebSocket
	// ping (default 30 s).
	PingInterval time.Duration
	// ReadTimeout closes a connection from which nothing (not even a pong)
	// arrived for this long (default three ping intervals).
	ReadTimeout time.Duration
	// AuthTimeout bounds the time from the upgrade to resource binding
	// (default 30 s, as for TCP).
	AuthTimeout time.Duration
	// WriteTimeout bounds one write (default 30 s).
	WriteTimeout time.Duration
	// HandshakeTimeout bounds the upgrade response (default 10 s).
	HandshakeTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.PingInterval <= 0 {
		o.PingInterval = 30 * time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 3 * o.PingInterval
	}
	if o.AuthTimeout <= 0 {
		o.AuthTimeout = 30 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 30 * time.Second
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 10 * time.Second
	}
	return o
}

// readBufferSize is the per-connection read buffer.
const readBufferSize = 1024

// Module is the "websocket" module. Build it with New and register it with
// server.WithModules.
type Module struct {
	opts Options

	srv      *server.Server
	log      *slog.Logger
	gate     *httpx.Gate
	cors     *httpx.CORS
	settings *httpx.Settings
	limits   stanza.Limits
	secure   bool   // consider_websocket_secure
	getText  string // websocket_get_response_text
	getBody  string // websocket_get_response_body
	upgrader websocket.Upgrader
	bufs     sync.Pool // *bytes.Buffer for incoming messages
	batches  sync.Pool // *[]byte for the writers' batches (batchConn)
}

// New returns the websocket module.
func New(opts Options) *Module {
	return &Module{opts: opts.withDefaults()}
}

// Name implements server.Module.
func (m *Module) Name() string { return "websocket" }

// Load records that a VirtualHost enables WebSocket (see httpx.Gate).
func (m *Module) Load(_ context.Context, h *server.Host) error {
	m.gate.Enable(h.Name)
	return nil
}

// LoadServer reads the global options and mounts the endpoint on
// http_paths.websocket (default /xmpp-websocket).
func (m *Module) LoadServer(_ context.Context, srv *server.Server) error {
	cfg := srv.Config()
	st, err := httpx.LoadSettings(cfg)
	if err != nil {
		return fmt.Errorf("websocket: %w", err)
	}
	cors, err := httpx.LoadCORS(cfg, http.MethodGet)
	if err != nil {
		return fmt.Errorf("websocket: %w", err)
	}
	secure, err := optBool(cfg, "consider_websocket_secure")
	if err != nil {
		return err
	}
	m.srv, m.log, m.settings, m.cors, m.secure = srv, srv.Logger().With("module", "websocket"), st, cors, secure
	if _, ok := cfg.Get(nil, "cross_domain_websocket"); ok {
		m.log.Info("the 'cross_domain_websocket' option is deprecated and ignored; CORS follows access_control_allow_origins")
	}
	m.gate = httpx.NewGate(cfg, m.Name())
	m.limits = srv.Limits()
	m.getText = cfg.String(nil, "websocket_get_response_text", "It works! Now point your WebSocket client to this URL to connect to parley.")
	m.getBody = cfg.String(nil, "websocket_get_response_body", "")
	m.bufs.New = func() any { return new(bytes.Buffer) }
	pool := &sync.Pool{}
	m.upgrader = websocket.Upgrader{
		HandshakeTimeout: m.opts.HandshakeTimeout,
		// A small read buffer of our own (rather than the HTTP server's
		// 4 KiB one, handed over by hijacker with ReadBufferSize 0) and
		// pooled write buffers keep idle sessions small; larger messages
		// just take more reads.
		ReadBufferSize:  0,
		WriteBufferSize: 4096,
		WriteBufferPool: pool,
		Subprotocols:    []string{"xmpp"},
		// Prosody 0.12+ does not check Origin on WebSocket upgrades and
		// XMPP carries no ambient credentials (no cookies): accept every
		// origin (SECURITY-CASES #62).
		CheckOrigin: func(*http.Request) bool { return true },
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			m.log.Debug("websocket upgrade refused", "status", status, "err", reason, "remote", r.RemoteAddr)
			http.Error(w, http.StatusText(status), status)
		},
	}
	path, err := httpx.Path(cfg, "websocket", "/xmpp-websocket")
	if err != nil {
		return fmt.Errorf("websocket: %w", err)
	}
	if err := httpx.Mount(srv, path, m); err != nil {
		return fmt.Errorf("websocket: %w", err)
	}
	return nil
}

func optBool(cfg *config.Config, key string) (bool, error) {
	o, ok := cfg.Get(nil, key)
	if !ok {
		return false, nil
	}
	v, err := o.AsBool()
	if err != nil {
		return false, fmt.Errorf("websocket: %w", err)
	}
	return v, nil
}

// ServeHTTP serves the endpoint: a plain GET answers with a short page
// (lib-jitsi-meet fetches the URL as a keepalive), OPTIONS is a CORS
// preflight, and a GET with a WebSocket handshake offering the "xmpp"
// subprotocol becomes an XMPP session.
func (m *Module) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !m.gate.Allows(r) {
		http.NotFound(w, r)
		return
	}
	_, secure := m.settings.Proxies.Client(r)
	switch r.Method {
	case http.MethodOptions:
		m.cors.Preflight(w, r)
		return
	case http.MethodGet, http.MethodHead:
	default:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.Method == http.MethodHead || r.Header.Get("Sec-WebSocket-Key") == "" {
		m.cors.Apply(w.Header(), r.Header.Get("Origin"))
		if m.getBody != "" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(m.getBody))
			return
		}
		httpx.InfoPage(w, r, "parley WebSocket endpoint", m.getText, m.secure || secure)
		return
	}
	if !offersXMPP(r) {
		// RFC 7395 §3.1; Prosody answers 501 (SECURITY-CASES #61).
		http.Error(w, "the xmpp WebSocket subprotocol is required", http.StatusNotImplemented)
		return
	}
	m.serve(w, r)
}

func offersXMPP(r *http.Request) bool {
	for _, p := range websocket.Subprotocols(r) {
		if p == "xmpp" {
			return true
		}
	}
	return false
}
