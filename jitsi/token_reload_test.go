package jitsi_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/auth/jwt"
	"github.com/parley-xmpp/parley/bosh"
	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/websocket"
)

// crTokenConfig is a token deployment whose VirtualHost has app_secret
// secret and hostExtra, with token_verification on the conference
// component.
func crTokenConfig(secret, hostExtra, componentExtra string) string {
	return `
modules_enabled = { "bosh", "websocket" }
consider_bosh_secure = true
consider_websocket_secure = true
muc_mapper_domain_base = "` + tkDomain + `"
VirtualHost "` + tkDomain + `"
    authentication = "token"
    app_id = "` + tkAppID + `"
    app_secret = "` + secret + `"
` + hostExtra + `
Component "` + tkConf + `" "muc"
    muc_room_locking = false
    modules_enabled = { "token_verification", "muc_password_whitelist", "muc_resource_validate" }
` + componentExtra
}

// crStart runs crTokenConfig(tkSecret, "", "").
func crStart(t *testing.T) *tkEnv {
	t.Helper()
	clk := newTkClock()
	srv := servertest.Start(t, crTokenConfig(tkSecret, "", ""), servertest.WithServerOptions(
		server.WithModules(bosh.New(bosh.Options{}), websocket.New(websocket.Options{})),
		server.WithAuthProvider(jitsi.TokenProviderName, jitsi.TokenAuthFactory(jitsi.TokenAuthOptions{Verifier: []jwt.Option{jwt.WithClock(clk.Now)}})),
		server.WithComponentType("muc", muc.Factory(append(jitsi.MUCModules(), jitsi.TokenMUCModules()...)...)),
	))
	return &tkEnv{Server: srv, t: t, clock: clk}
}

// crParse parses a reloaded configuration as servertest.Start does.
func crParse(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("reload.cfg.lua", []byte(servertest.Defaults+text), config.WithEnv(func(string) (string, bool) { return "", false }))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// SECURITY-CASES 164: a reload that changes app_secret makes new token
// logins need a token signed with the new secret; a session that logged
// in with the old one stays connected, keeps its claims and still joins
// rooms token_verification guards.
func TestTokenReloadSecret(t *testing.T) {
	const newSecret = "fedcba9876543210fedcba9876543210-new-secret"
	e := crStart(t)
	tr := tkTransports()[0]
	oldTok := tkHS(t, e.claims(nil))
	before, _ := tkLogin(t, e, tr, oldTok)

	if err := e.Reload(t.Context(), crParse(t, crTokenConfig(newSecret, "", ""))); err != nil {
		t.Fatalf("reload: %v", err)
	}

	c, _ := tr.open(t, e, tkDomain, map[string][]string{"token": {oldTok}}, nil)
	if res := tkSASL(c); res.Name.Local != "failure" {
		t.Fatalf("a token signed with the old secret after the reload: %s, want a SASL failure", res)
	}
	newTok, err := jwt.Mint(e.claims(nil), jwt.MintOptions{Algorithm: "HS256", Key: []byte(newSecret)})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := tkLogin(t, e, tr, newTok)

	for name, conn := range map[string]tkConn{"old session": before, "new session": after} {
		p := tkJoin(t, conn, "room1@"+tkConf+"/"+strings.ReplaceAll(name, " ", "_"), "")
		if p.Get("type") == "error" {
			t.Fatalf("%s: join after the reload refused: %s", name, p)
		}
	}
}

// SECURITY-CASES 165: token options that cannot make a verifier refuse the
// whole reload with the VirtualHost's file:line; logins keep using the old
// secret.
func TestTokenReloadRefused(t *testing.T) {
	e := crStart(t)
	// app_id with neither app_secret nor asap_key_server.
	bad := strings.Replace(crTokenConfig("", "", ""), `    app_secret = ""`+"\n", "", 1)
	err := e.Reload(t.Context(), crParse(t, bad))
	if !errors.Is(err, server.ErrReloadRefused) || !strings.Contains(err.Error(), "reload.cfg.lua:") {
		t.Fatalf("reload error %v, want a refusal with reload.cfg.lua:line", err)
	}
	tkLogin(t, e, tkTransports()[0], tkHS(t, e.claims(nil)))
}

// A token VirtualHost added by a reload authenticates with its own
// options at once (its provider is built from the new configuration).
func TestTokenReloadAddsHost(t *testing.T) {
	e := crStart(t)
	const added = "added.example.test"
	next := crTokenConfig(tkSecret, "", "") + `
VirtualHost "` + added + `"
    authentication = "token"
    app_id = "` + tkAppID + `"
    app_secret = "` + tkSecret + `"
`
	if err := e.Reload(t.Context(), crParse(t, next)); err != nil {
		t.Fatalf("reload: %v", err)
	}
	tr := tkTransports()[0]
	c, _ := tr.open(t, e, added, map[string][]string{"token": {tkHS(t, e.claims(map[string]any{"sub": added}))}}, nil)
	if res := tkSASL(c); res.Name.Local != "success" {
		t.Fatalf("token login on the added host: %s", res)
	}
	c.Restart(added)
	if full := tkBind(t, c); !strings.HasSuffix(strings.SplitN(full, "/", 2)[0], "@"+added) {
		t.Fatalf("bound %q, want a JID of %s", full, added)
	}
}
