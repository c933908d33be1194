package jitsi_test

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// Tests for muc_lobby_rooms (JITSI.md §2 P1 "Lobby", §3 muc_lobby_rooms),
// over real sockets with the real MUC component serving conference.D and
// lobby.D.

const (
	lobbyMain  = "conference.localhost"
	lobbyMUC   = "lobby.localhost"
	lobbyRoom  = "r@" + lobbyMain
	lobbyLobby = "r@" + lobbyMUC
)

type lobbyEnv struct {
	t   *testing.T
	srv *servertest.Server
	mod *jitsi.MUCLobbyRooms
}

// newLobbyEnv starts D with muc_lobby_rooms, conference.D and lobby.D.
// lobbyExtra goes into the lobby component's section.
func newLobbyEnv(t *testing.T, hostExtra, lobbyExtra string) *lobbyEnv {
	t.Helper()
	cfg := `
VirtualHost "localhost"
    modules_enabled = { "muc_lobby_rooms" }
    main_muc = "` + lobbyMain + `"
    lobby_muc = "` + lobbyMUC + `"
` + hostExtra + `
Component "` + lobbyMain + `" "muc"
    muc_room_locking = false
    muc_room_default_public_jids = true
Component "` + lobbyMUC + `" "muc"
    muc_room_locking = false
    muc_room_default_public_jids = true
` + lobbyExtra
	mod := jitsi.NewMUCLobbyRooms()
	srv := servertest.Start(t, cfg, servertest.WithServerOptions(
		server.WithComponentType("muc", muc.Factory(jitsi.MUCModules()...)),
		server.WithModules(mod),
	))
	return &lobbyEnv{t: t, srv: srv, mod: mod}
}

func (e *lobbyEnv) user(name string) *client {
	e.t.Helper()
	e.srv.CreateUser(name, "localhost", "pw-"+name)
	return &client{Client: e.srv.Connect(e.t, name+"@localhost", "pw-"+name, servertest.ClientOptions{}), t: e.t}
}

// lobbyJoin sends a join with an optional display name and password.
func lobbyJoin(c *client, occupantJID, displayName, password string) {
	x := el(muc.NS, "x")
	if password != "" {
		x.Add(el(muc.NS, "password").AddText(password))
	}
	p := el(stanza.NSClient, "presence", "to", occupantJID).Add(x)
	if displayName != "" {
		p.Add(el("http://jabber.org/protocol/nick", "nick").AddText(displayName))
	}
	c.Send(p)
}

// lobbyConfigure submits the owner form of the main room and returns a
// matcher of the reply.
func lobbyConfigure(t *testing.T, c *client, fields map[string]string) func(*stanza.Element) bool {
	t.Helper()
	x := el(muc.NSDataForms, "x", "type", "submit")
	x.Add(el(muc.NSDataForms, "field", "var", "FORM_TYPE").Add(el(muc.NSDataForms, "value").AddText(muc.NSRoomConfig)))
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		x.Add(el(muc.NSDataForms, "field", "var", k).Add(el(muc.NSDataForms, "value").AddText(fields[k])))
	}
	return lobbySendIQ(c, el(stanza.NSClient, "iq", "type", "set", "to", lobbyRoom).Add(el(muc.NSOwner, "query").Add(x)))
}

// lobbySendIQ sends an IQ and returns a matcher of its result.
func lobbySendIQ(c *client, iq *stanza.Element) func(*stanza.Element) bool {
	id := "lobby-" + c.JID.Localpart() + "-" + strconv.Itoa(len(iq.Elements())) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	c.Send(iq.Set("id", id))
	return func(m *stanza.Element) bool {
		return m.Name.Local == "iq" && m.Get("id") == id && m.Get("type") == "result"
	}
}

// lobbyExpect reads stanzas until each matcher matched one (in any order)
// and returns them in matcher order.
func lobbyExpect(t *testing.T, c *client, matchers ...func(*stanza.Element) bool) []*stanza.Element {
	t.Helper()
	got := make([]*stanza.Element, len(matchers))
	for left := len(matchers); left > 0; {
		m := c.Next()
		for i, match := range matchers {
			if got[i] == nil && match(m) {
				got[i] = m
				left--
				break
			}
		}
	}
	return got
}

