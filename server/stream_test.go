package server_test

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
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
		{"stanza before auth (case 18)", `<message to='a@example.com'/>`, true, "not-authorized"},
		{"header without to (case 14)", `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`, false, "improper-addressing"},
		{"non-stream first element (case 12)", `<message xmlns='jabber:client'/>`, false, "invalid-namespace"},
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
	// SECURITY-CASES 37: a response without an exchange.
	c.Write(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`)
	if f := c.Next(); f.Child("", "not-authorized") == nil || f.ChildText("", "text") != "Out of order SASL element" {
		t.Fatalf("out-of-order response: %s", f)
	}
	// SECURITY-CASES 39: the fifth failure ends the stream.
	for i := 0; i < 2; i++ {
		c.Write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-UNKNOWN'/>`)
		if f := c.Next(); f.Name.Local != "failure" {
			t.Fatalf("got %s", f)
		}
	}
	c.ExpectStreamError("policy-violation")
}

// SECURITY-CASES 8: the oversize error names the limit, which the features
// advertise.
func TestStanzaTooBig(t *testing.T) {
	srv := servertest.Start(t, "c2s_stanza_size_limit = 10000\n"+twoHosts)
	c := servertest.DialRaw(t, srv.C2SAddr)
	f := c.Open("example.com")
	if got := f.Child("urn:xmpp:stream-limits:0", "limits").ChildText("", "max-bytes"); got != "10000" {
		t.Fatalf("advertised limit %q in %s", got, f)
	}
	c.Write(`<message><body>` + strings.Repeat("a", 10001) + `</body></message>`)
	el := c.Next()
	if el.Child(stanza.NSStreams, "policy-violation") == nil || el.Child("urn:xmpp:errors", "stanza-too-big") == nil {
		t.Fatalf("got %s", el)
	}
}

// SECURITY-CASES 16 (CVE-2018-10847): the restarted stream must name the
// same host.
func TestRestartWithOtherHost(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("alice", "example.com", "secret")
	c := servertest.DialRaw(t, srv.C2SAddr)
	c.Open("example.com")
	c.Write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + base64Std("\x00alice\x00secret") + `</auth>`)
	if el := c.Next(); el.Name.Local != "success" {
		t.Fatal(el)
	}
	c.R.Restart()
	c.Write(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='other.example' version='1.0'>`)
	c.ReadHeader()
	c.ExpectStreamError("not-authorized")
}

// SECURITY-CASES 25: a client's stream error closes the stream cleanly.
func TestClientStreamError(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("alice", "example.com", "secret")
	c := servertest.DialRaw(t, srv.C2SAddr)
	c.Login("example.com", "alice", "secret", "")
	c.Write(`<stream:error><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`)
	if _, err := c.R.Next(); !errors.Is(err, stanza.ErrStreamEnd) {
		t.Fatalf("after the client's stream error: %v, want the server's closing tag", err)
	}
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
	t.Run("handshake with children (case 77)", func(t *testing.T) {
		c := servertest.DialRaw(t, srv.ComponentAddr)
		c.Write(open)
		c.ReadHeader()
		c.Write("<handshake><x/></handshake>")
		c.ExpectStreamError("not-authorized")
	})
	t.Run("no to (case 82)", func(t *testing.T) {
		c := servertest.DialRaw(t, srv.ComponentAddr)
		c.Write(`<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams'>`)
		c.ReadHeader()
		c.ExpectStreamError("improper-addressing")
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

	t.Run("missing to bounces (case 81)", func(t *testing.T) {
		c.Write(`<message from='focus.example.com' id='nt'><body>x</body></message>`)
		// The bounce goes back to the component itself.
		got := c.Next()
		if got.Get("type") != "error" || got.Get("id") != "nt" || got.Child("", "error").Child(stanza.NSStanzas, "bad-request") == nil {
			t.Fatalf("component got %s", got)
		}
	})
	t.Run("missing from is stamped (case 80)", func(t *testing.T) {
		c.Write(`<message to='` + alice.JID.String() + `' id='nf'><body>x</body></message>`)
		got := alice.NextMatch(func(el *stanza.Element) bool { return el.Get("id") == "nf" })
		if got.Get("from") != "focus.example.com" {
			t.Fatalf("alice got %s", got)
		}
	})
	t.Run("spoofed from", func(t *testing.T) {
		c.Write(`<message from='alice@example.com' to='alice@example.com/a'><body>x</body></message>`)
		c.ExpectStreamError("invalid-from")
	})
}
