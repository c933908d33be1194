package httpx_test

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/server/httpx"
	"github.com/parley-xmpp/parley/server/stanza"
)

func parseConfig(t testing.TB, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.cfg.lua", []byte(text), config.WithEnv(func(string) (string, bool) { return "", false }))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestParseProxies(t *testing.T) {
	tests := []struct {
		name    string
		items   []string
		trusted []string
		not     []string
		err     bool
	}{
		{"defaults", []string{"127.0.0.1", "::1"}, []string{"127.0.0.1", "::1", "::ffff:127.0.0.1"}, []string{"127.0.0.2", "10.0.0.1"}, false},
		{"CIDR", []string{"10.0.0.0/8", "2001:db8::/32"}, []string{"10.255.1.2", "2001:db8::5"}, []string{"11.0.0.1", "2001:db9::1"}, false},
		{"unmasked CIDR", []string{"192.168.1.77/24"}, []string{"192.168.1.1"}, []string{"192.168.2.1"}, false},
		{"garbage", []string{"localhost"}, nil, nil, true},
		{"bad CIDR", []string{"10.0.0.0/33"}, nil, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := httpx.ParseProxies(tc.items)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			for _, a := range tc.trusted {
				if !p.Trusted(netip.MustParseAddr(a)) {
					t.Errorf("%s not trusted", a)
				}
			}
			for _, a := range tc.not {
				if p.Trusted(netip.MustParseAddr(a)) {
					t.Errorf("%s trusted", a)
				}
			}
		})
	}
}

func TestClient(t *testing.T) {
	p, err := httpx.ParseProxies([]string{"127.0.0.1", "10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, remote string
		header       http.Header
		tls          bool
		want         string
		secure       bool
	}{
		{"direct client", "203.0.113.9:4000", http.Header{"X-Forwarded-For": {"1.2.3.4"}, "X-Forwarded-Proto": {"https"}}, false, "203.0.113.9:4000", false},
		{"direct TLS client", "203.0.113.9:4000", nil, true, "203.0.113.9:4000", true},
		{"through a proxy", "127.0.0.1:5000", http.Header{"X-Forwarded-For": {"198.51.100.4"}, "X-Forwarded-Proto": {"https"}}, false, "198.51.100.4", true},
		{"proxy chain", "127.0.0.1:5000", http.Header{"X-Forwarded-For": {"198.51.100.4, 10.1.1.1"}}, false, "198.51.100.4", false},
		{"several header lines", "127.0.0.1:5000", http.Header{"X-Forwarded-For": {"6.6.6.6", "198.51.100.4"}}, false, "198.51.100.4", false},
		{"IPv6 with port", "127.0.0.1:5000", http.Header{"X-Forwarded-For": {"[2001:db8::7]:443"}}, false, "2001:db8::7", false},
		{"all trusted", "127.0.0.1:5000", http.Header{"X-Forwarded-For": {"10.0.0.1"}}, false, "127.0.0.1:5000", false},
		{"proxy without headers", "127.0.0.1:5000", nil, false, "127.0.0.1:5000", false},
		{"proto case", "127.0.0.1:5000", http.Header{"X-Forwarded-Proto": {"HTTPS"}}, false, "127.0.0.1:5000", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.remote
			for k, v := range tc.header {
				r.Header[k] = v
			}
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			got, secure := p.Client(r)
			if got != tc.want || secure != tc.secure {
				t.Fatalf("Client = %q, %v; want %q, %v", got, secure, tc.want, tc.secure)
			}
		})
	}
}

