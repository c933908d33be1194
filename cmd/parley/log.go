package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/parley-xmpp/parley/config"
)

// newLogger builds the logger from Prosody's `log` option (config.Log
// interprets its forms): console, stdout and file sinks, each with its
// minimum level. Syslog goes to the console, with a note.
func newLogger(cfg *config.Config, console io.Writer) (*slog.Logger, func(), error) {
	sinks, err := cfg.Log()
	if err != nil {
		return nil, nil, err
	}
	var handlers []slog.Handler
	var closers []io.Closer
	closeAll := func() {
		for _, c := range closers {
			_ = c.Close()
		}
	}
	syslog := false
	for _, s := range sinks {
		var w io.Writer
		switch s.To {
		case "console", "":
			w = console
		case "stdout":
			w = os.Stdout
		case "syslog":
			w, syslog = console, true
		case "file":
			f, err := os.OpenFile(s.Filename, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o640)
			if err != nil {
				closeAll()
				return nil, nil, fmt.Errorf("%s: log: %w", s.Pos, err)
			}
			closers = append(closers, f)
			w = f
		default:
			continue
		}
		handlers = append(handlers, slog.NewTextHandler(w, &slog.HandlerOptions{Level: prosodyLevel(s.Min)}))
	}
	var h slog.Handler = fanout(handlers)
	if len(handlers) == 1 {
		h = handlers[0]
	}
	l := slog.New(h)
	if syslog {
		l.Info("syslog logging is not supported; logging to the console instead")
	}
	return l, closeAll, nil
}

func prosodyLevel(name string) slog.Level {
	switch name {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// fanout sends each record to every handler that wants its level.
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			errs = append(errs, h.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (f fanout) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(attrs)
	}
	return out
}

func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}
