package server_test

import (
	"context"
	"testing"

	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

type nopComponent struct{ name string }

func (nopComponent) Deliver(context.Context, *stanza.Element) {}

// waitModule is a host module that needs components: host modules load
// before the config's components, so it waits for them with WhenComponent.
type waitModule struct{ got map[string]string }

func (m *waitModule) Name() string { return "needs_components" }

func (m *waitModule) Load(_ context.Context, h *server.Host) error {
	for _, d := range []string{"late.example.com", "never.example.com"} {
		h.Server().WhenComponent(d, func(c server.Component) { m.got[d] = c.(nopComponent).name })
	}
	return nil
}

func TestWhenComponent(t *testing.T) {
	mod := &waitModule{got: map[string]string{}}
	factory := func(_ context.Context, ch *server.ComponentHost) (server.Component, error) {
		return nopComponent{name: ch.Name}, nil
	}
	srv := servertest.Start(t, `
VirtualHost "example.com"
    modules_enabled = { "needs_components" }
Component "late.example.com" "nop"
`, servertest.WithServerOptions(server.WithModules(mod), server.WithComponentType("nop", factory)))
	if mod.got["late.example.com"] != "late.example.com" || len(mod.got) != 1 {
		t.Fatalf("callbacks saw %v, want only late.example.com", mod.got)
	}
	// Once there, a component is handed over at once.
	called := false
	srv.Server.WhenComponent("late.example.com", func(server.Component) { called = true })
	if !called {
		t.Fatal("WhenComponent on an existing component did not call back")
	}
	// An in-process component added later by an embedder wakes its waiter.
	if err := srv.Server.AddComponent("never.example.com", nopComponent{name: "added"}); err != nil {
		t.Fatal(err)
	}
	if mod.got["never.example.com"] != "added" {
		t.Fatalf("waiter for an added component saw %v", mod.got)
	}
}
