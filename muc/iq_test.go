package muc_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

func TestIQThroughOccupantJIDs(t *testing.T) {
	e := newEnv(t, "allow_unencrypted_plain_auth = true", `muc_room_locking = false`)
	focus, alice, eve := e.rawUser("focus"), e.rawUser("alice"), e.rawUser("eve")
	r := room("jingle")
	for _, c := range []*rawClient{focus, alice, eve} {
		nick := strings.Split(c.jid, "@")[0]
		c.Send(presence(r+"/"+nick, mucX()))
		c.NextMatch(func(e *stanza.Element) bool { return isPresenceFrom(r+"/"+nick)(e) && hasStatus(e, "110") })
	}

	// Jicofo sends Jingle to alice's occupant JID.
	jingle := el("urn:xmpp:jingle:1", "jingle", "action", "session-initiate", "sid", "s1")
	focus.Send(el(stanza.NSClient, "iq", "type", "set", "id", "j1", "to", r+"/alice").Add(jingle))
	got := alice.NextMatch(func(e *stanza.Element) bool { return e.Name.Local == "iq" })
	must(t, got.Get("from") == r+"/focus" && got.Get("to") == alice.jid && got.Get("type") == "set", "routed request: %s", got)
	must(t, got.Get("id") != "j1", "the id is rewritten: %s", got)
	must(t, got.Child("urn:xmpp:jingle:1", "jingle").Get("sid") == "s1", "payload intact: %s", got)

	// The answer goes back to jicofo's session with its original id.
	alice.Send(el(stanza.NSClient, "iq", "type", "result", "id", got.Get("id"), "to", r+"/focus"))
	res := focus.NextMatch(func(e *stanza.Element) bool { return e.Name.Local == "iq" })
	must(t, res.Get("type") == "result" && res.Get("id") == "j1" && res.Get("from") == r+"/alice" && res.Get("to") == focus.jid,
		"routed result: %s", res)

	// Errors are routed back too.
	focus.Send(el(stanza.NSClient, "iq", "type", "get", "id", "d1", "to", r+"/alice").Add(el(muc.NSDiscoInfo, "query")))
	got = alice.NextMatch(func(e *stanza.Element) bool { return e.Name.Local == "iq" })
	alice.Send(el(stanza.NSClient, "iq", "type", "error", "id", got.Get("id"), "to", r+"/focus").Add(
		el(stanza.NSClient, "error", "type", "cancel").Add(el(stanza.NSStanzas, "feature-not-implemented"))))
	res = focus.NextMatch(func(e *stanza.Element) bool { return e.Name.Local == "iq" })
	_, cond := errCond(res)
	must(t, res.Get("id") == "d1" && cond == "feature-not-implemented", "routed error: %s", res)

	// A forged response from someone else is dropped: eve replays the id.
	focus.Send(el(stanza.NSClient, "iq", "type", "get", "id", "d2", "to", r+"/alice").Add(el("jabber:iq:version", "query")))
	got = alice.NextMatch(func(e *stanza.Element) bool { return e.Name.Local == "iq" })
	eve.Send(el(stanza.NSClient, "iq", "type", "result", "id", got.Get("id"), "to", r+"/focus"))
	alice.Send(el(stanza.NSClient, "iq", "type", "result", "id", got.Get("id"), "to", r+"/focus"))
	res = focus.NextMatch(func(e *stanza.Element) bool { return e.Name.Local == "iq" })
	must(t, res.Get("id") == "d2" && res.Get("from") == r+"/alice", "only alice's answer arrives: %s", res)

	tests := []struct {
		name    string
		from    string
		to      string
		payload *stanza.Element
		cond    string
	}{
		{name: "SECURITY-CASES 137 IQ from a non-occupant", from: "stranger", to: r + "/alice", payload: el("jabber:iq:version", "query"), cond: "not-acceptable"},
		{name: "SECURITY-CASES 140 disco of an occupant by a non-occupant", from: "stranger", to: r + "/alice", payload: el(muc.NSDiscoInfo, "query"), cond: "bad-request"},
		{name: "IQ to a nick not in the room", from: "alice", to: r + "/nobody", payload: el("jabber:iq:version", "query"), cond: "item-not-found"},
	}
	stranger := e.rawUser("stranger")
	clients := map[string]*rawClient{"stranger": stranger, "alice": alice}
	request := func(c *rawClient, e *stanza.Element, id string) *stanza.Element {
		c.Send(e.Set("id", id))
		return c.NextMatch(func(e *stanza.Element) bool { return e.Name.Local == "iq" && e.Get("id") == id })
	}
	for i, tc := range tests {
		resp := request(clients[tc.from], iq("get", tc.to, tc.payload), fmt.Sprint("t", i))
		if _, cond := errCond(resp); cond != tc.cond {
			t.Errorf("%s: got %s", tc.name, resp)
		}
	}

	// XEP-0410 self-ping is answered by the room.
	resp := request(alice, iq("get", r+"/alice", el(muc.NSPing, "ping")), "sp")
	must(t, resp.Get("type") == "result" && resp.Get("from") == r+"/alice", "self-ping: %s", resp)

	// vCard requests go to the bare JID (the server answers for the
	// account), and the answer finds its way back.
	resp = request(focus, el(stanza.NSClient, "iq", "type", "get", "to", r+"/alice").Add(el("vcard-temp", "vCard")), "v1")
	must(t, resp.Get("from") == r+"/alice", "the vCard answer is routed back: %s", resp)
}

