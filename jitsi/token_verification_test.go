package jitsi_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/server/httpx/transporttest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// tkPasswordLogin logs in user@host with PLAIN (for admins and other
// accounts without a token) and binds.
func tkPasswordLogin(t testing.TB, e *tkEnv, tr tkTransport, user, host string) (tkConn, string) {
	t.Helper()
	e.CreateUser(user, host, "pw-"+user)
	c, _ := tr.open(t, e, host, nil, nil)
	if res := transporttest.SASL(t, c.Exchange, sasl.Plain, user, "pw-"+user); res.Name.Local != "success" {
		t.Fatalf("PLAIN %s@%s: %s", user, host, res)
	}
	c.Restart(host)
	return c, tkBind(t, c)
}

// tkGuestLogin logs in anonymously on the guest host.
func tkGuestLogin(t testing.TB, e *tkEnv, tr tkTransport) (tkConn, string) {
	t.Helper()
	host := "guest." + tkDomain
	c, _ := tr.open(t, e, host, nil, nil)
	if res := tkSASL(c); res.Name.Local != "success" {
		t.Fatalf("guest login: %s", res)
	}
	c.Restart(host)
	return c, tkBind(t, c)
}

// roomCase is one join checked by token_verification (JITSI.md §4.5,
// SECURITY-CASES 95-104).
type roomCase struct {
	name string
	// claims modify the default token ("sub": nil removes sub).
	claims map[string]any
	// node is the room's localpart on the conference component.
	node string
	ok   bool
}

// runRoomCases logs in with each case's token over each transport and
// joins node@conference; refusals must be cancel/not-allowed "Room and
// token mismatched". It returns how many refused joins went through.
func runRoomCases(t *testing.T, e *tkEnv, cases []roomCase) (wrongly int) {
	t.Helper()
	for _, tr := range tkTransports() {
		for i, tc := range cases {
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				c, _ := tkLogin(t, e, tr, tkHS(t, e.claims(tc.claims)))
				nick := tr.name + strconv.Itoa(i)
				got := tkJoin(t, c, tc.node+"@"+tkConf+"/"+nick, "")
				joined := got.Get("type") != "error"
				if joined && !tc.ok {
					wrongly++
				}
				if joined != tc.ok {
					t.Fatalf("joined = %v, want %v: %s", joined, tc.ok, got)
				}
				if !joined {
					typ, cond, text := tkStanzaError(got)
					if typ != "cancel" || cond != "not-allowed" || text != "Room and token mismatched" {
						t.Fatalf("refusal %s", got)
					}
				}
			})
		}
	}
	return wrongly
}

