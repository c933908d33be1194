package jitsi_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/auth/jwt"
	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
	"github.com/parley-xmpp/parley/server/websocket"
)

// Tests for muc_limit_messages (SECURITY-CASES 150, the room cap; JITSI.md
// mod_muc_limit_messages) over WebSocket sessions opened with ?room=, as
// Jitsi web clients open them.

// lmStart runs tkDomain with token auth, guest.tkDomain with Jitsi
// anonymous auth, auth.tkDomain with passwords, and the conference MUC
// with muc_limit_messages and the component lines given.
func lmStart(t *testing.T, component string) *tkEnv {
	t.Helper()
	clk := newTkClock()
	srv := servertest.Start(t, lmConfig(component), servertest.WithServerOptions(
		server.WithModules(websocket.New(websocket.Options{})),
		server.WithAuthProvider(jitsi.TokenProviderName, jitsi.TokenAuthFactory(jitsi.TokenAuthOptions{Verifier: []jwt.Option{jwt.WithClock(clk.Now)}})),
		server.WithAuthProvider(jitsi.JitsiAnonymousProviderName, jitsi.JitsiAnonymousFactory(nil)),
		server.WithComponentType("muc", muc.Factory(muc.WithModule(jitsi.MUCLimitMessagesName, jitsi.MUCLimitMessages))),
	))
	return &tkEnv{Server: srv, t: t, clock: clk}
}

// lmConfig is lmStart's configuration (without servertest.Defaults).
func lmConfig(component string) string {
	return `
modules_enabled = { "websocket" }
consider_websocket_secure = true
allow_unencrypted_plain_auth = true
VirtualHost "` + tkDomain + `"
    authentication = "token"
    app_id = "` + tkAppID + `"
    app_secret = "` + tkSecret + `"
VirtualHost "auth.` + tkDomain + `"
    authentication = "internal_plain"
VirtualHost "guest.` + tkDomain + `"
    authentication = "jitsi-anonymous"
Component "` + tkConf + `" "muc"
    muc_room_locking = false
    modules_enabled = { "` + jitsi.MUCLimitMessagesName + `" }
` + component
}

// lmGuest logs a guest in over WebSocket with ?room=node and joins
// node@conference as nick.
func lmGuest(t *testing.T, e *tkEnv, node, nick string) tkConn {
	t.Helper()
	host := "guest." + tkDomain
	c, _ := tkOpenWS(t, e, host, url.Values{"room": {node}}, nil)
	if res := tkSASL(c); res.Name.Local != "success" {
		t.Fatalf("guest login: %s", res)
	}
	c.Restart(host)
	tkBind(t, c)
	lmJoin(t, c, node, nick)
	return c
}

// lmTokenUser logs a token user in over WebSocket with ?room=node and
// joins.
func lmTokenUser(t *testing.T, e *tkEnv, node, nick string) tkConn {
	t.Helper()
	q := url.Values{"room": {node}, "token": {tkHS(t, e.claims(nil))}}
	c, _ := tkOpenWS(t, e, tkDomain, q, nil)
	if res := tkSASL(c); res.Name.Local != "success" {
		t.Fatalf("token login: %s", res)
	}
	c.Restart(tkDomain)
	tkBind(t, c)
	lmJoin(t, c, node, nick)
	return c
}

func lmJoin(t *testing.T, c tkConn, node, nick string) {
	t.Helper()
	if p := tkJoin(t, c, node+"@"+tkConf+"/"+nick, ""); p.Get("type") == "error" {
		t.Fatalf("join %s: %s", nick, p)
	}
}

// lmSay sends a groupchat message with a body to node@conference.
func lmSay(c tkConn, node, id, body string) {
	c.Send(`<message xmlns='jabber:client' type='groupchat' id='` + id + `' to='` + node + "@" + tkConf + `'><body>` + body + `</body></message>`)
}

// lmNextMessage returns the next message c receives, skipping the
// subject sent on joining.
func lmNextMessage(c tkConn) *stanza.Element {
	for {
		if el := c.Next(); el.Name.Local == "message" && el.Child("", "subject") == nil {
			return el
		}
	}
}

