package server_test

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// loggedIn returns a raw client bound on example.com as alice.
func loggedIn(t *testing.T, srv *servertest.Server) (*servertest.Raw, string) {
	t.Helper()
	c := servertest.DialRaw(t, srv.C2SAddr)
	return c, c.Login("example.com", "alice", "secret", "r")
}

// nextIQ reads until the IQ with id arrives.
func nextIQ(t *testing.T, c *servertest.Raw, id string) *stanza.Element {
	t.Helper()
	for {
		el := c.Next()
		if el.Name.Local == "iq" && el.Get("id") == id {
			return el
		}
		if el.Name.Space == stanza.NSStream && el.Name.Local == "error" {
			t.Fatalf("stream error %s while waiting for iq %s", el, id)
		}
	}
}

func errorCondition(el *stanza.Element) (typ, cond string) {
	e := el.Child("", "error")
	if e == nil {
		return "", ""
	}
	for _, c := range e.Elements() {
		if c.Name.Space == stanza.NSStanzas && c.Name.Local != "text" {
			return e.Get("type"), c.Name.Local
		}
	}
	return e.Get("type"), ""
}

// SECURITY-CASES #20, #21: malformed IQs are answered modify/bad-request
// and IQs in an unknown namespace cancel/service-unavailable (Prosody's
// stanza_router); the session goes on.
func TestIQErrors(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("alice", "example.com", "secret")
	c, _ := loggedIn(t, srv)
	tests := []struct {
		name, send, id, typ, cond string
	}{
		{"bad type (#20)", `<iq type='fetch' id='t1' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>`, "t1", "modify", "bad-request"},
		{"get without a child (#20)", `<iq type='get' id='t2' to='example.com'/>`, "t2", "modify", "bad-request"},
		{"set with two children (#20)", `<iq type='set' id='t3' to='example.com'><a xmlns='urn:a'/><b xmlns='urn:b'/></iq>`, "t3", "modify", "bad-request"},
		{"unknown namespace (#21)", `<iq type='get' id='t4' to='example.com'><query xmlns='urn:example:nothing'/></iq>`, "t4", "cancel", "service-unavailable"},
		{"unknown namespace to a bare JID (#21)", `<iq type='set' id='t5' to='bob@example.com'><query xmlns='urn:example:nothing'/></iq>`, "t5", "cancel", "service-unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.Write(tc.send)
			r := nextIQ(t, c, tc.id)
			if typ, cond := errorCondition(r); r.Get("type") != "error" || typ != tc.typ || cond != tc.cond {
				t.Fatalf("got %s, want %s/%s", r, tc.typ, tc.cond)
			}
		})
	}
	t.Run("get without id (#20)", func(t *testing.T) {
		c.Write(`<iq type='get' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq><iq type='get' id='after' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>`)
		el := c.Next()
		if el.Get("id") == "after" {
			t.Fatalf("an iq without id was ignored silently; want bad-request")
		}
		if typ, cond := errorCondition(el); el.Get("type") != "error" || typ != "modify" || cond != "bad-request" {
			t.Fatalf("got %s, want modify/bad-request", el)
		}
		nextIQ(t, c, "after")
	})
}

// SECURITY-CASES #23: an error stanza without children and an unhandled
// iq result are dropped, with no error sent back (no error loops): the
// next answer the client gets is the one to its ping.
func TestUnhandledDropped(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("alice", "example.com", "secret")
	c, _ := loggedIn(t, srv)
	c.Write(`<message type='error' to='example.com' id='e1'/>`)
	c.Write(`<iq type='error' to='example.com' id='e2'/>`)
	c.Write(`<iq type='result' to='example.com' id='e3'/>`)
	c.Write(`<iq type='get' id='ping' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>`)
	if el := c.Next(); el.Get("id") != "ping" || el.Get("type") != "result" {
		t.Fatalf("got %s, want only the ping result", el)
	}
}

// SECURITY-CASES #22: an unknown top-level element in jabber:client. Parley
// follows Prosody: stream error unsupported-stanza-type.
func TestUnknownTopLevelElement(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("alice", "example.com", "secret")
	c, _ := loggedIn(t, srv)
	c.Write(`<thing xmlns='jabber:client'/>`)
	c.ExpectStreamError("unsupported-stanza-type")
}

// SECURITY-CASES #17: an oversized xml:lang is never echoed back
// unbounded.
func TestOversizedLang(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	for _, lang := range []string{strings.Repeat("a", 36), strings.Repeat("x-", 5000) + "x"} {
		c := servertest.DialRaw(t, srv.C2SAddr)
		c.Write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0' xml:lang='` + lang + `'>`)
		h := c.ReadHeader()
		if len(h.Lang) > 35 {
			t.Fatalf("server echoed a %d-byte xml:lang", len(h.Lang))
		}
	}
}

// SECURITY-CASES #26: a client that ends its stream gets the server's
// stream end and the connection closes.
func TestClientEndsStream(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("alice", "example.com", "secret")
	c, _ := loggedIn(t, srv)
	c.Write(`<enable xmlns='urn:xmpp:sm:3'/>`)
	if el := c.Next(); el.Name.Local != "enabled" {
		t.Fatalf("enable: %s", el)
	}
	c.Write(`<iq type='get' id='p' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq></stream:stream>`)
	for {
		_, err := c.R.Next()
		if errors.Is(err, stanza.ErrStreamEnd) || errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("after </stream:stream>: %v, want the server's stream end", err)
		}
	}
	var ne net.Error
	if _, err := c.Conn.Read(make([]byte, 1)); err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("the connection stayed open after both stream ends (%v)", err)
	}
}

// SECURITY-CASES #24: a stanza addressed to an invalid JID is answered
// modify/jid-malformed.
func TestInvalidTo(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("alice", "example.com", "secret")
	c, _ := loggedIn(t, srv)
	for i, to := range []string{"@example.com", "node@/x", strings.Repeat("n", 1024) + "@example.com", "a@example.com/" + strings.Repeat("r", 1024)} {
		id := "j" + strings.Repeat("x", i)
		c.Write(`<iq type='get' id='` + id + `' to='` + to + `'><ping xmlns='urn:xmpp:ping'/></iq>`)
		r := nextIQ(t, c, id)
		if typ, cond := errorCondition(r); r.Get("type") != "error" || typ != "modify" || cond != "jid-malformed" {
			t.Fatalf("to=%.40q: got %.300s, want modify/jid-malformed", to, r)
		}
	}
}
