package jitsi_test

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/httpx/transporttest"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
	"github.com/parley-xmpp/parley/server/websocket"
)

// Tests of muc_breakout_rooms (JITSI.md §2 P1 Breakout rooms), over real
// WebSocket sessions carrying the room parameter as jitsi-meet's do.

const (
	boDomain   = "meet.example.test"
	boAuth     = "auth.meet.example.test"
	boConf     = "conference.meet.example.test"
	boBreakout = "breakout.meet.example.test"
	boRoom     = "meeting"
	boMain     = boRoom + "@" + boConf
)

type boEnv struct {
	*servertest.Server
	t testing.TB
}

// boStart runs the main host with muc_breakout_rooms, a conference MUC and
// a breakout MUC configured as Jitsi ships it (restricted creation: jicofo
// creates breakout rooms).
func boStart(t *testing.T, opts jitsi.BreakoutRoomsOptions) *boEnv { return boStartTB(t, opts) }

func boStartTB(t testing.TB, opts jitsi.BreakoutRoomsOptions) *boEnv {
	t.Helper()
	cfg := `
modules_enabled = { "websocket" }
consider_websocket_secure = true
admins = { "focus@` + boAuth + `" }
muc_mapper_domain_base = "` + boDomain + `"
VirtualHost "` + boDomain + `"
    authentication = "internal_plain"
    modules_enabled = { "muc_breakout_rooms" }
    main_muc = "` + boConf + `"
    breakout_rooms_muc = "` + boBreakout + `"
VirtualHost "` + boAuth + `"
    authentication = "internal_plain"
Component "` + boConf + `" "muc"
    muc_room_locking = false
Component "` + boBreakout + `" "muc"
    restrict_room_creation = true
    muc_room_locking = false
    muc_room_default_public_jids = true
`
	srv := servertest.Start(t, cfg, servertest.WithServerOptions(
		server.WithModules(websocket.New(websocket.Options{}), jitsi.NewBreakoutRooms(opts)),
		server.WithComponentType("muc", muc.Factory(jitsi.MUCModules()...)),
	))
	return &boEnv{Server: srv, t: t}
}

func boFast() jitsi.BreakoutRoomsOptions {
	return jitsi.BreakoutRoomsOptions{BroadcastInterval: 10 * time.Millisecond, CloseDelay: 50 * time.Millisecond}
}

type boClient struct {
	*transporttest.WS
	t   testing.TB
	jid string
}

// client logs user@host in over WebSocket with ?room=meeting (unless
// noRoom) and binds.
func (e *boEnv) client(user, host string, room bool) *boClient {
	e.t.Helper()
	q := url.Values{}
	if room {
		q.Set("room", boRoom)
	}
	return e.clientQ(user, host, q)
}

// clientQ logs in with the URL query q.
func (e *boEnv) clientQ(user, host string, q url.Values) *boClient {
	e.t.Helper()
	e.CreateUser(user, host, "pw-"+user)
	ws := transporttest.DialWS(e.t, transporttest.WSURL(e.HTTPURL, q.Encode()), nil)
	full := ws.Login(host, sasl.Plain, user, "pw-"+user)
	return &boClient{WS: ws, t: e.t, jid: full}
}

func (e *boEnv) service(domain string) *muc.Service {
	e.t.Helper()
	svc, ok := e.Component(domain).(*muc.Service)
	if !ok {
		e.t.Fatalf("no MUC at %s", domain)
	}
	return svc
}

// join enters a room with a display name and returns the self-presence or
// the error.
func (c *boClient) join(occupant, display string) *stanza.Element {
	c.t.Helper()
	c.Send(`<presence xmlns='jabber:client' to='` + occupant + `'><x xmlns='` + muc.NS + `'/>` +
		`<nick xmlns='http://jabber.org/protocol/nick'>` + display + `</nick></presence>`)
	return c.NextMatch(func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && strings.EqualFold(el.Get("from"), occupant) &&
			(el.Get("type") == "error" || tkHasStatus(el, "110"))
	})
}

func (c *boClient) mustJoin(occupant, display string) {
	c.t.Helper()
	if p := c.join(occupant, display); p.Get("type") == "error" {
		c.t.Fatalf("%s: join %s refused: %s", c.jid, occupant, p)
	}
}

// leave leaves a room with a status (switch_room when moving).
func (c *boClient) leave(occupant, status string) {
	c.t.Helper()
	c.Send(`<presence xmlns='jabber:client' type='unavailable' to='` + occupant + `'><status>` + status + `</status></presence>`)
	c.NextMatch(func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("type") == "unavailable" && strings.EqualFold(el.Get("from"), occupant)
	})
}

