package server_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

const twoHosts = `
allow_unencrypted_plain_auth = true
VirtualHost "example.com"
VirtualHost "other.example"
VirtualHost "anon.example"
    authentication = "anonymous"
`

func TestLoginMechanisms(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("alice", "example.com", "secret")
	tests := []struct {
		name string
		addr string
		mech sasl.Mechanism
	}{
		{"PLAIN", "alice@example.com", sasl.Plain},
		{"SCRAM-SHA-1", "alice@example.com", sasl.ScramSha1},
		{"SCRAM-SHA-256", "alice@example.com", sasl.ScramSha256},
		{"ANONYMOUS", "anon.example", sasl.Anonymous},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := srv.Connect(t, tc.addr, "secret", servertest.ClientOptions{Mechanisms: []sasl.Mechanism{tc.mech}})
			got := c.JID
			if got.Resourcepart() == "" {
				t.Fatalf("bound JID %s has no resource", got)
			}
			if tc.mech.Name == "ANONYMOUS" {
				if got.Domainpart() != "anon.example" || len(got.Localpart()) != 36 {
					t.Fatalf("anonymous JID = %s, want a UUID at anon.example", got)
				}
			} else if got.Bare().String() != "alice@example.com" {
				t.Fatalf("bound JID = %s", got)
			}
			reply := c.Request(iq("get", "example.com", stanza.New("urn:xmpp:ping", "ping")))
			if reply.Get("type") != "result" {
				t.Fatalf("ping reply = %s", reply)
			}
		})
	}
}

// TestLegacySessionAfterBind: strophe.js sends the RFC 3921 session IQ
// after binding; it gets an empty result, with or without a 'to'.
func TestLegacySessionAfterBind(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("alice", "example.com", "secret")
	c := servertest.DialRaw(t, srv.C2SAddr)
	c.Login("example.com", "alice", "secret", "")
	for _, to := range []string{"", " to='example.com'"} {
		c.Write(`<iq type='set' id='s'` + to + `><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>`)
		if r := c.Next(); r.Get("type") != "result" || r.Get("id") != "s" {
			t.Fatalf("session IQ%s: %s", to, r)
		}
	}
}

func TestWrongPassword(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("alice", "example.com", "secret")
	for _, mech := range []sasl.Mechanism{sasl.Plain, sasl.ScramSha1, sasl.ScramSha256} {
		t.Run(mech.Name, func(t *testing.T) {
			_, err := srv.TryDial(t, "alice@example.com", "wrong", servertest.ClientOptions{Mechanisms: []sasl.Mechanism{mech}})
			if err == nil || !strings.Contains(err.Error(), "not-authorized") {
				t.Fatalf("login with a wrong password: err = %v, want not-authorized", err)
			}
			_, err = srv.TryDial(t, "nobody@example.com", "wrong", servertest.ClientOptions{Mechanisms: []sasl.Mechanism{mech}})
			if err == nil || !strings.Contains(err.Error(), "not-authorized") {
				t.Fatalf("login as an unknown user: err = %v, want not-authorized", err)
			}
		})
	}
}

func TestStartTLS(t *testing.T) {
	srv := servertest.Start(t, `
VirtualHost "example.com"
    c2s_require_encryption = true
`, servertest.WithTLS())
	srv.CreateUser("alice", "example.com", "secret")
	c := srv.Connect(t, "alice@example.com", "secret", servertest.ClientOptions{StartTLS: true, Mechanisms: []sasl.Mechanism{sasl.Plain}})
	if _, ok := c.Conn().(interface{ ConnectionState() any }); ok {
		t.Log("tls")
	}
	if c.JID.Bare().String() != "alice@example.com" {
		t.Fatalf("bound %s", c.JID)
	}
	// Without STARTTLS no mechanism is offered while encryption is required.
	_, err := srv.TryDial(t, "alice@example.com", "secret", servertest.ClientOptions{Mechanisms: []sasl.Mechanism{sasl.Plain}})
	if err == nil {
		t.Fatal("logged in without TLS although c2s_require_encryption is on")
	}
}

