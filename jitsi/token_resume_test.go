package jitsi_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/stanza"
)

var tkUUID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// enableSM turns on resumable stream management and returns its id.
func enableSM(t testing.TB, c tkConn) string {
	t.Helper()
	c.Send(`<enable xmlns='` + tkNSSM + `' resume='true'/>`)
	for {
		el := c.Next()
		if el.Name.Space == tkNSSM && el.Name.Local == "enabled" {
			if el.Get("id") == "" {
				t.Fatalf("enabled without id: %s", el)
			}
			return el.Get("id")
		}
	}
}

// resume opens a new session on host with ?previd= (and a token), logs in
// with ANONYMOUS and resumes previd; it returns the connection.
func resume(t testing.TB, e *tkEnv, tr tkTransport, host, previd, token string) tkConn {
	t.Helper()
	q := url.Values{"previd": {previd}}
	if token != "" {
		q.Set("token", token)
	}
	c, _ := tr.open(t, e, host, q, nil)
	if res := tkSASL(c); res.Name.Local != "success" {
		t.Fatalf("login with previd: %s", res)
	}
	c.Restart(host)
	c.Send(`<resume xmlns='` + tkNSSM + `' previd='` + previd + `' h='0'/>`)
	for {
		el := c.Next()
		if el.Name.Space != tkNSSM {
			continue
		}
		if el.Name.Local != "resumed" {
			t.Fatalf("resume: %s", el)
		}
		return c
	}
}

// whoAmI returns the full JID the server addresses c's replies to.
func whoAmI(t testing.TB, c tkConn, host string) string {
	t.Helper()
	res := nextIQ(t, c, `<iq xmlns='jabber:client' type='get' id='who' to='`+host+`'><ping xmlns='urn:xmpp:ping'/></iq>`, "who")
	if res.Get("type") != "result" {
		t.Fatalf("ping: %s", res)
	}
	return res.Get("to")
}

// selfPresence sends a presence update to an occupant JID and returns the
// room's reflection of it.
func selfPresence(t testing.TB, c tkConn, occupant string) *stanza.Element {
	t.Helper()
	c.Send(`<presence xmlns='jabber:client' to='` + occupant + `'><status>update</status></presence>`)
	for {
		el := c.Next()
		if el.Name.Local == "presence" && el.Get("from") == occupant && el.ChildText(stanza.NSClient, "status") == "update" {
			return el
		}
	}
}

func identityName(p *stanza.Element) string {
	id := p.Child(stanza.NSClient, "identity")
	if id == nil {
		return ""
	}
	return id.Child(stanza.NSClient, "user").ChildText(stanza.NSClient, "name")
}

