package jitsi_test

import (
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/stanza"
)

// secLobbyPassword is the room password of the SECURITY-CASES 132 test; no
// stanza to a knocker may carry it.
const secLobbyPassword = "s3cret-room-pw"

// secWatch is a tkConn that fails the test when a received stanza
// contains the room password (SECURITY-CASES 132, CVE-2024-33530).
type secWatch struct {
	tkConn
	t    *testing.T
	who  string
	seen int
}

func (w *secWatch) check(el *stanza.Element) *stanza.Element {
	w.t.Helper()
	w.seen++
	if strings.Contains(string(stanza.Append(nil, el)), secLobbyPassword) {
		w.t.Fatalf("%s received the room password: %s", w.who, el)
	}
	return el
}

func (w *secWatch) Next() *stanza.Element { return w.check(w.tkConn.Next()) }

func (w *secWatch) Exchange(xml string) *stanza.Element { return w.check(w.tkConn.Exchange(xml)) }

// TestSecurityCase132LobbyModeratorToken: SECURITY-CASES 132 (JITSI.md §2
// P1 Lobby, §4.6 token_affiliation): in a password-protected room with a
// lobby, a moderator-token user who gives the right password, and one
// who knocks and is admitted by a moderator, both join as owner and
// moderator; the admit flow never shows the knocker the password.
func TestSecurityCase132LobbyModeratorToken(t *testing.T) {
	lobbyDomain := "lobby." + tkDomain
	e := tkStart(t, tkOptions{
		host: `    enable_domain_verification = false
    main_muc = "` + tkConf + `"
    lobby_muc = "` + lobbyDomain + `"
    modules_enabled = { "bosh", "websocket", "presence_identity", "muc_lobby_rooms" }
`,
		component: `    muc_room_default_public_jids = true
    modules_enabled = { "token_verification", "token_affiliation" }
`,
		extra: `Component "` + lobbyDomain + `" "muc"
    muc_room_locking = false
    muc_room_default_public_jids = true
`,
		modules: []server.Module{jitsi.NewMUCLobbyRooms()},
	})
	moderator := func(id string) map[string]any {
		return map[string]any{"context": map[string]any{"user": map[string]any{"id": id, "moderator": true}}}
	}
	for _, tr := range tkTransports() {
		t.Run(tr.name, func(t *testing.T) {
			room := "sec132-" + tr.name + "@" + tkConf
			lobby := "sec132-" + tr.name + "@" + lobbyDomain

			// The first moderator creates the room, sets the password and
			// turns the lobby on.
			ownerConn, _ := tkLogin(t, e, tr, tkHS(t, e.claims(moderator("owner"))))
			if p := secJoinPw(t, ownerConn, room+"/owner", "Owner", ""); p.Get("type") == "error" {
				t.Fatalf("owner join: %s", p)
			}
			ownerConn.Send(`<iq xmlns='jabber:client' type='set' id='cfg132' to='` + room + `'><query xmlns='` + muc.NSOwner +
				`'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>` + muc.NSRoomConfig +
				`</value></field><field var='muc#roomconfig_membersonly'><value>1</value></field>` +
				`<field var='muc#roomconfig_roomsecret'><value>` + secLobbyPassword + `</value></field></x></query></iq>`)
			for {
				el := ownerConn.Next()
				if el.Name.Local == "iq" && el.Get("id") == "cfg132" {
					if el.Get("type") != "result" {
						t.Fatalf("config: %s", el)
					}
					break
				}
			}

			// A moderator token with the right password joins at once as
			// owner and moderator.
			withPw, _ := tkLogin(t, e, tr, tkHS(t, e.claims(moderator("withpw"))))
			p := secJoinPw(t, withPw, room+"/withpw", "With Password", secLobbyPassword)
			if a, r := tkItem(p); a != "owner" || r != "moderator" {
				t.Fatalf("moderator token with the password: affiliation %q role %q: %s", a, r, p)
			}

			// A moderator token without the password knocks...
			kc, knockerJID := tkLogin(t, e, tr, tkHS(t, e.claims(moderator("knocker"))))
			knocker := &secWatch{tkConn: kc, t: t, who: "the knocker"}
			p = secJoinPw(t, knocker, room+"/knocker", "Knocker", "")
			if _, cond, _ := tkStanzaError(p); cond != "registration-required" {
				t.Fatalf("knock: want registration-required: %s", p)
			}
			if p := secJoinPw(t, knocker, lobby+"/knocker", "Knocker", ""); p.Get("type") == "error" {
				t.Fatalf("lobby join: %s", p)
			}
			// ...and the owner admits it with an invite to the main room.
			ownerConn.Send(`<message xmlns='jabber:client' to='` + room + `'><x xmlns='` + muc.NSUser +
				`'><invite to='` + knockerJID + `'/></x></message>`)
			for {
				el := ownerConn.Next()
				if el.Name.Local != "message" {
					continue
				}
				if s, ok := jitsi.JSONPayload(el); ok && strings.Contains(s, jitsi.LobbyEventAccessGranted) {
					break
				}
			}
			var inv *stanza.Element
			for inv == nil {
				el := knocker.Next()
				if x := el.Child(muc.NSUser, "x"); el.Name.Local == "message" && x != nil && x.Child(muc.NSUser, "invite") != nil {
					inv = el
				}
			}
			if x := inv.Child(muc.NSUser, "x"); x.Child(muc.NSUser, "password") != nil {
				t.Fatalf("the invite carries a <password/>: %s", inv)
			}
			// The admitted knocker joins without the password, as owner
			// and moderator.
			p = secJoinPw(t, knocker, room+"/knocker", "Knocker", "")
			if a, r := tkItem(p); p.Get("type") == "error" || a != "owner" || r != "moderator" {
				t.Fatalf("admitted moderator token: affiliation %q role %q: %s", a, r, p)
			}
			if knocker.seen == 0 {
				t.Fatal("nothing was checked")
			}
		})
	}
}

// secJoinPw is a Jitsi join: display name, optional password.
func secJoinPw(t *testing.T, c tkConn, occupant, name, password string) *stanza.Element {
	t.Helper()
	x := `<x xmlns='` + muc.NS + `'>`
	if password != "" {
		x += `<password>` + password + `</password>`
	}
	x += `</x>`
	c.Send(`<presence xmlns='jabber:client' to='` + occupant + `'>` + x +
		`<nick xmlns='http://jabber.org/protocol/nick'>` + name + `</nick></presence>`)
	for {
		el := c.Next()
		if el.Name.Local != "presence" || !strings.EqualFold(el.Get("from"), occupant) {
			continue
		}
		if el.Get("type") == "error" || tkHasStatus(el, "110") {
			return el
		}
	}
}