// lobbyNotify matches a lobby-notify json-message with event ev.
func lobbyNotify(ev string) func(*stanza.Element) bool {
	return func(m *stanza.Element) bool {
		p := lobbyPayload(m)
		return m.Get("type") == "groupchat" && p != nil && p["type"] == jitsi.LobbyNotifyType && p["event"] == ev
	}
}

// lobbyPayload decodes a json-message, nil if there is none.
func lobbyPayload(m *stanza.Element) map[string]any {
	s, ok := jitsi.JSONPayload(m)
	if !ok {
		return nil
	}
	var p map[string]any
	if json.Unmarshal([]byte(s), &p) != nil {
		return nil
	}
	return p
}

// lobbyStatus104 matches the main room's configuration-change message.
func lobbyStatus104(m *stanza.Element) bool {
	return m.Name.Local == "message" && m.Get("from") == lobbyRoom && hasStatus(m, "104")
}

// lobbyNotification waits for a lobby-notify json-message with event ev.
func lobbyNotification(t *testing.T, c *client, ev string) (from string, payload map[string]any) {
	t.Helper()
	m := c.NextMatch(lobbyNotify(ev))
	return m.Get("from"), lobbyPayload(m)
}

// lobbyRoomInfo returns the muc#roominfo_lobbyroom of the main room's
// disco#info and whether it is there.
func lobbyRoomInfo(t *testing.T, c *client) (string, bool) {
	t.Helper()
	res := c.Request(el(stanza.NSClient, "iq", "type", "get", "to", lobbyRoom).Add(el(muc.NSDiscoInfo, "query")))
	return fieldValue(res.Child(muc.NSDiscoInfo, "query").Child(muc.NSDataForms, "x"), jitsi.LobbyRoomField)
}

// lobbyEnable has owner create the main room and turn the lobby on; the
// owner then joins the lobby as lib-jitsi-meet's moderators do.
func lobbyEnable(t *testing.T, owner *client, extra map[string]string) {
	t.Helper()
	lobbyJoin(owner, lobbyRoom+"/owner", "Owner", "")
	if p := owner.self(lobbyRoom + "/owner"); p.Get("type") == "error" {
		t.Fatalf("owner join: %v", p)
	}
	fields := map[string]string{"muc#roomconfig_membersonly": "1"}
	for k, v := range extra {
		fields[k] = v
	}
	got := lobbyExpect(t, owner, lobbyConfigure(t, owner, fields), lobbyStatus104, lobbyNotify(jitsi.LobbyEventEnabled))
	if from, p := got[2].Get("from"), lobbyPayload(got[2]); from != lobbyRoom+"/owner" || p["value"] != true {
		t.Fatalf("LOBBY-ENABLED from %q: %v", from, p)
	}
	lobbyJoin(owner, lobbyLobby+"/owner", "Owner", "")
	p := owner.self(lobbyLobby + "/owner")
	if item := lobbyItem(p); p.Get("type") == "error" || item.Get("affiliation") != "owner" || item.Get("role") != "moderator" {
		t.Fatalf("owner in the lobby: %v", p)
	}
}

func lobbyItem(p *stanza.Element) *stanza.Element {
	if x := p.Child(muc.NSUser, "x"); x != nil {
		if it := x.Child(muc.NSUser, "item"); it != nil {
			return it
		}
	}
	return stanza.New(muc.NSUser, "item")
}

// lobbyKnock has c try the main room and checks it is sent to the lobby.
func lobbyKnock(t *testing.T, c *client, nick string) {
	t.Helper()
	lobbyJoin(c, lobbyRoom+"/"+nick, nick, "")
	p := c.self(lobbyRoom + "/" + nick)
	e := p.Child("", "error")
	if errCond(p) != "registration-required" || e.Get("type") != "auth" || e.Get("code") != "407" {
		t.Fatalf("knock: want auth/registration-required, got %v", p)
	}
	if got := e.ChildText(jitsi.NSJitMeet, "lobbyroom"); got != lobbyLobby {
		t.Fatalf("<lobbyroom> in <error> = %q, want %q", got, lobbyLobby)
	}
	if got := p.ChildText(stanza.NSClient, "lobbyroom"); got != lobbyLobby {
		t.Fatalf("legacy <lobbyroom> = %q, want %q", got, lobbyLobby)
	}
	lobbyJoin(c, lobbyLobby+"/"+nick, nick, "")
	if p := c.self(lobbyLobby + "/" + nick); p.Get("type") == "error" {
		t.Fatalf("lobby join: %v", p)
	}
}