func TestPrivateMessages(t *testing.T) {
	e := newEnv(t, "", `muc_room_locking = false`)
	alice, bob, eve := e.user("alice"), e.user("bob"), e.user("eve")
	r := room("pm")
	mustJoin(t, alice, r+"/alice")
	mustJoin(t, bob, r+"/bob")
	pm := el(stanza.NSClient, "message", "type", "chat", "to", r+"/bob", "id", "pm1").Add(
		el(stanza.NSClient, "body").AddText("psst"), el(muc.NSUser, "x").Add(el(muc.NSUser, "item", "affiliation", "owner")),
		el("http://jitsi.org/jitmeet", "json-message").AddText(`{"type":"x"}`))
	alice.Send(pm)
	m := bob.NextMatch(func(e *stanza.Element) bool { return e.Name.Local == "message" && e.Get("id") == "pm1" })
	must(t, m.Get("from") == r+"/alice" && m.Get("to") == bob.JID.String() && m.ChildText("", "body") == "psst", "PM routed: %s", m)
	x := m.Child(muc.NSUser, "x")
	must(t, x != nil && len(x.Elements()) == 0, "a fresh empty muc#user x replaces the sender's: %s", m)
	must(t, m.ChildText("http://jitsi.org/jitmeet", "json-message") == `{"type":"x"}`, "payload intact: %s", m)

	tests := []struct {
		name string
		c    interface{ Send(*stanza.Element) }
		typ  string
		to   string
		cond string
	}{
		{name: "SECURITY-CASES 136 groupchat-type PM", typ: "groupchat", to: r + "/bob", cond: "bad-request"},
		{name: "SECURITY-CASES 137 PM to a missing occupant", typ: "chat", to: r + "/nobody", cond: "item-not-found"},
	}
	for _, tc := range tests {
		alice.Send(el(stanza.NSClient, "message", "type", tc.typ, "to", tc.to, "id", "x").Add(el(stanza.NSClient, "body").AddText("x")))
		m := alice.NextMatch(func(e *stanza.Element) bool { return e.Name.Local == "message" && e.Get("type") == "error" })
		if _, cond := errCond(m); cond != tc.cond {
			t.Errorf("%s: %s", tc.name, m)
		}
	}
	// SECURITY-CASES 137: PMs from non-occupants.
	eve.Send(el(stanza.NSClient, "message", "type", "chat", "to", r+"/bob").Add(el(stanza.NSClient, "body").AddText("hi")))
	m = eve.NextMatch(func(e *stanza.Element) bool { return e.Name.Local == "message" && e.Get("type") == "error" })
	_, cond := errCond(m)
	must(t, cond == "not-acceptable", "non-occupant PM: %s", m)
}

