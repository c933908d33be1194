package server_test

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

const openExample = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>`

func TestStreamErrors(t *testing.T) {
	srv := servertest.Start(t, `
VirtualHost "example.com"
`)
	tests := []struct {
		name  string
		send  string
		after bool // send after the header exchange
		cond  string
	}{
		{"unknown host (case 1)", `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='nowhere.example' version='1.0'>`, false, "host-unknown"},
		{"wrong stream namespace", `<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>`, false, "invalid-namespace"},
		{"DOCTYPE before the stream (billion laughs)", `<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol "lol">]>` + openExample, false, "restricted-xml"},
		{"comment", `<!-- hi -->`, true, "restricted-xml"},
		{"processing instruction", `<?foo bar?>`, true, "restricted-xml"},
		{"undeclared entity", `<message to='x@example.com'><body>&lol;</body></message>`, true, "restricted-xml"},
		{"not well-formed", `<message><body></message>`, true, "not-well-formed"},
		{"oversize stanza", `<message><body>` + strings.Repeat("a", 300*1024) + `</body></message>`, true, "policy-violation"},
		{"too deep", strings.Repeat("<a>", 200), true, "policy-violation"},
		{"stanza before auth", `<message to='a@example.com'/>`, true, "not-authorized"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := servertest.DialRaw(t, srv.C2SAddr)
			if tc.after {
				c.Write(openExample)
				c.ReadHeader()
				if f := c.Next(); f.Name.Local != "features" {
					t.Fatalf("want features, got %s", f)
				}
			}
			c.Write(tc.send)
			if !tc.after {
				c.ReadHeader()
			}
			c.ExpectStreamError(tc.cond)
		})
	}
}

func TestSASLFailures(t *testing.T) {
	srv := servertest.Start(t, `
VirtualHost "example.com"
`)
	c := servertest.DialRaw(t, srv.C2SAddr)
	c.Write(openExample)
	c.ReadHeader()
	c.Next()
	for i, tc := range []struct{ send, cond string }{
		{`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-UNKNOWN'/>`, "invalid-mechanism"},
		{`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>!!!notbase64</auth>`, "incorrect-encoding"},
	} {
		c.Write(tc.send)
		f := c.Next()
		if f.Name.Local != "failure" || f.Child("", tc.cond) == nil {
			t.Fatalf("attempt %d: got %s, want failure %s", i, f, tc.cond)
		}
	}
	// The third failure ends the stream.
	c.Write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-UNKNOWN'/>`)
	if f := c.Next(); f.Name.Local != "failure" {
		t.Fatalf("got %s", f)
	}
	c.ExpectStreamError("policy-violation")
}

func TestExternalComponent(t *testing.T) {
	srv := servertest.Start(t, `
allow_unencrypted_plain_auth = true
VirtualHost "example.com"
Component "focus.example.com"
    component_secret = "s3cret"
`)
	if srv.ComponentAddr == "" {
		t.Fatal("no component listener")
	}
	open := `<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='focus.example.com'>`
	handshake := func(c *servertest.Raw, secret string) {
		sum := sha1.Sum([]byte(c.Header.ID + secret))
		c.Write("<handshake>" + hex.EncodeToString(sum[:]) + "</handshake>")
	}

	t.Run("bad secret", func(t *testing.T) {
		c := servertest.DialRaw(t, srv.ComponentAddr)
		c.Write(open)
		c.ReadHeader()
		handshake(c, "wrong")
		c.ExpectStreamError("not-authorized")
	})
	t.Run("unknown domain", func(t *testing.T) {
		c := servertest.DialRaw(t, srv.ComponentAddr)
		c.Write(strings.Replace(open, "focus.example.com", "nope.example.com", 1))
		c.ReadHeader()
		c.ExpectStreamError("host-unknown")
	})

	srv.CreateUser("alice", "example.com", "secret")
	alice := srv.Connect(t, "alice@example.com/a", "secret", servertest.ClientOptions{})

	t.Run("not connected", func(t *testing.T) {
		r := alice.Request(iq("get", "focus.example.com", stanza.New("urn:xmpp:ping", "ping")))
		if r.Child("", "error").Child(stanza.NSStanzas, "service-unavailable") == nil {
			t.Fatalf("got %s", r)
		}
	})

	c := servertest.DialRaw(t, srv.ComponentAddr)
	c.Write(open)
	c.ReadHeader()
	handshake(c, "s3cret")
	if hs := c.Next(); hs.Name.Local != "handshake" || hs.Name.Space != stanza.NSComponent {
		t.Fatalf("want an empty handshake, got %s", hs)
	}
	_ = c.Conn.SetDeadline(time.Now().Add(servertest.Wait))

	t.Run("second connection conflicts", func(t *testing.T) {
		c2 := servertest.DialRaw(t, srv.ComponentAddr)
		c2.Write(open)
		c2.ReadHeader()
		handshake(c2, "s3cret")
		c2.ExpectStreamError("conflict")
	})

	t.Run("routing both ways", func(t *testing.T) {
		alice.Send(iq("get", "focus.example.com", stanza.New("urn:xmpp:ping", "ping")).Set("id", "p1"))
		got := c.Next()
		if got.Name.Local != "iq" || got.Get("from") != alice.JID.String() || got.Name.Space != stanza.NSComponent {
			t.Fatalf("component got %s", got)
		}
		c.Write(`<iq type='result' id='p1' from='focus.example.com' to='` + alice.JID.String() + `'/>`)
		r := alice.NextMatch(func(el *stanza.Element) bool { return el.Get("id") == "p1" })
		if r.Get("type") != "result" || r.Get("from") != "focus.example.com" {
			t.Fatalf("alice got %s", r)
		}
	})

	t.Run("spoofed from", func(t *testing.T) {
		c.Write(`<message from='alice@example.com' to='alice@example.com/a'><body>x</body></message>`)
		c.ExpectStreamError("invalid-from")
	})
}
