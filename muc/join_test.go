package muc_test

import (
	"bytes"
	"testing"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

func TestCreateJoinLeave(t *testing.T) {
	e := newEnv(t, "", `muc_room_locking = false`)
	alice, bob := e.user("alice"), e.user("bob")
	r := room("lobby")

	self := mustJoin(t, alice, r+"/alice")
	must(t, hasStatus(self, "201") && hasStatus(self, "110"), "creator self-presence: %s", self)
	it := item(self)
	must(t, it.Get("affiliation") == "owner" && it.Get("role") == "moderator" && it.Get("jid") == alice.JID.String(),
		"creator item: %s", self)
	waitSubject(t, alice, r)

	bob.Send(presence(r+"/bob", mucX()))
	// The joiner gets the occupant list, then its own presence, then the
	// subject, in this order.
	first := bob.Next()
	must(t, first.Get("from") == r+"/alice" && !hasStatus(first, "110"), "first stanza is alice's presence: %s", first)
	must(t, item(first).Get("jid") == "", "semi-anonymous room hides alice's JID from a participant: %s", first)
	self = bob.Next()
	must(t, self.Get("from") == r+"/bob" && hasStatus(self, "110") && !hasStatus(self, "201"), "then bob's self-presence: %s", self)
	must(t, item(self).Get("role") == "participant" && item(self).Get("affiliation") == "none", "bob item: %s", self)
	subj := bob.Next()
	must(t, subj.Name.Local == "message" && subj.Child("", "subject") != nil, "then the subject: %s", subj)

	p := alice.NextMatch(isPresenceFrom(r + "/bob"))
	must(t, item(p).Get("jid") == bob.JID.String(), "alice is a moderator and sees real JIDs: %s", p)

	bob.Send(el(stanza.NSClient, "presence", "to", r+"/bob", "type", "unavailable").Add(el(stanza.NSClient, "status").AddText("bye")))
	p = bob.NextMatch(isPresenceFrom(r + "/bob"))
	must(t, p.Get("type") == "unavailable" && hasStatus(p, "110"), "bob's own leave: %s", p)
	p = alice.NextMatch(isPresenceFrom(r + "/bob"))
	must(t, p.Get("type") == "unavailable" && item(p).Get("role") == "none" && p.ChildText("", "status") == "bye",
		"alice sees bob leave with his status: %s", p)

	// The last occupant leaving destroys the temporary room.
	alice.Send(el(stanza.NSClient, "presence", "to", r+"/alice", "type", "unavailable"))
	alice.NextMatch(isPresenceFrom(r + "/alice"))
	resp := bob.Request(iq("get", r, el(muc.NSDiscoInfo, "query")))
	_, cond := errCond(resp)
	must(t, cond == "item-not-found", "room gone after the last leave: %s", resp)
}

func TestJoinRefusals(t *testing.T) {
	e := newEnv(t, "", `muc_room_locking = false`)
	owner, other := e.user("owner"), e.user("other")
	pw := room("secret")
	mustJoin(t, owner, pw+"/owner", el(muc.NS, "password").AddText("s3cret"))
	banned := room("banned")
	mustJoin(t, owner, banned+"/owner")
	resp := owner.Request(iq("set", banned, el(muc.NSAdmin, "query").Add(el(muc.NSAdmin, "item", "jid", "other@localhost", "affiliation", "outcast"))))
	must(t, resp.Get("type") == "result", "ban: %s", resp)
	members := room("members")
	mustJoin(t, owner, members+"/owner")
	submitConfig(t, owner, members, map[string]string{"muc#roomconfig_membersonly": "1"})
	taken := room("taken")
	mustJoin(t, owner, taken+"/owner")

	tests := []struct {
		name    string
		to      string
		x       *stanza.Element
		errType string
		cond    string
		text    string
	}{
		{name: "SECURITY-CASES 126 nick in use by another user", to: taken + "/owner", x: mucX(), errType: "cancel", cond: "conflict"},
		{name: "SECURITY-CASES 128 no password", to: pw + "/other", x: mucX(), errType: "auth", cond: "not-authorized"},
		{name: "SECURITY-CASES 128 wrong password", to: pw + "/other", x: mucX(el(muc.NS, "password").AddText("nope")), errType: "auth", cond: "not-authorized"},
		{name: "SECURITY-CASES 129 banned", to: banned + "/other", x: mucX(), errType: "auth", cond: "forbidden"},
		{name: "SECURITY-CASES 130 members only", to: members + "/other", x: mucX(), errType: "auth", cond: "registration-required"},
		{name: "invisible nick", to: taken + "/ ", x: mucX(), errType: "modify", cond: "not-allowed", text: "Invisible Nicknames are forbidden"},
		{name: "presence without x to no room", to: room("nothing") + "/other", errType: "cancel", cond: "item-not-found"},
	}
	for _, tc := range tests {
		p := presence(tc.to)
		if tc.x != nil {
			p.Add(tc.x)
		}
		other.Send(p)
		got := other.NextMatch(func(e *stanza.Element) bool { return e.Name.Local == "presence" && e.Get("type") == "error" })
		typ, cond := errCond(got)
		if typ != tc.errType || cond != tc.cond || errText(got) != tc.text {
			t.Errorf("%s: got %s/%s %q, want %s/%s %q: %s", tc.name, typ, cond, errText(got), tc.errType, tc.cond, tc.text, got)
		}
	}
	// SECURITY-CASES 127: a join without a nick, to an existing room and
	// to a new one.
	for _, to := range []string{taken, room("newroom")} {
		other.Send(presence(to, mucX()))
		got := other.NextMatch(func(e *stanza.Element) bool { return e.Name.Local == "presence" && e.Get("type") == "error" })
		if _, cond := errCond(got); cond != "jid-malformed" {
			t.Errorf("bare join to %s: %s", to, got)
		}
	}
	// SECURITY-CASES 128: the right password gets in.
	mustJoin(t, other, pw+"/other", el(muc.NS, "password").AddText("s3cret"))
}

func TestLockedRoom(t *testing.T) {
	e := newEnv(t, "", ``) // muc_room_locking defaults to true
	alice, bob := e.user("alice"), e.user("bob")
	r := room("locked")
	mustJoin(t, alice, r+"/alice")
	p := join(t, bob, r+"/bob")
	typ, cond := errCond(p)
	must(t, typ == "cancel" && cond == "item-not-found", "locked room refuses others: %s", p)
	must(t, p.Child("", "error").Get("by") == conf, "error by the service as in Prosody: %s", p)
	// An instant room (empty submit) unlocks it (XEP-0045 §10.1.2).
	resp := alice.Request(iq("set", r, el(muc.NSOwner, "query").Add(el(muc.NSDataForms, "x", "type", "submit"))))
	must(t, resp.Get("type") == "result", "instant room: %s", resp)
	mustJoin(t, bob, r+"/bob")
}

func TestRestrictedCreation(t *testing.T) {
	e := newEnv(t, ``, `
    admins = { "focus@localhost" }
    restrict_room_creation = true
    muc_room_locking = false
Component "other.localhost" "muc"
    admins = { "bob@localhost" }
    restrict_room_creation = true
`)
	focus, bob := e.user("focus"), e.user("bob")
	// SECURITY-CASES 121: a non-admin is refused with Prosody's text.
	p := join(t, bob, room("r1")+"/bob")
	typ, cond := errCond(p)
	if typ != "cancel" || cond != "not-allowed" || errText(p) != "Room creation is restricted" {
		t.Fatalf("refusal: %s", p)
	}
	if by := p.Child("", "error").Get("by"); by != conf {
		t.Fatalf("by = %q, want %q", by, conf)
	}
	// Exactly one reply: the next thing bob gets is his ping result.
	resp := bob.Request(iq("get", host, el("urn:xmpp:ping", "ping")))
	must(t, resp.Get("type") == "result", "one reply only, then the ping: %s", resp)
	// SECURITY-CASES 122: an admin listed only in the component creates.
	mustJoin(t, focus, room("r1")+"/focus")
	mustJoin(t, bob, room("r1")+"/bob")
	// SECURITY-CASES 123: an admin of another component is not admin here.
	p = join(t, bob, room("r2")+"/bob")
	if _, cond := errCond(p); cond != "not-allowed" {
		t.Fatalf("bob is admin of other.localhost only: %s", p)
	}
	p = join(t, bob, "r3@other.localhost/bob")
	must(t, p.Get("type") == "" && hasStatus(p, "201"), "bob creates rooms on other.localhost: %s", p)
}

func TestRestrictedCreationLocal(t *testing.T) {
	e := newEnv(t, ``, `
    restrict_room_creation = "local"
    muc_room_locking = false
`)
	alice := e.user("alice")
	mustJoin(t, alice, room("local")+"/alice")
}

func TestAdminsAsOwners(t *testing.T) {
	e := newEnv(t, `admins = { "focus@localhost" }`, `
    component_admins_as_room_owners = true
    muc_room_locking = false
`)
	alice, focus := e.user("alice"), e.user("focus")
	r := room("jitsi")
	mustJoin(t, alice, r+"/alice")
	self := mustJoin(t, focus, r+"/focus")
	must(t, item(self).Get("affiliation") == "owner" && item(self).Get("role") == "moderator", "global admin is owner: %s", self)
	resp := alice.Request(iq("set", r, el(muc.NSAdmin, "query").Add(el(muc.NSAdmin, "item", "jid", "focus@localhost", "affiliation", "member"))))
	typ, cond := errCond(resp)
	must(t, typ == "modify" && cond == "not-acceptable", "an admin cannot be demoted: %s", resp)
	resp = focus.Request(iq("get", r, el(muc.NSOwner, "query")))
	must(t, resp.Get("type") == "result", "admin may configure: %s", resp)
}

// TestPresenceExtensionsIntact checks that the children of an occupant's
// presence reach the others byte for byte (Jitsi keeps its whole state in
// them), and that forged MUC elements are dropped (SECURITY-CASES 28).
func TestPresenceExtensionsIntact(t *testing.T) {
	e := newEnv(t, "", `muc_room_locking = false`)
	alice, bob := e.user("alice"), e.user("bob")
	r := room("jitsi")
	mustJoin(t, alice, r+"/alice")
	waitSubject(t, alice, r)
	ext := []*stanza.Element{
		el("", "stats-id").AddText("Wilma-Xyz"),
		el("http://jabber.org/protocol/caps", "c", "hash", "sha-1", "node", "https://jitsi.org/jitsi-meet", "ver", "k+/=&<>\"'"),
		el("", "jitsi_participant_codecType").AddText("vp9"),
		el("http://jitsi.org/jitmeet/video", "videomuted").AddText("false"),
		el("", "SourceInfo").AddText(`{"a1b2c3d4-v0":{"muted":false,"videoType":"camera"}}`),
		el("http://jitsi.org/protocol/features", "features").Add(
			el("http://jitsi.org/protocol/features", "feature", "var", "https://jitsi.org/meet/e2ee"),
			el("urn:example:deep", "nested", "a", "1").Add(el("urn:example:deep", "leaf").AddText("x < y & z"))),
		el("http://jabber.org/protocol/nick", "nick").AddText("Bob 🎉 Builder"),
	}
	forged := []*stanza.Element{
		el(muc.NSUser, "x").Add(el(muc.NSUser, "item", "affiliation", "owner", "role", "moderator")),
		el(muc.NSOccupantID, "occupant-id", "id", "forged"),
	}
	mustJoin(t, bob, r+"/bob", append(append([]*stanza.Element(nil), ext...), forged...)...)
	got := alice.NextMatch(isPresenceFrom(r + "/bob"))
	var kids []*stanza.Element
	for _, c := range got.Elements() {
		if c.Name.Space == muc.NSUser || c.Name.Space == muc.NSOccupantID {
			continue
		}
		kids = append(kids, c)
	}
	if len(kids) != len(ext) {
		t.Fatalf("alice got %d extension children, want %d: %s", len(kids), len(ext), got)
	}
	for i := range ext {
		want := stanza.AppendIn(nil, ext[i], stanza.NSClient)
		have := stanza.AppendIn(nil, kids[i], stanza.NSClient)
		if !bytes.Equal(want, have) {
			t.Errorf("child %d differs:\n sent %s\n got  %s", i, want, have)
		}
	}
	xs := 0
	for _, c := range got.Elements() {
		if c.Name.Space == muc.NSUser {
			xs++
			if it := c.Child(muc.NSUser, "item"); it.Get("affiliation") != "none" || it.Get("role") != "participant" {
				t.Errorf("forged item survived: %s", got)
			}
		}
		if c.Name.Space == muc.NSOccupantID && c.Get("id") == "forged" {
			t.Errorf("forged occupant-id survived: %s", got)
		}
	}
	must(t, xs == 1, "exactly one muc#user x: %s", got)
	// A presence update is broadcast the same way.
	upd := el("http://jitsi.org/jitmeet/audio", "audiomuted").AddText("true")
	bob.Send(presence(r+"/bob", upd))
	got = alice.NextMatch(isPresenceFrom(r + "/bob"))
	must(t, bytes.Equal(stanza.AppendIn(nil, got.Elements()[0], stanza.NSClient), stanza.AppendIn(nil, upd, stanza.NSClient)),
		"update child intact: %s", got)
}

func TestNickChange(t *testing.T) {
	e := newEnv(t, "", `muc_room_locking = false`)
	alice, bob := e.user("alice"), e.user("bob")
	r := room("nicks")
	mustJoin(t, alice, r+"/alice")
	mustJoin(t, bob, r+"/bob")
	alice.NextMatch(isPresenceFrom(r + "/bob"))
	bob.Send(presence(r + "/robert"))
	p := bob.NextMatch(isPresenceFrom(r + "/bob"))
	must(t, p.Get("type") == "unavailable" && hasStatus(p, "303") && hasStatus(p, "110") && item(p).Get("nick") == "robert", "bob's old nick: %s", p)
	p = bob.NextMatch(isPresenceFrom(r + "/robert"))
	must(t, p.Get("type") == "" && hasStatus(p, "110"), "bob's new nick: %s", p)
	p = alice.NextMatch(isPresenceFrom(r + "/bob"))
	must(t, hasStatus(p, "303") && item(p).Get("nick") == "robert", "alice sees 303: %s", p)
	alice.NextMatch(isPresenceFrom(r + "/robert"))
	// Changing to alice's nick is a conflict.
	bob.Send(presence(r + "/alice"))
	p = bob.NextMatch(func(e *stanza.Element) bool { return e.Get("type") == "error" })
	if _, cond := errCond(p); cond != "conflict" {
		t.Fatalf("nick change to a taken nick: %s", p)
	}
}

func TestRoomNamesAreCaseInsensitive(t *testing.T) {
	// SECURITY-CASES 144.
	e := newEnv(t, "", `muc_room_locking = false`)
	alice, bob := e.user("alice"), e.user("bob")
	alice.Send(presence("MixedCase@"+conf+"/alice", mucX()))
	self := alice.NextMatch(isPresenceFrom("mixedcase@" + conf + "/alice"))
	must(t, hasStatus(self, "201"), "created: %s", self)
	self = mustJoin(t, bob, "mixedCASE@"+conf+"/bob")
	must(t, !hasStatus(self, "201"), "same room, not a new one: %s", self)
}

func TestDisconnectLeaves(t *testing.T) {
	e := newEnv(t, "", `muc_room_locking = false`)
	alice := e.user("alice")
	r := room("dc")
	mustJoin(t, alice, r+"/alice")
	e.srv.CreateUser("carol", host, "pw")
	sess := e.srv.Dial(t, "carol@localhost", "pw", servertest.ClientOptions{})
	carol := &client{Client: servertest.Watch(t, sess), t: t}
	mustJoin(t, carol, r+"/carol")
	alice.NextMatch(isPresenceFrom(r + "/carol"))
	_ = sess.Conn().Close()
	p := alice.NextMatch(isPresenceFrom(r + "/carol"))
	must(t, p.Get("type") == "unavailable", "carol's session ended: %s", p)
}

func TestMultiSessionOccupant(t *testing.T) {
	e := newEnv(t, "", `muc_room_locking = false`)
	alice := e.user("alice")
	e.srv.CreateUser("bob", host, "pw")
	bob1 := &client{Client: e.srv.Connect(t, "bob@localhost", "pw", servertest.ClientOptions{}), t: t}
	bob2 := &client{Client: e.srv.Connect(t, "bob@localhost", "pw", servertest.ClientOptions{}), t: t}
	r := room("multi")
	mustJoin(t, alice, r+"/alice")
	mustJoin(t, bob1, r+"/bob")
	alice.NextMatch(isPresenceFrom(r + "/bob"))
	self := mustJoin(t, bob2, r+"/bob")
	x := self.Child(muc.NSUser, "x")
	items := 0
	for _, c := range x.Elements() {
		if c.Name.Local == "item" {
			items++
		}
	}
	must(t, items == 2, "the second session sees both sessions' items: %s", self)
	// One session leaving keeps the occupant.
	bob1.Send(el(stanza.NSClient, "presence", "to", r+"/bob", "type", "unavailable"))
	p := bob1.NextMatch(func(e *stanza.Element) bool { return isPresenceFrom(r+"/bob")(e) && e.Get("type") == "unavailable" })
	must(t, hasStatus(p, "110"), "the leaving session gets its unavailable: %s", p)
	p = alice.NextMatch(isPresenceFrom(r + "/bob"))
	must(t, p.Get("type") == "", "alice still sees bob: %s", p)
}