// TestTokenRoomMatrix is Util:verify_room over real sessions, with domain
// verification on (the plugin default) and off (docker-jitsi-meet).
func TestTokenRoomMatrix(t *testing.T) {
	cyrillic := "Комната"
	encoded := strings.ToLower(url.PathEscape(strings.ToLower(cyrillic)))
	regex := func(room string) map[string]any {
		return map[string]any{"room": room, "context": map[string]any{"room": map[string]any{"regex": true}}}
	}
	wrongly := 0
	t.Run("domain verification on", func(t *testing.T) {
		e := tkStart(t, tkOptions{component: `    modules_enabled = { "token_verification" }`})
		wrongly += runRoomCases(t, e, []roomCase{
			{name: "96 matching room claim", claims: map[string]any{"room": "room1"}, node: "room1", ok: true},
			{name: "96 token for room A joins room B", claims: map[string]any{"room": "room1"}, node: "room2"},
			{name: "97 wildcard room claim", claims: map[string]any{"room": "*"}, node: "anything", ok: true},
			{name: "98 claim MyRoom joins myroom", claims: map[string]any{"room": "MyRoom"}, node: "myroom", ok: true},
			{name: "99 Cyrillic capital claim joins the percent-encoded room", claims: map[string]any{"room": cyrillic}, node: encoded, ok: true},
			{name: "100 [tenanta]room with sub tenantb", claims: map[string]any{"room": "room", "sub": "tenantb"}, node: "[tenanta]room"},
			{name: "100 [tenanta]room with sub tenanta", claims: map[string]any{"room": "room", "sub": "tenanta"}, node: "[tenanta]room", ok: true},
			{name: "100 [tenanta]room with sub *", claims: map[string]any{"room": "room", "sub": "*"}, node: "[tenanta]room", ok: true},
			{name: "100 tenant room with the base domain as sub", claims: map[string]any{"room": "room", "sub": tkDomain}, node: "[tenanta]room"},
			{name: "seed 003 sub tenantx and room roomname join [tenantx]roomname", claims: map[string]any{"room": "roomname", "sub": "tenantx"}, node: "[tenantx]roomname", ok: true},
			{name: "seed 003 sub TenantX is lower-cased", claims: map[string]any{"room": "roomname", "sub": "TenantX"}, node: "[tenantx]roomname", ok: true},
			{name: "seed 003 sub is the domain for a room without tenant", claims: map[string]any{"room": "roomname", "sub": tkDomain}, node: "roomname", ok: true},
			{name: "seed 003 room [tenantx]roomname with sub anything is refused", claims: map[string]any{"room": "[tenantx]roomname", "sub": "anything"}, node: "[tenantx]roomname"},
			{name: "seed 003 tenant sub for a room without tenant", claims: map[string]any{"room": "roomname", "sub": "tenantx"}, node: "roomname"},
			{name: "4.7 no sub is a clean refusal (jitsi-meet 9313, 12262)", claims: map[string]any{"room": "room1", "sub": nil}, node: "room1"},
			{name: "4.7 no sub with a tenant room", claims: map[string]any{"room": "room1", "sub": nil}, node: "[t]room1"},
			{name: "sub * joins the main MUC", claims: map[string]any{"room": "room1", "sub": "*"}, node: "room1", ok: true},
			{name: "sub of another domain", claims: map[string]any{"room": "room1", "sub": "other.example"}, node: "room1"},
			{name: "104 regex claim matching", claims: regex("room%d+"), node: "room42", ok: true},
			{name: "104 regex claim not matching", claims: regex("room%d+"), node: "lobby"},
			{name: "104 regex with over 3 quantifiers", claims: regex("r+o+o+m+%d*"), node: "room1"},
			{name: "104 regex against a room name over 128 chars", claims: regex("room%d+"), node: "room" + strings.Repeat("1", 130)},
			{name: "104 malformed regex", claims: regex("room[%d"), node: "room1"},
		})
	})
	t.Run("domain verification off", func(t *testing.T) {
		e := tkStart(t, tkOptions{
			host:      "    enable_domain_verification = false\n",
			component: `    modules_enabled = { "token_verification" }`,
		})
		wrongly += runRoomCases(t, e, []roomCase{
			{name: "96 matching room claim", claims: map[string]any{"room": "room1"}, node: "room1", ok: true},
			{name: "96 token for room A joins room B", claims: map[string]any{"room": "room1"}, node: "room2"},
			{name: "101 sub is not checked across tenants", claims: map[string]any{"room": "room", "sub": "tenantb"}, node: "[tenanta]room", ok: true},
			{name: "101 room claim [tenantx]roomname joins it literally", claims: map[string]any{"room": "[tenantx]roomname", "sub": "x"}, node: "[tenantx]roomname", ok: true},
			{name: "4.5 regex claims are compared literally", claims: regex("room%d+"), node: "room42"},
			{name: "no sub is fine without domain verification", claims: map[string]any{"room": "room1", "sub": nil}, node: "room1", ok: true},
			{name: "98 case folding", claims: map[string]any{"room": "ROOM1"}, node: "room1", ok: true},
		})
	})
	t.Run("room claim optional", func(t *testing.T) {
		e := tkStart(t, tkOptions{
			host:      "    asap_require_room_claim = false\n",
			component: `    modules_enabled = { "token_verification" }`,
		})
		wrongly += runRoomCases(t, e, []roomCase{
			{name: "95 a token without room joins any room", claims: map[string]any{"room": nil}, node: "whatever", ok: true},
			{name: "95 a room claim still binds", claims: map[string]any{"room": "room1"}, node: "room2"},
		})
	})
	t.Run("no muc_mapper_domain_base", func(t *testing.T) {
		e := tkStart(t, tkOptions{
			noBase:    true,
			component: `    modules_enabled = { "token_verification" }`,
		})
		wrongly += runRoomCases(t, e, []roomCase{
			{name: "102 tenant room without muc_mapper_domain_base", claims: map[string]any{"room": "room", "sub": "tenanta"}, node: "[tenanta]room"},
			{name: "102 tenant room with sub * without muc_mapper_domain_base", claims: map[string]any{"room": "room", "sub": "*"}, node: "[tenanta]room"},
			{name: "plain room still checks sub", claims: map[string]any{"room": "room", "sub": tkDomain}, node: "room", ok: true},
		})
	})
	t.Logf("room matrix: joins wrongly accepted: %d", wrongly)
	if wrongly != 0 {
		t.Fatalf("%d joins were wrongly accepted", wrongly)
	}
}

// TestTokenVerificationBypass: admins of the component (not only global
// ones, jitsi-meet PR 8331) and allowlisted domains or JIDs need no token;
// guests without one are refused under domain verification (JITSI.md §4.7).
func TestTokenVerificationBypass(t *testing.T) {
	auth := "auth." + tkDomain
	e := tkStart(t, tkOptions{
		global: `admins = { "jvb@` + auth + `" }` + "\n",
		component: `    modules_enabled = { "token_verification" }
    admins = { "focus@` + auth + `" }
    token_verification_allowlist = { "recorder@` + auth + `", "hidden.` + tkDomain + `" }
`,
		extra: `VirtualHost "hidden.` + tkDomain + `"
    authentication = "internal_plain"
`,
	})
	for _, tr := range tkTransports() {
		tests := []struct {
			name  string
			login func(t *testing.T) tkConn
			ok    bool
		}{
			{"8331 component admin creates a room", func(t *testing.T) tkConn { c, _ := tkPasswordLogin(t, e, tr, "focus", auth); return c }, true},
			{"global admin", func(t *testing.T) tkConn { c, _ := tkPasswordLogin(t, e, tr, "jvb", auth); return c }, true},
			{"allowlisted bare JID", func(t *testing.T) tkConn { c, _ := tkPasswordLogin(t, e, tr, "recorder", auth); return c }, true},
			{"allowlisted domain", func(t *testing.T) tkConn { c, _ := tkPasswordLogin(t, e, tr, "jibri", "hidden."+tkDomain); return c }, true},
			{"user of the auth host without token", func(t *testing.T) tkConn { c, _ := tkPasswordLogin(t, e, tr, "bob", auth); return c }, false},
			{"4.7 guest without token", func(t *testing.T) tkConn { c, _ := tkGuestLogin(t, e, tr); return c }, false},
		}
		for i, tc := range tests {
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				c := tc.login(t)
				node := tr.name + "-bypass" + string(rune('a'+i))
				got := tkJoin(t, c, node+"@"+tkConf+"/n", "")
				if joined := got.Get("type") != "error"; joined != tc.ok {
					t.Fatalf("joined = %v, want %v: %s", joined, tc.ok, got)
				}
			})
		}
	}
}

