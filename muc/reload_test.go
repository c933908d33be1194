package muc_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// reloadConfig parses a whole test configuration as servertest.Start
// does, with componentCfg in the MUC component's section.
func reloadConfig(t *testing.T, componentCfg string) *config.Config {
	t.Helper()
	text := servertest.Defaults + "\nVirtualHost \"localhost\"\nComponent \"conference.localhost\" \"muc\"\n" + componentCfg
	cfg, err := config.Parse("reload.cfg.lua", []byte(text), config.WithEnv(func(string) (string, bool) { return "", false }))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// roomConfig returns a copy of a room's configuration.
func roomConfig(t *testing.T, svc *muc.Service, roomJID string) muc.RoomConfig {
	t.Helper()
	var c muc.RoomConfig
	if err := svc.Do(context.Background(), roomJID, func(r *muc.Room) { c = *r.Config() }); err != nil {
		t.Fatalf("room %s: %v", roomJID, err)
	}
	return c
}

// SECURITY-CASES 164: SIGHUP re-reads the MUC component's options. Rooms
// created afterwards get the new defaults and restrict_room_creation
// changes who may create rooms, while existing rooms keep their
// configuration and their occupants keep talking.
func TestReloadOptions(t *testing.T) {
	const before = "restrict_room_creation = true\nmuc_room_locking = false\n"
	e := newEnv(t, "", before)
	svc := e.srv.Server.Component(conf).(*muc.Service)
	alice, bob := e.user("alice"), e.user("bob")

	// A room that exists before the reload, made by a module.
	old := room("old")
	if ok, err := svc.CreateRoom(context.Background(), old, nil); !ok || err != nil {
		t.Fatalf("CreateRoom = %v, %v", ok, err)
	}
	mustJoin(t, alice, old+"/alice")
	typ, cond := errCond(join(t, bob, room("early")+"/bob"))
	must(t, typ == "cancel" && cond == "not-allowed", "restricted creation before the reload: %s/%s", typ, cond)

	after := "restrict_room_creation = false\nmuc_room_locking = false\nmuc_room_default_persistent = true\nmuc_room_default_moderated = true\nmuc_room_default_history_length = 7\n"
	if err := e.srv.Reload(t.Context(), reloadConfig(t, after)); err != nil {
		t.Fatalf("reload: %v", err)
	}

	self := mustJoin(t, bob, room("late")+"/bob")
	must(t, hasStatus(self, "201"), "bob created a room after the reload: %s", self)
	got := roomConfig(t, svc, room("late"))
	must(t, got.Persistent && got.Moderated && got.HistoryLength == 7,
		"new room config %+v, want persistent, moderated, history 7", got)
	kept := roomConfig(t, svc, old)
	must(t, !kept.Persistent && !kept.Moderated && kept.HistoryLength != 7,
		"the existing room's config changed on reload: %+v", kept)
	if o, ok := svc.Option("muc_room_default_history_length"); !ok {
		t.Fatal("Option after reload: unset")
	} else if v, err := o.AsFloat(); err != nil || v != 7 {
		t.Fatalf("Option after reload = %v, %v", v, err)
	}

	// alice's session and room survived: bob joins and hears her.
	mustJoin(t, bob, old+"/bob")
	alice.Send(el(stanza.NSClient, "message", "to", old, "type", "groupchat", "id", "g1").Add(el(stanza.NSClient, "body").AddText("still here")))
	m := bob.NextMatch(func(x *stanza.Element) bool { return x.Name.Local == "message" && x.Get("id") == "g1" })
	must(t, m.Get("from") == old+"/alice", "groupchat after reload from %q", m.Get("from"))
}

// SECURITY-CASES 165: a MUC option that does not decode refuses the whole
// reload with its file:line, and the running options stay.
func TestReloadRefusesBadOption(t *testing.T) {
	e := newEnv(t, "", "restrict_room_creation = true\nmuc_room_locking = false\n")
	bob := e.user("bob")
	err := e.srv.Reload(t.Context(), reloadConfig(t, "restrict_room_creation = \"sometimes\"\nmuc_room_default_persistent = true\n"))
	if !errors.Is(err, server.ErrReloadRefused) || !strings.Contains(err.Error(), "reload.cfg.lua:") || !strings.Contains(err.Error(), "restrict_room_creation") {
		t.Fatalf("reload error %v, want a refusal naming reload.cfg.lua:line and restrict_room_creation", err)
	}
	typ, cond := errCond(join(t, bob, room("r")+"/bob"))
	must(t, typ == "cancel" && cond == "not-allowed", "after a refused reload creation must stay restricted: %s/%s", typ, cond)
}

// A component added by a reload serves rooms; one removed by a reload is
// stopped, its occupants told the service went away (status 332), and
// stanzas to it bounce.
func TestReloadAddsAndRemovesComponent(t *testing.T) {
	e := newEnv(t, "", "muc_room_locking = false\n")
	alice := e.user("alice")
	mustJoin(t, alice, room("r")+"/alice")

	cfg := reloadConfig(t, "muc_room_locking = false\nComponent \"rooms.localhost\" \"muc\"\n    muc_room_locking = false\n")
	if err := e.srv.Reload(t.Context(), cfg); err != nil {
		t.Fatalf("reload adding a component: %v", err)
	}
	self := mustJoin(t, alice, "x@rooms.localhost/alice")
	must(t, hasStatus(self, "201"), "room on the added component: %s", self)

	text := servertest.Defaults + "\nVirtualHost \"localhost\"\nComponent \"rooms.localhost\" \"muc\"\n"
	cfg, err := config.Parse("reload.cfg.lua", []byte(text), config.WithEnv(func(string) (string, bool) { return "", false }))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Reload(t.Context(), cfg); err != nil {
		t.Fatalf("reload removing a component: %v", err)
	}
	gone := alice.NextMatch(func(x *stanza.Element) bool {
		return x.Name.Local == "presence" && x.Get("from") == room("r")+"/alice" && x.Get("type") == "unavailable"
	})
	must(t, hasStatus(gone, "332"), "occupant of the removed component: %s", gone)
	typ, _ := errCond(join(t, alice, room("r2")+"/alice"))
	must(t, typ != "", "a join on the removed component did not bounce")
}
