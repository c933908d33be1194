package muc_test

import (
	"testing"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server/stanza"
)

// formField returns a field of the form inside a muc#owner result.
func formField(resp *stanza.Element, v string) *stanza.Element {
	q := resp.Child(muc.NSOwner, "query")
	if q == nil {
		return nil
	}
	x := q.Child(muc.NSDataForms, "x")
	if x == nil {
		return nil
	}
	for _, f := range x.Elements() {
		if f.Get("var") == v {
			return f
		}
	}
	return nil
}

func TestOwnerConfig(t *testing.T) {
	e := newEnv(t, "", `muc_room_locking = false`)
	alice, bob := e.user("alice"), e.user("bob")
	r := room("cfg")
	mustJoin(t, alice, r+"/alice")
	mustJoin(t, bob, r+"/bob")

	resp := bob.Request(iq("get", r, el(muc.NSOwner, "query")))
	typ, cond := errCond(resp)
	must(t, typ == "auth" && cond == "forbidden" && errText(resp) == "Only owners can configure rooms", "non-owner get: %s", resp)
	resp = bob.Request(iq("set", r, el(muc.NSOwner, "query").Add(el(muc.NSDataForms, "x", "type", "submit"))))
	_, cond = errCond(resp)
	must(t, cond == "forbidden", "non-owner set: %s", resp)

	resp = alice.Request(iq("get", r, el(muc.NSOwner, "query")))
	must(t, resp.Get("type") == "result", "owner get: %s", resp)
	for _, v := range []string{"FORM_TYPE", "muc#roomconfig_roomname", "muc#roomconfig_roomsecret", "muc#roomconfig_membersonly",
		"muc#roomconfig_whois", "muc#roomconfig_persistentroom", "muc#roomconfig_publicroom", "muc#roomconfig_moderatedroom",
		"muc#roomconfig_changesubject", "muc#roomconfig_historylength", "muc#roomconfig_presencebroadcast"} {
		must(t, formField(resp, v) != nil, "form lacks %s: %s", v, resp)
	}
	must(t, formField(resp, "FORM_TYPE").ChildText(muc.NSDataForms, "value") == muc.NSRoomConfig, "FORM_TYPE: %s", resp)

	// Wrong FORM_TYPE.
	x := el(muc.NSDataForms, "x", "type", "submit").Add(
		el(muc.NSDataForms, "field", "var", "FORM_TYPE").Add(el(muc.NSDataForms, "value").AddText("urn:nope")))
	resp = alice.Request(iq("set", r, el(muc.NSOwner, "query").Add(x)))
	_, cond = errCond(resp)
	must(t, cond == "bad-request" && errText(resp) == "Form is not of type room configuration", "wrong form type: %s", resp)

	submitConfig(t, alice, r, map[string]string{"muc#roomconfig_roomname": "Team", "muc#roomconfig_whois": "anyone"})
	m := bob.NextMatch(func(e *stanza.Element) bool { return e.Name.Local == "message" && hasStatus(e, "104") })
	must(t, hasStatus(m, "172") && m.Get("from") == r, "config change announced with 104 and 172: %s", m)
	resp = alice.Request(iq("get", r, el(muc.NSOwner, "query")))
	must(t, formField(resp, "muc#roomconfig_roomname").ChildText(muc.NSDataForms, "value") == "Team", "name applied: %s", resp)

	// Whois anyone: bob now sees real JIDs of newcomers.
	carol := e.user("carol")
	mustJoin(t, carol, r+"/carol")
	p := bob.NextMatch(isPresenceFrom(r + "/carol"))
	must(t, item(p).Get("jid") == carol.JID.String(), "non-anonymous room shows JIDs: %s", p)
	self := mustJoin(t, e.user("dave"), r+"/dave")
	must(t, hasStatus(self, "100"), "joining a non-anonymous room says 100: %s", self)

	// Cancel is accepted and changes nothing.
	resp = alice.Request(iq("set", r, el(muc.NSOwner, "query").Add(el(muc.NSDataForms, "x", "type", "cancel"))))
	must(t, resp.Get("type") == "result", "cancel: %s", resp)
}