func TestBindConflictReplacesOldSession(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("alice", "example.com", "secret")
	// mellium v0.22 cannot request a resource (it sends an empty
	// <resource/>), so the second login, which must ask for the first
	// session's resource, uses the raw client.
	first := srv.Connect(t, "alice@example.com", "secret", servertest.ClientOptions{})
	second := servertest.DialRaw(t, srv.C2SAddr)
	got := second.Login("example.com", "alice", "secret", first.JID.Resourcepart())
	if got != first.JID.String() {
		t.Fatalf("second session bound %s, want %s", got, first.JID)
	}
	err := first.ServeErr()
	if err == nil || !strings.Contains(err.Error(), "conflict") {
		t.Fatalf("old session ended with %v, want a conflict stream error", err)
	}
	second.Write(`<iq type='get' id='p' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>`)
	if reply := second.Next(); reply.Get("type") != "result" || reply.Get("id") != "p" {
		t.Fatalf("new session unusable: %s", reply)
	}
}

func TestMessageAndPresence(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("alice", "example.com", "secret")
	srv.CreateUser("bob", "example.com", "secret")
	srv.CreateUser("carol", "other.example", "secret")
	alice := srv.Connect(t, "alice@example.com/a", "secret", servertest.ClientOptions{})
	bob := srv.Connect(t, "bob@example.com/b", "secret", servertest.ClientOptions{})
	carol := srv.Connect(t, "carol@other.example/c", "secret", servertest.ClientOptions{})
	for _, c := range []*servertest.Client{alice, bob, carol} {
		c.Send(stanza.New(stanza.NSClient, "presence"))
		own := c.Next()
		if own.Name.Local != "presence" || own.Get("from") != c.JID.String() {
			t.Fatalf("%s: expected own presence echo, got %s", c.JID, own)
		}
	}

	tests := []struct {
		name     string
		from, to *servertest.Client
		addr     string
	}{
		{"same host bare", alice, bob, "bob@example.com"},
		{"same host full", bob, alice, alice.JID.String()},
		{"across hosts", alice, carol, "carol@other.example"},
		{"back across hosts", carol, alice, "alice@example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := stanza.New(stanza.NSClient, "message").Set("type", "chat").Set("to", tc.addr).Set("id", "m1")
			m.Add(stanza.New(stanza.NSClient, "body").AddText("hi <there> & 'you'"))
			tc.from.Send(m)
			got := tc.to.Next()
			if got.Name.Local != "message" || got.Get("from") != tc.from.JID.String() || got.ChildText("", "body") != "hi <there> & 'you'" {
				t.Fatalf("received %s", got)
			}
		})
	}

	t.Run("directed presence and unavailable on disconnect", func(t *testing.T) {
		p := stanza.New(stanza.NSClient, "presence").Set("to", bob.JID.String())
		carol.Send(p)
		got := bob.Next()
		if got.Name.Local != "presence" || got.Get("from") != carol.JID.String() || got.Get("type") != "" {
			t.Fatalf("bob got %s, want carol's directed presence", got)
		}
		if err := carol.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		got = bob.Next()
		if got.Name.Local != "presence" || got.Get("from") != carol.JID.String() || got.Get("type") != "unavailable" {
			t.Fatalf("bob got %s, want carol's unavailable presence", got)
		}
	})

	t.Run("message to offline user bounces", func(t *testing.T) {
		m := stanza.New(stanza.NSClient, "message").Set("type", "chat").Set("to", "nobody@example.com").Set("id", "m2")
		m.Add(stanza.New(stanza.NSClient, "body").AddText("anyone?"))
		alice.Send(m)
		got := alice.Next()
		if got.Get("type") != "error" || got.Get("id") != "m2" || got.Child("", "error").Child(stanza.NSStanzas, "service-unavailable") == nil {
			t.Fatalf("got %s, want service-unavailable", got)
		}
	})

	t.Run("remote domain", func(t *testing.T) {
		reply := alice.Request(iq("get", "elsewhere.example", stanza.New("urn:xmpp:ping", "ping")))
		if reply.Child("", "error").Child(stanza.NSStanzas, "remote-server-not-found") == nil {
			t.Fatalf("got %s, want remote-server-not-found", reply)
		}
	})
}

func iq(typ, to string, payload *stanza.Element) *stanza.Element {
	return stanza.New(stanza.NSClient, "iq").Set("type", typ).Set("to", to).Add(payload)
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