func TestGroupchatAndHistory(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := servertest.NewClock(now)
	e := newEnv(t, "", `muc_room_locking = false`, muc.WithClock(clock.Now))
	alice, bob := e.user("alice"), e.user("bob")
	r := room("history")
	mustJoin(t, alice, r+"/alice")
	for i, body := range []string{"one", "two", "three"} {
		clock.Set(now.Add(time.Duration(i) * time.Minute))
		msg := el(stanza.NSClient, "message", "type", "groupchat", "to", r).Add(el(stanza.NSClient, "body").AddText(body),
			el(muc.NSDelay, "delay", "from", r, "stamp", "1999-01-01T00:00:00Z"))
		alice.Send(msg)
		m := alice.NextMatch(func(e *stanza.Element) bool { return e.Name.Local == "message" && e.ChildText("", "body") == body })
		must(t, m.Get("from") == r+"/alice" && m.Get("id") != "", "echo with an id: %s", m)
		must(t, m.Child(muc.NSDelay, "delay") == nil, "SECURITY-CASES 28 forged delay stripped: %s", m)
	}
	clock.Set(now.Add(10 * time.Minute))
	history := func(attrs ...string) []string {
		t.Helper()
		bob.Send(presence(r+"/bob", mucX(el(muc.NS, "history", attrs...))))
		var bodies []string
		for {
			m := bob.NextMatch(func(e *stanza.Element) bool { return e.Name.Local == "message" })
			if m.Child("", "subject") != nil {
				break
			}
			must(t, m.Child(muc.NSDelay, "delay").Get("from") == r, "history carries the room's delay: %s", m)
			bodies = append(bodies, m.ChildText("", "body"))
		}
		bob.Send(el(stanza.NSClient, "presence", "to", r+"/bob", "type", "unavailable"))
		bob.NextMatch(func(e *stanza.Element) bool { return isPresenceFrom(r+"/bob")(e) && e.Get("type") == "unavailable" })
		return bodies
	}
	tests := []struct {
		name  string
		attrs []string
		want  string
	}{
		{name: "default", want: "one,two,three"},
		{name: "maxstanzas", attrs: []string{"maxstanzas", "2"}, want: "two,three"},
		{name: "maxstanzas 0", attrs: []string{"maxstanzas", "0"}, want: ""},
		{name: "seconds", attrs: []string{"seconds", "500"}, want: "three"},
		{name: "since", attrs: []string{"since", "2025-01-02T03:05:00Z"}, want: "two,three"},
		{name: "maxchars", attrs: []string{"maxchars", "1"}, want: ""},
	}
	for _, tc := range tests {
		if got := strings.Join(history(tc.attrs...), ","); got != tc.want {
			t.Errorf("%s: history %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestMediatedInvite(t *testing.T) {
	e := newEnv(t, "", `muc_room_locking = false`)
	alice, bob := e.user("alice"), e.user("bob")
	bob.Send(el(stanza.NSClient, "presence")) // available, so messages to the bare JID reach him
	r := room("party")
	mustJoin(t, alice, r+"/alice")
	submitConfig(t, alice, r, map[string]string{"muc#roomconfig_membersonly": "1", "muc#roomconfig_roomsecret": "pw"})
	alice.Send(el(stanza.NSClient, "message", "to", r).Add(el(muc.NSUser, "x").Add(
		el(muc.NSUser, "invite", "to", "bob@localhost").Add(el(muc.NSUser, "reason").AddText("come")))))
	m := bob.NextMatch(func(e *stanza.Element) bool { return e.Name.Local == "message" })
	x := m.Child(muc.NSUser, "x")
	inv := x.Child(muc.NSUser, "invite")
	// Semi-anonymous room: the inviter is named by its occupant JID.
	must(t, m.Get("from") == r && inv.Get("from") == r+"/alice" && inv.ChildText(muc.NSUser, "reason") == "come", "invite: %s", m)
	must(t, x.ChildText(muc.NSUser, "password") == "pw", "password included: %s", m)
	must(t, m.Child(muc.NSConference, "x").Get("jid") == r && strings.Contains(m.ChildText("", "body"), "invited you"), "legacy forms: %s", m)
	// The invitation made bob a member of the members-only room.
	mustJoin(t, bob, r+"/bob", el(muc.NS, "password").AddText("pw"))
}

func TestDisco(t *testing.T) {
	e := newEnv(t, "", `muc_room_locking = false`)
	alice := e.user("alice")
	mustJoin(t, alice, room("public")+"/alice")
	submitConfig(t, alice, room("public"), map[string]string{"muc#roomconfig_publicroom": "1", "muc#roomconfig_roomname": "Public"})
	mustJoin(t, alice, room("hidden")+"/alice")

	resp := alice.Request(iq("get", conf, el(muc.NSDiscoInfo, "query")))
	q := resp.Child(muc.NSDiscoInfo, "query")
	must(t, q.Child(muc.NSDiscoInfo, "identity").Get("category") == "conference", "service identity: %s", resp)
	must(t, hasFeature(q, muc.NS), "service features: %s", resp)

	resp = alice.Request(iq("get", conf, el(muc.NSDiscoItems, "query")))
	items := resp.Child(muc.NSDiscoItems, "query").Elements()
	must(t, len(items) == 1 && items[0].Get("jid") == room("public") && items[0].Get("name") == "Public", "only public rooms are listed: %s", resp)

	resp = alice.Request(iq("get", room("hidden"), el(muc.NSDiscoInfo, "query")))
	q = resp.Child(muc.NSDiscoInfo, "query")
	must(t, hasFeature(q, "muc_hidden") && hasFeature(q, "muc_temporary") && hasFeature(q, muc.NS), "room features: %s", resp)
	must(t, occupantsField(resp) == "1", "roominfo form: %s", resp)

	resp = alice.Request(iq("get", conf, el(muc.NSUnique, "unique")))
	must(t, resp.Get("type") == "result" && resp.ChildText(muc.NSUnique, "unique") != "", "muc#unique: %s", resp)
	resp = alice.Request(iq("get", room("hidden"), el("jabber:iq:version", "query")))
	_, cond := errCond(resp)
	must(t, cond == "service-unavailable", "unknown room IQ: %s", resp)
}

func hasFeature(q *stanza.Element, v string) bool {
	for _, f := range q.Elements() {
		if f.Name.Local == "feature" && f.Get("var") == v {
			return true
		}
	}
	return false
}
