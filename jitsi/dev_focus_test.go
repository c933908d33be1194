package jitsi_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// dfConfig is a Jitsi-shaped layout with the dev focus in place of
// client_proxy; dfStart appends per-test lines to the focus section.
const dfConfig = `
admins = { "focus@focus.localhost" }
component_admins_as_room_owners = true
allow_unencrypted_plain_auth = true
c2s_require_encryption = false

VirtualHost "localhost"
    authentication = "anonymous"

VirtualHost "auth.localhost"
    authentication = "internal_plain"

Component "conference.localhost" "muc"
    modules_enabled = { "muc_meeting_id" }
    muc_room_locking = false
    -- listed in disco#items, which the tests use to see rooms come and go
    muc_room_default_public = true

Component "internal.auth.localhost" "muc"
    muc_room_locking = false
    muc_room_default_public = true

Component "focus.localhost" "dev_focus"
`

const (
	dfFocusJID = "focus@focus.localhost/focus"
	dfRoom     = "meeting@conference.localhost"
)

func dfStart(t *testing.T, extra string, opts jitsi.DevFocusOptions) *servertest.Server {
	t.Helper()
	return servertest.Start(t, dfConfig+extra, servertest.WithServerOptions(
		server.WithComponentType("muc", muc.Factory(jitsi.MUCModules()...)),
		server.WithComponentType(jitsi.DevFocusType, jitsi.DevFocusFactory(opts)),
	))
}

// dfUser is a raw c2s client. Stanzas skipped by next stay in backlog
// for later calls.
type dfUser struct {
	*servertest.Raw
	jid     string
	n       int
	backlog []*stanza.Element
}

