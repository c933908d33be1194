package jitsi_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// paNow is the fixed clock of the XEP-0215 tests: 2023-11-14T22:13:20Z.
var paNow = time.Unix(1700000000, 0)

const paServicesConfig = `
allow_unencrypted_plain_auth = true
c2s_require_encryption = false
external_service_secret = "turn-secret-for-tests"
external_services = {
    { type = "stun", host = "meet.test", port = 3478 },
    { type = "turn", host = "meet.test", port = 3478, transport = "udp", secret = true, ttl = 86400, algorithm = "turn" },
    { type = "turns", host = "meet.test", port = 5349, transport = "tcp", secret = true, ttl = 86400, algorithm = "turn" },
    { type = "turn", host = "static.test", port = 3478, username = "u", password = "p" },
    { type = "turn", host = "named.test", secret = "own-secret", username = "bob", transport = "tcp" },
    { type = "stun" },
    { host = "no-type.test" },
}
`

// Attribute sets of the services above at paNow (the HMACs were computed
// independently with Python's hmac module).
var paWantServices = []map[string]string{
	{"type": "stun", "host": "meet.test", "port": "3478"},
	{"type": "turn", "host": "meet.test", "port": "3478", "transport": "udp", "username": "1700086400",
		"password": "k4/1OsQk0b+G6T5DBnHodOINQk8=", "expires": "2023-11-15T22:13:20Z", "restricted": "1"},
	{"type": "turns", "host": "meet.test", "port": "5349", "transport": "tcp", "username": "1700086400",
		"password": "k4/1OsQk0b+G6T5DBnHodOINQk8=", "expires": "2023-11-15T22:13:20Z", "restricted": "1"},
	{"type": "turn", "host": "static.test", "port": "3478", "username": "u", "password": "p", "restricted": "1"},
	{"type": "turn", "host": "named.test", "transport": "tcp", "username": "1700086400:bob",
		"password": "wjEpABosLRA2PcOzQDSm2ZG4ZoU=", "restricted": "1"},
	{"type": "stun", "host": "meet.test"},
}

func paStartServices(t *testing.T, extra string, mods ...server.Module) *servertest.Server {
	t.Helper()
	if len(mods) == 0 {
		mods = []server.Module{jitsi.NewExternalServices()}
	}
	s := servertest.Start(t, paServicesConfig+extra, servertest.WithServerOptions(
		server.WithModules(mods...), server.WithClock(func() time.Time { return paNow })))
	return s
}

func paServiceAttrs(el *stanza.Element) []map[string]string {
	var out []map[string]string
	for _, c := range el.Elements() {
		m := map[string]string{}
		for _, a := range c.Attr {
			m[a.Name.Local] = a.Value
		}
		out = append(out, m)
	}
	return out
}

func paExtDisco(ns, local string, attrs map[string]string, children ...*stanza.Element) *stanza.Element {
	p := stanza.New(ns, local)
	for k, v := range attrs {
		p.Set(k, v)
	}
	p.Add(children...)
	return stanza.New(stanza.NSClient, "iq").Set("type", "get").Set("to", "meet.test").Add(p)
}

func paSameServices(t *testing.T, got, want []map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d services %v, want %d %v", len(got), got, len(want), want)
	}
	for i := range want {
		if !maps.Equal(got[i], want[i]) {
			t.Fatalf("service %d = %v, want %v", i, got[i], want[i])
		}
	}
}

