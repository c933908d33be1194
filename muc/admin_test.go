package muc_test

import (
	"fmt"
	"testing"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server/stanza"
)

// adminSet sends a muc#admin set with one item and returns the response.
func adminSet(c *client, roomJID string, item *stanza.Element) *stanza.Element {
	return c.Request(iq("set", roomJID, el(muc.NSAdmin, "query").Add(item)))
}

func adminItem(attrs ...string) *stanza.Element { return el(muc.NSAdmin, "item", attrs...) }

// permissionRoom is a room with one user of every affiliation in it:
// own (creator) and own2 owners, adm admin, mem member (made moderator
// when modMem), non unaffiliated.
type permissionRoom struct {
	jid     string
	clients map[string]*client
}

func newPermissionRoom(t *testing.T, clients map[string]*client, name string, modMem bool) *permissionRoom {
	t.Helper()
	r := room(name)
	own := clients["own"]
	mustJoin(t, own, r+"/own")
	for _, g := range []struct{ who, aff string }{{"own2", "owner"}, {"adm", "admin"}, {"mem", "member"}} {
		resp := adminSet(own, r, adminItem("jid", g.who+"@localhost", "affiliation", g.aff))
		must(t, resp.Get("type") == "result", "grant %s %s: %s", g.who, g.aff, resp)
	}
	for _, who := range []string{"own2", "adm", "mem", "non"} {
		mustJoin(t, clients[who], r+"/"+who)
	}
	if modMem {
		resp := adminSet(own, r, adminItem("nick", "mem", "role", "moderator"))
		must(t, resp.Get("type") == "result", "make mem a moderator: %s", resp)
	}
	return &permissionRoom{jid: r, clients: clients}
}

// TestRolePermissions is XEP-0045 §5.1 with Prosody ≥0.12 rules: the actor
// must be a moderator in the room, cannot act on a higher affiliation,
// and only owners and admins grant or revoke moderator (owners may change
// other owners' roles).
func TestRolePermissions(t *testing.T) {
	e := newEnv(t, "", `muc_room_locking = false`)
	clients := map[string]*client{}
	for _, u := range []string{"own", "own2", "adm", "mem", "non"} {
		clients[u] = e.user(u)
	}
	tests := []struct {
		name   string
		actor  string
		target string
		role   string
		modMem bool
		cond   string // "" for success
	}{
		{name: "owner kicks participant", actor: "own", target: "non", role: "none"},
		{name: "owner kicks admin", actor: "own", target: "adm", role: "none"},
		{name: "owner kicks owner", actor: "own", target: "own2", role: "none"},
		{name: "owner revokes an owner's moderator role", actor: "own", target: "own2", role: "participant"},
		{name: "owner makes participant a visitor", actor: "own", target: "non", role: "visitor"},
		{name: "owner grants moderator to member", actor: "own", target: "mem", role: "moderator"},
		{name: "admin kicks owner", actor: "adm", target: "own", role: "none", cond: "not-allowed"},
		{name: "admin kicks member", actor: "adm", target: "mem", role: "none"},
		{name: "admin kicks admin", actor: "adm", target: "adm", role: "none"},
		{name: "admin grants moderator", actor: "adm", target: "non", role: "moderator"},
		{name: "member participant kicks", actor: "mem", target: "non", role: "none", cond: "not-allowed"},
		{name: "unaffiliated participant kicks", actor: "non", target: "mem", role: "none", cond: "not-allowed"},
		{name: "member moderator kicks participant", actor: "mem", target: "non", role: "none", modMem: true},
		{name: "member moderator mutes participant", actor: "mem", target: "non", role: "visitor", modMem: true},
		{name: "member moderator kicks admin", actor: "mem", target: "adm", role: "none", modMem: true, cond: "not-allowed"},
		{name: "member moderator grants moderator", actor: "mem", target: "non", role: "moderator", modMem: true, cond: "not-allowed"},
		{name: "unknown nick", actor: "own", target: "nobody", role: "none", cond: "item-not-found"},
	}
	for i, tc := range tests {
		pr := newPermissionRoom(t, clients, fmt.Sprintf("roles%d", i), tc.modMem)
		resp := adminSet(clients[tc.actor], pr.jid, adminItem("nick", tc.target, "role", tc.role))
		_, cond := errCond(resp)
		if cond != tc.cond || (tc.cond == "" && resp.Get("type") != "result") {
			t.Errorf("%s: got %q, want %q: %s", tc.name, cond, tc.cond, resp)
			continue
		}
		if tc.cond == "" && tc.target != "nobody" && tc.target != tc.actor {
			// The target learns its new role.
			p := clients[tc.target].NextMatch(func(e *stanza.Element) bool {
				return isPresenceFrom(pr.jid+"/"+tc.target)(e) && hasStatus(e, "110") && item(e).Get("role") == tc.role
			})
			if tc.role == "none" && (!hasStatus(p, "307") || p.Get("type") != "unavailable") {
				t.Errorf("%s: kicked occupant's presence: %s", tc.name, p)
			}
		}
	}
}