// TestLobbyKnockApproveJoin: JITSI.md §2 P1 Lobby: members-only submitted
// by an owner opens r@lobby.D (status 104, roominfo field, LOBBY-ENABLED);
// a knocker is sent there; a moderator's bulk invite lets both knockers in
// (LOBBY-ACCESS-GRANTED to the main room, the invite to the knocker) and
// membership lets them join.
func TestLobbyKnockApproveJoin(t *testing.T) {
	e := newLobbyEnv(t, "", "")
	owner, bob, carol := e.user("owner"), e.user("bob"), e.user("carol")
	lobbyEnable(t, owner, nil)
	if got, ok := lobbyRoomInfo(t, owner); !ok || got != lobbyLobby {
		t.Fatalf("%s = %q, %v; want %q", jitsi.LobbyRoomField, got, ok, lobbyLobby)
	}
	lobbyKnock(t, bob, "bob")
	lobbyKnock(t, carol, "carol")
	// The moderator sees the knockers' real JIDs in the lobby.
	for _, k := range []*client{bob, carol} {
		nick := k.JID.Localpart()
		p := owner.NextMatch(func(m *stanza.Element) bool {
			return m.Name.Local == "presence" && m.Get("from") == lobbyLobby+"/"+nick
		})
		if got := lobbyItem(p).Get("jid"); got != k.JID.String() {
			t.Fatalf("knocker jid = %q, want %q", got, k.JID)
		}
	}

	x := el(muc.NSUser, "x").Add(el(muc.NSUser, "invite", "to", bob.JID.String()), el(muc.NSUser, "invite", "to", carol.JID.String()))
	owner.Send(el(stanza.NSClient, "message", "to", lobbyRoom).Add(x))

	granted := map[string]string{}
	for range 2 {
		from, p := lobbyNotification(t, owner, jitsi.LobbyEventAccessGranted)
		if from != lobbyRoom+"/owner" {
			t.Fatalf("LOBBY-ACCESS-GRANTED from %q", from)
		}
		v, _ := p["value"].(string)
		n, _ := p["name"].(string)
		granted[v] = n
	}
	if granted[lobbyLobby+"/bob"] != "bob" || granted[lobbyLobby+"/carol"] != "carol" {
		t.Fatalf("granted = %v", granted)
	}
	for _, k := range []*client{bob, carol} {
		// Knockers see nobody else in the lobby (the stanzas/out filter).
		var inv *stanza.Element
		for inv == nil {
			m := k.Next()
			x := m.Child(muc.NSUser, "x")
			switch {
			case m.Name.Local == "message" && m.Get("from") == lobbyRoom && x != nil && x.Child(muc.NSUser, "invite") != nil:
				inv = m
			case m.Name.Local == "presence" && strings.HasPrefix(m.Get("from"), lobbyLobby+"/") && !hasStatus(m, "110"):
				t.Fatalf("%s sees %v", k.JID, m)
			}
		}
		if got := inv.Child(muc.NSUser, "x").Child(muc.NSUser, "invite").Get("from"); got != owner.JID.String() {
			t.Fatalf("invite from %q", got)
		}
		nick := k.JID.Localpart()
		lobbyJoin(k, lobbyRoom+"/"+nick, nick, "")
		p := k.self(lobbyRoom + "/" + nick)
		if p.Get("type") == "error" || lobbyItem(p).Get("affiliation") != "member" {
			t.Fatalf("%s joining after approval: %v", nick, p)
		}
	}
}

