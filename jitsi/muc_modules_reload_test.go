package jitsi_test

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // TURN REST credentials are HMAC-SHA1
	"encoding/base64"
	"testing"

	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// crModulesConfig is a deployment with turncredentials on the host and
// muc_password_whitelist and muc_resource_validate on the MUC; hostExtra
// and mucExtra go into those sections.
func crModulesConfig(secret, mucExtra string) string {
	return `
allow_unencrypted_plain_auth = true
VirtualHost "localhost"
    modules_enabled = { "turncredentials" }
    turncredentials_secret = "` + secret + `"
    turncredentials = { { type = "turn", host = "turn.test", port = 3478 } }
Component "conference.localhost" "muc"
    muc_room_locking = false
    modules_enabled = { "muc_password_whitelist", "muc_resource_validate" }
    anonymous_auth_methods = { "internal_hashed", "internal_plain" }
` + mucExtra
}

// crTURNPassword returns the username and password of the turn service
// the host offers alice.
func crTURNPassword(t *testing.T, alice *servertest.Client) (user, pass string) {
	t.Helper()
	resp := alice.Request(paExtDisco(jitsi.NSExtDisco1, "services", nil).Set("to", "localhost"))
	for _, s := range paServiceAttrs(resp.Child(jitsi.NSExtDisco1, "services")) {
		if s["type"] == "turn" {
			return s["username"], s["password"]
		}
	}
	t.Fatalf("no turn service: %s", resp)
	return "", ""
}

func crHMAC(secret, user string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(user))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SECURITY-CASES 164: a reload re-reads the options of the Jitsi modules
// whose Lua versions hook "config-reloaded": muc_password_whitelist (a
// newly listed user skips the room password), muc_resource_validate
// (anonymous_strict now applies) and turncredentials (credentials from
// the new secret). Sessions and rooms made before stay.
func TestJitsiModulesReload(t *testing.T) {
	srv := servertest.Start(t, crModulesConfig("turn-one", ""), servertest.WithServerOptions(
		server.WithModules(jitsi.NewTURNCredentials()),
		server.WithComponentType("muc", muc.Factory(jitsi.MUCModules()...)),
	))
	users := map[string]*client{}
	for _, name := range []string{"alice", "bob", "carol12345"} {
		srv.CreateUser(name, "localhost", "pw-"+name)
		users[name] = &client{Client: srv.Connect(t, name+"@localhost", "pw-"+name, servertest.ClientOptions{}), t: t}
	}
	alice, bob, carol := users["alice"], users["bob"], users["carol12345"]
	room := "locked@" + conf
	withPassword := el(stanza.NSClient, "presence", "to", room+"/alice").Add(el(muc.NS, "x").Add(el(muc.NS, "password").AddText("s3cret")))
	alice.Send(withPassword)
	if p := alice.self(room + "/alice"); p.Get("type") == "error" {
		t.Fatalf("alice creating the room: %s", p)
	}
	if p := scJoin(bob, room+"/bob"); errCond(p) != "not-authorized" {
		t.Fatalf("bob without the password before the reload: %s", p)
	}
	if p := scJoin(carol, "r1@"+conf+"/carol"); p.Get("type") == "error" {
		t.Fatalf("carol before the reload (anonymous_strict off): %s", p)
	}
	user, pass := crTURNPassword(t, alice.Client)
	if pass != crHMAC("turn-one", user) {
		t.Fatalf("turn password before the reload %q, want HMAC with turn-one", pass)
	}

	next := crModulesConfig("turn-two", `    muc_password_whitelist = { "bob@localhost" }
    anonymous_strict = true
`)
	if err := srv.Reload(t.Context(), crParse(t, next)); err != nil {
		t.Fatalf("reload: %v", err)
	}

	if p := scJoin(bob, room+"/bob"); p.Get("type") == "error" {
		t.Fatalf("whitelisted bob after the reload: %s", p)
	}
	// alice, in the room since before the reload, sees bob arrive.
	alice.NextMatch(func(e *stanza.Element) bool { return e.Name.Local == "presence" && e.Get("from") == room+"/bob" })
	p := scJoin(carol, "r2@"+conf+"/carol")
	if _, _, text, _ := rvError(p); text != jitsi.ResourceValidateAnonymousText {
		t.Fatalf("carol after the reload (anonymous_strict on): %s", p)
	}
	user, pass = crTURNPassword(t, alice.Client)
	if pass != crHMAC("turn-two", user) {
		t.Fatalf("turn password after the reload %q, want HMAC with turn-two", pass)
	}
}