// JITSI.md §2 P1 "TURN (XEP-0215)": services on extdisco:2 and :1, the
// type filter, TURN REST credentials (username expiry[:user], password
// base64(HMAC-SHA1(secret, username))), defaults and skipped bad items.
func TestExternalServicesServices(t *testing.T) {
	s := paStartServices(t, `
VirtualHost "meet.test"
    modules_enabled = { "external_services" }
`)
	s.CreateUser("alice", "meet.test", "pw")
	alice := s.Connect(t, "alice@meet.test", "pw", servertest.ClientOptions{})
	tests := []struct {
		name  string
		ns    string
		typ   string
		want  []map[string]string
		local string
	}{
		{"extdisco:2", jitsi.NSExtDisco, "", paWantServices, "services"},
		{"extdisco:1", jitsi.NSExtDisco1, "", paWantServices, "services"},
		{"type filter", jitsi.NSExtDisco, "turns", paWantServices[2:3], "services"},
		{"unknown type", jitsi.NSExtDisco, "nope", nil, "services"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			attrs := map[string]string{}
			if tc.typ != "" {
				attrs["type"] = tc.typ
			}
			resp := alice.Request(paExtDisco(tc.ns, tc.local, attrs))
			el := resp.Child(tc.ns, tc.local)
			if resp.Get("type") != "result" || el == nil {
				t.Fatalf("reply = %s", resp)
			}
			paSameServices(t, paServiceAttrs(el), tc.want)
		})
	}
	resp := alice.Request(stanza.New(stanza.NSClient, "iq").Set("type", "get").Set("to", "meet.test").
		Add(stanza.New(server.NSDiscoInfo, "query")))
	var feats []string
	for _, f := range resp.Child(server.NSDiscoInfo, "query").Elements() {
		feats = append(feats, f.Get("var"))
	}
	if !slices.Contains(feats, jitsi.NSExtDisco) || !slices.Contains(feats, jitsi.NSExtDisco1) {
		t.Fatalf("disco features %v lack extdisco", feats)
	}
}

// XEP-0215 credentials: only restricted services named by type and host
// (and port, or any port when the request has none); a service element
// without type or host is a bad request.
func TestExternalServicesCredentials(t *testing.T) {
	s := paStartServices(t, `
VirtualHost "meet.test"
    modules_enabled = { "external_services" }
`)
	s.CreateUser("alice", "meet.test", "pw")
	alice := s.Connect(t, "alice@meet.test", "pw", servertest.ClientOptions{})
	svc := func(attrs ...string) *stanza.Element {
		e := stanza.New(jitsi.NSExtDisco, "service")
		for i := 0; i+1 < len(attrs); i += 2 {
			e.Set(attrs[i], attrs[i+1])
		}
		return e
	}
	tests := []struct {
		name     string
		services []*stanza.Element
		want     []map[string]string
		wantCond string
	}{
		{"type host port", []*stanza.Element{svc("type", "turn", "host", "meet.test", "port", "3478")}, paWantServices[1:2], ""},
		{"port-less request", []*stanza.Element{svc("type", "turn", "host", "meet.test")}, paWantServices[1:2], ""},
		{"port-less service", []*stanza.Element{svc("type", "turn", "host", "named.test", "port", "443")}, nil, ""},
		{"two services", []*stanza.Element{svc("type", "turns", "host", "meet.test", "port", "5349"), svc("type", "turn", "host", "static.test")}, []map[string]string{paWantServices[2], paWantServices[3]}, ""},
		{"unrestricted stun", []*stanza.Element{svc("type", "stun", "host", "meet.test", "port", "3478")}, nil, ""},
		{"wrong port", []*stanza.Element{svc("type", "turn", "host", "meet.test", "port", "9")}, nil, ""},
		{"missing host", []*stanza.Element{svc("type", "turn")}, nil, "bad-request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := alice.Request(paExtDisco(jitsi.NSExtDisco, "credentials", nil, tc.services...))
			if tc.wantCond != "" {
				if typ, cond := paErrCond(resp); typ != "modify" || cond != tc.wantCond {
					t.Fatalf("reply = %s, want modify/%s", resp, tc.wantCond)
				}
				return
			}
			el := resp.Child(jitsi.NSExtDisco, "credentials")
			if resp.Get("type") != "result" || el == nil {
				t.Fatalf("reply = %s", resp)
			}
			paSameServices(t, paServiceAttrs(el), tc.want)
		})
	}
}

