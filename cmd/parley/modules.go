package main

import (
	"log/slog"

	"github.com/parley-xmpp/parley/server"
)

// allModules lists every built-in module and component type, explicitly and
// without init() side effects.
func allModules(_ *slog.Logger) []server.Option {
	return nil
}
