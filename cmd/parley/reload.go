package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/parley-xmpp/parley/server"
)

// SIGHUP reloads the configuration, as `prosodyctl reload` does: the file
// is read again, the logger is rebuilt from its `log` option (which also
// reopens log files after rotation), and server.Reload applies what can
// change while sessions stay connected. A file that does not load, or a
// change the server refuses, is logged with its place in the file and the
// running configuration stays in effect.

// logSwitch is a slog.Handler whose destination Reload can replace; the
// loggers derived from it (With, WithGroup) follow the replacement.
type logSwitch struct {
	root *logRoot
	ops  []func(slog.Handler) slog.Handler
	// built caches root's current handler with ops applied.
	built atomic.Pointer[builtHandler]
}

type logRoot struct {
	cur     atomic.Pointer[slog.Handler]
	mu      sync.Mutex
	closeFn func()
}

type builtHandler struct {
	base *slog.Handler
	h    slog.Handler
}

// newLogSwitch starts a switch on l's handler; closeFn closes its files.
func newLogSwitch(l *slog.Logger, closeFn func()) *logSwitch {
	root := &logRoot{closeFn: closeFn}
	h := l.Handler()
	root.cur.Store(&h)
	return &logSwitch{root: root}
}

// logger returns a logger writing through the switch.
func (s *logSwitch) logger() *slog.Logger { return slog.New(s) }

// swap makes l's handler the destination and closes the previous files.
// A record being written at that moment to a closed file is lost.
func (s *logSwitch) swap(l *slog.Logger, closeFn func()) {
	h := l.Handler()
	s.root.mu.Lock()
	old := s.root.closeFn
	s.root.closeFn = closeFn
	s.root.cur.Store(&h)
	s.root.mu.Unlock()
	if old != nil {
		old()
	}
}

// close closes the current destination's files.
func (s *logSwitch) close() {
	s.root.mu.Lock()
	defer s.root.mu.Unlock()
	if s.root.closeFn != nil {
		s.root.closeFn()
		s.root.closeFn = nil
	}
}

func (s *logSwitch) current() slog.Handler {
	base := s.root.cur.Load()
	if b := s.built.Load(); b != nil && b.base == base {
		return b.h
	}
	h := *base
	for _, op := range s.ops {
		h = op(h)
	}
	s.built.Store(&builtHandler{base: base, h: h})
	return h
}

// Enabled implements slog.Handler.
func (s *logSwitch) Enabled(ctx context.Context, l slog.Level) bool {
	return s.current().Enabled(ctx, l)
}

// Handle implements slog.Handler.
func (s *logSwitch) Handle(ctx context.Context, r slog.Record) error {
	return s.current().Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (s *logSwitch) WithAttrs(attrs []slog.Attr) slog.Handler {
	return s.derive(func(h slog.Handler) slog.Handler { return h.WithAttrs(attrs) })
}

// WithGroup implements slog.Handler.
func (s *logSwitch) WithGroup(name string) slog.Handler {
	if name == "" {
		return s
	}
	return s.derive(func(h slog.Handler) slog.Handler { return h.WithGroup(name) })
}

func (s *logSwitch) derive(op func(slog.Handler) slog.Handler) *logSwitch {
	ops := make([]func(slog.Handler) slog.Handler, len(s.ops), len(s.ops)+1)
	copy(ops, s.ops)
	return &logSwitch{root: s.root, ops: append(ops, op)}
}

// reloadOnHangup reloads the configuration on each SIGHUP until ctx ends
// or the returned stop is called.
func (c *cli) reloadOnHangup(ctx context.Context, srv *server.Server, logs *logSwitch) (stop func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.watchReload(ctx, srv, logs, sig, nil)
	}()
	return func() {
		signal.Stop(sig)
		cancel()
		<-done
	}
}

// watchReload reloads on each value from sig until ctx ends. reloaded, if
// not nil, is told each reload's outcome (for tests).
func (c *cli) watchReload(ctx context.Context, srv *server.Server, logs *logSwitch, sig <-chan os.Signal, reloaded func(error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sig:
		}
		err := c.reload(ctx, srv, logs)
		if reloaded != nil {
			reloaded(err)
		}
	}
}

// reload performs one reload and logs its outcome.
func (c *cli) reload(ctx context.Context, srv *server.Server, logs *logSwitch) error {
	log := logs.logger()
	log.Info("reloading the configuration", "config", c.configName())
	cfg, err := c.loadConfig()
	if err != nil {
		// config errors carry file:line.
		log.Error("configuration reload failed; the running configuration stays in effect", "err", err)
		return fmt.Errorf("reload: %w", err)
	}
	newLog, closeNew, err := newLogger(cfg, c.stderr)
	if err != nil {
		log.Error("configuration reload failed: log; the running configuration stays in effect", "err", err)
		return fmt.Errorf("reload: %w", err)
	}
	if err := srv.Reload(ctx, cfg); err != nil {
		if errors.Is(err, server.ErrReloadRefused) {
			closeNew()
			log.Error("configuration reload refused", "err", err)
			return err
		}
		log.Error("configuration reloaded with errors", "err", err)
		logs.swap(newLog, closeNew)
		return err
	}
	logs.swap(newLog, closeNew)
	for _, w := range cfg.Warnings {
		log.Warn("config", "warning", w.String())
	}
	return nil
}
