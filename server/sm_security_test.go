package server_test

import (
	"errors"
	"strconv"
	"testing"

	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// SECURITY-CASES #169: <enable/> before bind, and twice, fail with
// unexpected-request.
func TestSMEnableOutOfOrder(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("bob", "example.com", "secret")
	t.Run("before bind", func(t *testing.T) {
		c := authOnly(t, srv, "bob")
		c.Write(`<enable xmlns='urn:xmpp:sm:3'/>`)
		if f := c.Next(); f.Name.Local != "failed" || f.Child("", "unexpected-request") == nil {
			t.Fatalf("got %s", f)
		}
	})
	t.Run("twice", func(t *testing.T) {
		c, _, _ := smClient(t, srv, "")
		c.Write(`<enable xmlns='urn:xmpp:sm:3'/>`)
		if f := c.Next(); f.Name.Local != "failed" || f.Child("", "unexpected-request") == nil {
			t.Fatalf("got %s", f)
		}
	})
}

// SECURITY-CASES #166: <resume/> before authentication is refused (the
// registry is keyed by the authenticated user).
func TestSMResumeBeforeAuth(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("bob", "example.com", "secret")
	_, _, id := smClient(t, srv, "")
	c := servertest.DialRaw(t, srv.C2SAddr)
	c.Open("example.com")
	c.Write(`<resume xmlns='urn:xmpp:sm:3' previd='` + id + `' h='0'/>`)
	el := c.Next()
	if el.Name.Local == "resumed" {
		t.Fatalf("resumed before authentication: %s", el)
	}
	if !(el.Name.Local == "failed" || (el.Name.Space == stanza.NSStream && el.Name.Local == "error")) {
		t.Fatalf("got %s, want failed or a stream error", el)
	}
}

// SECURITY-CASES #167: resuming while the old stream is still open gives
// the old stream a conflict stream error.
func TestSMResumeWhileOpen(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("bob", "example.com", "secret")
	old, _, id := smClient(t, srv, "phone")
	c := authOnly(t, srv, "bob")
	c.Write(`<resume xmlns='urn:xmpp:sm:3' previd='` + id + `' h='0'/>`)
	if r := c.Next(); r.Name.Local != "resumed" {
		t.Fatalf("resume: %s", r)
	}
	for {
		el := old.Next()
		if el.Name.Space == stanza.NSStream && el.Name.Local == "error" {
			if el.Child(stanza.NSStreams, "conflict") == nil {
				t.Fatalf("old stream got %s, want conflict", el)
			}
			break
		}
	}
	// RFC 6120 §4.9.1.1: the error, then the end of the stream.
	if _, err := old.R.Next(); !errors.Is(err, stanza.ErrStreamEnd) {
		t.Fatalf("after the conflict: %v, want the end of the stream", err)
	}
}

// SECURITY-CASES #162: after a restart the old stream management id is
// unknown: <failed><item-not-found/></failed>, and the client can bind
// afresh.
func TestSMResumeAfterRestart(t *testing.T) {
	first := servertest.Start(t, twoHosts)
	first.CreateUser("bob", "example.com", "secret")
	_, _, id := smClient(t, first, "phone")
	if err := first.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	second := servertest.Start(t, twoHosts)
	second.CreateUser("bob", "example.com", "secret")
	c := authOnly(t, second, "bob")
	c.Write(`<resume xmlns='urn:xmpp:sm:3' previd='` + id + `' h='3'/>`)
	if f := c.Next(); f.Name.Local != "failed" || f.Child("", "item-not-found") == nil {
		t.Fatalf("resume after restart: %s", f)
	}
	c.Write(`<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`)
	if r := c.Next(); r.Get("type") != "result" {
		t.Fatalf("bind after a failed resume: %s", r)
	}
}

// SECURITY-CASES #170: past smacks_max_queue_size unacknowledged stanzas
// the session can no longer be resumed: resource-constraint.
func TestSMQueueOverflow(t *testing.T) {
	srv := servertest.Start(t, "smacks_max_queue_size = 10\n"+twoHosts)
	srv.CreateUser("alice", "example.com", "secret")
	srv.CreateUser("bob", "example.com", "secret")
	alice := srv.Connect(t, "alice@example.com", "secret", servertest.ClientOptions{})
	bob, bobJID, _ := smClient(t, srv, "phone")
	for i := 1; i <= 11; i++ {
		alice.Send(chat(bobJID, strconv.Itoa(i)))
	}
	for {
		el := bob.Next()
		if el.Name.Space == stanza.NSStream && el.Name.Local == "error" {
			if el.Child(stanza.NSStreams, "resource-constraint") == nil {
				t.Fatalf("stream error %s, want resource-constraint", el)
			}
			return
		}
		if el.Name.Local == "failed" && el.Child("", "resource-constraint") != nil {
			return
		}
	}
}
