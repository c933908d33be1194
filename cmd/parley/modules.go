package main

import (
	"log/slog"

	"github.com/parley-xmpp/parley/cmd/parley/builtin"
	"github.com/parley-xmpp/parley/server"
)

// allModules registers every built-in module, component type and
// authentication provider (see package builtin).
func allModules(log *slog.Logger) []server.Option { return builtin.Options(log) }