// TestTokenGuestsWithoutDomainVerification: guests join when domain
// verification is off (they have no room claim).
func TestTokenGuestsWithoutDomainVerification(t *testing.T) {
	e := tkStart(t, tkOptions{
		host:      "    enable_domain_verification = false\n",
		component: `    modules_enabled = { "token_verification" }`,
	})
	for _, tr := range tkTransports() {
		t.Run(tr.name, func(t *testing.T) {
			c, _ := tkGuestLogin(t, e, tr)
			if got := tkJoin(t, c, "open-"+tr.name+"@"+tkConf+"/g", ""); got.Get("type") == "error" {
				t.Fatalf("guest refused: %s", got)
			}
		})
	}
}

// TestTokenRequiredForModeration: with
// token_verification_require_token_for_moderation, guests cannot configure
// rooms (SECURITY-CASES 119) while token holders can.
func TestTokenRequiredForModeration(t *testing.T) {
	e := tkStart(t, tkOptions{
		host: "    enable_domain_verification = false\n",
		component: `    modules_enabled = { "token_verification" }
    token_verification_require_token_for_moderation = true
`,
	})
	ownerSet := func(room, id string) string {
		return `<iq xmlns='jabber:client' type='set' id='` + id + `' to='` + room + `'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`
	}
	for _, tr := range tkTransports() {
		t.Run(tr.name, func(t *testing.T) {
			room := "mod-" + tr.name + "@" + tkConf
			owner, _ := tkLogin(t, e, tr, tkHS(t, e.claims(nil)))
			if got := tkJoin(t, owner, room+"/owner", ""); got.Get("type") == "error" {
				t.Fatalf("owner join: %s", got)
			}
			res := nextIQ(t, owner, ownerSet(room, "o1"), "o1")
			if res.Get("type") != "result" {
				t.Fatalf("token owner's config: %s", res)
			}
			guest, _ := tkGuestLogin(t, e, tr)
			if got := tkJoin(t, guest, room+"/guest", ""); got.Get("type") == "error" {
				t.Fatalf("guest join: %s", got)
			}
			res = nextIQ(t, guest, ownerSet(room, "g1"), "g1")
			if typ, cond, text := tkStanzaError(res); typ != "cancel" || cond != "not-allowed" || text != "Room modification disabled for guests" {
				t.Fatalf("guest's config: %s", res)
			}
		})
	}
}

// nextIQ sends an IQ and returns the reply with that id.
func nextIQ(t testing.TB, c tkConn, xml, id string) *stanza.Element {
	t.Helper()
	c.Send(xml)
	for {
		el := c.Next()
		if el.Name.Local == "iq" && el.Get("id") == id {
			return el
		}
	}
}

// TestTokenExpiryPolicy documents SECURITY-CASES 116: as in Jitsi, exp is
// checked when the session logs in; a session whose token expires later
// keeps joining the rooms its claims allow, and a reconnection needs a
// fresh token.
func TestTokenExpiryPolicy(t *testing.T) {
	e := tkStart(t, tkOptions{component: `    modules_enabled = { "token_verification" }`})
	tr := tkTransports()[0]
	tok := tkHS(t, e.claims(map[string]any{"room": "exp1", "exp": e.clock.Now().Add(time.Minute).Unix()}))
	c, _ := tkLogin(t, e, tr, tok)
	e.clock.Advance(2 * time.Minute)
	if p := tkJoin(t, c, "exp1@"+tkConf+"/late", ""); p.Get("type") == "error" {
		t.Fatalf("join after expiry: %s", p)
	}
	if p := tkJoin(t, c, "exp2@"+tkConf+"/late", ""); p.Get("type") != "error" {
		t.Fatalf("the room claim stopped binding: %s", p)
	}
	c2, _ := tr.open(t, e, tkDomain, url.Values{"token": {tok}}, nil)
	if res := tkSASL(c2); res.Name.Local != "failure" || !strings.HasPrefix(tkFailureText(res), "Not acceptable by exp") {
		t.Fatalf("login with the expired token: %s", res)
	}
}
