package muc_test

// Hook tests run without sockets: stanzas go straight to the service's
// Deliver and replies land in a muctest.Sink.

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/muc/muctest"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/hook"
	"github.com/parley-xmpp/parley/server/stanza"
)

func TestHookVetoReplies(t *testing.T) {
	app := el("http://jitsi.org/jitmeet", "displayname-required", "lobby", "true")
	tests := []struct {
		name    string
		err     error
		replies int
		cond    string
		app     bool
	}{
		{name: "Deny with an application condition", err: &muc.Deny{Type: "modify", Condition: "not-acceptable", Text: "name?", App: app}, replies: 1, cond: "not-acceptable", app: true},
		{name: "server.StanzaError", err: &server.StanzaError{Type: "cancel", Condition: "not-allowed", Text: "Room and token mismatched"}, replies: 1, cond: "not-allowed"},
		{name: "wrapped Deny", err: errors.Join(errors.New("context"), &muc.Deny{Type: "auth", Condition: "forbidden"}), replies: 1, cond: "forbidden"},
		{name: "hook.ErrStop stops quietly", err: hook.ErrStop, replies: 0},
		{name: "any other error is internal", err: errors.New("boom"), replies: 1, cond: "internal-server-error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := muctest.New(t, "", `muc_room_locking = false`)
			h.Service.Events.OccupantPreJoin.On(99, "test", func(_ context.Context, ev *muc.JoinEvent) error {
				if ev.IsNewRoom {
					return nil
				}
				return tc.err
			})
			alice, bob := muctest.User("alice"), muctest.User("bob")
			r := muctest.Room("veto")
			h.Join(alice, r+"/alice")
			h.Join(bob, r+"/bob")
			got := h.Sink.Take(bob)
			if len(got) != tc.replies {
				t.Fatalf("bob got %d stanzas, want %d: %v", len(got), tc.replies, got)
			}
			if tc.replies == 0 {
				return
			}
			if _, cond := errCond(got[0]); cond != tc.cond {
				t.Fatalf("condition: %s", got[0])
			}
			if tc.app != (got[0].Child("", "error").Child("http://jitsi.org/jitmeet", "displayname-required") != nil) {
				t.Fatalf("application condition: %s", got[0])
			}
			// The veto changed nothing: alice is alone.
			var n int
			_ = h.Service.Do(context.Background(), r, func(r *muc.Room) { n = r.Count() })
			if n != 1 {
				t.Fatalf("occupants = %d", n)
			}
		})
	}
}

func TestHookOrderWithBuiltins(t *testing.T) {
	h := muctest.New(t, "", `muc_room_locking = false`)
	var trace []string
	rec := func(name string) hook.Handler[muc.JoinEvent] {
		return func(_ context.Context, ev *muc.JoinEvent) error {
			if !ev.IsNewRoom {
				trace = append(trace, name)
			}
			return nil
		}
	}
	e := &h.Service.Events
	e.OccupantPreJoin.On(-25, "after-password", rec("-25"))
	e.OccupantPreJoin.On(100, "wildcard", rec("100"))
	e.OccupantPreJoin.On(99, "token", rec("99"))
	e.OccupantPreJoin.On(-7, "whitelist", rec("-7"))
	alice, bob := muctest.User("alice"), muctest.User("bob")
	r := muctest.Room("order")
	h.Send(alice, r+"/alice", el(stanza.NSClient, "presence").Add(el(muc.NS, "x").Add(el(muc.NS, "password").AddText("pw"))))
	h.Sink.Reset()
	h.Join(bob, r+"/bob")
	if want := []string{"100", "99", "-7"}; !slices.Equal(trace, want) {
		t.Fatalf("wrong password: ran %v, want %v (the password check at -20 stops the rest)", trace, want)
	}
	if _, cond := errCond(h.Sink.Take(bob)[0]); cond != "not-authorized" {
		t.Fatal("want not-authorized")
	}
	names := []string{}
	for _, reg := range e.OccupantPreJoin.Handlers() {
		names = append(names, reg.Owner)
	}
	if got := strings.Join(names, ","); !strings.HasPrefix(got, "wildcard,test,") && !strings.HasPrefix(got, "wildcard,token") {
		t.Fatalf("handler listing: %s", got)
	}
	if e.OccupantPreJoin.Name() != "muc-occupant-pre-join" || e.RoomPreCreate.Name() != "muc-room-pre-create" ||
		e.DiscoInfo.Name() != "muc-disco#info" || e.ConfigSubmitted.Name() != "muc-config-submitted" {
		t.Fatal("chains carry Prosody's event names")
	}
}

