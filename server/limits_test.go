package server_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// SECURITY-CASES 159 (CVE-2008-1728): a client that never reads while others
// flood it has its outbound queue capped, is disconnected, and the sender
// learns that the recipient is gone; nothing is dropped silently.
func TestSlowConsumerIsDisconnected(t *testing.T) {
	srv := servertest.Start(t, twoHosts, servertest.WithServerOptions(server.WithQueueLimits(8, 256<<10)))
	srv.CreateUser("alice", "example.com", "secret")
	srv.CreateUser("victim", "example.com", "secret")
	victim := servertest.DialRaw(t, srv.C2SAddr)
	victimJID := victim.Login("example.com", "victim", "secret", "")
	alice := srv.Connect(t, "alice@example.com", "secret", servertest.ClientOptions{})

	body := strings.Repeat("x", 32<<10)
	bounced := false
	for i := 0; i < 2000 && !bounced; i++ {
		m := stanza.New(stanza.NSClient, "message").Set("type", "chat").Set("to", victimJID).Set("id", "f"+strconv.Itoa(i))
		m.Add(stanza.New(stanza.NSClient, "body").AddText(body))
		alice.Send(m)
		select {
		case el := <-alice.In:
			if el.Get("type") == "error" && el.Child("", "error").Child(stanza.NSStanzas, "service-unavailable") != nil {
				bounced = true
			}
		default:
		}
	}
	if !bounced {
		alice.NextMatch(func(el *stanza.Element) bool { return el.Get("type") == "error" })
	}
	if got := server.ClosesCount(srv.Server, "slow_consumer"); got != 1 {
		t.Fatalf("slow_consumer closes = %v, want 1", got)
	}
}

// TestAuthTimeout: a connection that never authenticates is closed with
// connection-timeout.
func TestAuthTimeout(t *testing.T) {
	srv := servertest.Start(t, twoHosts, servertest.WithServerOptions(server.WithAuthTimeout(200*time.Millisecond)))
	c := servertest.DialRaw(t, srv.C2SAddr)
	c.Open("example.com")
	c.ExpectStreamError("connection-timeout")
}

// SECURITY-CASES: plaintext sent after <starttls/> but before the TLS
// handshake must not be processed inside the encrypted stream.
func TestStartTLSInjectionRefused(t *testing.T) {
	srv := servertest.Start(t, `
VirtualHost "example.com"
`, servertest.WithTLS())
	c := servertest.DialRaw(t, srv.C2SAddr)
	f := c.Open("example.com")
	if f.Child("urn:ietf:params:xml:ns:xmpp-tls", "starttls") == nil {
		t.Fatalf("no STARTTLS offered: %s", f)
	}
	c.Write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><iq type='get' id='injected'/>`)
	if p := c.Next(); p.Name.Local != "proceed" {
		t.Fatalf("got %s", p)
	}
	if _, err := c.R.Next(); err == nil {
		t.Fatal("the server kept the connection after injected plaintext")
	}
}

func TestShutdownSendsSystemShutdown(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("alice", "example.com", "secret")
	alice := srv.Connect(t, "alice@example.com", "secret", servertest.ClientOptions{})
	raw := servertest.DialRaw(t, srv.C2SAddr)
	raw.Login("example.com", "alice", "secret", "raw")
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(t.Context()) }()
	raw.ExpectStreamError("system-shutdown")
	if err := alice.ServeErr(); err == nil || !strings.Contains(err.Error(), "system-shutdown") {
		t.Fatalf("mellium client ended with %v, want system-shutdown", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
