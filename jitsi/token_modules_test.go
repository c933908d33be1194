package jitsi_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/auth/jwt"
	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server/stanza"
)

// TestTokenAffiliation: token_affiliation makes moderator tokens owners and
// other tokens members at join (JITSI.md §4.6); users without a token are
// left alone.
func TestTokenAffiliation(t *testing.T) {
	auth := "auth." + tkDomain
	e := tkStart(t, tkOptions{
		host: "    enable_domain_verification = false\n",
		component: `    modules_enabled = { "token_verification", "token_affiliation" }
    admins = { "focus@` + auth + `" }
`,
	})
	userCtx := func(u map[string]any) map[string]any { return map[string]any{"context": map[string]any{"user": u}} }
	tests := []struct {
		name              string
		claims            map[string]any // nil: a guest without token
		affiliation, role string
	}{
		{"moderator true", userCtx(map[string]any{"moderator": true}), "owner", "moderator"},
		{"moderator \"true\"", userCtx(map[string]any{"moderator": "true"}), "owner", "moderator"},
		{"affiliation owner", userCtx(map[string]any{"affiliation": "owner"}), "owner", "moderator"},
		{"affiliation moderator", userCtx(map[string]any{"affiliation": "moderator"}), "owner", "moderator"},
		{"affiliation teacher", userCtx(map[string]any{"affiliation": "teacher"}), "owner", "moderator"},
		{"plain token", userCtx(map[string]any{"id": "u2"}), "member", "participant"},
		{"moderator false", userCtx(map[string]any{"moderator": false}), "member", "participant"},
		{"no token", nil, "none", "participant"},
	}
	for _, tr := range tkTransports() {
		t.Run(tr.name, func(t *testing.T) {
			room := "aff-" + tr.name + "@" + tkConf
			focus, _ := tkPasswordLogin(t, e, tr, "focus", auth)
			if p := tkJoin(t, focus, room+"/focus", ""); p.Get("type") == "error" {
				t.Fatalf("focus: %s", p)
			}
			for i, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					var c tkConn
					if tc.claims == nil {
						c, _ = tkGuestLogin(t, e, tr)
					} else {
						c, _ = tkLogin(t, e, tr, tkHS(t, e.claims(tc.claims)))
					}
					p := tkJoin(t, c, room+"/u"+strconv.Itoa(i), "")
					if a, r := tkItem(p); a != tc.affiliation || r != tc.role {
						t.Fatalf("affiliation %q role %q, want %q %q: %s", a, r, tc.affiliation, tc.role, p)
					}
				})
			}
		})
	}
}

// TestTokenModeration: token_moderation reads the top-level moderator
// claim after the join and stops anyone else from granting owner.
func TestTokenModeration(t *testing.T) {
	auth := "auth." + tkDomain
	e := tkStart(t, tkOptions{
		host: "    enable_domain_verification = false\n",
		component: `    modules_enabled = { "token_moderation" }
    admins = { "focus@` + auth + `" }
`,
	})
	tr := tkTransports()[0]
	room := "tm@" + tkConf
	focus, _ := tkPasswordLogin(t, e, tr, "focus", auth)
	if p := tkJoin(t, focus, room+"/focus", ""); p.Get("type") == "error" {
		t.Fatalf("focus: %s", p)
	}
	waitAffiliation := func(c tkConn, occupant, want string) {
		t.Helper()
		for {
			el := c.Next()
			if el.Name.Local == "presence" && el.Get("from") == occupant && tkHasStatus(el, "110") {
				if a, _ := tkItem(el); a == want {
					return
				}
			}
		}
	}
	mod, _ := tkLogin(t, e, tr, tkHS(t, e.claims(map[string]any{"moderator": true})))
	tkJoin(t, mod, room+"/mod", "")
	waitAffiliation(mod, room+"/mod", "owner")

	// context.user.moderator is not what this module reads.
	ctxMod, _ := tkLogin(t, e, tr, tkHS(t, e.claims(map[string]any{"context": map[string]any{"user": map[string]any{"moderator": true}}})))
	tkJoin(t, ctxMod, room+"/ctxmod", "")
	waitAffiliation(ctxMod, room+"/ctxmod", "member")

	member, _ := tkLogin(t, e, tr, tkHS(t, e.claims(nil)))
	tkJoin(t, member, room+"/member", "")
	waitAffiliation(member, room+"/member", "member")

	// Jicofo (an admin) granting owner is refused once the room exists.
	memberBare, _, _ := strings.Cut(whoAmI(t, member, tkDomain), "/")
	grant := `<iq xmlns='jabber:client' type='set' id='g1' to='` + room + `'><query xmlns='` + muc.NSAdmin + `'><item affiliation='owner' jid='` + memberBare + `'/></query></iq>`
	res := nextIQ(t, focus, grant, "g1")
	if _, cond, _ := tkStanzaError(res); cond != "not-acceptable" {
		t.Fatalf("owner grant by focus: %s", res)
	}
}

