package main

import (
	"log/slog"

	"github.com/parley-xmpp/parley/auth"
	"github.com/parley-xmpp/parley/server"
)

// allModules lists every built-in module, component type and
// authentication provider, explicitly and without init() side effects.
func allModules(_ *slog.Logger) []server.Option {
	return []server.Option{
		// Jitsi's anonymous provider: ANONYMOUS with a random UUID username.
		server.WithAuthProvider("jitsi-anonymous", func(h *server.Host) (auth.Provider, error) {
			return auth.NewAnonymous(h.Name, auth.AnonymousOptions{}), nil
		}),
	}
}
