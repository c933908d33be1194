package jitsi_test

import (
	"context"
	"testing"

	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// dmCapture is an in-process focus stand-in: it keeps what it receives.
type dmCapture struct{ got chan *stanza.Element }

func (c dmCapture) Deliver(_ context.Context, el *stanza.Element) { c.got <- el }

func dmStart(t *testing.T) *servertest.Server {
	t.Helper()
	return servertest.Start(t, `
muc_mapper_domain_base = "meet.example.com"
VirtualHost "meet.example.com"
    authentication = "anonymous"
Component "conference.meet.example.com" "muc"
    modules_enabled = { "muc_domain_mapper" }
    muc_room_locking = false
    muc_room_default_public_jids = true
Component "breakout.meet.example.com" "muc"
    modules_enabled = { "muc_domain_mapper" }
`, servertest.WithServerOptions(server.WithComponentType("muc",
		muc.Factory(muc.WithModule(jitsi.MUCDomainMapperName, jitsi.MUCDomainMapper())))))
}

// TestMUCDomainMapper covers JITSI.md §2 P1 "Tenants (muc_domain_mapper)":
// room@conference.T.D <-> [T]room@conference.D on every stanza to and from
// clients, including the room attribute of the focus conference IQ.
func TestMUCDomainMapper(t *testing.T) {
	s := dmStart(t)
	const (
		external = "room@conference.acme.meet.example.com"
		internal = "[acme]room@conference.meet.example.com"
	)
	alice := dfLogin(t, s, "meet.example.com", "", "")
	bob := dfLogin(t, s, "meet.example.com", "", "")

	self := alice.join(external, "alice")
	if !hasStatus(self, "110") || !hasStatus(self, "201") {
		t.Fatalf("alice's self-presence, from the tenant JID: %s", self)
	}
	// Bob joins with the internal form and still sees tenant addresses only.
	bob.send(stanza.New(stanza.NSClient, "presence").Set("to", internal+"/bob").Add(stanza.New(muc.NS, "x")))
	seen := bob.next(func(e *stanza.Element) bool { return e.Name.Local == "presence" && e.Get("from") == external+"/alice" })
	if seen.Get("from") != external+"/alice" {
		t.Fatalf("bob saw %s", seen)
	}
	bob.next(func(e *stanza.Element) bool { return e.Name.Local == "presence" && e.Get("from") == external+"/bob" })
	alice.next(func(e *stanza.Element) bool { return e.Name.Local == "presence" && e.Get("from") == external+"/bob" })

	msg := stanza.New(stanza.NSClient, "message").Set("to", external).Set("type", "groupchat").
		Add(stanza.New(stanza.NSClient, "body").AddText("hi"))
	alice.send(msg)
	got := bob.next(func(e *stanza.Element) bool { return e.Name.Local == "message" && e.Child("", "body") != nil })
	if got.Get("from") != external+"/alice" || got.ChildText("", "body") != "hi" {
		t.Fatalf("groupchat as bob got it: %s", got)
	}

	// A room-less IQ to the tenant's MUC domain is answered from it.
	info := alice.request("get", "conference.acme.meet.example.com", stanza.New("http://jabber.org/protocol/disco#info", "query"))
	if info.Get("type") != "result" || info.Get("from") != "conference.acme.meet.example.com" {
		t.Fatalf("disco#info of the tenant MUC domain: %s", info)
	}
	// Room disco answers from the tenant room JID too.
	info = alice.request("get", external, stanza.New("http://jabber.org/protocol/disco#info", "query"))
	if info.Get("type") != "result" || info.Get("from") != external {
		t.Fatalf("room disco#info: %s", info)
	}

	// The focus gets the room of a conference request in the MUC's form.
	focus := dmCapture{got: make(chan *stanza.Element, 4)}
	if err := s.Server.AddComponent("focus.meet.example.com", focus); err != nil {
		t.Fatal(err)
	}
	c := stanza.New(jitsi.NSFocus, "conference").Set("room", external)
	alice.send(stanza.New(stanza.NSClient, "iq").Set("type", "set").Set("id", "c1").Set("to", "focus.meet.example.com").Add(c))
	req := <-focus.got
	if room := req.Child(jitsi.NSFocus, "conference").Get("room"); room != internal {
		t.Fatalf("focus got room %q, want %q", room, internal)
	}
}

// TestMUCDomainMapperOffWithoutBase: without muc_mapper_domain_base the
// module stays off, as in Jitsi, and tenant domains are not served.
func TestMUCDomainMapperOffWithoutBase(t *testing.T) {
	s := servertest.Start(t, `
VirtualHost "meet.example.com"
    authentication = "anonymous"
Component "conference.meet.example.com" "muc"
    modules_enabled = { "muc_domain_mapper" }
    muc_room_locking = false
`, servertest.WithServerOptions(server.WithComponentType("muc",
		muc.Factory(muc.WithModule(jitsi.MUCDomainMapperName, jitsi.MUCDomainMapper())))))
	alice := dfLogin(t, s, "meet.example.com", "", "")
	alice.send(stanza.New(stanza.NSClient, "presence").Set("to", "room@conference.acme.meet.example.com/alice").Add(stanza.New(muc.NS, "x")))
	got := alice.next(func(e *stanza.Element) bool { return e.Name.Local == "presence" })
	if got.Get("type") != "error" {
		t.Fatalf("a tenant room was served without the mapper: %s", got)
	}
}
