// Package bosh is parley's BOSH transport (XEP-0124 with XEP-0206), the
// Prosody module "bosh". A BOSH session is the transport of one core
// session and outlives the HTTP requests that carry it: each in-order
// request's payload is handed to the session, and the session's queued
// frames are returned in the response to the oldest held request (or wait
// in the session's queue until a request arrives). The rid window, the
// held requests, wait and hold, and the inactivity timer are the package's
// only state; everything XMPP is the session core's.
package bosh

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/httpx"
	"github.com/parley-xmpp/parley/server/stanza"
)

// Protocol constants.
const (
	// NS is the XEP-0124 namespace of <body/>.
	NS = "http://jabber.org/protocol/httpbind"
	// NSXBOSH is the XEP-0206 namespace of xmpp:version and xmpp:restart.
	NSXBOSH = "urn:xmpp:xbosh"
	// MaxRID is the largest rid a client may use (2^53-1, XEP-0124 §14.1).
	MaxRID = 1<<53 - 1
	// maxHold is the most requests held at once (Prosody's BOSH_HOLD).
	maxHold = 1
	// version is the highest XEP-0124 version implemented.
	version = "1.11"
)

// Options tune the transport with what the configuration file does not
// express. Zero fields take the defaults.
type Options struct {
	// AuthTimeout bounds the time from session creation to resource
	// binding (default 30 s, as for TCP).
	AuthTimeout time.Duration
}

// Module is the "bosh" module. Build it with New and register it with
// server.WithModules.
type Module struct {
	opts Options

	srv      *server.Server
	log      *slog.Logger
	gate     *httpx.Gate
	cors     *httpx.CORS
	settings *httpx.Settings
	limits   stanza.Limits // for a whole <body/>
	maxBody  int64         // bytes of an HTTP request body
	secure   bool          // consider_bosh_secure

	inactivity time.Duration // bosh_max_inactivity
	polling    time.Duration // bosh_max_polling
	maxWait    time.Duration // bosh_max_wait

	mu       sync.Mutex
	sessions map[string]*session
}

// New returns the bosh module.
func New(opts Options) *Module {
	if opts.AuthTimeout <= 0 {
		opts.AuthTimeout = 30 * time.Second
	}
	return &Module{opts: opts, sessions: map[string]*session{}}
}

// Name implements server.Module.
func (m *Module) Name() string { return "bosh" }

// Load records that a VirtualHost enables BOSH (see httpx.Gate).
func (m *Module) Load(_ context.Context, h *server.Host) error {
	m.gate.Enable(h.Name)
	return nil
}

// LoadServer reads the global options and mounts the endpoint on
// http_paths.bosh (default /http-bind).
func (m *Module) LoadServer(_ context.Context, srv *server.Server) error {
	cfg := srv.Config()
	st, err := httpx.LoadSettings(cfg)
	if err != nil {
		return fmt.Errorf("bosh: %w", err)
	}
	cors, err := httpx.LoadCORS(cfg, http.MethodGet, http.MethodPost)
	if err != nil {
		return fmt.Errorf("bosh: %w", err)
	}
	m.srv, m.settings, m.cors = srv, st, cors
	m.log = srv.Logger().With("module", "bosh")
	if _, ok := cfg.Get(nil, "cross_domain_bosh"); ok {
		m.log.Info("the 'cross_domain_bosh' option is deprecated and ignored; CORS follows access_control_allow_origins")
	}
	if m.secure, err = optBool(cfg, "consider_bosh_secure"); err != nil {
		return err
	}
	if m.inactivity, err = optPeriod(cfg, "bosh_max_inactivity", 60*time.Second); err != nil {
		return err
	}
	if m.polling, err = optPeriod(cfg, "bosh_max_polling", 5*time.Second); err != nil {
		return err
	}
	if m.maxWait, err = optPeriod(cfg, "bosh_max_wait", 120*time.Second); err != nil {
		return err
	}
	// A <body/> may carry several stanzas: it gets twice the stanza limit
	// (one level deeper), unless http_max_content_size says otherwise;
	// every stanza in it is still held to the stanza limit.
	lim := srv.Limits()
	if lim.MaxStanza <= 0 {
		lim.MaxStanza = stanza.DefaultMaxStanza
	}
	m.maxBody = 2 * int64(lim.MaxStanza)
	if o, ok := cfg.Get(nil, "http_max_content_size"); ok {
		n, err := o.AsInt()
		if err != nil || n <= 0 {
			return fmt.Errorf("bosh: option http_max_content_size: expected a positive integer (%v)", err)
		}
		m.maxBody = n
	}
	m.limits = stanza.Limits{
		MaxStanza: int(m.maxBody),
		MaxDepth:  depthOr(lim.MaxDepth) + 1,
		MaxAttrs:  lim.MaxAttrs,
		MaxNodes:  lim.MaxNodes * int(max(1, m.maxBody/int64(lim.MaxStanza))),
	}
	m.gate = httpx.NewGate(cfg, m.Name())
	path, err := httpx.Path(cfg, "bosh", "/http-bind")
	if err != nil {
		return fmt.Errorf("bosh: %w", err)
	}
	if err := httpx.Mount(srv, path, m); err != nil {
		return fmt.Errorf("bosh: %w", err)
	}
	return nil
}

func depthOr(d int) int {
	if d <= 0 {
		return stanza.DefaultMaxDepth
	}
	return d
}

// Stop forgets every BOSH session and stops their timers; the server has
// closed the sessions themselves.
func (m *Module) Stop(context.Context) error {
	m.mu.Lock()
	all := m.sessions
	m.sessions = map[string]*session{}
	m.mu.Unlock()
	for _, b := range all {
		b.mu.Lock()
		b.stopTimers()
		b.mu.Unlock()
	}
	return nil
}

// Sessions returns how many BOSH sessions are live.
func (m *Module) Sessions() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}

func (m *Module) lookup(sid string) *session {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sessions[sid]
}

func (m *Module) forget(b *session) {
	m.mu.Lock()
	if m.sessions[b.sid] == b {
		delete(m.sessions, b.sid)
	}
	m.mu.Unlock()
}

// newSID returns a version 4 UUID: 122 random bits (SECURITY-CASES #44).
func newSID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[c>>4], hex[c&0xf])
	}
	return string(out)
}

func optBool(cfg *config.Config, key string) (bool, error) {
	o, ok := cfg.Get(nil, key)
	if !ok {
		return false, nil
	}
	v, err := o.AsBool()
	if err != nil {
		return false, fmt.Errorf("bosh: %w", err)
	}
	return v, nil
}

func optPeriod(cfg *config.Config, key string, def time.Duration) (time.Duration, error) {
	o, ok := cfg.Get(nil, key)
	if !ok {
		return def, nil
	}
	v, err := o.AsDuration()
	if err != nil {
		return 0, fmt.Errorf("bosh: %w", err)
	}
	return v, nil
}
