package muc_test

import (
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server/stanza"
)

// SECURITY-CASES 135: nicks are prepared (RFC 8266 enforcement, NFKC) before
// they are compared, so that a fullwidth or compatibility-form nick cannot
// impersonate an occupant, and the occupant JID holds the prepared nick.
func TestSecurityCase135NickPreparation(t *testing.T) {
	e := newEnv(t, "", `muc_room_locking = false`)
	alice, bob, carol := e.user("alice"), e.user("bob"), e.user("carol")
	r := room("nicks")
	mustJoin(t, alice, r+"/Alice")
	waitSubject(t, alice, r)
	mustJoin(t, carol, r+"/fish")
	waitSubject(t, carol, r)
	erin, frank := e.user("erin"), e.user("frank")
	mustJoin(t, erin, r+"/Zo\u00eb")
	waitSubject(t, erin, r)
	mustJoin(t, frank, r+"/R2")
	waitSubject(t, frank, r)

	conflicts := []struct {
		name string
		nick string
	}{
		{name: "fullwidth A", nick: "Ａlice"},
		{name: "fullwidth whole nick", nick: "Ａｌｉｃｅ"},
		{name: "ligature (U+FB01) against its expansion", nick: "ﬁsh"},
		{name: "decomposed diaeresis (NFD) against precomposed", nick: "Zoe\u0308"},
		{name: "superscript two (NFKC)", nick: "R\u00b2"},
		{name: "no-break space padding", nick: "\u00a0Alice\u00a0"},
	}
	for _, tc := range conflicts {
		t.Run(tc.name, func(t *testing.T) {
			// The error comes from the prepared occupant JID (the
			// stanza's to is rewritten before it is handled).
			bob.Send(presence(r+"/"+tc.nick, mucX()))
			p := bob.NextMatch(func(s *stanza.Element) bool {
				return s.Name.Local == "presence" && s.Get("type") == "error" && strings.HasPrefix(s.Get("from"), r+"/")
			})
			typ, cond := errCond(p)
			if typ != "cancel" || cond != "conflict" {
				t.Fatalf("join as %q: got %s/%s, want cancel/conflict: %s", tc.nick, typ, cond, p)
			}
		})
	}

	// A nick reserved through muc#admin is prepared too: reserving the
	// fullwidth form reserves the ASCII one.
	resp := alice.Request(iq("set", r, el(muc.NSAdmin, "query").Add(
		el(muc.NSAdmin, "item", "jid", "someone@localhost", "affiliation", "member", "nick", "Ｒeserved"))))
	if resp.Get("type") != "result" {
		t.Fatalf("reserving a nick: %s", resp)
	}
	bob.Send(presence(r+"/Reserved", mucX()))
	p := bob.NextMatch(func(s *stanza.Element) bool { return s.Name.Local == "presence" && s.Get("from") == r+"/Reserved" })
	if _, cond := errCond(p); cond != "conflict" {
		t.Fatalf("joining with a nick reserved in fullwidth form: %s", p)
	}

	// Case is kept, as Prosody's resourceprep keeps it: "alice" is another
	// nick.
	mustJoin(t, bob, r+"/alice")
	waitSubject(t, bob, r)

	// The same user rejoining through a fullwidth form is the existing
	// occupant, whose JID has the prepared nick; the self-presence says
	// the service changed the nick (status 210).
	dave := e.user("dave")
	dave.Send(presence(r+"/Ｄave", mucX(el(muc.NS, "history", "maxstanzas", "0"))))
	self := dave.NextMatch(func(p *stanza.Element) bool { return p.Name.Local == "presence" && hasStatus(p, "110") })
	if self.Get("from") != r+"/Dave" || !hasStatus(self, "210") {
		t.Fatalf("self-presence for a fullwidth nick: want from %s/Dave with 210: %s", r, self)
	}
	seen := alice.NextMatch(func(p *stanza.Element) bool {
		return p.Name.Local == "presence" && item(p) != nil && item(p).Get("jid") == dave.JID.String()
	})
	if seen.Get("from") != r+"/Dave" {
		t.Fatalf("others see the prepared nick: %s", seen)
	}
	// A private message to the unprepared form reaches the occupant.
	alice.Send(el(stanza.NSClient, "message", "to", r+"/Ｄave", "type", "chat").Add(el(stanza.NSClient, "body").AddText("hi")))
	pm := dave.NextMatch(func(m *stanza.Element) bool { return m.Name.Local == "message" && m.ChildText("", "body") == "hi" })
	if pm.Get("from") != r+"/Alice" {
		t.Fatalf("pm: %s", pm)
	}
}