// TestLobbyDeny: JITSI.md §2 P1 Lobby: a moderator kicking a knocker out
// of the lobby announces LOBBY-ACCESS-DENIED in the main room, and the
// knocker stays out.
func TestLobbyDeny(t *testing.T) {
	e := newLobbyEnv(t, "", "")
	owner, bob := e.user("owner"), e.user("bob")
	lobbyEnable(t, owner, nil)
	lobbyKnock(t, bob, "bob")
	// The lobby's IQ results are filtered out like Prosody's stanzas/out
	// filter does, so the kick is sent without waiting for its result.
	owner.Send(el(stanza.NSClient, "iq", "type", "set", "to", lobbyLobby).Add(
		el(muc.NSAdmin, "query").Add(el(muc.NSAdmin, "item", "nick", "bob", "role", "none"))))
	p := bob.NextMatch(func(m *stanza.Element) bool {
		return m.Name.Local == "presence" && m.Get("from") == lobbyLobby+"/bob" && m.Get("type") == "unavailable"
	})
	if !hasStatus(p, "307") || !hasStatus(p, "110") {
		t.Fatalf("kicked knocker got %v", p)
	}
	from, n := lobbyNotification(t, owner, jitsi.LobbyEventAccessDenied)
	if from != lobbyRoom+"/owner" || n["value"] != lobbyLobby+"/bob" || n["name"] != "bob" {
		t.Fatalf("LOBBY-ACCESS-DENIED from %q: %v", from, n)
	}
	lobbyJoin(bob, lobbyRoom+"/bob", "bob", "")
	if p := bob.self(lobbyRoom + "/bob"); errCond(p) != "registration-required" {
		t.Fatalf("denied knocker retrying: %v", p)
	}
}

// TestLobbyDisplayNameRequired: JITSI.md §2 P1 Lobby: a join without a
// display name gets modify/not-acceptable with <displayname-required
// xmlns=jitmeet lobby=true/>.
func TestLobbyDisplayNameRequired(t *testing.T) {
	e := newLobbyEnv(t, "", "")
	owner, bob := e.user("owner"), e.user("bob")
	lobbyEnable(t, owner, nil)
	lobbyJoin(bob, lobbyRoom+"/bob", "", "")
	p := bob.self(lobbyRoom + "/bob")
	er := p.Child("", "error")
	if errCond(p) != "not-acceptable" || er.Get("type") != "modify" || er.Get("code") != "406" {
		t.Fatalf("want modify/not-acceptable, got %v", p)
	}
	if d := er.Child(jitsi.NSJitMeet, "displayname-required"); d == nil || d.Get("lobby") != "true" {
		t.Fatalf("no <displayname-required lobby=true/>: %v", p)
	}
	if p.Child(muc.NS, "x") == nil {
		t.Fatalf("no MUC <x/> in %v", p)
	}
}

// TestLobbyBypass: JITSI.md §2 P1 Lobby: muc_lobby_whitelist (JID or
// domain) and the room password let users in without the lobby (no
// display name needed), as members; others still knock (SECURITY-CASES
// 130: members-only).
func TestLobbyBypass(t *testing.T) {
	tests := []struct {
		name     string
		list     string
		user     string
		secret   string
		password string
		joined   bool
	}{
		{name: "whitelisted JID", list: `"jibri@localhost"`, user: "jibri", joined: true},
		{name: "whitelisted domain", list: `"localhost"`, user: "jibri", joined: true},
		{name: "room password", list: `"other@localhost"`, user: "dave", secret: "s3cret", password: "s3cret", joined: true},
		{name: "SECURITY-CASES 128 whitelisted without the room password", list: `"jibri@localhost"`, user: "jibri", secret: "s3cret", joined: false},
		{name: "SECURITY-CASES 130 wrong password", list: `"other@localhost"`, user: "dave", secret: "s3cret", password: "wrong", joined: false},
		{name: "SECURITY-CASES 130 not listed", list: `"other@localhost"`, user: "mallory", joined: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newLobbyEnv(t, "    muc_lobby_whitelist = { "+tc.list+" }\n", "")
			owner, u := e.user("owner"), e.user(tc.user)
			lobbyEnable(t, owner, map[string]string{"muc#roomconfig_roomsecret": tc.secret})
			lobbyJoin(u, lobbyRoom+"/u", "", tc.password)
			p := u.self(lobbyRoom + "/u")
			if joined := p.Get("type") != "error"; joined != tc.joined {
				t.Fatalf("joined = %v: %v", joined, p)
			}
			if tc.joined {
				if it := lobbyItem(p); it.Get("affiliation") != "member" || it.Get("role") != "participant" {
					t.Fatalf("bypassing user: %v", p)
				}
			} else if c := errCond(p); c != "not-acceptable" && c != "registration-required" && c != "not-authorized" {
				t.Fatalf("refused with %q: %v", c, p)
			}
		})
	}
}

