package jitsi_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"regexp"
	"testing"

	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/muc/muctest"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// Helpers shared by the jitsi tests.

func el(space, local string, attrs ...string) *stanza.Element {
	e := stanza.New(space, local)
	for i := 0; i+1 < len(attrs); i += 2 {
		e.Set(attrs[i], attrs[i+1])
	}
	return e
}

func iq(typ, id string, payload *stanza.Element) *stanza.Element {
	return el(stanza.NSClient, "iq", "type", typ, "id", id).Add(payload)
}

func errCond(e *stanza.Element) string {
	if e.Get("type") != "error" {
		return ""
	}
	for _, c := range e.Child("", "error").Elements() {
		if c.Name.Space == stanza.NSStanzas && c.Name.Local != "text" {
			return c.Name.Local
		}
	}
	return ""
}

func hasStatus(e *stanza.Element, code string) bool {
	x := e.Child(muc.NSUser, "x")
	if x == nil {
		return false
	}
	for _, c := range x.Elements() {
		if c.Name.Local == "status" && c.Get("code") == code {
			return true
		}
	}
	return false
}

func fieldValue(x *stanza.Element, v string) (string, bool) {
	if x == nil {
		return "", false
	}
	for _, f := range x.Elements() {
		if f.Get("var") == v {
			return f.ChildText(muc.NSDataForms, "value"), true
		}
	}
	return "", false
}

// harness builds a socket-free MUC with the Jitsi modules.
func harness(t *testing.T, globalCfg, componentCfg string, opts ...muc.Option) *muctest.Harness {
	t.Helper()
	return muctest.New(t, globalCfg, componentCfg, append(jitsi.MUCModules(), opts...)...)
}

// jitsiEnv is a running server whose MUC has the Jitsi modules.
type jitsiEnv struct {
	t   *testing.T
	srv *servertest.Server
}

func newJitsiEnv(t *testing.T, globalCfg, componentCfg string) *jitsiEnv {
	t.Helper()
	cfg := globalCfg + `
VirtualHost "localhost"
Component "conference.localhost" "muc"
` + componentCfg
	srv := servertest.Start(t, cfg, servertest.WithServerOptions(server.WithComponentType("muc", muc.Factory(jitsi.MUCModules()...))))
	return &jitsiEnv{t: t, srv: srv}
}

// client is a servertest.Client that writes with a never-cancelled
// context (see the muc package tests for the mellium write-deadline race).
type client struct {
	*servertest.Client
	t *testing.T
}

func (e *jitsiEnv) user(name string) *client {
	e.t.Helper()
	e.srv.CreateUser(name, "localhost", "pw-"+name)
	return &client{Client: e.srv.Connect(e.t, name+"@localhost", "pw-"+name, servertest.ClientOptions{}), t: e.t}
}

func (c *client) Send(e *stanza.Element) {
	c.t.Helper()
	if err := c.Session.Send(context.Background(), xml.NewDecoder(bytes.NewReader(stanza.AppendIn(nil, e, stanza.NSClient)))); err != nil {
		c.t.Fatalf("%s: send: %v", c.JID, err)
	}
}

func (c *client) join(occupantJID string) {
	c.Send(el(stanza.NSClient, "presence", "to", occupantJID).Add(el(muc.NS, "x")))
}

func (c *client) self(occupantJID string) *stanza.Element {
	c.t.Helper()
	return c.NextMatch(func(e *stanza.Element) bool {
		return e.Name.Local == "presence" && e.Get("from") == occupantJID && (hasStatus(e, "110") || e.Get("type") == "error")
	})
}