// command sends <breakout_rooms/> to the breakout component as
// lib-jitsi-meet does (no namespace of its own: jabber:client).
func (c *boClient) command(id string, attrs map[string]string) {
	c.t.Helper()
	var b strings.Builder
	b.WriteString(`<message xmlns='jabber:client' id='` + id + `' to='` + boBreakout + `'><breakout_rooms`)
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteString(` ` + k + `='` + attrs[k] + `'`)
	}
	b.WriteString(`/></message>`)
	c.Send(b.String())
}

// json returns the payload of a json-message from the breakout component.
func boJSON(el *stanza.Element) (map[string]any, bool) {
	if el.Name.Local != "message" || el.Get("from") != boBreakout {
		return nil, false
	}
	txt, ok := jitsi.JSONPayload(el)
	if !ok {
		return nil, false
	}
	var m map[string]any
	if json.Unmarshal([]byte(txt), &m) != nil {
		return nil, false
	}
	return m, true
}

// update waits for an update satisfying ok (updates are debounced, so
// intermediate states may come first).
func (c *boClient) update(ok func(u jitsi.BreakoutUpdate) bool) jitsi.BreakoutUpdate {
	c.t.Helper()
	var got jitsi.BreakoutUpdate
	c.NextMatch(func(el *stanza.Element) bool {
		if _, isJSON := boJSON(el); !isJSON {
			return false
		}
		txt, _ := jitsi.JSONPayload(el)
		var u jitsi.BreakoutUpdate
		if json.Unmarshal([]byte(txt), &u) != nil || u.Type != jitsi.BreakoutRoomsType || u.Event != jitsi.BreakoutEventUpdate {
			return false
		}
		got = u
		return ok(u)
	})
	return got
}

// breakoutOf returns the only breakout room of an update.
// addBreakout has moderator c add the breakout room "G", has focus join
// it (jicofo creates breakout rooms) and returns its JID.
func (c *boClient) addBreakout(t *testing.T, focus *boClient) string {
	t.Helper()
	c.command("a1", map[string]string{"type": jitsi.BreakoutActionAdd, "subject": "G"})
	bj, _, _ := breakoutOf(t, c.update(func(u jitsi.BreakoutUpdate) bool { return len(u.Rooms) == 2 }))
	focus.mustJoin(bj+"/focus", "")
	return bj
}

func breakoutOf(t *testing.T, u jitsi.BreakoutUpdate) (jid, name string, participants int) {
	t.Helper()
	for _, r := range boRooms(u) {
		if !r.main {
			return r.jid, r.name, r.participants
		}
	}
	t.Fatalf("no breakout room in %+v", u)
	return "", "", 0
}

type boRoomView struct {
	main         bool
	jid, name    string
	participants int
	nicks        []string
}

// boRooms re-reads an update through its JSON form, as lib-jitsi-meet does.
func boRooms(u jitsi.BreakoutUpdate) []boRoomView {
	b, _ := json.Marshal(u.Rooms)
	var rooms map[string]struct {
		IsMainRoom   bool   `json:"isMainRoom"`
		ID           string `json:"id"`
		JID          string `json:"jid"`
		Name         string `json:"name"`
		Participants map[string]struct {
			JID         string `json:"jid"`
			Role        string `json:"role"`
			DisplayName string `json:"displayName"`
		} `json:"participants"`
	}
	_ = json.Unmarshal(b, &rooms)
	var out []boRoomView
	for id, r := range rooms {
		if id != r.ID {
			continue
		}
		v := boRoomView{main: r.IsMainRoom, jid: r.JID, name: r.Name, participants: len(r.Participants)}
		for k, p := range r.Participants {
			v.nicks = append(v.nicks, k+"|"+p.Role+"|"+p.DisplayName)
		}
		slices.Sort(v.nicks)
		out = append(out, v)
	}
	return out
}

func mainView(u jitsi.BreakoutUpdate) boRoomView {
	for _, r := range boRooms(u) {
		if r.main {
			return r
		}
	}
	return boRoomView{}
}