// SECURITY-CASES 138: a room with allow_query_users off refuses IQs to
// occupants with cancel/not-allowed; by default they are relayed.
func TestSecurityCase138AllowQueryUsers(t *testing.T) {
	e := newEnv(t, "", `muc_room_locking = false`)
	alice, bob := e.user("alice"), e.user("bob")
	r := room("queries")
	mustJoin(t, alice, r+"/alice")
	waitSubject(t, alice, r)
	mustJoin(t, bob, r+"/bob")
	waitSubject(t, bob, r)

	version := func() *stanza.Element { return iq("get", r+"/bob", el("jabber:iq:version", "query")) }
	// Allowed by default: bob gets the IQ from alice's occupant JID.
	alice.Send(version().Set("id", "v1"))
	got := bob.NextMatch(func(s *stanza.Element) bool { return s.Name.Local == "iq" && s.Get("type") == "get" })
	if got.Get("from") != r+"/alice" || got.Child("jabber:iq:version", "query") == nil {
		t.Fatalf("relayed IQ: %s", got)
	}

	form := alice.Request(iq("get", r, el(muc.NSOwner, "query")))
	if v := fieldValue(form, muc.FieldAllowQueryUsers); v != "1" {
		t.Fatalf("config form %s = %q, want 1: %s", muc.FieldAllowQueryUsers, v, form)
	}
	submitConfig(t, alice, r, map[string]string{muc.FieldAllowQueryUsers: "0"})
	form = alice.Request(iq("get", r, el(muc.NSOwner, "query")))
	if v := fieldValue(form, muc.FieldAllowQueryUsers); v != "0" {
		t.Fatalf("config form after submit %s = %q, want 0", muc.FieldAllowQueryUsers, v)
	}

	resp := alice.Request(version())
	typ, cond := errCond(resp)
	if typ != "cancel" || cond != "not-allowed" || resp.Get("from") != r+"/bob" {
		t.Fatalf("IQ to an occupant with allow_query_users off: %s", resp)
	}
	// Nothing reached bob: the next thing he gets from alice is this
	// message, not the IQ.
	alice.Send(el(stanza.NSClient, "message", "to", r+"/bob", "type", "chat").Add(el(stanza.NSClient, "body").AddText("marker")))
	next := bob.NextMatch(func(s *stanza.Element) bool { return s.Get("from") == r+"/alice" })
	if next.Name.Local != "message" {
		t.Fatalf("bob got %s before the marker", next)
	}
	// A self-ping (XEP-0410) is still answered.
	ping := alice.Request(iq("get", r+"/alice", el(muc.NSPing, "ping")))
	if ping.Get("type") != "result" {
		t.Fatalf("self-ping: %s", ping)
	}
}

// SECURITY-CASES 138: the component default muc_room_default_allow_query_users.
func TestSecurityCase138DefaultOption(t *testing.T) {
	e := newEnv(t, "", `
    muc_room_locking = false
    muc_room_default_allow_query_users = false`)
	alice, bob := e.user("alice"), e.user("bob")
	r := room("quiet")
	mustJoin(t, alice, r+"/alice")
	waitSubject(t, alice, r)
	mustJoin(t, bob, r+"/bob")
	resp := alice.Request(iq("get", r+"/bob", el("jabber:iq:version", "query")))
	if _, cond := errCond(resp); cond != "not-allowed" {
		t.Fatalf("IQ in a room created with the default off: %s", resp)
	}
	submitConfig(t, alice, r, map[string]string{muc.FieldAllowQueryUsers: "1"})
	alice.Send(iq("get", r+"/bob", el("jabber:iq:version", "query")).Set("id", "v2"))
	got := bob.NextMatch(func(s *stanza.Element) bool { return s.Name.Local == "iq" && s.Get("type") == "get" })
	if got.Get("from") != r+"/alice" {
		t.Fatalf("relayed IQ once allowed: %s", got)
	}
}