func TestLifecycleEvents(t *testing.T) {
	h := muctest.New(t, "", `muc_room_locking = false`)
	var trace []string
	e := &h.Service.Events
	e.RoomCreated.On(0, "t", func(_ context.Context, ev *muc.RoomCreateEvent) error {
		trace = append(trace, "created "+ev.Room.Node())
		return nil
	})
	e.OccupantJoined.On(0, "t", func(_ context.Context, ev *muc.OccupantEvent) error {
		trace = append(trace, "joined "+ev.Occupant.Nick)
		return nil
	})
	e.OccupantLeft.On(0, "t", func(_ context.Context, ev *muc.OccupantEvent) error {
		trace = append(trace, "left "+ev.Occupant.Nick)
		return nil
	})
	e.RoomDestroyed.On(0, "t", func(_ context.Context, ev *muc.DestroyEvent) error {
		trace = append(trace, "destroyed "+ev.Room.Node())
		return nil
	})
	e.SetAffiliation.On(0, "t", func(_ context.Context, ev *muc.AffiliationEvent) error {
		trace = append(trace, "affiliation "+ev.JID+" "+string(ev.Affiliation))
		return nil
	})
	alice, bob := muctest.User("alice"), muctest.User("bob")
	r := muctest.Room("life")
	h.Join(alice, r+"/alice")
	h.Join(bob, r+"/bob")
	h.Leave(bob, r+"/bob")
	h.Leave(alice, r+"/alice")
	want := []string{
		"affiliation alice@users.example.test owner", "joined alice", "created life",
		"joined bob", "left bob", "left alice", "destroyed life",
	}
	if !slices.Equal(trace, want) {
		t.Fatalf("events:\n%v\nwant\n%v", trace, want)
	}
	if rooms := h.Service.Rooms(); len(rooms) != 0 {
		t.Fatalf("rooms left: %v", rooms)
	}
}

func TestBroadcastPresenceHookEditsPresence(t *testing.T) {
	h := muctest.New(t, "", `muc_room_locking = false`)
	h.Service.Events.BroadcastPresence.On(0, "identity", func(_ context.Context, ev *muc.PresenceEvent) error {
		ev.Stanza.RemoveChildren("http://jitsi.org/jitmeet", "identity")
		ev.Stanza.Add(el("http://jitsi.org/jitmeet", "identity").AddText("verified"))
		return nil
	})
	alice, bob := muctest.User("alice"), muctest.User("bob")
	r := muctest.Room("ident")
	h.Join(alice, r+"/alice")
	h.Sink.Reset()
	// SECURITY-CASES 28: a client-supplied identity is replaced.
	h.Join(bob, r+"/bob", el("http://jitsi.org/jitmeet", "identity").AddText("forged"))
	got := h.Sink.Take(alice)
	if len(got) != 1 || got[0].ChildText("http://jitsi.org/jitmeet", "identity") != "verified" {
		t.Fatalf("alice got %v", got)
	}
}

