// Package server is parley's embeddable XMPP core: streams and sessions
// independent of their transport, the router, virtual hosts, components,
// modules and hook chains, and the TCP listeners. Transports over HTTP
// (BOSH, WebSocket) and features such as MUC plug in through the module and
// component APIs; this package never imports them.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"mellium.im/xmpp/stream"

	"github.com/parley-xmpp/parley/auth"
	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/server/stanza"
	"github.com/parley-xmpp/parley/server/storage"
)

// Server is one parley instance. Build it with New, then Start it; it
// serves until Shutdown.
type Server struct {
	opts     options
	log      *slog.Logger
	cfg      *config.Config
	router   Router
	metrics  *metrics
	registry *prometheus.Registry
	limits   stanza.Limits
	// componentLimit is component_stanza_size_limit (Prosody: 512 KiB).
	componentLimit int
	unlimited      map[string]bool // unlimited_jids (limits_exception)
	unlimitedSize  int
	hot            liveSettings // what Reload replaces (reload.go)
	ipRates        ipRates
	events         ServerEvents
	started        time.Time

	tlsConfig *tls.Config
	store     storage.Store
	secret    []byte

	mu         sync.RWMutex
	hosts      map[string]*Host
	hostOrder  []*Host
	components map[string]*componentEntry
	// componentWaiters are WhenComponent callbacks by component domain.
	componentWaiters map[string][]func(Component)
	secrets          map[string]string // external component domain → secret
	compTypes        map[string]string // component domain → type, for listings

	httpMux    *http.ServeMux
	httpRoutes []string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	smOpts     smOptions
	smMu       sync.Mutex
	smSessions map[string]*Session
	smOld      map[string]uint32

	writers sync.Pool // *bufio.Writer for connection writers

	lmu       sync.Mutex
	listeners map[string][]net.Listener
	httpSrv   []*http.Server
	live      map[*Session]struct{}
	stopping  bool
	stoppers  []Stopper
}