const conf = "conference.localhost"

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestMeetingIDInDiscoAndConfig(t *testing.T) {
	h := harness(t, `admins = { "focus@users.example.test" }`, `
    modules_enabled = { "muc_meeting_id" }
    muc_room_locking = false
`)
	focus, alice := muctest.User("focus"), muctest.User("alice")
	r := muctest.Room("meet")
	h.Join(focus, r+"/focus")
	h.Join(alice, r+"/alice")
	h.Sink.Reset()

	h.Send(alice, r, iq("get", "d1", el(muc.NSDiscoInfo, "query")))
	disco := h.Sink.Take(alice)[0]
	id, ok := fieldValue(disco.Child(muc.NSDiscoInfo, "query").Child(muc.NSDataForms, "x"), jitsi.MeetingIDField)
	if !ok || !uuidRE.MatchString(id) {
		t.Fatalf("meetingId in disco#info: %q in %s", id, disco)
	}
	h.Send(focus, r, iq("get", "c1", el(muc.NSOwner, "query")))
	form := h.Sink.Take(focus)[0]
	if v, _ := fieldValue(form.Child(muc.NSOwner, "query").Child(muc.NSDataForms, "x"), jitsi.MeetingIDField); v != id {
		t.Fatalf("meetingId in the config form: %q, want %q", v, id)
	}

	submit := func(from, value string) {
		x := el(muc.NSDataForms, "x", "type", "submit").Add(
			el(muc.NSDataForms, "field", "var", "FORM_TYPE").Add(el(muc.NSDataForms, "value").AddText(muc.NSRoomConfig)),
			el(muc.NSDataForms, "field", "var", jitsi.MeetingIDField).Add(el(muc.NSDataForms, "value").AddText(value)),
			el(muc.NSDataForms, "field", "var", "muc#roomconfig_moderatedroom").Add(el(muc.NSDataForms, "value").AddText("1")),
		)
		h.Send(from, r, iq("set", "s1", el(muc.NSOwner, "query").Add(x)))
	}
	// Alice is made owner but is not an admin: she cannot change it.
	_ = h.Service.Do(context.Background(), r, func(rm *muc.Room) {
		if err := rm.SetAffiliation(context.Background(), "", "alice@users.example.test", muc.AffiliationOwner, ""); err != nil {
			t.Fatal(err)
		}
	})
	submit(alice, "forged")
	submit(focus, "from-jicofo")
	_ = h.Service.Do(context.Background(), r, func(rm *muc.Room) {
		if got := jitsi.MeetingID(rm); got != "from-jicofo" {
			t.Errorf("meeting id = %q, want the admin's", got)
		}
		if rm.Config().Moderated {
			t.Error("moderatedroom submissions are ignored")
		}
	})
}

// TestJicofoLockOrdering is SECURITY-CASES 124: participants who join
// before jicofo are held, without any reply, and enter in their arrival
// order once the focus joins.
func TestJicofoLockOrdering(t *testing.T) {
	e := newJitsiEnv(t, ``, `
    modules_enabled = { "muc_meeting_id" }
    muc_room_locking = false
`)
	r := "meeting@" + conf
	var users []*client
	for i := range 4 {
		users = append(users, e.user(fmt.Sprintf("user%d", i)))
	}
	focus := e.user("focus")
	// user0 creates the room (creation is not restricted here) and is held
	// like everyone else.
	// Each join is followed by a ping on the same stream, so the server has
	// taken the joins in this order; and nothing comes back while the lock
	// holds: the first thing each user gets is its ping's answer.
	for i, u := range users {
		u.join(fmt.Sprintf("%s/user%d", r, i))
		u.Send(iq("get", "p1", el("urn:xmpp:ping", "ping")).Set("to", "localhost"))
		if got := u.Next(); got.Name.Local != "iq" || got.Get("id") != "p1" {
			t.Fatalf("a held join was answered: %s", got)
		}
	}
	focus.join(r + "/focus")
	// Focus sees the held participants in their order, then itself.
	for i := range users {
		p := focus.NextMatch(func(e *stanza.Element) bool { return e.Name.Local == "presence" })
		if want := fmt.Sprintf("%s/user%d", r, i); p.Get("from") != want {
			t.Fatalf("focus's occupant list #%d is %s, want %s", i, p.Get("from"), want)
		}
	}
	self := focus.self(r + "/focus")
	if self.Get("type") == "error" {
		t.Fatalf("focus: %s", self)
	}
	for i, u := range users {
		if p := u.self(fmt.Sprintf("%s/user%d", r, i)); p.Get("type") == "error" {
			t.Fatalf("user%d: %s", i, p)
		}
	}
	// After the lock, joins go straight in.
	late := e.user("late")
	late.join(r + "/late")
	if p := late.self(r + "/late"); p.Get("type") == "error" {
		t.Fatalf("late: %s", p)
	}
}

