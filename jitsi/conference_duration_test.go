package jitsi_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// cdurField returns the created timestamp field of a room's disco#info:
// whether it is there, and its value.
func cdurField(t *testing.T, c *client, room string) (bool, string) {
	t.Helper()
	res := c.Request(el(stanza.NSClient, "iq", "type", "get", "to", room).Add(el(muc.NSDiscoInfo, "query")))
	if res.Get("type") != "result" {
		t.Fatalf("room disco#info: %s", res)
	}
	x := res.Child(muc.NSDiscoInfo, "query").Child(muc.NSDataForms, "x")
	if x == nil {
		return false, ""
	}
	for _, f := range x.Elements() {
		if f.Get("var") == jitsi.CreatedTimestampField {
			if vs := f.Child(muc.NSDataForms, "value"); vs != nil {
				return true, vs.Text()
			}
			return true, ""
		}
	}
	return false, ""
}

// TestConferenceDuration: the room is stamped (whole seconds, in ms) when
// a second occupant joins and the stamp never changes afterwards (JITSI.md
// §2 P1 "Conference duration").
func TestConferenceDuration(t *testing.T) {
	e := newSCEnv(t, "", "")
	focus, alice, bob := e.user("focus"), e.user("alice"), e.user("bob")
	room := "dur@" + conf
	scJoin(focus, room+"/focus")
	if ok, v := cdurField(t, focus, room); !ok || v != "" {
		t.Fatalf("one occupant: field present %v value %q, want an empty field", ok, v)
	}
	start := e.clock.Now()
	scJoin(alice, room+"/alice")
	want := strconv.FormatInt(start.Unix()*1000, 10)
	if _, v := cdurField(t, focus, room); v != want {
		t.Fatalf("after the second join: %q, want %q", v, want)
	}
	e.clock.Advance(time.Minute)
	scJoin(bob, room+"/bob")
	if _, v := cdurField(t, bob, room); v != want {
		t.Fatalf("after the third join: %q, want unchanged %q", v, want)
	}
}

// TestConferenceDurationNoMainMUC: without main_muc the module does
// nothing to the rooms (the Lua module logs an error and returns).
func TestConferenceDurationNoMainMUC(t *testing.T) {
	srv := servertest.Start(t, `
VirtualHost "localhost"
    modules_enabled = { "conference_duration" }
Component "conference.localhost" "muc"
    muc_room_locking = false
`, servertest.WithServerOptions(
		server.WithModules(jitsi.NewConferenceDuration()),
		server.WithComponentType("muc", muc.Factory(jitsi.MUCModules()...)),
	))
	srv.CreateUser("alice", "localhost", "pw")
	srv.CreateUser("bob", "localhost", "pw")
	alice := &client{Client: srv.Connect(t, "alice@localhost", "pw", servertest.ClientOptions{}), t: t}
	bob := &client{Client: srv.Connect(t, "bob@localhost", "pw", servertest.ClientOptions{}), t: t}
	scJoin(alice, "r@"+conf+"/alice")
	scJoin(bob, "r@"+conf+"/bob")
	if ok, _ := cdurField(t, alice, "r@"+conf); ok {
		t.Fatal("created timestamp field without main_muc")
	}
}