// TestTokenPresenceIdentity: presence_identity replaces a client-sent
// <identity/> with the token's, and strips it for users without a token.
func TestTokenPresenceIdentity(t *testing.T) {
	e := tkStart(t, tkOptions{host: "    enable_domain_verification = false\n"})
	spoof := `<identity><user><id>admin</id><name>Boss</name></user><group>staff</group></identity>`
	for _, tr := range tkTransports() {
		t.Run(tr.name, func(t *testing.T) {
			room := "pid-" + tr.name + "@" + tkConf
			c, _ := tkLogin(t, e, tr, tkHS(t, e.claims(map[string]any{"context": map[string]any{
				"user":  map[string]any{"id": "u7", "name": "Alice", "nested": map[string]any{"x": 1}, "bad key": "v"},
				"group": "g1",
			}})))
			p := tkJoin(t, c, room+"/alice", spoof)
			ids := identities(p)
			if len(ids) != 1 {
				t.Fatalf("%d identities: %s", len(ids), p)
			}
			want := `<identity xmlns='jabber:client'><user><id>u7</id><name>Alice</name></user><group>g1</group></identity>`
			if got := string(stanza.Append(nil, ids[0])); got != want {
				t.Fatalf("identity %s, want %s", got, want)
			}
			g, _ := tkGuestLogin(t, e, tr)
			p = tkJoin(t, g, room+"/guest", spoof)
			if ids := identities(p); len(ids) != 0 {
				t.Fatalf("guest kept a forged identity: %s", p)
			}
		})
	}
}

func identities(p *stanza.Element) []*stanza.Element {
	var out []*stanza.Element
	for _, c := range p.Elements() {
		if c.Name.Local == "identity" {
			out = append(out, c)
		}
	}
	return out
}

// FuzzUpdatePresenceIdentity: whatever context.user holds, the presence
// stays well-formed XML with exactly one identity (SECURITY-CASES 113).
func FuzzUpdatePresenceIdentity(f *testing.F) {
	f.Add(`{"id":"u1","name":"Alice"}`, "g")
	f.Add(`{"<x>":"y","a b":1,"ok":true,"n":1.5e3,"o":{"p":[1]}}`, "")
	f.Add(`{"xmlns":"evil","id":"\u0000"}`, "<group/>")
	f.Fuzz(func(t *testing.T, user, group string) {
		var u map[string]any
		d := json.NewDecoder(strings.NewReader(user))
		d.UseNumber()
		if err := d.Decode(&u); err != nil || u == nil {
			return
		}
		claims := &jwt.Claims{User: &jwt.User{Raw: u}, Context: &jwt.Context{Group: group}}
		pres := stanza.New(stanza.NSClient, "presence").Add(stanza.New(stanza.NSClient, "identity"))
		jitsi.UpdatePresenceIdentity(pres, claims)
		out := stanza.Append(nil, pres)
		back, err := stanza.Parse(out, stanza.Limits{MaxStanza: 1 << 20})
		if err != nil {
			t.Fatalf("%s does not parse: %v", out, err)
		}
		if n := len(identities(back)); n != 1 {
			t.Fatalf("%d identities in %s", n, out)
		}
	})
}
