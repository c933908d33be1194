package jitsi_test

import (
	"net/url"
	"testing"
	"time"

	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/auth/jwt"
	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/httpx/transporttest"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/websocket"
)

// TestTokenVerificationBreakoutRooms: with token_verification on the
// breakout MUC, a breakout room is checked as its conference (JITSI.md §2
// P1 Breakout rooms: the token names the main room, never the generated
// breakout room), so holders of a token for the conference move into its
// breakout rooms and holders of another room's token do not.
func TestTokenVerificationBreakoutRooms(t *testing.T) {
	cfg := `
modules_enabled = { "websocket" }
consider_websocket_secure = true
admins = { "focus@` + boAuth + `" }
muc_mapper_domain_base = "` + boDomain + `"
VirtualHost "` + boDomain + `"
    authentication = "token"
    app_id = "app"
    app_secret = "s3cret"
    modules_enabled = { "muc_breakout_rooms" }
    main_muc = "` + boConf + `"
    breakout_rooms_muc = "` + boBreakout + `"
VirtualHost "` + boAuth + `"
    authentication = "internal_plain"
Component "` + boConf + `" "muc"
    modules_enabled = { "token_verification" }
    muc_room_locking = false
Component "` + boBreakout + `" "muc"
    modules_enabled = { "token_verification" }
    restrict_room_creation = true
    muc_room_locking = false
`
	srv := servertest.Start(t, cfg, servertest.WithServerOptions(
		server.WithModules(websocket.New(websocket.Options{}), jitsi.NewBreakoutRooms(boFast())),
		server.WithComponentType("muc", muc.Factory(append(jitsi.MUCModules(), jitsi.TokenMUCModules()...)...)),
		server.WithAuthProvider(jitsi.TokenProviderName, jitsi.TokenAuthFactory(jitsi.TokenAuthOptions{})),
	))
	e := &boEnv{Server: srv, t: t}
	withToken := func(room string) *boClient {
		t.Helper()
		tok, err := jwt.Mint(map[string]any{
			"iss": "app", "aud": "app", "sub": boDomain, "room": room,
			"exp": time.Now().Add(time.Hour), "context": map[string]any{"user": map[string]any{"id": room + "-user"}},
		}, jwt.MintOptions{Algorithm: "HS256", Key: []byte("s3cret")})
		if err != nil {
			t.Fatal(err)
		}
		q := url.Values{"token": {tok}, "room": {boRoom}}
		ws := transporttest.DialWS(t, transporttest.WSURL(srv.HTTPURL, q.Encode()), nil)
		return &boClient{WS: ws, t: t, jid: ws.Login(boDomain, sasl.Anonymous, "", "")}
	}
	alice := withToken(boRoom)
	mallory := withToken("other")
	focus := e.client("focus", boAuth, false)

	alice.mustJoin(boMain+"/alice", "Alice")
	if p := mallory.join(boMain+"/mallory", "M"); p.Get("type") != "error" {
		t.Fatalf("a token for another room joined the conference: %s", p)
	}
	bj := alice.addBreakout(t, focus)

	alice.leave(boMain+"/alice", jitsi.BreakoutSwitchStatus)
	if p := alice.join(bj+"/alice", "Alice"); p.Get("type") == "error" {
		t.Fatalf("the conference's token holder was refused its breakout room: %s", p)
	}
	p := mallory.join(bj+"/mallory", "M")
	if _, cond, text := tkStanzaError(p); p.Get("type") != "error" || cond != "not-allowed" || text != "Room and token mismatched" {
		t.Fatalf("another room's token in the breakout room: %s", p)
	}
}
