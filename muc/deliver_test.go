package muc_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/muc/muctest"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/stanza"
)

func TestBouncedStanzasRemoveTheSession(t *testing.T) {
	tests := []struct {
		name string
		kind string
		cond string
		text string
		want string
		kick bool
	}{
		{name: "presence error", kind: "presence", cond: "remote-server-not-found", want: "Kicked: remote server not found", kick: true},
		{name: "presence error with text (whois anyone shows it)", kind: "presence", cond: "item-not-found", text: "gone", want: "Kicked: item not found: gone", kick: true},
		{name: "kickable message error", kind: "message", cond: "service-unavailable", want: "Kicked: service unavailable", kick: true},
		{name: "other message errors are ignored", kind: "message", cond: "not-acceptable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := muctest.New(t, "", "muc_room_locking = false\nmuc_room_default_public_jids = true")
			alice, bob := muctest.User("alice"), muctest.User("bob")
			r := muctest.Room("bounce")
			h.Join(alice, r+"/alice")
			h.Join(bob, r+"/bob")
			h.Sink.Reset()
			er := el(stanza.NSClient, "error", "type", "cancel").Add(el(stanza.NSStanzas, tc.cond))
			if tc.text != "" {
				er.Add(el(stanza.NSStanzas, "text").AddText(tc.text))
			}
			to := r + "/alice"
			if tc.kind == "message" {
				to = r
			}
			h.Send(bob, to, el(stanza.NSClient, tc.kind, "type", "error").Add(er))
			got := h.Sink.Take(alice)
			if !tc.kick {
				if len(got) != 0 {
					t.Fatalf("alice got %v", got)
				}
				return
			}
			if len(got) != 1 || got[0].Get("type") != "unavailable" || !hasStatus(got[0], "333") || got[0].ChildText("", "status") != tc.want {
				t.Fatalf("alice got %v", got)
			}
		})
	}
}

func TestPresenceToBareRoomAndProbe(t *testing.T) {
	h := muctest.New(t, "", "muc_room_locking = false")
	alice, bob := muctest.User("alice"), muctest.User("bob")
	r := muctest.Room("bare")
	h.Join(alice, r+"/alice")
	h.Join(bob, r+"/bob")
	h.Sink.Reset()
	// Some clients send presence updates to the room's bare JID.
	h.Send(bob, r, el(stanza.NSClient, "presence").Add(el(stanza.NSClient, "show").AddText("away")))
	got := h.Sink.Take(alice)
	if len(got) != 1 || got[0].Get("from") != r+"/bob" || got[0].ChildText("", "show") != "away" {
		t.Fatalf("alice got %v", got)
	}
	h.Sink.Reset()
	h.Send(alice, r+"/bob", el(stanza.NSClient, "presence", "type", "probe"))
	got = h.Sink.Take(alice)
	if len(got) != 1 || got[0].Get("from") != r+"/bob" || got[0].ChildText("", "show") != "away" {
		t.Fatalf("probe answer: %v", got)
	}
	eve := muctest.User("eve")
	h.Send(eve, r+"/bob", el(stanza.NSClient, "presence", "type", "probe"))
	if got := h.Sink.Take(eve); len(got) != 1 || !isCond(got[0], "not-acceptable") {
		t.Fatalf("probe from a non-occupant: %v", got)
	}
}

func TestDecline(t *testing.T) {
	h := muctest.New(t, "", "muc_room_locking = false")
	alice, bob := muctest.User("alice"), muctest.User("bob")
	r := muctest.Room("decline")
	h.Join(alice, r+"/alice")
	h.Send(bob, r, el(stanza.NSClient, "message").Add(el(muc.NSUser, "x").Add(
		el(muc.NSUser, "decline", "to", alice).Add(el(muc.NSUser, "reason").AddText("busy")))))
	got := h.Sink.Take(alice)
	if len(got) != 3 {
		t.Fatalf("alice got %v", got)
	}
	m := got[2]
	d := m.Child(muc.NSUser, "x").Child(muc.NSUser, "decline")
	if m.Get("from") != r || d.Get("from") != bob || d.ChildText(muc.NSUser, "reason") != "busy" || m.ChildText("", "body") == "" {
		t.Fatalf("decline: %s", m)
	}
}

func TestMaxHistoryMessages(t *testing.T) {
	h := muctest.New(t, "", "muc_room_locking = false\nmax_history_messages = 2")
	alice, bob := muctest.User("alice"), muctest.User("bob")
	r := muctest.Room("hist")
	h.Join(alice, r+"/alice")
	for i := range 5 {
		h.Send(alice, r, el(stanza.NSClient, "message", "type", "groupchat").Add(el(stanza.NSClient, "body").AddText(fmt.Sprint(i))))
	}
	// No-store hints keep a message out of the history.
	h.Send(alice, r, el(stanza.NSClient, "message", "type", "groupchat").Add(
		el(stanza.NSClient, "body").AddText("secret"), el(muc.NSHints, "no-store")))
	h.Join(bob, r+"/bob")
	var bodies []string
	for _, m := range h.Sink.Take(bob) {
		if b := m.ChildText("", "body"); b != "" {
			bodies = append(bodies, b)
		}
	}
	if fmt.Sprint(bodies) != "[3 4]" {
		t.Fatalf("history %v, want the last two", bodies)
	}
}