func TestMembersOnlySwitchRemovesNonMembers(t *testing.T) {
	e := newEnv(t, "", `muc_room_locking = false`)
	alice, bob, carol := e.user("alice"), e.user("bob"), e.user("carol")
	r := room("members")
	mustJoin(t, alice, r+"/alice")
	mustJoin(t, bob, r+"/bob")
	mustJoin(t, carol, r+"/carol")
	resp := adminSet(alice, r, adminItem("jid", "carol@localhost", "affiliation", "member"))
	must(t, resp.Get("type") == "result", "member: %s", resp)
	submitConfig(t, alice, r, map[string]string{"muc#roomconfig_membersonly": "1"})
	p := bob.NextMatch(func(e *stanza.Element) bool { return isPresenceFrom(r+"/bob")(e) && e.Get("type") == "unavailable" })
	must(t, hasStatus(p, "322") && hasStatus(p, "110"), "non-member removed with 322: %s", p)
	p = carol.NextMatch(func(e *stanza.Element) bool { return isPresenceFrom(r+"/bob")(e) && e.Get("type") == "unavailable" })
	must(t, hasStatus(p, "322"), "others see 322: %s", p)
	p = join(t, bob, r+"/bob")
	_, cond := errCond(p)
	must(t, cond == "registration-required", "SECURITY-CASES 130: %s", p)
}

func TestDestroy(t *testing.T) {
	e := newEnv(t, "", `muc_room_locking = false`)
	alice, bob := e.user("alice"), e.user("bob")
	r := room("doomed")
	mustJoin(t, alice, r+"/alice")
	mustJoin(t, bob, r+"/bob")
	destroy := el(muc.NSOwner, "destroy", "jid", room("heaven")).Add(
		el(muc.NSOwner, "reason").AddText("moving"), el(muc.NSOwner, "password").AddText("pw2"))
	resp := bob.Request(iq("set", r, el(muc.NSOwner, "query").Add(destroy)))
	_, cond := errCond(resp)
	must(t, cond == "forbidden", "only owners destroy: %s", resp)
	destroy = el(muc.NSOwner, "destroy", "jid", room("heaven")).Add(
		el(muc.NSOwner, "reason").AddText("moving"), el(muc.NSOwner, "password").AddText("pw2"))
	resp = alice.Request(iq("set", r, el(muc.NSOwner, "query").Add(destroy)))
	must(t, resp.Get("type") == "result", "destroy: %s", resp)
	p := bob.NextMatch(func(e *stanza.Element) bool { return isPresenceFrom(r+"/bob")(e) && e.Get("type") == "unavailable" })
	d := p.Child(muc.NSUser, "x").Child(muc.NSUser, "destroy")
	must(t, d != nil && d.Get("jid") == room("heaven") && d.ChildText(muc.NSUser, "reason") == "moving" &&
		d.ChildText(muc.NSUser, "password") == "pw2", "destroy notice: %s", p)
	must(t, item(p).Get("role") == "none", "role none: %s", p)
	resp = bob.Request(iq("get", r, el(muc.NSDiscoInfo, "query")))
	_, cond = errCond(resp)
	must(t, cond == "item-not-found", "room gone: %s", resp)
}

func TestPersistentRoomAndTombstone(t *testing.T) {
	e := newEnv(t, `admins = { "root@localhost" }`, `muc_room_locking = false`)
	alice, bob, root := e.user("alice"), e.user("bob"), e.user("root")
	r := room("keep")
	mustJoin(t, alice, r+"/alice")
	submitConfig(t, alice, r, map[string]string{"muc#roomconfig_persistentroom": "1", "muc#roomconfig_roomname": "Kept"})
	alice.Send(el(stanza.NSClient, "presence", "to", r+"/alice", "type", "unavailable"))
	alice.NextMatch(func(e *stanza.Element) bool { return isPresenceFrom(r+"/alice")(e) && e.Get("type") == "unavailable" })
	resp := bob.Request(iq("get", r, el(muc.NSDiscoInfo, "query")))
	must(t, resp.Get("type") == "result" && occupantsField(resp) == "0", "an empty persistent room stays: %s", resp)
	self := mustJoin(t, bob, r+"/bob")
	must(t, !hasStatus(self, "201"), "joining it does not create it: %s", self)
	bob.Send(el(stanza.NSClient, "presence", "to", r+"/bob", "type", "unavailable"))
	bob.NextMatch(func(e *stanza.Element) bool { return isPresenceFrom(r+"/bob")(e) && e.Get("type") == "unavailable" })

	// Destroying a persistent room leaves a tombstone (muc_tombstones).
	resp = alice.Request(iq("set", r, el(muc.NSOwner, "query").Add(
		el(muc.NSOwner, "destroy", "jid", room("next")).Add(el(muc.NSOwner, "reason").AddText("closed")))))
	must(t, resp.Get("type") == "result", "destroy: %s", resp)
	p := join(t, bob, r+"/bob")
	typ, cond := errCond(p)
	must(t, typ == "cancel" && cond == "gone" && errText(p) == "closed", "tombstone: %s", p)
	g := p.Child("", "error").Child(stanza.NSStanzas, "gone")
	must(t, g.Text() == "xmpp:"+room("next")+"?join", "gone carries the new room: %s", p)
	// An admin may recreate it.
	self = mustJoin(t, root, r+"/root")
	must(t, hasStatus(self, "201"), "recreated: %s", self)
}