// TestBreakoutRoomsLifecycle walks JITSI.md §2 P1 Breakout rooms end to
// end: a moderator adds a room, everyone gets the update, a participant is
// asked to move, joins the breakout room (created by jicofo), the counts
// follow, rename changes the subject, remove sends the participant back
// and the end of the main room closes the remaining breakout rooms.
func TestBreakoutRoomsLifecycle(t *testing.T) {
	e := boStart(t, boFast())
	alice := e.client("alice", boDomain, true)
	bob := e.client("bob", boDomain, true)
	focus := e.client("focus", boAuth, false)

	alice.mustJoin(boMain+"/alice", "Alice") // creator: owner, moderator
	bob.mustJoin(boMain+"/bob", "Bob")
	focus.mustJoin(boMain+"/focus", "")

	alice.command("a1", map[string]string{"type": jitsi.BreakoutActionAdd, "subject": "Group 1"})
	check := func(u jitsi.BreakoutUpdate) bool { return len(u.Rooms) == 2 }
	u := alice.update(check)
	bu := bob.update(check)
	if u.RoomCounter != 1 || bu.RoomCounter != 1 {
		t.Fatalf("roomCounter = %d/%d, want 1", u.RoomCounter, bu.RoomCounter)
	}
	bj, name, n := breakoutOf(t, u)
	if name != "Group 1" || n != 0 || !strings.HasSuffix(bj, "@"+boBreakout) {
		t.Fatalf("breakout room = %q %q %d participants", bj, name, n)
	}
	mv := mainView(u)
	wantMain := []string{
		boMain + "/alice|moderator|Alice",
		boMain + "/bob|participant|Bob",
	}
	if mv.jid != boMain || !slices.Equal(mv.nicks, wantMain) {
		t.Fatalf("main room = %q %v, want %v (no focus)", mv.jid, mv.nicks, wantMain)
	}

	// Move: bob is asked to switch, with the target as given.
	alice.command("m1", map[string]string{"type": jitsi.BreakoutActionMove, "participantJid": bob.jid, "roomJid": bj})
	mvMsg := bob.NextMatch(func(el *stanza.Element) bool {
		m, ok := boJSON(el)
		return ok && m["event"] == jitsi.BreakoutActionMove
	})
	if m, _ := boJSON(mvMsg); m["type"] != jitsi.BreakoutRoomsType || m["roomJid"] != bj {
		t.Fatalf("move request = %v", m)
	}

	// jicofo creates the breakout room, bob switches into it.
	focus.mustJoin(bj+"/focus", "")
	bob.leave(boMain+"/bob", jitsi.BreakoutSwitchStatus)
	self := bob.join(bj+"/bob", "Bob")
	if self.Get("type") == "error" {
		t.Fatalf("bob cannot join the breakout room: %s", self)
	}
	subj := bob.NextMatch(func(el *stanza.Element) bool {
		return el.Name.Local == "message" && el.Child(stanza.NSClient, "subject") != nil
	})
	if got := subj.ChildText(stanza.NSClient, "subject"); got != "Group 1" {
		t.Fatalf("breakout room subject = %q", got)
	}
	u = alice.update(func(u jitsi.BreakoutUpdate) bool {
		_, _, n := breakoutOf(t, u)
		return n == 1 && mainView(u).participants == 1
	})
	for _, r := range boRooms(u) {
		if !r.main && !slices.Equal(r.nicks, []string{bj + "/bob|participant|Bob"}) {
			t.Fatalf("breakout participants = %v", r.nicks)
		}
	}
	// Occupants of breakout rooms get the updates too.
	bob.update(func(u jitsi.BreakoutUpdate) bool { _, _, n := breakoutOf(t, u); return n == 1 })

	// Rename changes the name in updates and the room subject.
	alice.command("r1", map[string]string{"type": jitsi.BreakoutActionRename, "breakoutRoomJid": bj, "subject": "Renamed"})
	subj = bob.NextMatch(func(el *stanza.Element) bool {
		return el.Name.Local == "message" && el.Child(stanza.NSClient, "subject") != nil
	})
	if got := subj.ChildText(stanza.NSClient, "subject"); got != "Renamed" {
		t.Fatalf("renamed subject = %q", got)
	}
	alice.update(func(u jitsi.BreakoutUpdate) bool { _, name, _ := breakoutOf(t, u); return name == "Renamed" })

	// Remove: bob's room is destroyed with the main room as the venue.
	alice.command("d1", map[string]string{"type": jitsi.BreakoutActionRemove, "breakoutRoomJid": bj})
	gone := bob.NextMatch(func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("type") == "unavailable" && el.Get("from") == bj+"/bob"
	})
	d := gone.Child(muc.NSUser, "x").Child(muc.NSUser, "destroy")
	if d == nil || d.Get("jid") != boMain || d.ChildText(muc.NSUser, "reason") != "Breakout room removed." {
		t.Fatalf("destroy presence = %s", gone)
	}
	u = alice.update(func(u jitsi.BreakoutUpdate) bool { return len(u.Rooms) == 1 })
	if !mainView(u).main {
		t.Fatalf("the remaining room is not the main room: %+v", u)
	}
	bob.mustJoin(boMain+"/bob", "Bob")

	// A second breakout room; then the main room ends (its owner destroys
	// it) and the breakout room is closed too.
	alice.command("a2", map[string]string{"type": jitsi.BreakoutActionAdd, "subject": "Group 2"})
	u = alice.update(func(u jitsi.BreakoutUpdate) bool { return len(u.Rooms) == 2 })
	if u.RoomCounter != 2 {
		t.Fatalf("roomCounter = %d, want 2", u.RoomCounter)
	}
	bj2, _, _ := breakoutOf(t, u)
	focus.mustJoin(bj2+"/focus", "")
	bob.leave(boMain+"/bob", jitsi.BreakoutSwitchStatus)
	bob.mustJoin(bj2+"/bob", "Bob")
	alice.Send(`<iq xmlns='jabber:client' type='set' id='end1' to='` + boMain + `'><query xmlns='` + muc.NSOwner + `'><destroy><reason>bye</reason></destroy></query></iq>`)
	gone = bob.NextMatch(func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("type") == "unavailable" && el.Get("from") == bj2+"/bob"
	})
	if d := gone.Child(muc.NSUser, "x").Child(muc.NSUser, "destroy"); d == nil || d.ChildText(muc.NSUser, "reason") != "bye" {
		t.Fatalf("breakout room closing presence = %s", gone)
	}
	if rooms := e.service(boBreakout).Rooms(); len(rooms) != 0 {
		t.Fatalf("breakout rooms left: %v", rooms)
	}
}

