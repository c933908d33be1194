package jitsi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/auth/jwt"
	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// paMUCs records the MUC services the server builds, for the room APIs'
// lookup.
type paMUCs struct {
	mu sync.Mutex
	m  map[string]*muc.Service
}

func (p *paMUCs) factory() server.ComponentFactory {
	return func(ctx context.Context, ch *server.ComponentHost) (server.Component, error) {
		s, err := muc.New(ctx, ch)
		if err != nil {
			return nil, err
		}
		p.mu.Lock()
		p.m[ch.Name] = s
		p.mu.Unlock()
		return s, nil
	}
}

func (p *paMUCs) lookup(_ *server.Server, domain string) *muc.Service {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[domain]
}

const paRoomAPISecret = "room-api-secret-0123456789abcdef0123"

// paStartRooms runs a server with a MUC at conference.meet.test, users on
// users.test and focus on auth.meet.test; hostCfg goes into meet.test.
func paStartRooms(t *testing.T, hostCfg string, created func(*muc.Room) (string, bool)) *servertest.Server {
	t.Helper()
	mucs := &paMUCs{m: map[string]*muc.Service{}}
	s := servertest.Start(t, `
allow_unencrypted_plain_auth = true
c2s_require_encryption = false
muc_mapper_domain_base = "meet.test"
VirtualHost "meet.test"
    modules_enabled = { "muc_size", "muc_census" }
`+hostCfg+`
VirtualHost "users.test"
VirtualHost "auth.meet.test"
Component "conference.meet.test" "muc"
    muc_room_locking = false
Component "sink.test" "pa_sink"
`, servertest.WithServerOptions(
		server.WithComponentType("pa_sink", func(context.Context, *server.ComponentHost) (server.Component, error) { return paAnnouncer{}, nil }),
		server.WithModules(jitsi.NewMUCSize(mucs.lookup), jitsi.NewMUCCensus(mucs.lookup, created)),
		server.WithComponentType("muc", mucs.factory()),
		server.WithAuthProvider(jitsi.TokenProviderName, jitsi.TokenAuthFactory(jitsi.TokenAuthOptions{}))))
	for _, u := range []string{"alice", "bob"} {
		s.CreateUser(u, "users.test", "pw")
	}
	s.CreateUser("focus", "auth.meet.test", "pw")
	return s
}

// paJoin joins room as nick with a display name and email, and waits for
// the self-presence.
func paJoin(t *testing.T, s *servertest.Server, user, host, room, nick, display string) *servertest.Client {
	t.Helper()
	c := s.Connect(t, user+"@"+host, "pw", servertest.ClientOptions{})
	occ := room + "@conference.meet.test/" + nick
	p := stanza.New(stanza.NSClient, "presence").Set("to", occ)
	p.Add(stanza.New(muc.NS, "x"))
	if display != "" {
		p.Add(stanza.New("http://jabber.org/protocol/nick", "nick").AddText(display))
		p.Add(stanza.New(stanza.NSClient, "email").AddText(user + "@example.com"))
	}
	c.Send(p)
	c.NextMatch(func(el *stanza.Element) bool {
		x := el.Child(muc.NSUser, "x")
		if el.Name.Local != "presence" || el.Get("from") != occ || x == nil {
			return false
		}
		for _, st := range x.Elements() {
			if st.Name.Local == "status" && st.Get("code") == "110" {
				return true
			}
		}
		return false
	})
	return c
}

func paGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// JITSI.md §2 P2 "HTTP APIs" (muc_size): /room-size counts occupants but
// jicofo, /room lists them with nick and email, /sessions counts bound
// sessions; tenants address [subdomain]room.
func TestMUCSize(t *testing.T) {
	s := paStartRooms(t, "", nil)
	paJoin(t, s, "focus", "auth.meet.test", "r", "focus", "")
	paJoin(t, s, "alice", "users.test", "r", "alice", "Alice A")
	paJoin(t, s, "bob", "users.test", "[tenant]t", "bob", "Bob B")

	tests := []struct {
		name       string
		path       string
		wantStatus int
		wantBody   string
	}{
		{"room size", "/room-size?room=r&domain=meet.test", 200, `{"participants":1}`},
		{"tenant room size", "/room-size?room=t&subdomain=tenant&domain=meet.test", 200, `{"participants":1}`},
		{"tenant room without subdomain", "/room-size?room=t&domain=meet.test", 404, ``},
		{"unknown room", "/room-size?room=nope&domain=meet.test", 404, ``},
		{"no query", "/room-size", 400, ``},
		{"no domain", "/room-size?room=r", 400, ``},
		{"unknown MUC", "/room-size?room=r&domain=other.test", 404, ``},
		{"room", "/room?room=r&domain=meet.test", 200, `[{"jid":"r@conference.meet.test/alice","email":"alice@example.com","display_name":"Alice A"}]`},
		{"tenant room", "/room?room=t&subdomain=tenant&domain=meet.test", 200, `[{"jid":"[tenant]t@conference.meet.test/bob","email":"bob@example.com","display_name":"Bob B"}]`},
		{"room unknown", "/room?room=x&domain=meet.test", 404, ``},
		{"sessions", "/sessions", 200, `3`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := paGet(t, s.HTTPURL+tc.path)
			if status != tc.wantStatus || (tc.wantBody != "" && body != tc.wantBody) {
				t.Fatalf("GET %s = %d %q, want %d %q", tc.path, status, body, tc.wantStatus, tc.wantBody)
			}
		})
	}
	// SECURITY-CASES 59: other methods get 405.
	resp, err := http.Post(s.HTTPURL+"/room-size?room=r&domain=meet.test", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /room-size = %d", resp.StatusCode)
	}
}

