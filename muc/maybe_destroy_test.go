package muc_test

import (
	"context"
	"testing"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server/hook"
	"github.com/parley-xmpp/parley/server/stanza"
)

// TestMaybeDestroyRoom covers the "maybe-destroy-room" request Jitsi's
// modules use (end_conference, breakout rooms): a handler above
// room_destroy's -1 keeps the room; without one the room goes, persistent
// or not, and the occupants get the reason.
func TestMaybeDestroyRoom(t *testing.T) {
	e := newEnv(t, "", `muc_room_locking = false`)
	alice, bob := e.user("alice"), e.user("bob")
	r := room("ending")
	mustJoin(t, alice, r+"/alice")
	mustJoin(t, bob, r+"/bob")
	submitConfig(t, alice, r, map[string]string{"muc#roomconfig_persistentroom": "1"})
	svc := e.srv.Server.Component(conf).(*muc.Service)

	keep := true
	svc.Events.MaybeDestroyRoom.On(5, "persistent_lobby", func(_ context.Context, ev *muc.MaybeDestroyEvent) error {
		if keep && ev.Caller == "end_conference" {
			return hook.ErrStop
		}
		return nil
	})
	var gone bool
	ask := func() {
		t.Helper()
		if err := svc.Do(context.Background(), r, func(room *muc.Room) {
			gone = room.MaybeDestroy(context.Background(), "conference ended", "end_conference")
		}); err != nil {
			t.Fatal(err)
		}
	}
	ask()
	must(t, !gone, "a handler keeping the room alive was ignored")
	resp := bob.Request(iq("get", r, el(muc.NSDiscoInfo, "query")))
	must(t, resp.Get("type") == "result", "room kept: %s", resp)

	keep = false
	ask()
	must(t, gone, "the room was not destroyed")
	p := bob.NextMatch(func(e *stanza.Element) bool { return isPresenceFrom(r+"/bob")(e) && e.Get("type") == "unavailable" })
	d := p.Child(muc.NSUser, "x").Child(muc.NSUser, "destroy")
	must(t, d != nil && d.ChildText(muc.NSUser, "reason") == "conference ended", "destroy notice: %s", p)
	resp = bob.Request(iq("get", r, el(muc.NSDiscoInfo, "query")))
	_, cond := errCond(resp)
	must(t, cond == "item-not-found", "the persistent room is gone: %s", resp)
}