// external_service_access limits the services request to listed bare JIDs
// and domains (auth/forbidden for others); external_service_host and
// external_service_port give item defaults; external_service_ttl is a
// period.
func TestExternalServicesAccessAndDefaults(t *testing.T) {
	s := paStartServices(t, `
VirtualHost "meet.test"
    modules_enabled = { "external_services" }
    external_service_access = { "auth.test", "alice@meet.test" }
    external_service_host = "turn.test"
    external_service_port = 443
    external_service_ttl = "1 hour"
    external_services = { { type = "turn", secret = true, transport = "tcp" } }
VirtualHost "auth.test"
`)
	s.CreateUser("alice", "meet.test", "pw")
	s.CreateUser("eve", "meet.test", "pw")
	s.CreateUser("jvb", "auth.test", "pw")
	want := []map[string]string{{"type": "turn", "host": "turn.test", "port": "443", "transport": "tcp",
		"username": "1700003600", "password": "5471FQ03RwgCWSCIhoZsxU8V6t0=", "restricted": "1"}}
	tests := []struct {
		user, host string
		allowed    bool
	}{
		{"alice", "meet.test", true},
		{"eve", "meet.test", false},
		{"jvb", "auth.test", true},
	}
	for _, tc := range tests {
		t.Run(tc.user, func(t *testing.T) {
			c := s.Connect(t, tc.user+"@"+tc.host, "pw", servertest.ClientOptions{})
			resp := c.Request(paExtDisco(jitsi.NSExtDisco, "services", nil))
			if !tc.allowed {
				if typ, cond := paErrCond(resp); typ != "auth" || cond != "forbidden" {
					t.Fatalf("reply = %s, want auth/forbidden", resp)
				}
				return
			}
			paSameServices(t, paServiceAttrs(resp.Child(jitsi.NSExtDisco, "services")), want)
		})
	}
}

// TURNCredentials against independently computed vectors.
func TestTURNCredentials(t *testing.T) {
	tests := []struct {
		name, secret, user string
		expires            int64
		wantUser, wantPass string
	}{
		{"no user", "turn-secret-for-tests", "", 1700086400, "1700086400", "k4/1OsQk0b+G6T5DBnHodOINQk8="},
		{"with user", "own-secret", "bob", 1700086400, "1700086400:bob", "wjEpABosLRA2PcOzQDSm2ZG4ZoU="},
		{"short ttl", "turn-secret-for-tests", "", 1700000600, "1700000600", "sP+pVaGd6+fyu/Bc5eWR//Ek8oI="},
		{"one hour", "turn-secret-for-tests", "", 1700003600, "1700003600", "5471FQ03RwgCWSCIhoZsxU8V6t0="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, p := jitsi.TURNCredentials(tc.secret, time.Unix(tc.expires, 0), tc.user)
			if u != tc.wantUser || p != tc.wantPass {
				t.Fatalf("got %q %q, want %q %q", u, p, tc.wantUser, tc.wantPass)
			}
		})
	}
}

// ServicesElement formats fractional expiry times with microseconds, as
// Prosody's util.datetime does.
func TestServicesElementExpires(t *testing.T) {
	el := jitsi.ServicesElement([]jitsi.ExternalService{
		{Type: "turn", Host: "h", Expires: time.Unix(1700000000, 250000000)},
		{Type: "stun", Host: "h", Port: 3478, Expires: time.Unix(1700000000, 0)},
	}, "", "")
	got := paServiceAttrs(el)
	if el.Name.Space != jitsi.NSExtDisco || el.Name.Local != "services" {
		t.Fatalf("element %s", el.Name)
	}
	if got[0]["expires"] != "2023-11-14T22:13:20.250000Z" || got[1]["expires"] != "2023-11-14T22:13:20Z" || got[1]["port"] != "3478" {
		t.Fatalf("services = %v", got)
	}
	if _, ok := got[0]["port"]; ok {
		t.Fatalf("port 0 sent: %v", got[0])
	}
}