func TestRoomAPI(t *testing.T) {
	h := muctest.New(t, "", "muc_room_locking = false")
	alice, bob := muctest.User("alice"), muctest.User("bob")
	r := muctest.Room("api")
	h.Join(alice, r+"/alice")
	h.Join(bob, r+"/bob")
	ctx := context.Background()
	if err := h.Service.Do(ctx, muctest.Room("nope"), func(*muc.Room) {}); err != muc.ErrNoRoom {
		t.Fatalf("Do on a missing room: %v", err)
	}
	err := h.Service.Do(ctx, r, func(rm *muc.Room) {
		if rm.Count() != 2 || rm.OccupantByNick("bob").BareJID != "bob@users.example.test" || rm.OccupantJID(bob) != r+"/bob" {
			t.Error("occupant lookups")
		}
		if rm.Affiliation(alice) != muc.AffiliationOwner || rm.Affiliation("ALICE@users.example.test/x") != muc.AffiliationOwner {
			t.Error("affiliation lookups normalize the JID")
		}
		if err := rm.SetRole(ctx, bob, "alice", muc.RoleNone, ""); err == nil {
			t.Error("a participant kicked the owner")
		}
		if err := rm.SetRole(ctx, "", "bob", muc.RoleVisitor, "hush"); err != nil {
			t.Error(err)
		}
		if rm.OccupantByNick("bob").Role != muc.RoleVisitor {
			t.Error("role not changed")
		}
		rm.SetValue("k", 1)
		if rm.Value("k") != 1 {
			t.Error("module values")
		}
		rm.SetSubject("", "From the API")
		if s, from := rm.Subject(); s != "From the API" || from != r {
			t.Error("subject")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPersistentRoomsAreStored(t *testing.T) {
	h := muctest.New(t, "", "muc_room_locking = false")
	alice := muctest.User("alice")
	r := muctest.Room("stored")
	h.Join(alice, r+"/alice")
	ctx := context.Background()
	_ = h.Service.Do(ctx, r, func(rm *muc.Room) {
		c := rm.Config()
		c.Persistent, c.Name, c.Password, c.MembersOnly, c.Whois = true, "Stored", "pw", true, muc.WhoisAnyone
		if err := rm.SetAffiliation(ctx, "", "bob@users.example.test", muc.AffiliationAdmin, ""); err != nil {
			t.Fatal(err)
		}
	})
	h.Leave(alice, r+"/alice")
	// A second service on the same store (as after a restart) restores it.
	svc2, err := muc.New(ctx, &server.ComponentHost{Name: muctest.Domain, Config: h.Service.ConfigSection(), Server: h.Server})
	if err != nil {
		t.Fatal(err)
	}
	err = svc2.Do(ctx, r, func(rm *muc.Room) {
		c := rm.Config()
		if !c.Persistent || c.Name != "Stored" || c.Password != "pw" || !c.MembersOnly || c.Whois != muc.WhoisAnyone {
			t.Errorf("config %+v", *c)
		}
		if rm.Affiliation("bob@users.example.test") != muc.AffiliationAdmin || rm.Affiliation(alice) != muc.AffiliationOwner {
			t.Error("affiliations not restored")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestStatusCodes210And321And332(t *testing.T) {
	h := muctest.New(t, "", "muc_room_locking = false")
	h.Service.Events.OccupantPreJoin.On(0, "rename", func(_ context.Context, ev *muc.JoinEvent) error {
		if ev.Occupant.Nick == "rename-me" {
			ev.Occupant.SetNick("renamed")
		}
		return nil
	})
	alice, bob := muctest.User("alice"), muctest.User("bob")
	r := muctest.Room("codes")
	h.Join(alice, r+"/alice")
	h.Join(bob, r+"/rename-me")
	got := h.Sink.Take(bob)
	self := got[len(got)-2]
	if self.Get("from") != r+"/renamed" || !hasStatus(self, "210") || !hasStatus(self, "110") {
		t.Fatalf("210 for a nick the service changed: %v", got)
	}

	// In a members-only room, revoking membership removes the occupant
	// with 321.
	ctx := context.Background()
	_ = h.Service.Do(ctx, r, func(rm *muc.Room) {
		if err := rm.SetAffiliation(ctx, "", "bob@users.example.test", muc.AffiliationMember, ""); err != nil {
			t.Fatal(err)
		}
		rm.Config().MembersOnly = true
		if err := rm.SetAffiliation(ctx, alice, "bob@users.example.test", muc.AffiliationNone, ""); err != nil {
			t.Fatal(err)
		}
	})
	got = h.Sink.Take(bob)
	last := got[len(got)-1]
	if last.Get("type") != "unavailable" || !hasStatus(last, "321") {
		t.Fatalf("321: %v", got)
	}

	// Stopping the service removes everyone with 332.
	h.Sink.Reset()
	if err := h.Service.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	got = h.Sink.Take(alice)
	if len(got) != 1 || got[0].Get("type") != "unavailable" || !hasStatus(got[0], "332") {
		t.Fatalf("332: %v", got)
	}
}