// New builds a server for cfg (nil means an empty config) without
// listening. It reports configuration problems with their file:line.
func New(cfg *config.Config, opts ...Option) (*Server, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if cfg == nil {
		cfg = &config.Config{}
	}
	reg := o.registry
	if reg == nil {
		reg = prometheus.NewPedanticRegistry()
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &Server{
		opts:       o,
		log:        o.log,
		cfg:        cfg,
		router:     newMemoryRouter(),
		metrics:    newMetrics(reg),
		registry:   reg,
		started:    o.clock(),
		hosts:      map[string]*Host{},
		components: map[string]*componentEntry{},
		secrets:    map[string]string{},
		compTypes:  map[string]string{},
		httpMux:    http.NewServeMux(),
		ctx:        ctx,
		cancel:     cancel,
		listeners:  map[string][]net.Listener{},
		live:       map[*Session]struct{}{},
		smOpts:     defaultSMOptions(),
		smSessions: map[string]*Session{},
		smOld:      map[string]uint32{},
		events:     newServerEvents(),
	}
	global := sectionView{cfg: cfg}
	if err := srv.readSMOptions(); err != nil {
		cancel()
		return nil, err
	}
	if err := srv.readLimits(); err != nil {
		cancel()
		return nil, err
	}
	srv.limits = stanza.Limits{MaxStanza: intOr(global.str("c2s_stanza_size_limit", ""), stanza.DefaultMaxStanza)}
	srv.componentLimit = intOr(global.str("component_stanza_size_limit", ""), 512*1024)
	if err := srv.setupStore(); err != nil {
		cancel()
		return nil, err
	}
	if err := srv.setupTLS(); err != nil {
		cancel()
		return nil, err
	}
	for _, hc := range cfg.Hosts {
		v := sectionView{cfg: cfg, sec: hc}
		if !v.boolean("enabled", true) {
			continue
		}
		if err := srv.addHost(hc); err != nil {
			cancel()
			return nil, err
		}
	}
	for _, cc := range cfg.Components {
		switch cc.Type {
		case "", "component":
			v := sectionView{cfg: cfg, sec: cc}
			secret := v.str("component_secret", "")
			if secret == "" {
				srv.log.Warn("external component has no component_secret and cannot connect", "component", cc.Name, "pos", cc.Pos.String())
			}
			srv.secrets[cc.Name] = secret
			srv.components[cc.Name] = &componentEntry{name: cc.Name, srv: srv}
			srv.compTypes[cc.Name] = "component"
		default:
			srv.compTypes[cc.Name] = cc.Type
		}
	}
	return srv, nil
}

func intOr(s string, def int) int {
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil || n <= 0 {
		return def
	}
	return n
}

func (srv *Server) setupStore() error {
	if srv.opts.store != nil {
		srv.store = srv.opts.store
		return nil
	}
	global := sectionView{cfg: srv.cfg}
	kind := global.str("storage", "internal")
	dataPath := global.str("data_path", "/var/lib/prosody")
	st, err := storage.Open(kind, dataPath)
	if err != nil {
		return fmt.Errorf("%s: storage: %w", global.pos("storage"), err)
	}
	srv.store = st
	return nil
}

// serverSecret returns a random secret kept in the store (Prosody's global
// "_global" host, store "parley"), created on first use, so that derived
// values such as the fake SCRAM salts of unknown users stay stable across
// restarts.
func (srv *Server) serverSecret() []byte {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var secret []byte
	err := storage.Update(ctx, srv.store, "", "parley", "", func(t storage.Table) (storage.Table, error) {
		if v, ok := t.String("secret"); ok && len(v) >= 32 {
			secret = []byte(v)
			return t, nil
		}
		if t == nil {
			t = storage.Table{}
		}
		v := randomID() + randomID() + randomID() + randomID()
		t["secret"] = v
		secret = []byte(v)
		return t, nil
	})
	if err != nil {
		srv.log.Warn("cannot keep a server secret in the store; fake salts change on restart", "err", err)
		return []byte(randomID() + randomID() + randomID() + randomID())
	}
	return secret
}

func (srv *Server) addHost(hc *config.Host) error {
	h, err := srv.newHost(srv.cfg, hc)
	if err != nil {
		return err
	}
	srv.hosts[hc.Name] = h
	srv.hostOrder = append(srv.hostOrder, h)
	return nil
}

// newHost builds the VirtualHost of section hc of cfg, without making it
// reachable.
func (srv *Server) newHost(cfg *config.Config, hc *config.Host) (*Host, error) {
	v := sectionView{cfg: cfg, sec: hc}
	h := &Host{
		Name:              hc.Name,
		Config:            hc,
		Store:             srv.store,
		Events:            newHostEvents(),
		srv:               srv,
		cfg:               cfg,
		requireEncryption: v.boolean("c2s_require_encryption", v.boolean("require_encryption", true)),
		iq:                newIQTable(),
		ownIQ:             newIQTable(),
		bareIQ:            newIQTable(),
		nonza:             map[string]NonzaHandler{},
	}
	h.Events.observe(srv.metrics)
	if srv.tlsConfig == nil && h.requireEncryption && v.pos("c2s_require_encryption") == "" {
		// Prosody's default requires encryption, but with no certificate
		// there is nothing to encrypt with: serve in the clear and say so.
		srv.log.Warn("no TLS certificate configured: c2s_require_encryption is off", "host", hc.Name)
		h.requireEncryption = false
	}
	method := v.str("authentication", "internal_hashed")
	if srv.secret == nil && (method == "internal_hashed" || method == "default" || method == "internal_plain") {
		srv.secret = srv.serverSecret()
	}
	switch method {
	case "internal_hashed", "default":
		hash, err := auth.ParseHash(v.str("password_hash", "SHA-1"))
		if err != nil {
			return nil, fmt.Errorf("%s: password_hash: %w", v.pos("password_hash"), err)
		}
		p := auth.NewInternalHashed(srv.store, hc.Name, auth.HashedOptions{
			AllowInsecurePlain: v.boolean("allow_unencrypted_plain_auth", false),
			PasswordHash:       hash,
			IterationCount:     intOr(v.str("default_iteration_count", ""), 0),
			SaltKey:            srv.secret,
			Logger:             srv.log,
			Now:                srv.opts.clock,
		})
		h.Auth, h.Accounts = p, p
	case "internal_plain":
		p := auth.NewInternalPlain(srv.store, hc.Name, auth.PlainOptions{
			AllowInsecurePlain: v.boolean("allow_unencrypted_plain_auth", false),
			SaltKey:            srv.secret,
			Now:                srv.opts.clock,
		})
		h.Auth, h.Accounts = p, p
	case "anonymous":
		h.Auth = auth.NewAnonymous(hc.Name, auth.AnonymousOptions{})
	default:
		f, ok := srv.opts.authFactory[method]
		if !ok {
			return nil, fmt.Errorf("%s: unknown authentication provider %q", v.pos("authentication"), method)
		}
		p, err := f(h)
		if err != nil {
			return nil, fmt.Errorf("%s: authentication %q: %w", v.pos("authentication"), method, err)
		}
		h.Auth = p
		if a, ok := p.(auth.Accounts); ok {
			h.Accounts = a
		}
	}
	h.registerBuiltinIQ()
	h.registerRoster()
	return h, nil
}

// Start loads modules and components, binds every configured listener and
// starts serving. It returns the first error; nothing keeps running then.
func (srv *Server) Start(ctx context.Context) error {
	if err := srv.loadModules(ctx); err != nil {
		return err
	}
	if err := srv.loadComponents(ctx); err != nil {
		return err
	}
	srv.reportMissingComponents()
	if err := srv.listen(); err != nil {
		srv.closeListeners()
		return err
	}
	return nil
}

func (srv *Server) loadModules(ctx context.Context) error {
	if contains(srv.cfg.Modules(nil), "http_openmetrics") {
		h, err := srv.openMetricsHandler()
		if err != nil {
			return err
		}
		srv.HandleHTTP("/metrics", h)
	}
	srv.hot.reload.Lock()
	defer srv.hot.reload.Unlock()
	for _, h := range srv.hostOrder {
		if err := srv.loadHostModules(ctx, srv.cfg, h); err != nil {
			return err
		}
	}
	return nil
}

// loadHostModules loads the modules cfg enables on h, with the
// process-wide part of each module the first time. The caller holds
// srv.hot.reload.
func (srv *Server) loadHostModules(ctx context.Context, cfg *config.Config, h *Host) error {
	if srv.hot.serverLoaded == nil {
		srv.hot.serverLoaded = map[string]bool{}
		srv.hot.reported = map[string]bool{}
	}
	for _, name := range cfg.Modules(h.Config) {
		m, ok := srv.opts.modules[name]
		if !ok {
			if !builtinModules[name] && !srv.hot.reported[name] {
				srv.hot.reported[name] = true
				srv.ignoredModule(name, h.Name)
			}
			continue
		}
		if sm, ok := m.(ServerModule); ok && !srv.hot.serverLoaded[name] {
			srv.hot.serverLoaded[name] = true
			if err := sm.LoadServer(ctx, srv); err != nil {
				return fmt.Errorf("server: module %s: %w", name, err)
			}
			if st, ok := m.(Stopper); ok {
				srv.addStopper(st)
			}
		}
		if err := m.Load(ctx, h); err != nil {
			return fmt.Errorf("server: module %s on %s: %w", name, h.Name, err)
		}
	}
	return nil
}

// addStopper makes Shutdown stop st.
func (srv *Server) addStopper(st Stopper) {
	srv.lmu.Lock()
	defer srv.lmu.Unlock()
	srv.stoppers = append(srv.stoppers, st)
}

func (srv *Server) ignoredModule(name, host string) {
	reason, ok := ignoredModules[name]
	if !ok {
		reason = "unknown module"
	}
	srv.log.Info("module ignored", "module", name, "host", host, "reason", reason)
}

func (srv *Server) loadComponents(ctx context.Context) error {
	for _, cc := range srv.cfg.Components {
		if err := srv.startComponent(ctx, cc); err != nil {
			return err
		}
	}
	return nil
}

// startComponent builds and serves the in-process component of section
// cc; external components (no type) are served by New.
func (srv *Server) startComponent(ctx context.Context, cc *config.Component) error {
	if cc.External() {
		return nil
	}
	f, ok := srv.opts.components[cc.Type]
	if !ok {
		srv.log.Warn("component type not supported, ignored", "component", cc.Name, "type", cc.Type, "pos", cc.Pos.String())
		return nil
	}
	c, err := f(ctx, &ComponentHost{Name: cc.Name, Config: cc, Server: srv})
	if err != nil {
		return fmt.Errorf("%s: component %s (%s): %w", cc.Pos, cc.Name, cc.Type, err)
	}
	if err := srv.AddComponent(cc.Name, c); err != nil {
		return err
	}
	if st, ok := c.(Stopper); ok {
		srv.addStopper(st)
	}
	return nil
}

// Shutdown stops the listeners, closes every session with a system-shutdown
// stream error, stops modules and waits for all goroutines, or until ctx
// ends.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.lmu.Lock()
	srv.stopping = true
	sessions := make([]*Session, 0, len(srv.live))
	for s := range srv.live {
		sessions = append(sessions, s)
	}
	srv.lmu.Unlock()
	srv.closeListeners()
	for _, s := range sessions {
		s.Close(CloseShutdown, streamErr(stream.SystemShutdown, "the server is shutting down"))
	}
	var errs []error
	srv.lmu.Lock()
	httpSrv := append([]*http.Server(nil), srv.httpSrv...)
	srv.lmu.Unlock()
	for _, hs := range httpSrv {
		// The listeners are already closed; only a timeout matters here.
		if err := hs.Shutdown(ctx); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	done := make(chan struct{})
	go func() {
		srv.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("server: shutdown: %w", ctx.Err()))
	}
	srv.lmu.Lock()
	stoppers := append([]Stopper(nil), srv.stoppers...)
	srv.lmu.Unlock()
	for i := len(stoppers) - 1; i >= 0; i-- {
		if err := stoppers[i].Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	srv.cancel()
	return errors.Join(errs...)
}

// Context is cancelled when the server has shut down.
func (srv *Server) Context() context.Context { return srv.ctx }

// Logger returns the server's logger.
func (srv *Server) Logger() *slog.Logger { return srv.log }

// Registry returns the server's Prometheus registry.
func (srv *Server) Registry() *prometheus.Registry { return srv.registry }

// Limits returns the stanza limits transports must apply.
func (srv *Server) Limits() stanza.Limits { return srv.limits }

// Config returns the configuration in effect: the one the server was
// built from, or the last one Reload applied. Modules that look options up
// when they need them thus see reloaded values, as with Prosody's
// module:get_option.
func (srv *Server) Config() *config.Config {
	if c := srv.hot.applied.Load(); c != nil {
		return c
	}
	return srv.cfg
}

// Store returns the server's data store.
func (srv *Server) Store() storage.Store { return srv.store }

// Clock returns the server's clock.
func (srv *Server) Clock() func() time.Time { return srv.opts.clock }

// Host returns the VirtualHost named name, or nil.
func (srv *Server) Host(name string) *Host { return srv.vhost(name) }

// Hosts returns the VirtualHosts in config order.
func (srv *Server) Hosts() []*Host {
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	return append([]*Host(nil), srv.hostOrder...)
}

// Router returns the session router.
func (srv *Server) Router() Router { return srv.router }

func (srv *Server) vhost(name string) *Host {
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	return srv.hosts[name]
}

func (srv *Server) defaultHost() string {
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	if len(srv.hostOrder) > 0 {
		return srv.hostOrder[0].Name
	}
	return "localhost"
}

// HandleHTTP mounts an HTTP handler (BOSH, WebSocket, health) on the
// server's HTTP listeners. Call it from a module's LoadServer.
func (srv *Server) HandleHTTP(pattern string, h http.Handler) {
	srv.httpMux.Handle(pattern, h)
	srv.httpRoutes = append(srv.httpRoutes, pattern)
}

// Go runs f in a goroutine the server waits for on Shutdown. It reports
// false, without running f, once shutdown has begun.
func (srv *Server) Go(f func()) bool {
	srv.lmu.Lock()
	defer srv.lmu.Unlock()
	if srv.stopping {
		return false
	}
	srv.wg.Add(1)
	go func() {
		defer srv.wg.Done()
		f()
	}()
	return true
}

// NewSession starts a session over transport t. Transports call it when a
// connection arrives and must call Session.Close (or Fail) when it ends.
// It returns nil when the server is shutting down.
func (srv *Server) NewSession(t Transport) *Session {
	s := newSession(srv, t)
	srv.lmu.Lock()
	if srv.stopping {
		srv.lmu.Unlock()
		return nil
	}
	srv.live[s] = struct{}{}
	srv.lmu.Unlock()
	srv.metrics.connections.WithLabelValues(t.Kind()).Inc()
	s.OnClose(func() {
		srv.lmu.Lock()
		delete(srv.live, s)
		srv.lmu.Unlock()
	})
	srv.setupInLimits(s)
	if srv.events.SessionCreated.Len() > 0 {
		_ = srv.events.SessionCreated.Fire(srv.ctx, &SessionEvent{Session: s})
	}
	return s
}

// readSMOptions reads Prosody's mod_smacks options.
func (srv *Server) readSMOptions() error {
	g := sectionView{cfg: srv.cfg}
	if o, ok := g.get("smacks_hibernation_time"); ok {
		d, err := o.AsDuration()
		if err != nil {
			return err
		}
		srv.smOpts.hibernation = d
	}
	srv.smOpts.maxUnacked = intOr(g.str("smacks_max_unacked_stanzas", ""), srv.smOpts.maxUnacked)
	srv.smOpts.maxQueue = intOr(g.str("smacks_max_queue_size", ""), srv.smOpts.maxQueue)
	return nil
}