// TestHealthCheckRooms is SECURITY-CASES 125.
func TestHealthCheckRooms(t *testing.T) {
	h := harness(t, `admins = { "focus@users.example.test" }`, `
    modules_enabled = { "muc_meeting_id" }
    muc_room_locking = false
`)
	focus, alice := muctest.User("focus"), muctest.User("alice")
	r := muctest.Room(jitsi.HealthCheckPrefix + "-abc")
	h.Join(alice, r+"/alice")
	if got := h.Sink.Take(alice); len(got) != 1 || errCond(got[0]) != "service-unavailable" {
		t.Fatalf("non-focus creating a health room: %v", got)
	}
	h.Join(focus, r+"/focus")
	if got := h.Sink.Take(focus); len(got) == 0 || !hasStatus(got[0], "110") {
		t.Fatalf("focus: %v", got)
	}
	h.Join(alice, r+"/alice")
	if got := h.Sink.Take(alice); len(got) != 1 || errCond(got[0]) != "service-unavailable" {
		t.Fatalf("non-focus after focus: %v", got)
	}
	_ = h.Service.Do(context.Background(), r, func(rm *muc.Room) {
		if jitsi.MeetingID(rm) != "" {
			t.Error("health rooms get no meeting id")
		}
	})
}

func TestJicofoLockSkipsGoneSessionsAndCaps(t *testing.T) {
	h := harness(t, ``, `
    modules_enabled = { "muc_meeting_id" }
    muc_room_locking = false
`)
	r := muctest.Room("big")
	for i := range jitsi.JicofoQueueMax + 3 {
		h.Join(muctest.User(fmt.Sprint("u", i)), fmt.Sprintf("%s/u%d", r, i))
	}
	if n := h.Sink.Count(); n != 0 {
		t.Fatalf("held joins were answered: %d stanzas", n)
	}
	_ = h.Service.Do(context.Background(), r, func(rm *muc.Room) {
		if n := jitsi.HeldJoins(rm); n != jitsi.JicofoQueueMax {
			t.Errorf("held %d joins, want the cap %d", n, jitsi.JicofoQueueMax)
		}
	})
	h.Join(muctest.User("focus"), r+"/focus")
	_ = h.Service.Do(context.Background(), r, func(rm *muc.Room) {
		if n := rm.Count(); n != jitsi.JicofoQueueMax+1 {
			t.Errorf("occupants = %d, want %d", n, jitsi.JicofoQueueMax+1)
		}
	})
}

func TestKickRemovesAffiliationAndGroupchatNick(t *testing.T) {
	h := harness(t, ``, `
    modules_enabled = { "muc_meeting_id" }
    muc_room_locking = false
`)
	focus, alice, bob := muctest.User("focus"), muctest.User("alice"), muctest.User("bob")
	r := muctest.Room("kick")
	h.Join(focus, r+"/focus")
	h.Join(alice, r+"/alice")
	h.Join(bob, r+"/bob")
	ctx := context.Background()
	_ = h.Service.Do(ctx, r, func(rm *muc.Room) {
		_ = rm.SetAffiliation(ctx, "", "bob@users.example.test", muc.AffiliationMember, "")
		if err := rm.Kick(ctx, focus, "bob", "bye"); err != nil {
			t.Fatal(err)
		}
		if a := rm.Affiliation(bob); a != muc.AffiliationNone {
			t.Errorf("kicked bob is still %s", a)
		}
	})
	h.Sink.Reset()
	h.Send(alice, r, el(stanza.NSClient, "message", "type", "groupchat").Add(
		el(stanza.NSClient, "body").AddText("hi"), el("http://jabber.org/protocol/nick", "nick").AddText("Not Alice")))
	got := h.Sink.Take(focus)
	if len(got) != 1 || got[0].Child("http://jabber.org/protocol/nick", "nick") != nil {
		t.Fatalf("the nick must be stripped from groupchat: %v", got)
	}
}