// TestBreakoutRoomsRefusals: commands from non-moderators, from sessions
// without a room, and for rooms of other conferences are ignored and
// answered service-unavailable by the MUC as on Prosody.
func TestBreakoutRoomsRefusals(t *testing.T) {
	e := boStart(t, boFast())
	alice := e.client("alice", boDomain, true)
	bob := e.client("bob", boDomain, true)
	carol := e.client("carol", boDomain, false)
	alice.mustJoin(boMain+"/alice", "Alice")
	bob.mustJoin(boMain+"/bob", "Bob")
	carol.mustJoin(boMain+"/carol", "Carol")

	cases := []struct {
		name string
		c    *boClient
		typ  string
	}{
		{"participant add", bob, jitsi.BreakoutActionAdd},
		{"session without room", carol, jitsi.BreakoutActionAdd},
		{"unknown type", alice, "features/breakout-rooms/nope"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := "x" + string(rune('0'+i))
			tc.c.command(id, map[string]string{"type": tc.typ, "subject": "S"})
			reply := tc.c.NextMatch(func(el *stanza.Element) bool {
				return el.Name.Local == "message" && el.Get("id") == id
			})
			if _, cond, _ := tkStanzaError(reply); reply.Get("type") != "error" || cond != "service-unavailable" {
				t.Fatalf("reply = %s", reply)
			}
		})
	}
	// A moderator cannot remove or move into rooms that are not theirs.
	alice.command("m1", map[string]string{"type": jitsi.BreakoutActionMove, "participantJid": bob.jid, "roomJid": "nope@" + boBreakout})
	reply := alice.NextMatch(func(el *stanza.Element) bool { return el.Get("id") == "m1" })
	if reply.Get("type") != "error" {
		t.Fatalf("move to an unknown room: %s", reply)
	}
	if rooms := e.service(boBreakout).Rooms(); len(rooms) != 0 {
		t.Fatalf("rooms created: %v", rooms)
	}
	// Nothing was broadcast: the first json-message bob gets is the
	// update of a real add.
	alice.command("a1", map[string]string{"type": jitsi.BreakoutActionAdd, "subject": "Real"})
	u := bob.update(func(jitsi.BreakoutUpdate) bool { return true })
	if u.RoomCounter != 1 {
		t.Fatalf("first update has roomCounter %d, want 1", u.RoomCounter)
	}
}

