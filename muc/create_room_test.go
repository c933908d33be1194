package muc_test

import (
	"context"
	"errors"
	"testing"

	"github.com/parley-xmpp/parley/muc"
)

// TestCreateRoom: a module creates a room (Jitsi's lobby and breakout
// rooms) on a service with restrict_room_creation; users then join it as
// an existing room, with the affiliations setup gave.
func TestCreateRoom(t *testing.T) {
	e := newEnv(t, "", "restrict_room_creation = true\nmuc_room_locking = false")
	svc := e.srv.Server.Component(conf).(*muc.Service)
	alice, bob := e.user("alice"), e.user("bob")
	created := 0
	svc.Events.RoomCreated.On(0, "test", func(_ context.Context, ev *muc.RoomCreateEvent) error {
		created++
		if ev.Stanza != nil {
			t.Errorf("module-created room fired RoomCreated with a stanza %s", ev.Stanza)
		}
		return nil
	})
	r := room("lobby")
	ok, err := svc.CreateRoom(context.Background(), r, func(room *muc.Room) {
		if err := room.SetAffiliation(context.Background(), "", "alice@"+host, muc.AffiliationOwner, ""); err != nil {
			t.Errorf("setup: %v", err)
		}
		room.Config().MembersOnly = false
	})
	must(t, ok && err == nil, "CreateRoom = %v, %v", ok, err)
	must(t, created == 1, "RoomCreated fired %d times", created)
	ok, err = svc.CreateRoom(context.Background(), r, func(*muc.Room) { t.Error("setup ran for an existing room") })
	must(t, !ok && err == nil, "second CreateRoom = %v, %v", ok, err)
	_, err = svc.CreateRoom(context.Background(), "other@elsewhere.example", nil)
	must(t, errors.Is(err, muc.ErrBadJID), "a room on another domain: %v", err)

	self := mustJoin(t, alice, r+"/alice")
	must(t, !hasStatus(self, "201") && item(self).Get("affiliation") == "owner", "alice joins an existing room as owner: %s", self)
	self = mustJoin(t, bob, r+"/bob")
	must(t, item(self).Get("affiliation") == "none", "bob joins despite restrict_room_creation: %s", self)
}
