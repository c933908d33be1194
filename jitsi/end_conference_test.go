package jitsi_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server/httpx/transporttest"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

func ecJoin(t *testing.T, ws *transporttest.WS, occupant string) {
	t.Helper()
	ws.Send(`<presence xmlns='jabber:client' to='` + occupant + `'><x xmlns='` + muc.NS + `'/></presence>`)
	ws.NextMatch(func(e *stanza.Element) bool {
		return e.Name.Local == "presence" && e.Get("from") == occupant && hasStatus(e, "110")
	})
}

const ecEnd = `<message xmlns='jabber:client' to='` + scEndConf + `'><end_conference/></message>`

// ecRoomExists asks the MUC for the room's disco#info over ws.
func ecRoomExists(t *testing.T, ws *transporttest.WS, room, id string) bool {
	t.Helper()
	ws.Send(`<iq xmlns='jabber:client' type='get' id='` + id + `' to='` + room + `'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	res := ws.NextMatch(func(e *stanza.Element) bool { return e.Name.Local == "iq" && e.Get("id") == id })
	return res.Get("type") == "result"
}

// TestEndConference: a moderator's <end_conference/> destroys the room of
// its web session; everything else is ignored without a reply (JITSI.md
// §2 P1 "End conference").
func TestEndConference(t *testing.T) {
	e := newSCEnv(t, "", "")
	cases := []struct {
		name string
		// room is the MUC room; query the URL parameters of the sender.
		room  string
		query url.Values
		// sender: "moderator", "participant", "outsider" (not in room),
		// "tcp" (the moderator's second session without URL parameters).
		sender string
		msg    string
		ends   bool
	}{
		{"moderator ends", "end1", url.Values{"room": {"end1"}}, "moderator", ecEnd, true},
		{"tenant prefix", "[acme]end2", url.Values{"room": {"end2"}, "prefix": {"acme"}}, "moderator", ecEnd, true},
		{"prefix is the base domain", "end3", url.Values{"room": {"end3"}, "prefix": {"localhost"}}, "moderator", ecEnd, true},
		{"participant ignored", "end4", url.Values{"room": {"end4"}}, "participant", ecEnd, false},
		{"outsider ignored", "end5", url.Values{"room": {"end5"}}, "outsider", ecEnd, false},
		{"session without room parameter", "end6", url.Values{"room": {"end6"}}, "tcp", ecEnd, false},
		{"room parameter names another room", "end7", url.Values{"room": {"other7"}}, "moderator", ecEnd, false},
		{"no end_conference element", "end8", url.Values{"room": {"end8"}}, "moderator",
			`<message xmlns='jabber:client' to='` + scEndConf + `'><body>x</body></message>`, false},
		{"element in another namespace", "end9", url.Values{"room": {"end9"}}, "moderator",
			`<message xmlns='jabber:client' to='` + scEndConf + `'><end_conference xmlns='urn:x'/></message>`, false},
		{"type error", "end10", url.Values{"room": {"end10"}}, "moderator",
			`<message xmlns='jabber:client' type='error' to='` + scEndConf + `'><end_conference/></message>`, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := string(rune('a' + i))
			room := tc.room + "@" + conf
			// The moderator creates the room from a web session whose
			// room parameter is tc.query's (the "room parameter names
			// another room" case joins a room it does not name).
			mod, _ := e.wsUser("mod"+n, tc.query)
			ecJoin(t, mod, room+"/mod")
			part, _ := e.wsUser("part"+n, tc.query)
			ecJoin(t, part, room+"/part")
			var sender *transporttest.WS
			switch tc.sender {
			case "moderator":
				sender = mod
			case "participant":
				sender = part
			case "outsider":
				sender, _ = e.wsUser("out"+n, tc.query)
			case "tcp":
				// The same account over TCP (no URL parameters), in the
				// room as a second occupant with a moderator role.
				c := e.srv.Connect(t, "mod"+n+"@localhost", "pw-mod"+n, servertest.ClientOptions{})
				cl := &client{Client: c, t: t}
				scJoin(cl, room+"/modtcp")
				cl.Send(el(stanza.NSClient, "message", "to", scEndConf).Add(el(stanza.NSClient, "end_conference")))
				scPing(cl, "tcp"+n)
			}
			if sender != nil {
				sender.Send(tc.msg)
			}
			if tc.ends {
				for _, ws := range []*transporttest.WS{mod, part} {
					p := ws.NextMatch(func(e *stanza.Element) bool {
						return e.Name.Local == "presence" && e.Get("type") == "unavailable" && strings.HasPrefix(e.Get("from"), room+"/")
					})
					d := p.Child(muc.NSUser, "x").Child(muc.NSUser, "destroy")
					if d == nil || d.ChildText(muc.NSUser, "reason") != jitsi.EndConferenceReason {
						t.Fatalf("want <destroy> with reason %q, got %s", jitsi.EndConferenceReason, p)
					}
				}
				if ecRoomExists(t, part, room, "q"+n) {
					t.Fatal("room still exists")
				}
				return
			}
			if !ecRoomExists(t, part, room, "q"+n) {
				t.Fatal("room was destroyed")
			}
			// Nothing from the component (Lua answers nothing).
			if sender != nil {
				sender.Send(`<iq xmlns='jabber:client' type='get' id='z` + n + `' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`)
				for {
					s := sender.Next()
					if s.Get("from") == scEndConf {
						t.Fatalf("the component answered: %s", s)
					}
					if s.Name.Local == "iq" && s.Get("id") == "z"+n {
						break
					}
				}
			}
		})
	}
}