// dfLogin logs in user@host with PLAIN, or anonymously when user is "".
func dfLogin(t *testing.T, s *servertest.Server, host, user, password string) *dfUser {
	t.Helper()
	if user != "" {
		s.CreateUser(user, host, password)
		raw := servertest.DialRaw(t, s.C2SAddr)
		return &dfUser{Raw: raw, jid: raw.Login(host, user, password, "")}
	}
	raw := servertest.DialRaw(t, s.C2SAddr)
	raw.Open(host)
	raw.Write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'>` + base64.StdEncoding.EncodeToString([]byte("x")) + `</auth>`)
	if el := raw.Next(); el.Name.Local != "success" {
		t.Fatalf("anonymous login: %s", el)
	}
	raw.R.Restart()
	raw.Open(host)
	raw.Write(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`)
	el := raw.Next()
	j := el.Child("", "bind").ChildText("", "jid")
	if j == "" {
		t.Fatalf("bind: %s", el)
	}
	return &dfUser{Raw: raw, jid: j}
}

func (u *dfUser) send(el *stanza.Element) { u.Write(string(stanza.AppendIn(nil, el, stanza.NSClient))) }

func (u *dfUser) next(match func(*stanza.Element) bool) *stanza.Element {
	u.T.Helper()
	for i, el := range u.backlog {
		if match(el) {
			u.backlog = append(u.backlog[:i], u.backlog[i+1:]...)
			return el
		}
	}
	for {
		el := u.Next()
		if match(el) {
			return el
		}
		u.backlog = append(u.backlog, el)
	}
}

// request sends an IQ with a fresh id and returns its response.
func (u *dfUser) request(typ, to string, payload *stanza.Element) *stanza.Element {
	u.T.Helper()
	u.n++
	id := fmt.Sprintf("q%d", u.n)
	iq := stanza.New(stanza.NSClient, "iq").Set("type", typ).Set("id", id).Set("to", to)
	if payload != nil {
		iq.Add(payload)
	}
	u.send(iq)
	return u.next(func(el *stanza.Element) bool { return el.Name.Local == "iq" && el.Get("id") == id })
}

// conference sends Jicofo's conference request for room, as
// lib-jitsi-meet does.
func (u *dfUser) conference(room string) *stanza.Element {
	u.T.Helper()
	c := stanza.New(jitsi.NSFocus, "conference").Set("room", room).Set("machine-uid", "e2e-machine")
	c.Add(stanza.New(jitsi.NSFocus, "property").Set("name", "disableRtx").Set("value", "false"))
	return u.request("set", "focus.localhost", c)
}

// join enters room with nick and returns the self-presence.
func (u *dfUser) join(room, nick string) *stanza.Element {
	u.T.Helper()
	p := stanza.New(stanza.NSClient, "presence").Set("to", room+"/"+nick)
	p.Add(stanza.New(muc.NS, "x"))
	u.send(p)
	return u.next(func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("from") == room+"/"+nick
	})
}

func (u *dfUser) leave(room, nick string) {
	u.send(stanza.New(stanza.NSClient, "presence").Set("to", room+"/"+nick).Set("type", "unavailable"))
}

// affiliationOf waits for a presence of room/nick with the given
// affiliation.
func (u *dfUser) waitAffiliation(room, nick, affiliation string) *stanza.Element {
	u.T.Helper()
	return u.next(func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("from") == room+"/"+nick && dfItem(el).Get("affiliation") == affiliation
	})
}

func dfItem(p *stanza.Element) *stanza.Element {
	if x := p.Child(muc.NSUser, "x"); x != nil {
		if it := x.Child(muc.NSUser, "item"); it != nil {
			return it
		}
	}
	return stanza.New(muc.NSUser, "item")
}

func dfCondition(el *stanza.Element) (typ, cond string) {
	e := el.Child(stanza.NSClient, "error")
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

func dfProps(c *stanza.Element) map[string]string {
	out := map[string]string{}
	for _, p := range c.Elements() {
		if p.Name.Local == "property" {
			out[p.Get("name")] = p.Get("value")
		}
	}
	return out
}

// TestDevFocusConferenceFlow plays lib-jitsi-meet's join sequence
// (JITSI.md §7 steps 4-5): the conference request is answered ready once
// the focus is in the room; the focus is visible with its real JID and
// caps; the first participant is made owner; ownership moves on when the
// owner leaves; the focus leaves with the last participant and comes back
// for the next request.
func TestDevFocusConferenceFlow(t *testing.T) {
	s := dfStart(t, "", jitsi.DevFocusOptions{})
	alice := dfLogin(t, s, "localhost", "", "")
	bob := dfLogin(t, s, "localhost", "", "")

	res := alice.conference(dfRoom)
	if res.Get("type") != "result" {
		t.Fatalf("conference request: %s", res)
	}
	c := res.Child(jitsi.NSFocus, "conference")
	if c == nil || c.Get("ready") != "true" || c.Get("focusjid") != "focus@focus.localhost" || c.Get("room") != dfRoom {
		t.Fatalf("conference reply: %s", res)
	}
	if p := dfProps(c); p["authentication"] != "false" || p["externalAuth"] != "false" || p["sipGatewayEnabled"] != "false" {
		t.Fatalf("conference properties: %v", p)
	}

	self := alice.join(dfRoom, "alice123")
	if got := dfItem(self).Get("role"); got != "participant" {
		t.Fatalf("alice joins as %q, want participant (the focus created the room): %s", got, self)
	}
	focus := alice.next(func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("from") == dfRoom+"/"+jitsi.DevFocusNick
	})
	// lib-jitsi-meet recognises the focus by its real JID's prefix
	// focusjid + "/" (ChatRoom.onPresence).
	if got := dfItem(focus).Get("jid"); got != dfFocusJID {
		t.Fatalf("focus real JID %q, want %q", got, dfFocusJID)
	}
	if dfItem(focus).Get("affiliation") != "owner" {
		t.Fatalf("focus is not owner: %s", focus)
	}
	if caps := focus.Child("http://jabber.org/protocol/caps", "c"); caps == nil || caps.Get("node") != jitsi.DevFocusCapsNode || caps.Get("ver") == "" {
		t.Fatalf("focus presence without caps: %s", focus)
	}
	if focus.Child(jitsi.NSFocus, "conference-properties") == nil {
		t.Fatalf("focus presence without conference-properties: %s", focus)
	}
	alice.waitAffiliation(dfRoom, "alice123", "owner")
	if !dfRoomListed(t, alice, dfRoom) {
		t.Fatal("the room is not listed while in use")
	}

	// A second conference request for the same room is answered at once.
	if res := bob.conference(dfRoom); res.Get("type") != "result" {
		t.Fatalf("second conference request: %s", res)
	}
	bobSelf := bob.join(dfRoom, "bob45678")
	if got := dfItem(bobSelf).Get("affiliation"); got != "none" {
		t.Fatalf("bob is %q, want none while alice owns the room", got)
	}
	// Real JIDs are public (the focus submitted whois anyone).
	aliceSeen := bob.next(func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("from") == dfRoom+"/alice123"
	})
	if dfItem(aliceSeen).Get("jid") != alice.jid {
		t.Fatalf("bob does not see alice's real JID: %s", aliceSeen)
	}

	alice.leave(dfRoom, "alice123")
	bob.waitAffiliation(dfRoom, "bob45678", "owner")

	bob.leave(dfRoom, "bob45678")
	bob.next(func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("from") == dfRoom+"/bob45678" && el.Get("type") == "unavailable"
	})
	// The room ends with its last participant; a new request brings the
	// focus back into a fresh room.
	servertest.Eventually(t, "the condition", func() bool { return !dfRoomListed(t, bob, dfRoom) })
	if res := bob.conference(dfRoom); res.Get("type") != "result" {
		t.Fatalf("conference request after the end: %s", res)
	}
	again := bob.join(dfRoom, "bob45678")
	if dfItem(again).Get("role") == "" {
		t.Fatalf("rejoin: %s", again)
	}
	bob.waitAffiliation(dfRoom, "bob45678", "owner")
}

// dfRoomListed reports whether the MUC service lists room in disco#items.
func dfRoomListed(t *testing.T, u *dfUser, room string) bool {
	t.Helper()
	_, service, _ := strings.Cut(room, "@")
	res := u.request("get", service, stanza.New("http://jabber.org/protocol/disco#items", "query"))
	q := res.Child("http://jabber.org/protocol/disco#items", "query")
	if q == nil {
		t.Fatalf("disco#items: %s", res)
	}
	for _, it := range q.Elements() {
		if it.Get("jid") == room {
			return true
		}
	}
	return false
}

// TestDevFocusRefusals covers requests the focus refuses.
func TestDevFocusRefusals(t *testing.T) {
	s := dfStart(t, "", jitsi.DevFocusOptions{})
	u := dfLogin(t, s, "localhost", "", "")
	tests := []struct {
		name     string
		room     string
		typ      string
		cond     string
		withRoom bool
	}{
		{name: "not a MUC domain", room: "room@localhost", typ: "modify", cond: "bad-request", withRoom: true},
		{name: "no room attribute", typ: "modify", cond: "bad-request"},
		{name: "full JID", room: dfRoom + "/nick", typ: "modify", cond: "bad-request", withRoom: true},
		{name: "health-check room (SECURITY-CASES 125)", room: jitsi.HealthCheckPrefix + "x@conference.localhost", typ: "cancel", cond: "not-allowed", withRoom: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := stanza.New(jitsi.NSFocus, "conference")
			if tc.withRoom {
				c.Set("room", tc.room)
			}
			res := u.request("set", "focus.localhost", c)
			if typ, cond := dfCondition(res); res.Get("type") != "error" || typ != tc.typ || cond != tc.cond {
				t.Fatalf("got %s %s/%s, want error %s/%s: %s", res.Get("type"), typ, cond, tc.typ, tc.cond, res)
			}
		})
	}
}

// TestDevFocusAuthenticatedOwners: with dev_focus_owner =
// "authenticated", only users of a non-anonymous host start conferences
// and they (not guests) become owners (JITSI.md §4.6).
func TestDevFocusAuthenticatedOwners(t *testing.T) {
	s := dfStart(t, `    dev_focus_owner = "authenticated"`+"\n", jitsi.DevFocusOptions{})
	guest := dfLogin(t, s, "localhost", "", "")
	member := dfLogin(t, s, "auth.localhost", "carol", "pw-carol")

	res := guest.conference(dfRoom)
	if typ, cond := dfCondition(res); typ != "auth" || cond != "not-authorized" {
		t.Fatalf("guest starting a conference: %s", res)
	}
	res = member.conference(dfRoom)
	c := res.Child(jitsi.NSFocus, "conference")
	if c == nil || dfProps(c)["authentication"] != "true" {
		t.Fatalf("member's conference request: %s", res)
	}
	member.join(dfRoom, "carol")
	member.waitAffiliation(dfRoom, "carol", "owner")

	if res := guest.conference(dfRoom); res.Get("type") != "result" {
		t.Fatalf("guest joining a started conference: %s", res)
	}
	if got := dfItem(guest.join(dfRoom, "guest")).Get("affiliation"); got != "none" {
		t.Fatalf("guest affiliation %q", got)
	}
	member.waitAffiliation(dfRoom, "guest", "none")
}

// TestDevFocusRefusedRoom: a focus that is not an admin under
// restrict_room_creation is refused the room, and the client gets an
// error instead of waiting forever.
func TestDevFocusRefusedRoom(t *testing.T) {
	s := servertest.Start(t, strings.Replace(dfConfig, `admins = { "focus@focus.localhost" }`, "", 1)+`
Component "restricted.localhost" "muc"
    restrict_room_creation = true
`, servertest.WithServerOptions(
		server.WithComponentType("muc", muc.Factory()),
		server.WithComponentType(jitsi.DevFocusType, jitsi.DevFocusFactory(jitsi.DevFocusOptions{})),
	))
	u := dfLogin(t, s, "localhost", "", "")
	res := u.conference("room@restricted.localhost")
	if typ, cond := dfCondition(res); typ != "cancel" || cond != "service-unavailable" {
		t.Fatalf("conference in a refused room: %s", res)
	}
}

// TestDevFocusIdleRoom: the focus leaves a room nobody joined.
func TestDevFocusIdleRoom(t *testing.T) {
	s := dfStart(t, "", jitsi.DevFocusOptions{IdleTimeout: time.Second})
	u := dfLogin(t, s, "localhost", "", "")
	if res := u.conference(dfRoom); res.Get("type") != "result" {
		t.Fatalf("conference request: %s", res)
	}
	if !dfRoomListed(t, u, dfRoom) {
		t.Fatal("the focus is not in the room it was asked for")
	}
	servertest.Eventually(t, "the condition", func() bool { return !dfRoomListed(t, u, dfRoom) })
}

// TestDevFocusBrewery: the focus sits in the JVB brewery like Jicofo.
func TestDevFocusBrewery(t *testing.T) {
	s := dfStart(t, "", jitsi.DevFocusOptions{})
	jvb := dfLogin(t, s, "auth.localhost", "jvb", "pw-jvb")
	const brewery = "jvbbrewery@internal.auth.localhost"
	servertest.Eventually(t, "the condition", func() bool { return dfRoomListed(t, jvb, brewery) })
	p := stanza.New(stanza.NSClient, "presence").Set("to", brewery+"/jvb1")
	p.Add(stanza.New(muc.NS, "x"))
	jvb.send(p)
	focus := jvb.next(func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("from") == brewery+"/"+jitsi.DevFocusNick
	})
	if focus.Get("type") != "" {
		t.Fatalf("focus in the brewery: %s", focus)
	}
}

// TestDevFocusDisco covers disco#info (with the caps node) and ping.
func TestDevFocusDisco(t *testing.T) {
	s := dfStart(t, "", jitsi.DevFocusOptions{})
	u := dfLogin(t, s, "localhost", "", "")
	res := u.request("get", "focus.localhost", stanza.New("http://jabber.org/protocol/disco#info", "query"))
	q := res.Child("http://jabber.org/protocol/disco#info", "query")
	if q == nil {
		t.Fatalf("disco#info: %s", res)
	}
	var feats []string
	for _, c := range q.Elements() {
		if c.Name.Local == "feature" {
			feats = append(feats, c.Get("var"))
		}
	}
	for _, want := range []string{jitsi.NSFocus, "urn:xmpp:ping", "http://jabber.org/protocol/caps"} {
		if !strings.Contains(strings.Join(feats, " "), want) {
			t.Errorf("feature %s missing from %v", want, feats)
		}
	}

	// The caps hash in the focus's presence names a node that answers.
	if res := u.conference(dfRoom); res.Get("type") != "result" {
		t.Fatal(res)
	}
	u.join(dfRoom, "u")
	focus := u.next(func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("from") == dfRoom+"/"+jitsi.DevFocusNick
	})
	caps := focus.Child("http://jabber.org/protocol/caps", "c")
	node := caps.Get("node") + "#" + caps.Get("ver")
	res = u.request("get", dfRoom+"/"+jitsi.DevFocusNick, stanza.New("http://jabber.org/protocol/disco#info", "query").Set("node", node))
	if res.Get("type") != "result" {
		t.Fatalf("disco#info of the caps node through the room: %s", res)
	}
	res = u.request("get", "focus.localhost", stanza.New("http://jabber.org/protocol/disco#info", "query").Set("node", "other#x"))
	if _, cond := dfCondition(res); cond != "item-not-found" {
		t.Fatalf("unknown node: %s", res)
	}
	if res := u.request("get", dfFocusJID, stanza.New("urn:xmpp:ping", "ping")); res.Get("type") != "result" {
		t.Fatalf("ping: %s", res)
	}
	if res := u.request("get", "focus.localhost", stanza.New("jabber:iq:version", "query")); res.Get("type") != "error" {
		t.Fatalf("unsupported IQ: %s", res)
	}
}

// TestDevFocusConfigErrors covers options the factory refuses.
func TestDevFocusConfigErrors(t *testing.T) {
	tests := []struct {
		name, section, want string
	}{
		{name: "unknown owner policy", section: `dev_focus_owner = "everyone"`, want: "dev_focus_owner"},
		{name: "brewery outside any MUC", section: `dev_focus_brewery = "jvbbrewery@localhost"`, want: "dev_focus_brewery"},
		{name: "brewery with a resource", section: `dev_focus_brewery = "b@internal.auth.localhost/x"`, want: "dev_focus_brewery"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse("df.cfg.lua", []byte(servertest.Defaults+dfConfig+"    "+tc.section+"\n"),
				config.WithEnv(func(string) (string, bool) { return "", false }))
			if err != nil {
				t.Fatal(err)
			}
			srv, err := server.New(cfg,
				server.WithComponentType("muc", muc.Factory()),
				server.WithComponentType(jitsi.DevFocusType, jitsi.DevFocusFactory(jitsi.DevFocusOptions{})))
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				err = srv.Start(ctx)
				_ = srv.Shutdown(ctx)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error about %s", err, tc.want)
			}
		})
	}
}

// FuzzDevFocusDeliver feeds arbitrary stanzas to the focus: it must
// neither panic nor stop answering.
func FuzzDevFocusDeliver(f *testing.F) {
	f.Add(`<iq type='set' id='1' from='u@localhost/r' to='focus.localhost'><conference xmlns='http://jitsi.org/protocol/focus' room='r@conference.localhost'/></iq>`)
	f.Add(`<presence from='r@conference.localhost/x' to='focus@focus.localhost/focus'><x xmlns='http://jabber.org/protocol/muc#user'><item jid='u@localhost/r' affiliation='none' role='participant'/></x></presence>`)
	f.Add(`<presence type='unavailable' from='r@conference.localhost/focus'/>`)
	f.Add(`<iq type='result' id='devfocus-00' from='r@conference.localhost'/>`)
	f.Add(`<iq type='get' id='2' from='u@localhost/r' to='focus.localhost'><query xmlns='http://jabber.org/protocol/disco#info' node='x'/></iq>`)
	cfg, err := config.Parse("df.cfg.lua", []byte(servertest.Defaults+dfConfig), config.WithEnv(func(string) (string, bool) { return "", false }))
	if err != nil {
		f.Fatal(err)
	}
	srv, err := server.New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	ch := &server.ComponentHost{Name: "focus.localhost", Config: cfg.Component("focus.localhost"), Server: srv}
	df, err := jitsi.NewDevFocus(context.Background(), ch, jitsi.DevFocusOptions{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = df.Stop(context.Background()) })
	f.Fuzz(func(t *testing.T, text string) {
		el, err := stanza.Parse([]byte(text), stanza.Limits{})
		if err != nil {
			return
		}
		el.Name.Space = stanza.NSClient
		df.Deliver(context.Background(), el)
	})
}

// BenchmarkDevFocusConferenceReady measures a conference request for a
// room the focus is already in, end to end over c2s.
func BenchmarkDevFocusConferenceReady(b *testing.B) {
	s := servertest.Start(b, dfConfig, servertest.WithServerOptions(
		server.WithComponentType("muc", muc.Factory(jitsi.MUCModules()...)),
		server.WithComponentType(jitsi.DevFocusType, jitsi.DevFocusFactory(jitsi.DevFocusOptions{})),
	))
	s.CreateUser("bench", "auth.localhost", "pw")
	raw := servertest.DialRaw(b, s.C2SAddr)
	raw.Login("auth.localhost", "bench", "pw", "r")
	req := `<iq type='set' id='b' to='focus.localhost'><conference xmlns='http://jitsi.org/protocol/focus' room='` + dfRoom + `'/></iq>`
	raw.Write(req)
	if el := raw.Next(); el.Get("type") != "result" {
		b.Fatal(el)
	}
	b.ResetTimer()
	for b.Loop() {
		raw.Write(req)
		if el := raw.Next(); el.Get("type") != "result" {
			b.Fatal(el)
		}
	}
}

// TestDevFocusReleasesHeldJoins is SECURITY-CASES 124 through the focus: a
// participant who joins before the focus is held by the jicofo lock, and
// enters once a conference request brings the focus in.
func TestDevFocusReleasesHeldJoins(t *testing.T) {
	s := dfStart(t, "", jitsi.DevFocusOptions{})
	early := dfLogin(t, s, "localhost", "", "")
	other := dfLogin(t, s, "localhost", "", "")
	p := stanza.New(stanza.NSClient, "presence").Set("to", dfRoom+"/early")
	p.Add(stanza.New(muc.NS, "x"))
	early.send(p)
	if res := other.conference(dfRoom); res.Get("type") != "result" {
		t.Fatalf("conference request: %s", res)
	}
	self := early.next(func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("from") == dfRoom+"/early"
	})
	if self.Get("type") == "error" {
		t.Fatalf("held join refused: %s", self)
	}
	early.next(func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("from") == dfRoom+"/"+jitsi.DevFocusNick
	})
	// The early participant created the room, or is the first one
	// auto-owner picks: either way it ends up owner.
	if dfItem(self).Get("affiliation") != "owner" {
		early.waitAffiliation(dfRoom, "early", "owner")
	}
}

// TestDevFocusAdminPlacement covers where the focus is listed as admin
// under restrict_room_creation (SECURITY-CASES 122): in the MUC section
// alone is enough; nowhere means the room is refused.
func TestDevFocusAdminPlacement(t *testing.T) {
	tests := []struct {
		name    string
		global  string
		section string
		ok      bool
	}{
		{name: "global admins", global: `admins = { "focus@focus.localhost" }`, ok: true},
		{name: "MUC component admins only (SECURITY-CASES 122)", section: `    admins = { "focus@focus.localhost" }`, ok: true},
		{name: "not an admin", ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.global + `
allow_unencrypted_plain_auth = true
VirtualHost "localhost"
    authentication = "anonymous"
Component "focus.localhost" "dev_focus"
Component "conference.localhost" "muc"
    restrict_room_creation = true
    muc_room_locking = false
` + tc.section + "\n"
			s := servertest.Start(t, cfg, servertest.WithServerOptions(
				server.WithComponentType("muc", muc.Factory(jitsi.MUCModules()...)),
				server.WithComponentType(jitsi.DevFocusType, jitsi.DevFocusFactory(jitsi.DevFocusOptions{})),
			))
			u := dfLogin(t, s, "localhost", "", "")
			res := u.conference(dfRoom)
			if got := res.Get("type") == "result"; got != tc.ok {
				t.Fatalf("conference request answered %s, want success %v", res, tc.ok)
			}
		})
	}
}