// Only jicofo in the room: one participant is not subtracted, and /room
// is cjson's empty table.
func TestMUCSizeOnlyFocus(t *testing.T) {
	s := paStartRooms(t, "", nil)
	paJoin(t, s, "focus", "auth.meet.test", "r", "focus", "")
	if status, body := paGet(t, s.HTTPURL+"/room-size?room=r&domain=meet.test"); status != 200 || body != `{"participants":1}` {
		t.Fatalf("room-size = %d %s", status, body)
	}
	if status, body := paGet(t, s.HTTPURL+"/room?room=r&domain=meet.test"); status != 200 || body != `{}` {
		t.Fatalf("room = %d %s", status, body)
	}
}

// enable_roomsize_token_verification: the token parameter must be a valid
// token whose room claim allows the room.
func TestMUCSizeTokenVerification(t *testing.T) {
	s := paStartRooms(t, `
    authentication = "token"
    app_id = "room-api"
    app_secret = "`+paRoomAPISecret+`"
    enable_roomsize_token_verification = true
`, nil)
	paJoin(t, s, "alice", "users.test", "r", "alice", "Alice A")
	mint := func(room string, exp time.Duration) string {
		tok, err := jwt.Mint(map[string]any{
			"iss": "room-api", "aud": "jitsi", "sub": "meet.test", "room": room,
			"iat": time.Now().Unix(), "exp": time.Now().Add(exp).Unix(),
		}, jwt.MintOptions{Algorithm: "HS256", Key: []byte(paRoomAPISecret)})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tests := []struct {
		name   string
		token  string
		status int
	}{
		{"no token", "", 403},
		{"right room", mint("r", time.Hour), 200},
		{"any room", mint("*", time.Hour), 200},
		{"other room", mint("other", time.Hour), 403},
		{"expired", mint("r", -time.Hour), 403},
		{"garbage", "not.a.token", 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/room-size", "/room"} {
				status, body := paGet(t, s.HTTPURL+path+"?room=r&domain=meet.test&token="+tc.token)
				if status != tc.status {
					t.Fatalf("GET %s = %d %s, want %d", path, status, body, tc.status)
				}
			}
		})
	}
}

// Verification without the host's token settings stops the server from
// starting instead of serving the API unprotected.
func TestMUCSizeTokenVerificationNeedsSettings(t *testing.T) {
	mucs := &paMUCs{m: map[string]*muc.Service{}}
	cfg := servertest.Defaults + `
VirtualHost "meet.test"
    modules_enabled = { "muc_size" }
    enable_roomsize_token_verification = true
`
	srv := paNewServer(t, cfg, server.WithModules(jitsi.NewMUCSize(mucs.lookup)))
	if err := srv.Start(t.Context()); err == nil {
		_ = srv.Shutdown(t.Context())
		t.Fatal("started without token settings")
	}
	_ = srv.Shutdown(t.Context())
}

// JITSI.md §3 muc_census: rooms but health checks, participants without
// jicofo, created_time when known, leaked false while sessions live; an
// empty census is cjson's empty table; no MUC is 400.
func TestMUCCensus(t *testing.T) {
	s := paStartRooms(t, "", func(r *muc.Room) (string, bool) {
		if r.Node() == "r" {
			return "1700000000000", true
		}
		return "", false
	})
	if status, body := paGet(t, s.HTTPURL+"/room-census"); status != 200 || body != `{"room_census":{}}` {
		t.Fatalf("empty census = %d %s", status, body)
	}
	paJoin(t, s, "focus", "auth.meet.test", "r", "focus", "")
	paJoin(t, s, "alice", "users.test", "r", "alice", "Alice")
	paJoin(t, s, "bob", "users.test", "r", "bob", "Bob")
	paJoin(t, s, "bob", "users.test", "__jicofo-health-check-1", "bob", "")
	paJoin(t, s, "alice", "users.test", "solo", "alice", "")
	// A leaked room: besides jicofo, only an occupant without a client
	// session (its address is on a component that swallows everything, so
	// nothing bounces and the MUC keeps it).
	paJoin(t, s, "focus", "auth.meet.test", "leak", "focus", "")
	ghost := stanza.New(stanza.NSClient, "presence").Set("from", "ghost@sink.test/gone").Set("to", "leak@conference.meet.test/ghost")
	s.Route(t.Context(), ghost.Add(stanza.New(muc.NS, "x")))
	status, body := paGet(t, s.HTTPURL+"/room-census")
	var got struct {
		Census []map[string]any `json:"room_census"`
	}
	if status != 200 || json.Unmarshal([]byte(body), &got) != nil {
		t.Fatalf("census = %d %s", status, body)
	}
	want := map[string]string{
		"r@conference.meet.test":    `2 1700000000000 false`,
		"solo@conference.meet.test": `0 <nil> false`,
		"leak@conference.meet.test": `1 <nil> true`,
	}
	if len(got.Census) != len(want) {
		t.Fatalf("census %s, want rooms %v", body, want)
	}
	for _, e := range got.Census {
		name, _ := e["room_name"].(string)
		line := strconv.Itoa(int(e["participants"].(float64))) + " " + paString(e["created_time"]) + " " + strconv.FormatBool(e["leaked"].(bool))
		if want[name] != line {
			t.Errorf("%s: %s, want %s", name, line, want[name])
		}
	}

	s2 := paStartRooms(t, `    muc_mapper_domain_prefix = "nope"`, nil)
	if status, _ := paGet(t, s2.HTTPURL+"/room-census"); status != 400 {
		t.Fatalf("census without MUC = %d", status)
	}
}

func paString(v any) string {
	if v == nil {
		return "<nil>"
	}
	if s, ok := v.(string); ok {
		return s
	}
	return "?"
}
