package main

import (
	"log/slog"

	"github.com/parley-xmpp/parley/auth"
	"github.com/parley-xmpp/parley/bosh"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/httpx"
	"github.com/parley-xmpp/parley/server/websocket"
)

// allModules lists every built-in module, component type and
// authentication provider, explicitly and without init() side effects.
// Each call builds fresh instances, so two servers never share state.
func allModules(_ *slog.Logger) []server.Option {
	return []server.Option{
		server.WithModules(
			bosh.New(bosh.Options{}),
			websocket.New(websocket.Options{}),
			httpx.NewHealth(),
		),
		// Jitsi's anonymous provider: ANONYMOUS with a random UUID username.
		server.WithAuthProvider("jitsi-anonymous", func(h *server.Host) (auth.Provider, error) {
			return auth.NewAnonymous(h.Name, auth.AnonymousOptions{}), nil
		}),
	}
}
