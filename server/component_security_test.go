package server_test

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/servertest"
)

const componentConfig = `
allow_unencrypted_plain_auth = true
VirtualHost "example.com"
Component "focus.example.com"
    component_secret = "s3cret"
`

const componentOpen = `<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='focus.example.com'>`

func componentHandshake(c *servertest.Raw, secret string) {
	sum := sha1.Sum([]byte(c.Header.ID + secret))
	c.Write("<handshake>" + hex.EncodeToString(sum[:]) + "</handshake>")
}

// SECURITY-CASES #76, #78, #79, #83: the XEP-0114 component port.
func TestComponentCases(t *testing.T) {
	srv := servertest.Start(t, componentConfig)
	dial := func(t *testing.T) *servertest.Raw {
		c := servertest.DialRaw(t, srv.ComponentAddr)
		c.Write(componentOpen)
		c.ReadHeader()
		return c
	}
	t.Run("wrong digest (#76)", func(t *testing.T) {
		c := dial(t)
		componentHandshake(c, "s3cres")
		c.ExpectStreamError("not-authorized")
	})
	t.Run("stanza before the handshake (#78)", func(t *testing.T) {
		c := dial(t)
		c.Write(`<message from='focus.example.com' to='alice@example.com'><body>early</body></message>`)
		c.ExpectStreamError("not-authorized")
	})

	first := dial(t)
	componentHandshake(first, "s3cret")
	if hs := first.Next(); hs.Name.Local != "handshake" {
		t.Fatalf("handshake: %s", hs)
	}
	t.Run("second connection (#79)", func(t *testing.T) {
		c := dial(t)
		componentHandshake(c, "s3cret")
		c.ExpectStreamError("conflict")
	})
	t.Run("stanza over 512 KiB (#83)", func(t *testing.T) {
		first.Write(`<message from='focus.example.com' to='alice@example.com'><body>` + strings.Repeat("x", 513<<10) + `</body></message>`)
		first.ExpectStreamError("policy-violation")
	})
}
