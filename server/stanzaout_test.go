package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/hook"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// shoutModule is a "stanzas/out" filter: it upper-cases outgoing message
// bodies on a copy and drops bodies saying "drop".
type shoutModule struct{}

func (shoutModule) Name() string { return "shout" }

func (shoutModule) Load(_ context.Context, h *server.Host) error {
	h.Events.StanzaOut.On(0, "shout", func(_ context.Context, ev *server.OutStanzaEvent) error {
		body := ev.Stanza.ChildText("", "body")
		switch {
		case body == "drop":
			return hook.ErrStop
		case body != "":
			c := ev.Stanza.Copy()
			c.RemoveChildren("", "body")
			ev.Stanza = c.Add(stanza.New(stanza.NSClient, "body").AddText(strings.ToUpper(body)))
		}
		return nil
	})
	return nil
}

func TestStanzaOutFilter(t *testing.T) {
	srv := servertest.Start(t, `
allow_unencrypted_plain_auth = true
VirtualHost "example.com"
    modules_enabled = { "shout" }
VirtualHost "plain.example"
`, servertest.WithServerOptions(server.WithModules(shoutModule{})))
	srv.CreateUser("alice", "plain.example", "secret")
	srv.CreateUser("bob", "example.com", "secret")
	srv.CreateUser("carol", "plain.example", "secret")
	alice := srv.Connect(t, "alice@plain.example", "secret", servertest.ClientOptions{})
	bob := srv.Connect(t, "bob@example.com", "secret", servertest.ClientOptions{})
	carol := srv.Connect(t, "carol@plain.example", "secret", servertest.ClientOptions{})

	send := func(to, body, id string) {
		m := stanza.New(stanza.NSClient, "message").Set("to", to).Set("id", id).Set("type", "chat")
		alice.Send(m.Add(stanza.New(stanza.NSClient, "body").AddText(body)))
	}
	send(bob.JID.String(), "drop", "1")
	send(bob.JID.String(), "hello", "2")
	if got := bob.Next(); got.Get("id") != "2" || got.ChildText("", "body") != "HELLO" {
		t.Fatalf("bob (filtered host) got %s, want only id 2 with HELLO", got)
	}
	// The filter belongs to bob's host: carol's session is untouched.
	send(carol.JID.String(), "hello", "3")
	if got := carol.Next(); got.ChildText("", "body") != "hello" {
		t.Fatalf("carol (unfiltered host) got %s", got)
	}
}