// TestAffiliationPermissions is XEP-0045 §5.2 with Prosody's rules: owners
// may do anything except leave the room without an owner; admins may only
// move users between none, member and outcast.
func TestAffiliationPermissions(t *testing.T) {
	e := newEnv(t, "", `muc_room_locking = false`)
	clients := map[string]*client{}
	for _, u := range []string{"own", "own2", "adm", "mem", "non"} {
		clients[u] = e.user(u)
	}
	tests := []struct {
		name   string
		actor  string
		target string
		aff    string
		single bool // own2 is not made owner first
		cond   string
	}{
		{name: "owner grants owner", actor: "own", target: "non", aff: "owner"},
		{name: "owner grants admin", actor: "own", target: "non", aff: "admin"},
		{name: "owner bans admin", actor: "own", target: "adm", aff: "outcast"},
		{name: "owner demotes owner", actor: "own", target: "own2", aff: "member"},
		{name: "owner demotes self with another owner", actor: "own", target: "own", aff: "admin"},
		{name: "last owner demotes self", actor: "own", target: "own", aff: "none", single: true, cond: "conflict"},
		{name: "admin grants member", actor: "adm", target: "non", aff: "member"},
		{name: "admin bans member", actor: "adm", target: "mem", aff: "outcast"},
		{name: "admin revokes membership", actor: "adm", target: "mem", aff: "none"},
		{name: "admin grants admin", actor: "adm", target: "non", aff: "admin", cond: "not-allowed"},
		{name: "admin grants owner", actor: "adm", target: "non", aff: "owner", cond: "not-allowed"},
		{name: "admin bans owner", actor: "adm", target: "own", aff: "outcast", cond: "not-allowed"},
		{name: "admin demotes admin", actor: "adm", target: "adm", aff: "member", cond: "not-allowed"},
		{name: "member grants member", actor: "mem", target: "non", aff: "member", cond: "not-allowed"},
		{name: "unaffiliated bans", actor: "non", target: "mem", aff: "outcast", cond: "not-allowed"},
		{name: "unknown affiliation", actor: "own", target: "non", aff: "king", cond: "not-acceptable"},
	}
	for i, tc := range tests {
		pr := newPermissionRoom(t, clients, fmt.Sprintf("affs%d", i), false)
		if tc.single {
			resp := adminSet(clients["own"], pr.jid, adminItem("jid", "own2@localhost", "affiliation", "member"))
			must(t, resp.Get("type") == "result", "demote own2: %s", resp)
		}
		resp := adminSet(clients[tc.actor], pr.jid, adminItem("jid", tc.target+"@localhost", "affiliation", tc.aff))
		_, cond := errCond(resp)
		if cond != tc.cond || (tc.cond == "" && resp.Get("type") != "result") {
			t.Errorf("%s: got %q, want %q: %s", tc.name, cond, tc.cond, resp)
			continue
		}
		if tc.cond == "" && tc.target != tc.actor {
			p := clients[tc.target].NextMatch(func(e *stanza.Element) bool {
				return isPresenceFrom(pr.jid+"/"+tc.target)(e) && hasStatus(e, "110") && item(e).Get("affiliation") == tc.aff
			})
			if tc.aff == "outcast" && (!hasStatus(p, "301") || p.Get("type") != "unavailable") {
				t.Errorf("%s: banned occupant's presence: %s", tc.name, p)
			}
		}
	}
}

func TestKickAndBan(t *testing.T) {
	e := newEnv(t, "", `muc_room_locking = false`)
	alice, bob, carol := e.user("alice"), e.user("bob"), e.user("carol")
	r := room("kick")
	mustJoin(t, alice, r+"/alice")
	mustJoin(t, bob, r+"/bob")
	mustJoin(t, carol, r+"/carol")

	resp := adminSet(alice, r, adminItem("nick", "bob", "role", "none").Add(el(muc.NSAdmin, "reason").AddText("be nice")))
	must(t, resp.Get("type") == "result", "kick: %s", resp)
	p := bob.NextMatch(func(e *stanza.Element) bool { return isPresenceFrom(r+"/bob")(e) && e.Get("type") == "unavailable" })
	it := item(p)
	must(t, hasStatus(p, "307") && hasStatus(p, "110") && it.Get("role") == "none", "bob kicked: %s", p)
	must(t, it.ChildText(muc.NSUser, "reason") == "be nice" && it.Child(muc.NSUser, "actor").Get("nick") == "alice", "reason and actor: %s", p)
	must(t, it.Child(muc.NSUser, "actor").Get("jid") == "", "the kicked user is not told the actor's real JID: %s", p)
	p = carol.NextMatch(func(e *stanza.Element) bool { return isPresenceFrom(r+"/bob")(e) && e.Get("type") == "unavailable" })
	must(t, hasStatus(p, "307") && !hasStatus(p, "110"), "carol sees the kick: %s", p)
	// A kicked user may come back.
	mustJoin(t, bob, r+"/bob")

	resp = adminSet(alice, r, adminItem("jid", "bob@localhost", "affiliation", "outcast").Add(el(muc.NSAdmin, "reason").AddText("spam")))
	must(t, resp.Get("type") == "result", "ban: %s", resp)
	p = bob.NextMatch(func(e *stanza.Element) bool { return isPresenceFrom(r+"/bob")(e) && e.Get("type") == "unavailable" })
	must(t, hasStatus(p, "301") && item(p).Get("affiliation") == "outcast", "bob banned: %s", p)
	p = join(t, bob, r+"/bob")
	typ, cond := errCond(p)
	must(t, typ == "auth" && cond == "forbidden", "SECURITY-CASES 129 banned user refused: %s", p)

	// Owners list outcasts; participants may not.
	resp = alice.Request(iq("get", r, el(muc.NSAdmin, "query").Add(adminItem("affiliation", "outcast"))))
	q := resp.Child(muc.NSAdmin, "query")
	must(t, resp.Get("type") == "result" && len(q.Elements()) == 1 && q.FirstElement().Get("jid") == "bob@localhost", "outcast list: %s", resp)
	resp = carol.Request(iq("get", r, el(muc.NSAdmin, "query").Add(adminItem("affiliation", "outcast"))))
	_, cond = errCond(resp)
	must(t, cond == "forbidden", "participant lists outcasts: %s", resp)
}