// TestTokenResumption: a client that reconnects with ?previd= and a fresh
// token keeps its username and resumes its XEP-0198 session (JITSI.md §7
// step 7). A fresh token for the same room replaces the claims
// (SECURITY-CASES 118); one for another room does not:
// SECURITY-CASES 117.
func TestTokenResumption(t *testing.T) {
	e := tkStart(t, tkOptions{component: `    modules_enabled = { "token_verification" }`})
	tr := tkTransports()[0] // XEP-0198 resumption is a WebSocket feature in Jitsi
	user := func(name string) map[string]any {
		return map[string]any{"user": map[string]any{"id": "u1", "name": name}}
	}
	room := "resume@" + tkConf
	occupant := room + "/me"

	c1, full := tkLogin(t, e, tr, tkHS(t, e.claims(map[string]any{"room": "resume", "context": user("Alice")})))
	id := enableSM(t, c1)
	if p := tkJoin(t, c1, occupant, ""); p.Get("type") == "error" {
		t.Fatalf("join: %s", p)
	}
	if n := identityName(selfPresence(t, c1, occupant)); n != "Alice" {
		t.Fatalf("identity %q", n)
	}
	c1.Drop()

	// 118: a rotated token for the same room.
	c2 := resume(t, e, tr, tkDomain, id, tkHS(t, e.claims(map[string]any{"room": "resume", "context": user("Alice2")})))
	if got := whoAmI(t, c2, tkDomain); got != full {
		t.Fatalf("resumed as %s, want %s", got, full)
	}
	if n := identityName(selfPresence(t, c2, occupant)); n != "Alice2" {
		t.Fatalf("after a rotated token for the same room: identity %q, want Alice2", n)
	}
	c2.Drop()

	// 117: a token for another room does not replace the claims.
	c3 := resume(t, e, tr, tkDomain, id, tkHS(t, e.claims(map[string]any{"room": "other", "context": user("Mallory")})))
	if got := whoAmI(t, c3, tkDomain); got != full {
		t.Fatalf("resumed as %s, want %s", got, full)
	}
	if n := identityName(selfPresence(t, c3, occupant)); n != "Alice2" {
		t.Fatalf("after a token for another room: identity %q, want Alice2", n)
	}
	if p := tkJoin(t, c3, "other@"+tkConf+"/me", ""); p.Get("type") != "error" {
		t.Fatalf("the other room's claims were adopted: %s", p)
	}

	// A bad token with a good previd gets nothing.
	c4, _ := tr.open(t, e, tkDomain, url.Values{"previd": {id}, "token": {"bad.token.here"}}, nil)
	if res := tkSASL(c4); res.Name.Local != "failure" {
		t.Fatalf("bad token with previd: %s", res)
	}
}

// TestTokenUsernames: token logins get random version 4 UUIDs; an unknown
// previd is ignored.
func TestTokenUsernames(t *testing.T) {
	e := tkStart(t, tkOptions{})
	seen := map[string]bool{}
	for _, tr := range tkTransports() {
		for _, q := range []url.Values{{}, {"previd": {"0123456789abcdef0123456789abcdef"}}} {
			q.Set("token", tkHS(t, e.claims(nil)))
			c, _ := tr.open(t, e, tkDomain, q, nil)
			if res := tkSASL(c); res.Name.Local != "success" {
				t.Fatalf("%s: %s", tr.name, res)
			}
			c.Restart(tkDomain)
			user, _, _ := strings.Cut(tkBind(t, c), "@")
			if !tkUUID.MatchString(user) || seen[user] {
				t.Fatalf("username %q (seen before: %v)", user, seen[user])
			}
			seen[user] = true
		}
	}
}

// TestJitsiAnonymousPrevID: jitsi-anonymous gives a reconnecting client the
// username of the session whose stream management id it names, and a fresh
// UUID for an unknown one, without an error (SECURITY-CASES 171).
func TestJitsiAnonymousPrevID(t *testing.T) {
	e := tkStart(t, tkOptions{})
	host := "guest." + tkDomain
	tr := tkTransports()[0]
	c1, full := tkGuestLogin(t, e, tr)
	user, _, _ := strings.Cut(full, "@")
	if !tkUUID.MatchString(user) {
		t.Fatalf("username %q", user)
	}
	id := enableSM(t, c1)
	c1.Drop()

	c2 := resume(t, e, tr, host, id, "")
	if got := whoAmI(t, c2, host); got != full {
		t.Fatalf("resumed as %s, want %s", got, full)
	}

	for _, tr := range tkTransports() {
		t.Run(tr.name+"/unknown previd", func(t *testing.T) {
			c, _ := tr.open(t, e, host, url.Values{"previd": {"ffffffffffffffffffffffffffffffff"}}, nil)
			if res := tkSASL(c); res.Name.Local != "success" {
				t.Fatalf("unknown previd: %s", res)
			}
			c.Restart(host)
			other, _, _ := strings.Cut(tkBind(t, c), "@")
			if other == user || !tkUUID.MatchString(other) {
				t.Fatalf("unknown previd gave username %q", other)
			}
		})
	}
}