// FuzzClient: whatever X-Forwarded-For says, the address comes from it
// only through a trusted peer and is never a trusted proxy itself.
func FuzzClient(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "1.2.3.4, 127.0.0.1", "[::1]:80, ::ffff:1.2.3.4", "", ",,,", "256.1.1.1", "fe80::1%eth0"} {
		f.Add(s, "127.0.0.1:1")
		f.Add(s, "203.0.113.1:1")
	}
	p, _ := httpx.ParseProxies([]string{"127.0.0.1", "::1", "10.0.0.0/8"})
	f.Fuzz(func(t *testing.T, xff, remote string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		got, _ := p.Client(r)
		if got == remote {
			return
		}
		host, _, err := net.SplitHostPort(remote)
		if err != nil {
			host = remote
		}
		peer, err := netip.ParseAddr(strings.Trim(host, "[]"))
		if err != nil || !p.Trusted(peer) {
			t.Fatalf("untrusted peer %q replaced by %q", remote, got)
		}
		a, err := netip.ParseAddr(got)
		if err != nil || p.Trusted(a) {
			t.Fatalf("forwarded address %q is not an untrusted IP", got)
		}
	})
}

func TestPath(t *testing.T) {
	tests := []struct {
		name, cfg, app, def, want string
	}{
		{"default", "", "bosh", "/http-bind", "/http-bind"},
		{"configured", `http_paths = { bosh = "/bind/" }`, "bosh", "/http-bind", "/bind"},
		{"no leading slash", `http_paths = { websocket = "ws" }`, "websocket", "/xmpp-websocket", "/ws"},
		{"root", `http_paths = { health = "/" }`, "health", "/health", "/"},
		{"other app", `http_paths = { bosh = "/b" }`, "websocket", "/xmpp-websocket", "/xmpp-websocket"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := httpx.Path(parseConfig(t, tc.cfg), tc.app, tc.def)
			if err != nil || got != tc.want {
				t.Fatalf("Path = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestParams(t *testing.T) {
	tests := []struct {
		name, url string
		header    http.Header
		want      map[string]string
	}{
		{"nothing", "/x", nil, map[string]string{}},
		{"all", "/x?token=t&room=r&prefix=p&previd=i&customusername=c&other=o", http.Header{"User-Agent": {"ua"}, "X-Proxy-Region": {"eu"}},
			map[string]string{"token": "t", "room": "r", "prefix": "p", "previd": "i", "customusername": "c", "user_agent": "ua", "region": "eu"}},
		{"bearer", "/x", http.Header{"Authorization": {"Bearer abc.def"}}, map[string]string{"token": "abc.def"}},
		{"bearer lower case", "/x", http.Header{"Authorization": {"bearer abc"}}, map[string]string{"token": "abc"}},
		{"basic is not a token", "/x", http.Header{"Authorization": {"Basic dXNlcjpwdw=="}}, map[string]string{}},
		{"query wins", "/x?token=q", http.Header{"Authorization": {"Bearer h"}}, map[string]string{"token": "q"}},
		{"escaped room", "/x?room=a%20b%26c", nil, map[string]string{"room": "a b&c"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.url, nil)
			r.Header = tc.header
			if r.Header == nil {
				r.Header = http.Header{}
			}
			got := httpx.Params(r, "X-Proxy-Region")
			if len(got) != len(tc.want) {
				t.Fatalf("Params = %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Fatalf("Params[%q] = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestLoadSettingsRegionHeader(t *testing.T) {
	st, err := httpx.LoadSettings(parseConfig(t, `region_header_name = "x_edge_region"`))
	if err != nil || st.RegionHeader != "X-Edge-Region" {
		t.Fatalf("RegionHeader %q, %v", st.RegionHeader, err)
	}
	if _, err := httpx.LoadSettings(parseConfig(t, `trusted_proxies = { "nope" }`)); err == nil {
		t.Fatal("bad trusted_proxies accepted")
	}
}

func TestAppendStanza(t *testing.T) {
	tests := []struct {
		name string
		el   *stanza.Element
		want string
	}{
		{"jabber:client", stanza.New(stanza.NSClient, "message").Set("to", "a@b").Add(stanza.New(stanza.NSClient, "body").AddText("hi")),
			"<message xmlns='jabber:client' to='a@b'><body>hi</body></message>"},
		{"routed from a component", stanza.New(stanza.NSComponent, "presence").Add(stanza.New(stanza.NSComponent, "status").AddText("x")),
			"<presence xmlns='jabber:client'><status>x</status></presence>"},
		{"no namespace", stanza.New("", "iq").Set("id", "1"), "<iq xmlns='jabber:client' id='1'/>"},
		{"nonza", stanza.New("urn:ietf:params:xml:ns:xmpp-sasl", "success"), "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"},
		{"extension child", stanza.New(stanza.NSClient, "iq").Add(stanza.New("urn:xmpp:ping", "ping")), "<iq xmlns='jabber:client'><ping xmlns='urn:xmpp:ping'/></iq>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(httpx.AppendStanza([]byte("prefix"), tc.el))
			if got != "prefix"+tc.want {
				t.Fatalf("got %s\nwant prefix%s", got, tc.want)
			}
			if _, err := stanza.Parse([]byte(tc.want), stanza.Limits{}); err != nil {
				t.Fatalf("output does not parse: %v", err)
			}
		})
	}
}

func TestAppendStreamElement(t *testing.T) {
	f := stanza.New(stanza.NSStream, "features").Add(stanza.New("urn:ietf:params:xml:ns:xmpp-bind", "bind"))
	got := string(httpx.AppendStreamElement(nil, f))
	want := "<stream:features xmlns:stream='" + stanza.NSStream + "'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	el, err := stanza.Parse([]byte(got), stanza.Limits{})
	if err != nil || el.Name.Space != stanza.NSStream {
		t.Fatalf("parse: %v %v", el, err)
	}
}

func TestSetNamespace(t *testing.T) {
	el, err := stanza.Parse([]byte(`<body xmlns='urn:b'><message><body>x</body><x xmlns='urn:other'><y/></x></message></body>`), stanza.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	msg := el.Elements()[0]
	httpx.SetNamespace(msg, "urn:b", stanza.NSClient)
	if msg.Name.Space != stanza.NSClient || msg.Elements()[0].Name.Space != stanza.NSClient {
		t.Fatalf("message not moved: %v", msg)
	}
	if x := msg.Elements()[1]; x.Name.Space != "urn:other" || x.Elements()[0].Name.Space != "urn:other" {
		t.Fatalf("foreign subtree moved: %v", x)
	}
}

func TestGate(t *testing.T) {
	tests := []struct {
		name, cfg, enable, host string
		want                    bool
	}{
		{"global module", `modules_enabled = { "bosh" }`, "", "anything.example", true},
		{"enabled vhost", ``, "meet.example", "meet.example:443", true},
		{"vhost case", ``, "meet.example", "MEET.example", true},
		{"other host", ``, "meet.example", "other.example", false},
		{"default host", `http_default_host = "meet.example"`, "meet.example", "10.0.0.1:5280", true},
		{"default host without the module", `http_default_host = "other.example"`, "meet.example", "10.0.0.1:5280", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := httpx.NewGate(parseConfig(t, tc.cfg), "bosh")
			if tc.enable != "" {
				g.Enable(tc.enable)
			}
			r := httptest.NewRequest(http.MethodGet, "/http-bind", nil)
			r.Host = tc.host
			if got := g.Allows(r); got != tc.want {
				t.Fatalf("Allows = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCORSConfig(t *testing.T) {
	c, err := httpx.LoadCORS(parseConfig(t, `
access_control_allow_origins = { "https://a.example" }
access_control_allow_credentials = true
access_control_allow_headers = { "Content-Type", "Authorization" }
access_control_max_age = "1 hour"
`), "POST")
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	c.Apply(h, "https://a.example")
	want := map[string]string{
		"Access-Control-Allow-Origin":      "https://a.example",
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Headers":     "Content-Type, Authorization",
		"Access-Control-Allow-Methods":     "GET, OPTIONS, POST",
		"Access-Control-Max-Age":           "3600",
		"Vary":                             "Origin",
	}
	for k, v := range want {
		if h.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, h.Get(k), v)
		}
	}
	h = http.Header{}
	c.Apply(h, "https://b.example")
	if len(h) != 0 {
		t.Fatalf("headers for a foreign origin: %v", h)
	}
	if _, err := httpx.LoadCORS(parseConfig(t, `access_control_max_age = "soon"`)); err == nil {
		t.Fatal("bad access_control_max_age accepted")
	}
}