// SECURITY-CASES 143: available presence without the MUC <x/> from a
// session that is not in the room is answered with a kick carrying 110,
// 307 and 333 (XEP-0045 ≥ 1.32); occupants see nothing, and a join with
// <x/> (what Jitsi clients send) still works.
func TestSecurityCase143PresenceWithoutX(t *testing.T) {
	e := newEnv(t, "", `muc_room_locking = false`)
	owner, other := e.user("owner"), e.user("other")
	r := room("desync")
	mustJoin(t, owner, r+"/owner")
	waitSubject(t, owner, r)

	other.Send(presence(r+"/other").Set("id", "p1").Add(el(stanza.NSClient, "show").AddText("away")))
	kick := other.NextMatch(isPresenceFrom(r + "/other"))
	if kick.Get("type") != "unavailable" || kick.Get("id") != "p1" {
		t.Fatalf("kick: %s", kick)
	}
	for _, code := range []string{"110", "307", "333"} {
		if !hasStatus(kick, code) {
			t.Errorf("kick lacks status %s: %s", code, kick)
		}
	}
	if it := item(kick); it == nil || it.Get("role") != "none" || it.Get("affiliation") != "none" {
		t.Errorf("kick item: %s", kick)
	}

	// The owner saw nothing of it: the next presence the owner gets is
	// other's real join.
	mustJoin(t, other, r+"/other")
	p := owner.NextMatch(func(s *stanza.Element) bool { return s.Name.Local == "presence" })
	if p.Get("from") != r+"/other" || p.Get("type") != "" {
		t.Fatalf("owner's next presence: %s", p)
	}
	// An occupant's presence update without <x/> is an update, not a kick.
	other.Send(presence(r + "/other").Add(el(stanza.NSClient, "status").AddText("busy")))
	up := owner.NextMatch(isPresenceFrom(r + "/other"))
	if up.Get("type") != "" || up.ChildText("", "status") != "busy" {
		t.Fatalf("update: %s", up)
	}
}

// fieldValue returns the first value of a data form field in a muc#owner
// query result, "" when absent.
func fieldValue(resp *stanza.Element, v string) string {
	q := resp.Child(muc.NSOwner, "query")
	if q == nil {
		return ""
	}
	x := q.Child(muc.NSDataForms, "x")
	if x == nil {
		return ""
	}
	for _, f := range x.Elements() {
		if f.Get("var") == v {
			return f.ChildText(muc.NSDataForms, "value")
		}
	}
	return ""
}

// A mediated invitation to a password-protected room carries the password
// (XEP-0045 §7.8.2; the built-in muc-invite handler). Jitsi's lobby takes
// it out again in its rooms (SECURITY-CASES 132, tested in jitsi).
func TestInvitePassword(t *testing.T) {
	e := newEnv(t, "", `muc_room_locking = false`)
	owner, bob := e.user("owner"), e.user("bob")
	r := room("pwinvite")
	mustJoin(t, owner, r+"/owner", el(muc.NS, "password").AddText("s3cret"))
	waitSubject(t, owner, r)
	owner.Send(el(stanza.NSClient, "message", "to", r).Add(el(muc.NSUser, "x").Add(el(muc.NSUser, "invite", "to", bob.JID.String()))))
	inv := bob.NextMatch(func(m *stanza.Element) bool { return m.Name.Local == "message" && m.Get("from") == r })
	x := inv.Child(muc.NSUser, "x")
	if x == nil || x.Child(muc.NSUser, "invite") == nil || x.ChildText(muc.NSUser, "password") != "s3cret" {
		t.Fatalf("invite: %s", inv)
	}
}