// Jitsi's legacy turncredentials: extdisco:1 only, username = expiry,
// ttl attribute, stun port default 3478; without a secret it does nothing.
func TestTURNCredentialsModule(t *testing.T) {
	const cfg = `
allow_unencrypted_plain_auth = true
c2s_require_encryption = false
VirtualHost "meet.test"
    modules_enabled = { "turncredentials" }
    turncredentials_secret = "legacy-secret"
    turncredentials_ttl = 3600
    turncredentials = {
        { type = "stun", host = "stun.test" },
        { type = "turn", host = "turn.test", port = 3478 },
        { type = "turns", hosts = { "t1.test" }, port = "443", transport = "tcp" },
    }
VirtualHost "off.test"
    modules_enabled = { "turncredentials" }
`
	s := servertest.Start(t, cfg, servertest.WithServerOptions(
		server.WithModules(jitsi.NewTURNCredentials()), server.WithClock(func() time.Time { return paNow })))
	s.CreateUser("alice", "meet.test", "pw")
	alice := s.Connect(t, "alice@meet.test", "pw", servertest.ClientOptions{})
	resp := alice.Request(paExtDisco(jitsi.NSExtDisco1, "services", nil))
	const pass = "ffnpR8GbWQQKJtq4zzPv67auNUg="
	paSameServices(t, paServiceAttrs(resp.Child(jitsi.NSExtDisco1, "services")), []map[string]string{
		{"type": "stun", "host": "stun.test", "port": "3478"},
		{"type": "turn", "host": "turn.test", "port": "3478", "username": "1700003600", "password": pass, "ttl": "3600"},
		{"type": "turns", "host": "t1.test", "port": "443", "transport": "tcp", "username": "1700003600", "password": pass, "ttl": "3600"},
	})
	resp = alice.Request(paExtDisco(jitsi.NSExtDisco, "services", nil))
	if _, cond := paErrCond(resp); cond != "service-unavailable" {
		t.Fatalf("extdisco:2 answered: %s", resp)
	}
	s.CreateUser("bob", "off.test", "pw")
	bob := s.Connect(t, "bob@off.test", "pw", servertest.ClientOptions{})
	resp = bob.Request(paExtDisco(jitsi.NSExtDisco1, "services", nil).Set("to", "off.test"))
	if _, cond := paErrCond(resp); cond != "service-unavailable" {
		t.Fatalf("unconfigured host answered: %s", resp)
	}
}

// BenchmarkTURNCredentials measures one TURN REST credential.
func BenchmarkTURNCredentials(b *testing.B) {
	exp := time.Unix(1700086400, 0)
	for range b.N {
		jitsi.TURNCredentials("turn-secret-for-tests", exp, "user")
	}
}

// BenchmarkExternalServicesRequest measures an extdisco:2 services request
// with three TURN items over a real socket.
func BenchmarkExternalServicesRequest(b *testing.B) {
	s := servertest.Start(b, paServicesConfig+`
VirtualHost "meet.test"
    modules_enabled = { "external_services" }
`, servertest.WithServerOptions(server.WithModules(jitsi.NewExternalServices())))
	s.CreateUser("alice", "meet.test", "pw")
	c := servertest.DialRaw(b, s.C2SAddr)
	c.Login("meet.test", "alice", "pw", "web")
	_ = c.Conn.SetDeadline(time.Time{})
	req := []byte(`<iq type='get' id='s' to='meet.test'><services xmlns='urn:xmpp:extdisco:2'/></iq>`)
	b.ResetTimer()
	for range b.N {
		if _, err := c.Conn.Write(req); err != nil {
			b.Fatal(err)
		}
		if el, err := c.R.Next(); err != nil || el.Get("type") != "result" {
			b.Fatalf("%v %v", el, err)
		}
	}
}