func TestConfigAndDiscoHooks(t *testing.T) {
	h := muctest.New(t, "", `muc_room_locking = false`)
	e := &h.Service.Events
	e.ConfigForm.On(50, "t", func(_ context.Context, ev *muc.ConfigFormEvent) error {
		ev.Form.Add(&muc.Field{Var: "x#flag", Type: "boolean", Label: "Flag"})
		return nil
	})
	var flag string
	e.ConfigSubmitted.On(99, "t", func(_ context.Context, ev *muc.ConfigSubmitEvent) error {
		flag = ev.Submission.String("x#flag")
		ev.Submission.Drop("muc#roomconfig_roomname") // read-only here
		return nil
	})
	e.DiscoInfo.On(0, "t", func(_ context.Context, ev *muc.DiscoInfoEvent) error {
		ev.Reply.Add(el(muc.NSDiscoInfo, "feature", "var", "urn:example:feature"))
		return nil
	})
	alice := muctest.User("alice")
	r := muctest.Room("cfg")
	h.Join(alice, r+"/alice")
	h.Sink.Reset()
	h.Send(alice, r, el(stanza.NSClient, "iq", "type", "get", "id", "g").Add(el(muc.NSOwner, "query")))
	form := h.Sink.Take(alice)[0]
	if formField(form, "x#flag") == nil {
		t.Fatalf("field missing: %s", form)
	}
	x := el(muc.NSDataForms, "x", "type", "submit").Add(
		el(muc.NSDataForms, "field", "var", "FORM_TYPE").Add(el(muc.NSDataForms, "value").AddText(muc.NSRoomConfig)),
		el(muc.NSDataForms, "field", "var", "x#flag").Add(el(muc.NSDataForms, "value").AddText("1")),
		el(muc.NSDataForms, "field", "var", "muc#roomconfig_roomname").Add(el(muc.NSDataForms, "value").AddText("Nope")),
	)
	h.Send(alice, r, el(stanza.NSClient, "iq", "type", "set", "id", "s").Add(el(muc.NSOwner, "query").Add(x)))
	if res := h.Sink.Take(alice); len(res) != 1 || res[0].Get("type") != "result" {
		t.Fatalf("submit: %v", res)
	}
	if flag != "1" {
		t.Fatalf("flag = %q", flag)
	}
	var name string
	_ = h.Service.Do(context.Background(), r, func(r *muc.Room) { name = r.Config().Name })
	if name != "" {
		t.Fatalf("dropped field applied: %q", name)
	}
	h.Send(alice, r, el(stanza.NSClient, "iq", "type", "get", "id", "d").Add(el(muc.NSDiscoInfo, "query")))
	if d := h.Sink.Take(alice)[0]; !hasFeature(d.Child(muc.NSDiscoInfo, "query"), "urn:example:feature") {
		t.Fatalf("disco: %s", d)
	}
}

func TestStanzaHookVeto(t *testing.T) {
	h := muctest.New(t, "", `muc_room_locking = false`)
	h.Service.Events.Stanza.On(1, "t", func(_ context.Context, ev *muc.StanzaEvent) error {
		if ev.Stanza.Name.Local == "message" {
			return &muc.Deny{Type: "cancel", Condition: "policy-violation"}
		}
		return nil
	})
	alice := muctest.User("alice")
	r := muctest.Room("quiet")
	h.Join(alice, r+"/alice")
	h.Sink.Reset()
	h.Send(alice, r, el(stanza.NSClient, "message", "type", "groupchat").Add(el(stanza.NSClient, "body").AddText("x")))
	got := h.Sink.Take(alice)
	if len(got) != 1 {
		t.Fatalf("got %v", got)
	}
	if _, cond := errCond(got[0]); cond != "policy-violation" {
		t.Fatalf("got %s", got[0])
	}
}

func TestModuleRegistry(t *testing.T) {
	var loaded []string
	mod := func(name string) muc.LoadFunc {
		return func(s *muc.Service) error {
			loaded = append(loaded, name)
			return nil
		}
	}
	h := muctest.New(t, "", `modules_enabled = { "one"; "unknown_module"; "two" }`,
		muc.WithModule("one", mod("one")), muc.WithModule("two", mod("two")), muc.WithModule("three", mod("three")))
	if !slices.Equal(loaded, []string{"one", "two"}) || !slices.Equal(h.Service.Modules(), []string{"one", "two"}) {
		t.Fatalf("loaded %v, modules %v", loaded, h.Service.Modules())
	}
	_, err := muctest.Open("", `modules_enabled = { "bad" }`, muc.WithModule("bad", func(*muc.Service) error { return errors.New("no") }))
	if err == nil || !strings.Contains(err.Error(), "module bad") {
		t.Fatalf("a failing module must fail the component: %v", err)
	}
	_, err = muctest.Open("", `restrict_room_creation = "sometimes"`)
	if err == nil || !strings.Contains(err.Error(), "restrict_room_creation") {
		t.Fatalf("bad option: %v", err)
	}
}