// TestLobbyBlankPassword: SECURITY-CASES 131: in a lobby-enabled room
// without a password, a join carrying an empty <password/> still knocks
// (registration-required), as jitsi-meet PR #11839 fixed.
func TestLobbyBlankPassword(t *testing.T) {
	e := newLobbyEnv(t, "", "")
	owner, u := e.user("owner"), e.user("mallory")
	lobbyEnable(t, owner, map[string]string{"muc#roomconfig_roomsecret": ""})
	x := el(muc.NS, "x").Add(el(muc.NS, "password"))
	u.Send(el(stanza.NSClient, "presence", "to", lobbyRoom+"/u").Add(x).
		Add(el("http://jabber.org/protocol/nick", "nick").AddText("Mallory")))
	p := u.self(lobbyRoom + "/u")
	if p.Get("type") != "error" || errCond(p) != "registration-required" {
		t.Fatalf("an empty password passed the lobby: %v", p)
	}
}

// TestLobbyApprovedSkipsPassword: JITSI.md §2 P1 Lobby: an approved
// knocker joins a password-protected room without the password.
func TestLobbyApprovedSkipsPassword(t *testing.T) {
	e := newLobbyEnv(t, "", "")
	owner, bob := e.user("owner"), e.user("bob")
	lobbyEnable(t, owner, map[string]string{"muc#roomconfig_roomsecret": "s3cret"})
	lobbyKnock(t, bob, "bob")
	owner.Send(el(stanza.NSClient, "message", "to", lobbyRoom).Add(el(muc.NSUser, "x").Add(el(muc.NSUser, "invite", "to", bob.JID.String()))))
	bob.NextMatch(func(m *stanza.Element) bool { return m.Name.Local == "message" && m.Get("from") == lobbyRoom })
	lobbyJoin(bob, lobbyRoom+"/bob", "bob", "")
	if p := bob.self(lobbyRoom + "/bob"); p.Get("type") == "error" {
		t.Fatalf("approved knocker without password: %v", p)
	}
}

// TestLobbyMembersOnlyOff: JITSI.md §2 P1 Lobby: turning members-only off
// destroys the lobby, pointing its occupants to the main room, and
// announces LOBBY-ENABLED false.
func TestLobbyMembersOnlyOff(t *testing.T) {
	e := newLobbyEnv(t, "", "")
	owner, bob := e.user("owner"), e.user("bob")
	lobbyEnable(t, owner, nil)
	lobbyKnock(t, bob, "bob")
	got := lobbyExpect(t, owner, lobbyConfigure(t, owner, map[string]string{"muc#roomconfig_membersonly": "0"}),
		lobbyStatus104, lobbyNotify(jitsi.LobbyEventEnabled))
	if p := lobbyPayload(got[2]); p["value"] != false {
		t.Fatalf("LOBBY-ENABLED: %v", p)
	}
	lobbyExpectDestroyed(t, bob, lobbyRoom)
	if v, ok := lobbyRoomInfo(t, owner); ok {
		t.Fatalf("%s still announced: %q", jitsi.LobbyRoomField, v)
	}
	lobbyExpectGone(t, e)
	lobbyJoin(bob, lobbyRoom+"/bob", "", "")
	if p := bob.self(lobbyRoom + "/bob"); p.Get("type") == "error" {
		t.Fatalf("join after the lobby closed: %v", p)
	}

	// The lobby opens again (no tombstone left behind).
	got = lobbyExpect(t, owner, lobbyConfigure(t, owner, map[string]string{"muc#roomconfig_membersonly": "1"}),
		lobbyNotify(jitsi.LobbyEventEnabled))
	if p := lobbyPayload(got[1]); p["value"] != true {
		t.Fatalf("LOBBY-ENABLED again: %v", p)
	}
	if v, ok := lobbyRoomInfo(t, owner); !ok || v != lobbyLobby {
		t.Fatalf("%s after re-enabling = %q, %v", jitsi.LobbyRoomField, v, ok)
	}
	lobbyJoin(owner, lobbyLobby+"/owner", "Owner", "")
	if p := owner.self(lobbyLobby + "/owner"); p.Get("type") == "error" {
		t.Fatalf("owner joining the reopened lobby: %v", p)
	}
}