func TestAffiliationAnnouncedForAbsentUser(t *testing.T) {
	e := newEnv(t, "", `muc_room_locking = false
muc_room_default_public_jids = true`)
	alice, bob := e.user("alice"), e.user("bob")
	r := room("announce")
	mustJoin(t, alice, r+"/alice")
	mustJoin(t, bob, r+"/bob")
	resp := adminSet(alice, r, adminItem("jid", "dave@localhost", "affiliation", "member"))
	must(t, resp.Get("type") == "result", "grant: %s", resp)
	m := bob.NextMatch(func(e *stanza.Element) bool {
		return e.Name.Local == "message" && e.Get("from") == r && e.Child(muc.NSUser, "x") != nil
	})
	must(t, item(m).Get("jid") == "dave@localhost" && item(m).Get("affiliation") == "member" && item(m).Get("role") == "",
		"XEP-0045 example 195: %s", m)
	resp = bob.Request(iq("get", r, el(muc.NSAdmin, "query").Add(adminItem("affiliation", "member"))))
	_, cond := errCond(resp)
	must(t, cond == "forbidden", "a participant may not list members: %s", resp)
	resp = bob.Request(iq("get", r, el(muc.NSAdmin, "query").Add(adminItem("role", "moderator"))))
	_, cond = errCond(resp)
	must(t, cond == "forbidden", "a participant may not list moderators: %s", resp)
	resp = alice.Request(iq("get", r, el(muc.NSAdmin, "query").Add(adminItem("role", "participant"))))
	q := resp.Child(muc.NSAdmin, "query")
	must(t, resp.Get("type") == "result" && len(q.Elements()) == 1 && q.FirstElement().Get("nick") == "bob", "participant list: %s", resp)
}

// TestAdminNickReservationAuthorisedFirst is SECURITY-CASES 141: a
// non-admin's muc#admin IQ naming someone's nick must fail without
// kicking anyone.
func TestAdminNickReservationAuthorisedFirst(t *testing.T) {
	e := newEnv(t, "", `muc_room_locking = false`)
	alice, bob, mallory := e.user("alice"), e.user("bob"), e.user("mallory")
	r := room("reserve")
	mustJoin(t, alice, r+"/alice")
	mustJoin(t, bob, r+"/bob")
	mustJoin(t, mallory, r+"/mallory")
	resp := adminSet(mallory, r, adminItem("jid", "mallory@localhost", "affiliation", "member", "nick", "alice"))
	_, cond := errCond(resp)
	must(t, cond == "not-allowed", "refused: %s", resp)
	resp = bob.Request(iq("get", r, el(muc.NSDiscoInfo, "query")))
	must(t, occupantsField(resp) == "3", "nobody was kicked: %s", resp)

	// When the owner reserves a nick, its holder is kicked and the nick is
	// reserved.
	resp = adminSet(alice, r, adminItem("jid", "mallory@localhost", "affiliation", "member", "nick", "bob"))
	must(t, resp.Get("type") == "result", "reservation: %s", resp)
	p := bob.NextMatch(func(e *stanza.Element) bool { return isPresenceFrom(r+"/bob")(e) && e.Get("type") == "unavailable" })
	must(t, hasStatus(p, "307") && item(p).ChildText(muc.NSUser, "reason") == "This nickname is reserved", "bob loses the nick: %s", p)
	p = join(t, bob, r+"/bob")
	_, cond = errCond(p)
	must(t, cond == "conflict", "the reserved nick is taken: %s", p)
}

func occupantsField(disco *stanza.Element) string {
	q := disco.Child(muc.NSDiscoInfo, "query")
	if q == nil {
		return ""
	}
	x := q.Child(muc.NSDataForms, "x")
	if x == nil {
		return ""
	}
	for _, f := range x.Elements() {
		if f.Get("var") == "muc#roominfo_occupants" {
			return f.ChildText(muc.NSDataForms, "value")
		}
	}
	return ""
}
