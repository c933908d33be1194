package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/parley-xmpp/parley/config"
)

// newLogger honours the common forms of Prosody's `log` option: a level
// name ("info"), a table of level = sink ({ info = "*console",
// error = "/var/log/prosody/prosody.err" }), or "*console". Syslog sinks
// fall back to the console.
func newLogger(cfg *config.Config, console io.Writer) (*slog.Logger, func(), error) {
	opt, ok := cfg.Get(nil, "log")
	level := slog.LevelInfo
	var out io.Writer = console
	var closers []io.Closer
	if ok {
		switch v := opt.Value.(type) {
		case string:
			if l, ok := parseLevel(v); ok {
				level = l
			} else if !strings.HasPrefix(v, "*") {
				f, err := os.OpenFile(v, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o640)
				if err != nil {
					return nil, nil, fmt.Errorf("%s: log: %w", opt.Pos, err)
				}
				out, closers = f, append(closers, f)
			}
		case map[string]any:
			min := slog.LevelError + 1
			for name, sink := range v {
				l, ok := parseLevel(name)
				if !ok {
					continue
				}
				if l < min {
					min = l
				}
				if path, ok := sink.(string); ok && !strings.HasPrefix(path, "*") && l <= slog.LevelInfo {
					f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o640)
					if err != nil {
						return nil, nil, fmt.Errorf("%s: log: %w", opt.Pos, err)
					}
					out, closers = f, append(closers, f)
				}
			}
			if min <= slog.LevelError {
				level = min
			}
		}
	}
	l := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
	return l, func() {
		for _, c := range closers {
			_ = c.Close()
		}
	}, nil
}

func parseLevel(s string) (slog.Level, bool) {
	switch s {
	case "debug":
		return slog.LevelDebug, true
	case "info":
		return slog.LevelInfo, true
	case "warn":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return 0, false
}
