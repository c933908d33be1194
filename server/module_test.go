package server_test

import (
	"context"
	"testing"

	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// denyModule vetoes messages whose body is "forbidden" and answers a
// custom IQ: a small module exercising the module API and hook chains.
type denyModule struct{ loaded []string }

func (m *denyModule) Name() string { return "deny_forbidden" }

func (m *denyModule) Load(_ context.Context, h *server.Host) error {
	m.loaded = append(m.loaded, h.Name)
	h.Events.PreStanza.On(10, m.Name(), func(_ context.Context, ev *server.StanzaEvent) error {
		if ev.Stanza.Name.Local == "message" && ev.Stanza.ChildText("", "body") == "forbidden" {
			return &server.StanzaError{Type: "modify", Condition: "policy-violation", Text: "not here"}
		}
		return nil
	})
	h.HandleIQ("get", "urn:example:hello", "query", func(_ context.Context, iq *server.IQ) (*stanza.Element, error) {
		return iq.Result().Add(stanza.New("urn:example:hello", "query").AddText("hello from " + iq.Host.Name)), nil
	})
	h.AddIdentity(server.Identity{Category: "component", Type: "example", Name: "deny." + h.Name})
	return nil
}

func TestModuleAPI(t *testing.T) {
	mod := &denyModule{}
	srv := servertest.Start(t, `
allow_unencrypted_plain_auth = true
VirtualHost "example.com"
    modules_enabled = { "deny_forbidden", "no_such_module" }
VirtualHost "other.example"
`, servertest.WithServerOptions(server.WithModules(mod)))
	if len(mod.loaded) != 1 || mod.loaded[0] != "example.com" {
		t.Fatalf("module loaded on %v, want only example.com", mod.loaded)
	}
	srv.CreateUser("alice", "example.com", "secret")
	srv.CreateUser("bob", "example.com", "secret")
	alice := srv.Connect(t, "alice@example.com", "secret", servertest.ClientOptions{})
	bob := srv.Connect(t, "bob@example.com", "secret", servertest.ClientOptions{})
	bob.Send(stanza.New(stanza.NSClient, "presence"))
	bob.Next()

	send := func(body, id string) {
		m := stanza.New(stanza.NSClient, "message").Set("to", bob.JID.String()).Set("id", id).Set("type", "chat")
		alice.Send(m.Add(stanza.New(stanza.NSClient, "body").AddText(body)))
	}
	send("forbidden", "bad")
	reply := alice.Next()
	if reply.Get("id") != "bad" || reply.Get("type") != "error" || reply.Child("", "error").Child(stanza.NSStanzas, "policy-violation") == nil {
		t.Fatalf("veto reply %s", reply)
	}
	send("fine", "good")
	if got := bob.Next(); got.Get("id") != "good" {
		t.Fatalf("bob got %s, want only the allowed message", got)
	}

	r := alice.Request(iq("get", "example.com", stanza.New("urn:example:hello", "query")))
	if r.ChildText("urn:example:hello", "query") != "hello from example.com" {
		t.Fatalf("module IQ reply %s", r)
	}
	r = alice.Request(iq("get", "other.example", stanza.New("urn:example:hello", "query")))
	if r.Get("type") != "error" {
		t.Fatalf("module answered on a host that does not enable it: %s", r)
	}
	info := alice.Request(iq("get", "example.com", stanza.New(servertestNSInfo, "query")))
	found := false
	for _, el := range info.Child(servertestNSInfo, "query").Elements() {
		found = found || (el.Name.Local == "identity" && el.Get("type") == "example" && el.Get("name") == "deny.example.com")
	}
	if !found {
		t.Fatalf("identity added by the module missing from disco#info: %s", info)
	}
}

func TestDirectTLS(t *testing.T) {
	srv := servertest.Start(t, `
c2s_direct_tls_ports = { 0 }
VirtualHost "example.com"
`, servertest.WithTLS())
	if srv.DirectTLSAddr == "" {
		t.Fatal("no direct TLS listener")
	}
	srv.CreateUser("alice", "example.com", "secret")
	c := srv.DialDirectTLS(t, "alice@example.com", "secret")
	if c.JID.Bare().String() != "alice@example.com" {
		t.Fatalf("bound %s", c.JID)
	}
}