// TestLobbyRestrictedLobbyMUC: JITSI.md §1.2 (lobby.D has
// restrict_room_creation = true) and §2 P1 Lobby: the module creates the
// lobby room itself, so moderators and knockers can join it although they
// cannot create rooms there. Needs muc.Service.CreateRoom.
func TestLobbyRestrictedLobbyMUC(t *testing.T) {
	e := newLobbyEnv(t, "", "    restrict_room_creation = true\n")
	svc := jitsi.ServerMUCLookup(e.srv.Server, lobbyMUC)
	type creator interface {
		CreateRoom(ctx context.Context, roomJID string, setup func(*muc.Room)) (bool, error)
	}
	if _, ok := any(svc).(creator); !ok {
		t.Skip("muc.Service has no CreateRoom: the lobby room is created by its first join, which restrict_room_creation refuses")
	}
	owner, bob := e.user("owner"), e.user("bob")
	lobbyEnable(t, owner, nil)
	lobbyKnock(t, bob, "bob")
}

// TestLobbyMainRoomDestroyed: JITSI.md §2 P1 Lobby / P0 Room lifecycle:
// destroying the main room destroys its lobby.
func TestLobbyMainRoomDestroyed(t *testing.T) {
	e := newLobbyEnv(t, "", "")
	owner, bob := e.user("owner"), e.user("bob")
	lobbyEnable(t, owner, nil)
	lobbyKnock(t, bob, "bob")
	res := owner.Request(el(stanza.NSClient, "iq", "type", "set", "to", lobbyRoom).Add(
		el(muc.NSOwner, "query").Add(el(muc.NSOwner, "destroy").Add(el(muc.NSOwner, "reason").AddText("bye")))))
	if res.Get("type") != "result" {
		t.Fatalf("destroy: %v", res)
	}
	lobbyExpectDestroyed(t, bob, "")
	lobbyExpectGone(t, e)
}

// TestLobbyFocusSubmitIgnored: JITSI.md §2 P1 Lobby: jicofo's own config
// submissions (user "focus") neither open nor close the lobby.
func TestLobbyFocusSubmitIgnored(t *testing.T) {
	e := newLobbyEnv(t, "", "")
	focus := e.user("focus")
	lobbyJoin(focus, lobbyRoom+"/focus", "", "")
	focus.self(lobbyRoom + "/focus")
	lobbyExpect(t, focus, lobbyConfigure(t, focus, map[string]string{"muc#roomconfig_membersonly": "1"}))
	if v, ok := lobbyRoomInfo(t, focus); ok {
		t.Fatalf("focus opened a lobby: %q", v)
	}
}

// TestLobbyIdentity: JITSI.md §2 P1 Component discovery: the main host
// announces component/lobbyrooms named after the lobby MUC.
func TestLobbyIdentity(t *testing.T) {
	e := newLobbyEnv(t, "", "")
	u := e.user("u")
	res := u.Request(el(stanza.NSClient, "iq", "type", "get", "to", "localhost").Add(el(muc.NSDiscoInfo, "query")))
	found := slices.ContainsFunc(res.Child(muc.NSDiscoInfo, "query").Elements(), func(id *stanza.Element) bool {
		return id.Name.Local == "identity" && id.Get("category") == "component" && id.Get("type") == jitsi.LobbyIdentityType && id.Get("name") == lobbyMUC
	})
	if !found {
		t.Fatalf("no lobbyrooms identity: %v", res)
	}
}