// TestBreakoutRoomsJoinChecks: unregistered breakout rooms cannot be
// created even by jicofo, a session that never joined the main room cannot
// enter a breakout room (SECURITY-CASES 145), and a nick used in the
// conference or kept for a switching user is a conflict (SECURITY-CASES
// 126).
func TestBreakoutRoomsJoinChecks(t *testing.T) {
	e := boStart(t, boFast())
	alice := e.client("alice", boDomain, true)
	bob := e.client("bob", boDomain, true)
	mallory := e.client("mallory", boDomain, true)
	focus := e.client("focus", boAuth, false)

	if p := focus.join("00000000-0000-0000-0000-000000000000@"+boBreakout+"/focus", ""); p.Get("type") != "error" {
		t.Fatalf("unregistered breakout room created: %s", p)
	}
	alice.mustJoin(boMain+"/alice", "Alice")
	bob.mustJoin(boMain+"/bob", "Bob")
	bj := alice.addBreakout(t, focus)

	cases := []struct {
		name     string
		c        *boClient
		occupant string
		cond     string
	}{
		{"never joined the main room", mallory, bj + "/mallory", "not-allowed"},
		{"nick of a main room occupant", alice, bj + "/bob", "conflict"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.c.join(tc.occupant, "X")
			if _, cond, _ := tkStanzaError(p); p.Get("type") != "error" || cond != tc.cond {
				t.Fatalf("join = %s, want %s", p, tc.cond)
			}
		})
	}
	// While bob switches, his nick is kept for him.
	bob.leave(boMain+"/bob", jitsi.BreakoutSwitchStatus)
	mallory.mustJoin(boMain+"/mallory", "M")
	if p := mallory.join(bj+"/bob", "M"); p.Get("type") != "error" {
		t.Fatalf("switching nick taken: %s", p)
	}
	bob.mustJoin(bj+"/bob", "Bob")
	// The main room's owner is a moderator in the breakout room.
	alice.leave(boMain+"/alice", jitsi.BreakoutSwitchStatus)
	self := alice.join(bj+"/alice", "Alice")
	if item := self.Child(muc.NSUser, "x").Child(muc.NSUser, "item"); item == nil || item.Get("role") != "moderator" {
		t.Fatalf("owner of the main room in the breakout room: %s", self)
	}
}

// TestBreakoutRoomsDiscoAndForm: breakout rooms carry isbreakout and the
// main room in disco#info and in the config form; the host announces the
// component and its rename feature.
func TestBreakoutRoomsDiscoAndForm(t *testing.T) {
	e := boStart(t, boFast())
	alice := e.client("alice", boDomain, true)
	focus := e.client("focus", boAuth, false)
	alice.mustJoin(boMain+"/alice", "Alice")
	bj := alice.addBreakout(t, focus)
	alice.leave(boMain+"/alice", jitsi.BreakoutSwitchStatus)
	alice.mustJoin(bj+"/alice", "Alice")

	info := alice.Exchange(`<iq xmlns='jabber:client' type='get' id='d1' to='` + bj + `'><query xmlns='` + muc.NSDiscoInfo + `'/></iq>`)
	for info.Get("id") != "d1" {
		info = alice.Next()
	}
	x := info.Child(muc.NSDiscoInfo, "query").Child(muc.NSDataForms, "x")
	form := focus.Exchange(`<iq xmlns='jabber:client' type='get' id='c1' to='` + bj + `'><query xmlns='` + muc.NSOwner + `'/></iq>`)
	for form.Get("id") != "c1" {
		form = focus.Next()
	}
	fx := form.Child(muc.NSOwner, "query").Child(muc.NSDataForms, "x")
	for _, tc := range []struct {
		name string
		x    *stanza.Element
	}{{"disco#info", x}, {"config form", fx}} {
		t.Run(tc.name, func(t *testing.T) {
			if v, ok := fieldValue(tc.x, jitsi.BreakoutIsBreakoutField); !ok || v != "1" {
				t.Errorf("%s = %q %v", jitsi.BreakoutIsBreakoutField, v, ok)
			}
			if v, _ := fieldValue(tc.x, jitsi.BreakoutMainRoomField); v != boMain {
				t.Errorf("%s = %q", jitsi.BreakoutMainRoomField, v)
			}
		})
	}

	var main string
	var ok bool
	if err := e.service(boBreakout).Do(context.Background(), bj, func(r *muc.Room) { main, ok = jitsi.BreakoutMainRoom(r) }); err != nil || !ok || main != boMain {
		t.Fatalf("BreakoutMainRoom = %q %v (%v)", main, ok, err)
	}

	host := alice.Exchange(`<iq xmlns='jabber:client' type='get' id='h1' to='` + boDomain + `'><query xmlns='` + muc.NSDiscoInfo + `'/></iq>`)
	for host.Get("id") != "h1" {
		host = alice.Next()
	}
	found := false
	for _, id := range host.Child(muc.NSDiscoInfo, "query").Elements() {
		if id.Name.Local == "identity" && id.Get("category") == "component" && id.Get("type") == jitsi.BreakoutRoomsType && id.Get("name") == boBreakout {
			found = true
		}
	}
	if !found {
		t.Fatalf("no breakout_rooms identity: %s", host)
	}
	node := alice.Exchange(`<iq xmlns='jabber:client' type='get' id='n1' to='` + boBreakout + `'><query xmlns='` + muc.NSDiscoInfo + `' node='breakout_rooms'/></iq>`)
	for node.Get("id") != "n1" {
		node = alice.Next()
	}
	q := node.Child(muc.NSDiscoInfo, "query")
	if node.Get("type") != "result" || q == nil || q.Get("node") != "breakout_rooms" ||
		!slices.ContainsFunc(q.Elements(), func(f *stanza.Element) bool { return f.Get("var") == jitsi.BreakoutRenameFeature }) {
		t.Fatalf("breakout_rooms node = %s", node)
	}
}