// lmNextError returns the next error message c receives.
func lmNextError(c tkConn) *stanza.Element {
	for {
		if m := lmNextMessage(c); m.Get("type") == "error" {
			return m
		}
	}
}

// lmNextID returns the next message with the given id.
func lmNextID(c tkConn, id string) *stanza.Element {
	for {
		if m := lmNextMessage(c); m.Get("id") == id {
			return m
		}
	}
}

// lmIsAnnouncement matches the room's limit announcement.
func lmIsAnnouncement(m *stanza.Element) bool {
	return m.Get("type") == "groupchat" && !strings.Contains(m.Get("from"), "/") && m.ChildText("", "body") == jitsi.LimitMessagesText
}

// lmRefused checks that m is the cancel/not-allowed answer to message id.
func lmRefused(t *testing.T, m *stanza.Element, id string) {
	t.Helper()
	typ, cond, text := tkStanzaError(m)
	if m.Get("id") != id || typ != "cancel" || cond != "not-allowed" || text != jitsi.LimitMessagesText {
		t.Fatalf("want cancel/not-allowed %q for %s, got %s", jitsi.LimitMessagesText, id, m)
	}
}

// TestMUCLimitMessages: SECURITY-CASES 150: after muc_limit_messages_count
// messages the first one over the limit makes the room announce it once
// and is refused; every later message is refused with cancel/not-allowed;
// poll answers and messages without a body other than groupchat pass, and
// so do sessions that were not opened for the conference (jicofo).
func TestMUCLimitMessages(t *testing.T) {
	e := lmStart(t, "    muc_limit_messages_count = 3\n")
	const node = "limited"
	alice := lmGuest(t, e, node, "alice")
	bob := lmGuest(t, e, node, "bob")
	e.CreateUser("focus", "auth."+tkDomain, "pw-focus")
	focus := e.Connect(t, "focus@auth."+tkDomain, "pw-focus", servertest.ClientOptions{})

	focus.Send(el(stanza.NSClient, "presence", "to", node+"@"+tkConf+"/focus").Add(el(muc.NS, "x")))
	focus.NextMatch(func(p *stanza.Element) bool { return p.Name.Local == "presence" && hasStatus(p, "110") })

	for i, id := range []string{"m1", "m2", "m3"} {
		lmSay(alice, node, id, "hello "+id)
		if m := lmNextMessage(bob); m.ChildText("", "body") != "hello "+id {
			t.Fatalf("message %d under the limit: %s", i+1, m)
		}
	}
	// The fourth message: one announcement to everyone, an error to the
	// sender, nothing of it to the others.
	lmSay(alice, node, "m4", "over the limit")
	if m := lmNextMessage(bob); !lmIsAnnouncement(m) {
		t.Fatalf("bob: want the announcement, got %s", m)
	}
	var sawAnnouncement, sawError bool
	for !sawAnnouncement || !sawError {
		m := lmNextMessage(alice)
		switch {
		case lmIsAnnouncement(m):
			sawAnnouncement = true
		case m.Get("type") == "error":
			lmRefused(t, m, "m4")
			sawError = true
		case m.Get("id") == "m4":
			t.Fatalf("the refused message was delivered: %s", m)
		}
	}
	// Later messages are refused without a second announcement; so are
	// private messages with a body.
	lmSay(bob, node, "m5", "still talking")
	lmRefused(t, lmNextMessage(bob), "m5")
	bob.Send(`<message xmlns='jabber:client' type='chat' id='pm1' to='` + node + "@" + tkConf + `/alice'><body>psst</body></message>`)
	lmRefused(t, lmNextMessage(bob), "pm1")

	// A poll answer passes.
	answer := `{"type":"answer-poll","pollId":"p1","answers":[true]}`
	alice.Send(`<message xmlns='jabber:client' type='groupchat' id='poll1' to='` + node + "@" + tkConf + `'><json-message xmlns='` +
		jitsi.NSJitMeet + `'>` + answer + `</json-message></message>`)
	// A chat state to an occupant (no body, not groupchat) passes.
	alice.Send(`<message xmlns='jabber:client' type='chat' id='cs1' to='` + node + "@" + tkConf + `/bob'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`)
	// jicofo's session has no conference in its URL: not limited.
	focus.Send(el(stanza.NSClient, "message", "type", "groupchat", "id", "f1", "to", node+"@"+tkConf).Add(el(stanza.NSClient, "body").AddText("from focus")))
	// Different senders: any order.
	want := map[string]bool{"poll1": true, "cs1": true, "f1": true}
	for len(want) > 0 {
		m := lmNextMessage(bob)
		if lmIsAnnouncement(m) {
			t.Fatalf("second announcement: %s", m)
		}
		if m.Get("type") == "error" {
			t.Fatalf("bob got an error: %s", m)
		}
		delete(want, m.Get("id"))
	}
	// A groupchat message without a body that is not a poll answer counts
	// (Jitsi lets only poll answers through) and is refused.
	bob.Send(`<message xmlns='jabber:client' type='groupchat' id='j2' to='` + node + "@" + tkConf + `'><json-message xmlns='` +
		jitsi.NSJitMeet + `'>{"type":"new-poll"}</json-message></message>`)
	lmRefused(t, lmNextMessage(bob), "j2")
}

