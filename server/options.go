package server

import (
	"crypto/tls"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-xmpp/parley/auth"
	"github.com/parley-xmpp/parley/server/storage"
)

// Option configures a Server with things a config file cannot express.
type Option func(*options)

type options struct {
	log          *slog.Logger
	registry     *prometheus.Registry
	clock        func() time.Time
	version      string
	tlsConfig    *tls.Config
	store        storage.Store
	modules      map[string]Module
	components   map[string]ComponentFactory
	authFactory  map[string]AuthFactory
	queueFrames  int
	queueBytes   int
	authTimeout  time.Duration
	writeTimeout time.Duration
}

// AuthFactory builds the SASL provider for a host whose "authentication"
// option names it.
type AuthFactory func(h *Host) (auth.Provider, error)

func defaultOptions() options {
	return options{
		log:          slog.New(slog.NewTextHandler(io.Discard, nil)),
		clock:        time.Now,
		version:      "dev",
		modules:      map[string]Module{},
		components:   map[string]ComponentFactory{},
		authFactory:  map[string]AuthFactory{},
		queueFrames:  10000,
		queueBytes:   16 << 20,
		authTimeout:  30 * time.Second,
		writeTimeout: 30 * time.Second,
	}
}

// WithLogger sets the logger; the default discards logs.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithRegistry sets the Prometheus registry metrics are registered on; the
// default is a fresh registry per server.
func WithRegistry(r *prometheus.Registry) Option { return func(o *options) { o.registry = r } }

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// WithVersion sets the version reported by XEP-0092.
func WithVersion(v string) Option { return func(o *options) { o.version = v } }

// WithTLSConfig sets the TLS configuration, replacing certificates from
// the config file.
func WithTLSConfig(c *tls.Config) Option { return func(o *options) { o.tlsConfig = c } }

// WithStore replaces the store chosen by the "storage" option.
func WithStore(s storage.Store) Option { return func(o *options) { o.store = s } }

// WithModules makes modules available to modules_enabled.
func WithModules(mods ...Module) Option {
	return func(o *options) {
		for _, m := range mods {
			o.modules[m.Name()] = m
		}
	}
}

// WithComponentType makes `Component "domain" "typ"` sections use f.
func WithComponentType(typ string, f ComponentFactory) Option {
	return func(o *options) { o.components[typ] = f }
}

// WithAuthProvider makes `authentication = "name"` use f.
func WithAuthProvider(name string, f AuthFactory) Option {
	return func(o *options) { o.authFactory[name] = f }
}

// WithQueueLimits bounds each session's outbound queue.
func WithQueueLimits(frames, bytes int) Option {
	return func(o *options) { o.queueFrames, o.queueBytes = frames, bytes }
}

// WithAuthTimeout bounds the time from connect to resource binding.
func WithAuthTimeout(d time.Duration) Option { return func(o *options) { o.authTimeout = d } }
