package jitsi_test

import (
	"testing"

	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// TestMUCFilterAccess: on the brewery MUC only users of the whitelisted
// domains may send presence; everything else is dropped without a reply,
// including a join that would create a room (JITSI.md §2 P0 "Brewery MUC",
// §3 muc_filter_access).
func TestMUCFilterAccess(t *testing.T) {
	const brewery, open = "internal.auth.localhost", "open.auth.localhost"
	srv := servertest.Start(t, `
VirtualHost "localhost"
VirtualHost "auth.localhost"
Component "`+brewery+`" "muc"
    modules_enabled = { "muc_filter_access" }
    muc_filter_whitelist = "auth.localhost"
    muc_room_locking = false
Component "`+open+`" "muc"
    modules_enabled = { "muc_filter_access" }
    muc_room_locking = false
`, servertest.WithServerOptions(server.WithComponentType("muc", muc.Factory(
		muc.WithModule(jitsi.MUCFilterAccessName, jitsi.MUCFilterAccess)))))
	srv.CreateUser("jvb", "auth.localhost", "pw")
	srv.CreateUser("alice", "localhost", "pw")
	jvb := &client{Client: srv.Connect(t, "jvb@auth.localhost", "pw", servertest.ClientOptions{}), t: t}
	alice := &client{Client: srv.Connect(t, "alice@localhost", "pw", servertest.ClientOptions{}), t: t}
	room := "jvbbrewery@" + brewery
	if p := scJoin(jvb, room+"/jvb1"); p.Get("type") == "error" {
		t.Fatalf("whitelisted join refused: %s", p)
	}
	cases := []struct {
		name string
		pres *stanza.Element
	}{
		{"join of an existing room", el(stanza.NSClient, "presence", "to", room+"/alice").Add(el(muc.NS, "x"))},
		{"join creating a room", el(stanza.NSClient, "presence", "to", "new@"+brewery+"/alice").Add(el(muc.NS, "x"))},
		{"presence without muc x", el(stanza.NSClient, "presence", "to", room+"/jvb1")},
		{"unavailable", el(stanza.NSClient, "presence", "to", room+"/alice", "type", "unavailable")},
		{"probe", el(stanza.NSClient, "presence", "to", room+"/jvb1", "type", "probe")},
		{"to the room's bare JID", el(stanza.NSClient, "presence", "to", room)},
		{"to the service", el(stanza.NSClient, "presence", "to", brewery)},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			alice.Send(tc.pres)
			for _, s := range scPing(alice, "f"+string(rune('a'+i))) {
				t.Fatalf("got a reply to filtered presence: %s", s)
			}
		})
	}
	// jvb saw nobody join and the room was not created.
	for _, s := range scPing(jvb, "j1") {
		if s.Name.Local == "presence" {
			t.Fatalf("whitelisted occupant got %s", s)
		}
	}
	res := alice.Request(el(stanza.NSClient, "iq", "type", "get", "to", "new@"+brewery).Add(el(muc.NSDiscoInfo, "query")))
	if errCond(res) != "item-not-found" {
		t.Fatalf("filtered join created a room: %s", res)
	}
	// IQs are not filtered.
	res = alice.Request(el(stanza.NSClient, "iq", "type", "get", "to", room).Add(el(muc.NSDiscoInfo, "query")))
	if res.Get("type") != "result" {
		t.Fatalf("disco#info of the room: %s", res)
	}
	// Without muc_filter_whitelist the module is inactive.
	if p := scJoin(alice, "r@"+open+"/alice"); p.Get("type") == "error" {
		t.Fatalf("join refused without a whitelist: %s", p)
	}
}
