package jitsi_test

import (
	"testing"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/muc/muctest"
)

func TestHideAll(t *testing.T) {
	h := harness(t, ``, `
    modules_enabled = { "muc_hide_all" }
    muc_room_default_public = true
    muc_room_locking = false
`)
	alice, eve := muctest.User("alice"), muctest.User("eve")
	r := muctest.Room("hidden")
	h.Join(alice, r+"/alice")
	h.Sink.Reset()

	h.Send(eve, muctest.Domain, iq("get", "i1", el(muc.NSDiscoItems, "query")))
	if items := h.Sink.Take(eve)[0].Child(muc.NSDiscoItems, "query").Elements(); len(items) != 0 {
		t.Fatalf("rooms listed: %v", items)
	}
	h.Send(eve, r, iq("get", "d1", el(muc.NSDiscoInfo, "query")))
	if got := h.Sink.Take(eve); len(got) != 1 || errCond(got[0]) != "forbidden" {
		t.Fatalf("non-occupant disco#info: %v", got)
	}
	h.Send(alice, r, iq("get", "d2", el(muc.NSDiscoInfo, "query")))
	if got := h.Sink.Take(alice); len(got) != 1 || got[0].Get("type") != "result" {
		t.Fatalf("occupant disco#info: %v", got)
	}
	// Other IQs and joins are not affected.
	h.Join(eve, r+"/eve")
	if got := h.Sink.Take(eve); len(got) == 0 || !hasStatus(got[len(got)-2], "110") {
		t.Fatalf("eve joins: %v", got)
	}
}