// TestLobbyCreateDestroyMethods: JITSI.md §3 muc_lobby_rooms
// (create-lobby-room / destroy-lobby-room events as Go methods): occupants
// become members, the room is told to reload its configuration (104), the
// extra reason goes into the knock error, and destroying closes the lobby.
func TestLobbyCreateDestroyMethods(t *testing.T) {
	e := newLobbyEnv(t, "", "")
	owner, bob, carol := e.user("owner"), e.user("bob"), e.user("carol")
	lobbyJoin(owner, lobbyRoom+"/owner", "Owner", "")
	owner.self(lobbyRoom + "/owner")
	lobbyJoin(bob, lobbyRoom+"/bob", "bob", "")
	bob.self(lobbyRoom + "/bob")
	svc := jitsi.ServerMUCLookup(e.srv.Server, lobbyMain)
	ctx := context.Background()
	var err error
	if derr := svc.Do(ctx, lobbyRoom, func(r *muc.Room) {
		err = e.mod.CreateLobby(ctx, r, jitsi.LobbyOptions{Reason: "waiting-for-host"})
	}); derr != nil || err != nil {
		t.Fatalf("CreateLobby: %v, %v", derr, err)
	}
	bob.NextMatch(lobbyStatus104)
	var bobAff muc.Affiliation
	var lobby string
	_ = svc.Do(ctx, lobbyRoom, func(r *muc.Room) { bobAff, lobby = r.Affiliation(bob.JID.String()), jitsi.LobbyJID(r) })
	if bobAff != muc.AffiliationMember || lobby != lobbyLobby {
		t.Fatalf("after CreateLobby: bob %q, lobby %q", bobAff, lobby)
	}
	lobbyJoin(carol, lobbyRoom+"/carol", "carol", "")
	p := carol.self(lobbyRoom + "/carol")
	if er := p.Child("", "error"); errCond(p) != "registration-required" || er.Child(jitsi.NSJitMeet, "waiting-for-host") == nil {
		t.Fatalf("knock with reason: %v", p)
	}

	if derr := svc.Do(ctx, lobbyRoom, func(r *muc.Room) { err = e.mod.DestroyLobby(ctx, r, "", "") }); derr != nil || err != nil {
		t.Fatalf("DestroyLobby: %v, %v", derr, err)
	}
	bob.NextMatch(lobbyStatus104)
	if v, ok := lobbyRoomInfo(t, bob); ok {
		t.Fatalf("%s after DestroyLobby: %q", jitsi.LobbyRoomField, v)
	}
}

// lobbyExpectDestroyed waits for the lobby's <destroy/> to c.
func lobbyExpectDestroyed(t *testing.T, c *client, venue string) {
	t.Helper()
	p := c.NextMatch(func(m *stanza.Element) bool {
		return m.Name.Local == "presence" && m.Get("from") == lobbyLobby+"/"+c.JID.Localpart() && m.Get("type") == "unavailable"
	})
	d := p.Child(muc.NSUser, "x").Child(muc.NSUser, "destroy")
	if d == nil || d.Get("jid") != venue || d.ChildText(muc.NSUser, "reason") != "Lobby room closed." {
		t.Fatalf("lobby destroy presence: %v", p)
	}
}

// lobbyExpectGone checks the lobby MUC has no room left.
func lobbyExpectGone(t *testing.T, e *lobbyEnv) {
	t.Helper()
	svc := jitsi.ServerMUCLookup(e.srv.Server, lobbyMUC)
	if svc == nil {
		t.Fatal("no lobby MUC")
	}
	err := svc.Do(context.Background(), lobbyLobby, func(*muc.Room) {})
	if err == nil {
		t.Fatalf("lobby room still there: %v", svc.Rooms())
	}
}

// BenchmarkLobbyFilterOut measures the stanzas/out filter every stanza to
// a client of the host goes through: most are not from the lobby MUC.
func BenchmarkLobbyFilterOut(b *testing.B) {
	srv := servertest.Start(b, `
VirtualHost "localhost"
    modules_enabled = { "muc_lobby_rooms" }
    main_muc = "`+lobbyMain+`"
    lobby_muc = "`+lobbyMUC+`"
Component "`+lobbyMain+`" "muc"
Component "`+lobbyMUC+`" "muc"
`, servertest.WithServerOptions(
		server.WithComponentType("muc", muc.Factory(jitsi.MUCModules()...)),
		server.WithModules(jitsi.NewMUCLobbyRooms()),
	))
	h := srv.Host("localhost")
	x := el(muc.NSUser, "x").Add(el(muc.NSUser, "item", "affiliation", "none", "role", "participant"))
	cases := []struct {
		name string
		from string
	}{
		{name: "main room presence", from: lobbyRoom + "/bob"},
		{name: "lobby presence, no lobby room", from: lobbyLobby + "/bob"},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			p := el(stanza.NSClient, "presence", "from", bc.from, "to", "alice@localhost/r").Add(x)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				ev := server.OutStanzaEvent{Stanza: p}
				_ = h.Events.StanzaOut.Fire(ctx, &ev)
			}
		})
	}
}