// TestMUCLimitMessagesCheckToken: SECURITY-CASES 150 with
// muc_limit_messages_check_token: a message from a token user lifts the
// limit of its room; without the option token users are limited too.
func TestMUCLimitMessagesCheckToken(t *testing.T) {
	tests := []struct {
		name       string
		component  string
		liftsLimit bool
	}{
		{name: "check_token lifts the limit", component: "    muc_limit_messages_count = 1\n    muc_limit_messages_check_token = true\n", liftsLimit: true},
		{name: "without check_token tokens count too", component: "    muc_limit_messages_count = 1\n", liftsLimit: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := lmStart(t, tc.component)
			const node = "tokenroom"
			guest := lmGuest(t, e, node, "guest")
			owner := lmTokenUser(t, e, node, "owner")
			lmSay(guest, node, "g1", "first")
			if m := lmNextID(owner, "g1"); m.Get("type") != "groupchat" {
				t.Fatalf("first message: %s", m)
			}
			lmSay(owner, node, "o1", "from the token user")
			m := lmNextMessage(guest)
			if m.Get("id") == "g1" { // the guest's own message comes back first
				m = lmNextMessage(guest)
			}
			if !tc.liftsLimit {
				if !lmIsAnnouncement(m) {
					t.Fatalf("want the announcement, got %s", m)
				}
				lmRefused(t, lmNextError(owner), "o1")
				return
			}
			if m.Get("id") != "o1" || m.Get("type") != "groupchat" {
				t.Fatalf("token user's message: %s", m)
			}
			for _, id := range []string{"g2", "g3"} {
				lmSay(guest, node, id, "more")
				if m := lmNextID(owner, id); m.Get("type") != "groupchat" {
					t.Fatalf("after the lift, %s: %s", id, m)
				}
			}
		})
	}
}

// TestMUCLimitMessagesReload: SECURITY-CASES 150 / 164: a configuration
// reload changes the limit of rooms that exist (Jitsi re-reads the options
// on config-reloaded).
func TestMUCLimitMessagesReload(t *testing.T) {
	e := lmStart(t, "    muc_limit_messages_count = 10\n")
	const node = "reloaded"
	alice := lmGuest(t, e, node, "alice")
	bob := lmGuest(t, e, node, "bob")
	lmSay(alice, node, "a1", "one")
	lmNextID(bob, "a1")
	cfg, err := config.Parse("reload.cfg.lua", []byte(servertest.Defaults+lmConfig("    muc_limit_messages_count = 1\n")),
		config.WithEnv(func(string) (string, bool) { return "", false }))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(t.Context(), cfg); err != nil {
		t.Fatalf("reload: %v", err)
	}
	lmSay(alice, node, "a2", "two")
	if m := lmNextMessage(bob); !lmIsAnnouncement(m) {
		t.Fatalf("after lowering the limit to 1, the second message: want the announcement, got %s", m)
	}
	lmRefused(t, lmNextError(alice), "a2")
}
