package muc

import (
	"crypto/rand"
	"io"
	"log/slog"
	"time"
)

// LoadFunc wires a module into a Service: it registers hook handlers and
// reads the module's options (Service.Option). It runs once, when the
// Service is built, if the component's modules_enabled names the module.
type LoadFunc func(s *Service) error

// Option configures New and Factory with things a config file cannot say.
type Option func(*options)

type options struct {
	log     *slog.Logger
	now     func() time.Time
	rand    io.Reader
	modules map[string]LoadFunc
	order   []string
}

func defaultOptions() options {
	return options{rand: rand.Reader, modules: map[string]LoadFunc{}}
}

// WithModule makes the module name (as written in modules_enabled, e.g.
// "muc_meeting_id") available to the component. Later registrations of the
// same name replace earlier ones.
func WithModule(name string, load LoadFunc) Option {
	return func(o *options) {
		if _, ok := o.modules[name]; !ok {
			o.order = append(o.order, name)
		}
		o.modules[name] = load
	}
}

// WithLogger sets the logger; the default is the server's.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithClock replaces the clock (history timestamps, room locks,
// tombstones); the default is the server's.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithRandom replaces the source of randomness (occupant-id salts, message
// ids), for reproducible tests.
func WithRandom(r io.Reader) Option { return func(o *options) { o.rand = r } }