func TestSubject(t *testing.T) {
	e := newEnv(t, "", `muc_room_locking = false`)
	alice, bob := e.user("alice"), e.user("bob")
	r := room("topic")
	mustJoin(t, alice, r+"/alice")
	mustJoin(t, bob, r+"/bob")
	subject := func(text string) *stanza.Element {
		return el(stanza.NSClient, "message", "type", "groupchat", "to", r).Add(el(stanza.NSClient, "subject").AddText(text))
	}
	// SECURITY-CASES 139: a participant may not change the subject.
	bob.Send(subject("bob's topic"))
	m := bob.NextMatch(func(e *stanza.Element) bool { return e.Name.Local == "message" && e.Get("type") == "error" })
	typ, cond := errCond(m)
	must(t, typ == "auth" && cond == "forbidden", "participant subject: %s", m)
	alice.Send(subject("Weekly sync"))
	m = bob.NextMatch(func(e *stanza.Element) bool { return e.Name.Local == "message" && e.Child("", "subject") != nil })
	must(t, m.Get("from") == r+"/alice" && m.ChildText("", "subject") == "Weekly sync", "subject broadcast: %s", m)
	// Newcomers get it with a delay stamp.
	carol := e.user("carol")
	mustJoin(t, carol, r+"/carol")
	m = carol.NextMatch(func(e *stanza.Element) bool { return e.Name.Local == "message" && e.Child("", "subject") != nil })
	must(t, m.ChildText("", "subject") == "Weekly sync" && m.Child(muc.NSDelay, "delay") != nil, "subject on join: %s", m)
	// With changesubject, participants may.
	submitConfig(t, alice, r, map[string]string{"muc#roomconfig_changesubject": "1"})
	bob.Send(subject("bob's topic"))
	m = carol.NextMatch(func(e *stanza.Element) bool {
		return e.Name.Local == "message" && e.Child("", "subject") != nil && e.Get("from") == r+"/bob"
	})
	must(t, m.ChildText("", "subject") == "bob's topic", "participant subject allowed: %s", m)
}

func TestModeratedRoomVisitors(t *testing.T) {
	e := newEnv(t, "", `muc_room_locking = false
muc_room_default_moderated = true`)
	alice, bob := e.user("alice"), e.user("bob")
	r := room("moderated")
	mustJoin(t, alice, r+"/alice")
	self := mustJoin(t, bob, r+"/bob")
	must(t, item(self).Get("role") == "visitor", "unaffiliated users are visitors: %s", self)
	bob.Send(el(stanza.NSClient, "message", "type", "groupchat", "to", r).Add(el(stanza.NSClient, "body").AddText("hi")))
	m := bob.NextMatch(func(e *stanza.Element) bool { return e.Name.Local == "message" && e.Get("type") == "error" })
	typ, cond := errCond(m)
	must(t, typ == "auth" && cond == "forbidden", "SECURITY-CASES 139 visitor speaking: %s", m)
	resp := adminSet(alice, r, adminItem("nick", "bob", "role", "participant"))
	must(t, resp.Get("type") == "result", "voice: %s", resp)
	bob.Send(el(stanza.NSClient, "message", "type", "groupchat", "to", r).Add(el(stanza.NSClient, "body").AddText("hi")))
	m = alice.NextMatch(func(e *stanza.Element) bool { return e.Name.Local == "message" && e.ChildText("", "body") == "hi" })
	must(t, m.Get("from") == r+"/bob", "voiced visitor speaks: %s", m)
}