// TestBreakoutRoomsKeepAndClose: while a breakout room is occupied other
// modules cannot end the main room (maybe-destroy-room); once everybody
// left, the conference is closed after the close delay.
func TestBreakoutRoomsKeepAndClose(t *testing.T) {
	e := boStart(t, boFast())
	alice := e.client("alice", boDomain, true)
	focus := e.client("focus", boAuth, false)
	alice.mustJoin(boMain+"/alice", "Alice")
	bj := alice.addBreakout(t, focus)
	alice.leave(boMain+"/alice", jitsi.BreakoutSwitchStatus)
	alice.mustJoin(bj+"/alice", "Alice")

	ctx := context.Background()
	mainSvc := e.service(boConf)
	var gone bool
	if err := mainSvc.Do(ctx, boMain, func(r *muc.Room) { gone = r.MaybeDestroy(ctx, "end", "end_conference") }); err != nil {
		t.Fatalf("the empty main room is gone: %v", err)
	}
	if gone {
		t.Fatal("main room destroyed while its breakout room is occupied")
	}
	alice.leave(bj+"/alice", "")
	// The close delay is short: wait for the main room to go.
	servertest.Eventually(t, "the condition", func() bool { return !slices.Contains(mainSvc.Rooms(), boMain) })
	focus.NextMatch(func(el *stanza.Element) bool {
		return el.Name.Local == "presence" && el.Get("type") == "unavailable" && el.Get("from") == bj+"/focus"
	})
}

// TestBreakoutRoomsTenant: with a prefix (tenant) parameter the main room
// is [tenant]room on the MUC, and updates and room info use the tenant
// address clients know (room@conference.tenant.base).
func TestBreakoutRoomsTenant(t *testing.T) {
	e := boStart(t, boFast())
	alice := e.clientQ("alice", boDomain, url.Values{"room": {boRoom}, "prefix": {"acme"}})
	internal := "[acme]" + boMain
	external := boRoom + "@conference.acme." + boDomain
	alice.mustJoin(internal+"/alice", "Alice")
	alice.command("a1", map[string]string{"type": jitsi.BreakoutActionAdd, "subject": "T"})
	u := alice.update(func(u jitsi.BreakoutUpdate) bool { return len(u.Rooms) == 2 })
	mv := mainView(u)
	if mv.jid != external || !slices.Equal(mv.nicks, []string{external + "/alice|moderator|Alice"}) {
		t.Fatalf("main room = %q %v", mv.jid, mv.nicks)
	}
	if _, ok := u.Rooms[boRoom]; !ok {
		t.Fatalf("main room id is not the tenant-free node: %v", u.Rooms)
	}
}

// BenchmarkBreakoutRoomsPreStanza measures what the module adds to every
// stanza a client sends (its PreStanza handler on every host).
func BenchmarkBreakoutRoomsPreStanza(b *testing.B) {
	e := boStartTB(b, boFast())
	h := e.Host(boDomain)
	msg := stanza.New(stanza.NSClient, "message").Set("to", "bob@"+boDomain).Set("from", "alice@"+boDomain+"/r")
	msg.Add(stanza.New(stanza.NSClient, "body").AddText("hi"))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := h.Events.PreStanza.Fire(ctx, &server.StanzaEvent{Stanza: msg}); err != nil {
			b.Fatal(err)
		}
	}
}
