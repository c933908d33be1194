package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/servertest"
)

// TestPipelinedStanzas: stanzas arriving together are all handled,
// although the reader waits on the socket whenever its buffer is empty
// (the ones after the first are already buffered), including a stanza
// split across writes.
func TestPipelinedStanzas(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("alice", "example.com", "secret")
	for _, tc := range []struct {
		name   string
		n      int
		splitN int // write the batch in two parts, cut here (0: one write)
	}{
		{name: "two in one write", n: 2},
		{name: "twenty in one write", n: 20},
		{name: "split inside a stanza", n: 3, splitN: 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := servertest.DialRaw(t, srv.C2SAddr)
			c.Login("example.com", "alice", "secret", "pipe")
			var b strings.Builder
			for i := range tc.n {
				fmt.Fprintf(&b, "<iq type='get' id='p%d' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>", i)
			}
			if tc.splitN > 0 {
				c.Write(b.String()[:tc.splitN])
				c.Write(b.String()[tc.splitN:])
			} else {
				c.Write(b.String())
			}
			for i := range tc.n {
				el := c.Next()
				if want := fmt.Sprintf("p%d", i); el.Get("id") != want || el.Get("type") != "result" {
					t.Fatalf("reply %d: %s, want a result with id %s", i, el, want)
				}
			}
		})
	}
}
