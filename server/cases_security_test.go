package server_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
)

// SECURITY-CASES #157: the unauthenticated deadline is absolute. A client
// that sends nothing, and one that keeps trickling whitespace, are both
// closed with connection-timeout (c2s_timeout in Prosody; parley's auth
// timeout, 30 s by default, shortened here).
func TestUnauthenticatedDeadlineIsAbsolute(t *testing.T) {
	srv := servertest.Start(t, twoHosts, servertest.WithServerOptions(server.WithAuthTimeout(300*time.Millisecond)))
	t.Run("silent", func(t *testing.T) {
		c := servertest.DialRaw(t, srv.C2SAddr)
		got, err := io.ReadAll(c.Conn)
		if err != nil {
			t.Fatalf("read: %v (the server must close the connection)", err)
		}
		if !strings.Contains(string(got), "<connection-timeout xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>") || !strings.HasSuffix(string(got), "</stream:stream>") {
			t.Fatalf("got %q, want a connection-timeout stream error and the stream end", got)
		}
		if !strings.HasPrefix(string(got), "<?xml") && !strings.HasPrefix(string(got), "<stream:stream") {
			// RFC 6120 §4.9.1.1: the stream header comes first even when
			// the client never sent one.
			t.Fatalf("stream error sent without a stream header: %q", got)
		}
	})
	t.Run("trickling", func(t *testing.T) {
		c := servertest.DialRaw(t, srv.C2SAddr)
		c.Open("example.com")
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					if _, err := c.Conn.Write([]byte(" ")); err != nil {
						return
					}
				}
			}
		}()
		c.ExpectStreamError("connection-timeout")
	})
}
