package jitsi_test

import (
	"fmt"
	"testing"

	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/muc/muctest"
)

// TestMaxOccupants is SECURITY-CASES 133.
func TestMaxOccupants(t *testing.T) {
	h := harness(t, ``, `
    modules_enabled = { "muc_max_occupants" }
    muc_max_occupants = 2
    muc_access_whitelist = { "focus@users.example.test" }
    muc_room_locking = false
`)
	r := muctest.Room("small")
	count := func() (n int) {
		_ = h.Service.Do(t.Context(), r, func(rm *muc.Room) { n = rm.Count() })
		return n
	}
	h.Join(muctest.User("focus"), r+"/focus")
	h.Join(muctest.User("a"), r+"/a")
	h.Join(muctest.User("b"), r+"/b")
	if n := count(); n != 3 {
		t.Fatalf("the whitelisted focus does not count: %d occupants", n)
	}
	h.Join(muctest.User("c"), r+"/c")
	got := h.Sink.Take(muctest.User("c"))
	if len(got) != 1 || errCond(got[0]) != "service-unavailable" {
		t.Fatalf("full room: %v", got)
	}
	// Presence updates of occupants are not joins.
	h.Join(muctest.User("b"), r+"/b")
	if n := count(); n != 3 {
		t.Fatalf("occupants = %d", n)
	}
	// Health-check rooms are not limited.
	hr := muctest.Room(jitsi.HealthCheckPrefix + "x")
	for i := range 3 {
		h.Join(muctest.User(fmt.Sprint("h", i)), fmt.Sprintf("%s/h%d", hr, i))
	}
	_ = h.Service.Do(t.Context(), hr, func(rm *muc.Room) {
		if rm.Count() != 3 {
			t.Errorf("health room occupants = %d", rm.Count())
		}
	})
}

func TestMaxOccupantsOffByDefault(t *testing.T) {
	h := harness(t, ``, `
    modules_enabled = { "muc_max_occupants" }
    muc_room_locking = false
`)
	r := muctest.Room("open")
	for i := range 5 {
		h.Join(muctest.User(fmt.Sprint("u", i)), fmt.Sprintf("%s/u%d", r, i))
	}
	_ = h.Service.Do(t.Context(), r, func(rm *muc.Room) {
		if rm.Count() != 5 {
			t.Errorf("occupants = %d", rm.Count())
		}
	})
}
