package bosh_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/bosh"
	"github.com/parley-xmpp/parley/server/httpx/transporttest"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// A user on each transport (WebSocket, BOSH, TCP) messages the other two.
func TestMessagesAcrossTransports(t *testing.T) {
	srv := startServer(t, "", "")
	for _, u := range []string{"wsuser", "boshuser", "tcpuser"} {
		srv.CreateUser(u, "example.com", "secret")
	}
	ws := transporttest.DialWS(t, transporttest.WSURL(srv.HTTPURL, ""), nil)
	wsJID := ws.Login("example.com", sasl.ScramSha1, "wsuser", "secret")
	bc := newBOSH(t, srv.HTTPURL+"/http-bind")
	boshJID := bc.login("example.com", sasl.ScramSha1, "boshuser", "secret")
	tcp := srv.Connect(t, "tcpuser@example.com", "secret", servertest.ClientOptions{})
	tcpJID := tcp.JID.String()

	isMsg := func(body string) func(*stanza.Element) bool {
		return func(el *stanza.Element) bool {
			return el.Name.Local == "message" && el.ChildText("", "body") == body
		}
	}
	// WebSocket → BOSH and TCP.
	ws.Send(message(boshJID, "ws to bosh"))
	ws.Send(message(tcpJID, "ws to tcp"))
	if got := bc.poll(isMsg("ws to bosh")); got.Get("from") != wsJID {
		t.Fatalf("BOSH got %s, want from %s", got, wsJID)
	}
	if got := tcp.NextMatch(isMsg("ws to tcp")); got.Get("from") != wsJID {
		t.Fatalf("TCP got %s, want from %s", got, wsJID)
	}
	// BOSH → WebSocket and TCP, in one request (with a ping, so that the
	// request is answered at once rather than held).
	bc.send(message(wsJID, "bosh to ws") + message(tcpJID, "bosh to tcp") + pingIQ("p", "example.com"))
	if got := ws.NextMatch(isMsg("bosh to ws")); got.Get("from") != boshJID {
		t.Fatalf("WebSocket got %s, want from %s", got, boshJID)
	}
	if got := tcp.NextMatch(isMsg("bosh to tcp")); got.Get("from") != boshJID {
		t.Fatalf("TCP got %s, want from %s", got, boshJID)
	}
	// TCP → WebSocket and BOSH.
	tcp.Send(stanza.New(stanza.NSClient, "message").Set("to", wsJID).Set("type", "chat").Add(stanza.New(stanza.NSClient, "body").AddText("tcp to ws")))
	tcp.Send(stanza.New(stanza.NSClient, "message").Set("to", boshJID).Set("type", "chat").Add(stanza.New(stanza.NSClient, "body").AddText("tcp to bosh")))
	if got := ws.NextMatch(isMsg("tcp to ws")); got.Get("from") != tcpJID {
		t.Fatalf("WebSocket got %s, want from %s", got, tcpJID)
	}
	if got := bc.poll(isMsg("tcp to bosh")); got.Get("from") != tcpJID {
		t.Fatalf("BOSH got %s, want from %s", got, tcpJID)
	}
}

func get(t *testing.T, hc *http.Client, method, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// CORS as Prosody 0.12/13: on for BOSH and WebSocket, every origin unless
// access_control_allow_origins lists some; cross_domain_* are ignored.
func TestCORS(t *testing.T) {
	tests := []struct {
		name, global, origin, path, method string
		allow                              string // expected Access-Control-Allow-Origin ("" = none)
		methods                            string
	}{
		{"BOSH preflight, any origin", "", "https://app.example", "/http-bind", http.MethodOptions, "https://app.example", "GET, OPTIONS, POST"},
		{"BOSH GET without Origin", "", "", "/http-bind", http.MethodGet, "*", "GET, OPTIONS, POST"},
		{"cross_domain_bosh = false is ignored", "cross_domain_bosh = false\n", "https://app.example", "/http-bind", http.MethodOptions, "https://app.example", "GET, OPTIONS, POST"},
		{"allowlisted origin", `access_control_allow_origins = { "https://meet.example" }` + "\n", "https://meet.example", "/http-bind", http.MethodOptions, "https://meet.example", "GET, OPTIONS, POST"},
		{"origin not on the allowlist", `access_control_allow_origins = { "https://meet.example" }` + "\n", "https://evil.example", "/http-bind", http.MethodOptions, "", ""},
		{"WebSocket preflight", "", "https://app.example", "/xmpp-websocket", http.MethodOptions, "https://app.example", "GET, OPTIONS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, tc.global, "")
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
				h.Set("Access-Control-Request-Method", "POST")
			}
			resp, _ := get(t, httpClient(t), tc.method, srv.HTTPURL+tc.path, h)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.allow {
				t.Fatalf("Access-Control-Allow-Origin %q, want %q", got, tc.allow)
			}
			if got := resp.Header.Get("Access-Control-Allow-Methods"); got != tc.methods {
				t.Fatalf("Access-Control-Allow-Methods %q, want %q", got, tc.methods)
			}
			if tc.allow != "" {
				if got := resp.Header.Get("Access-Control-Allow-Headers"); got != "Content-Type" {
					t.Fatalf("Access-Control-Allow-Headers %q", got)
				}
				if got := resp.Header.Get("Access-Control-Max-Age"); got != "7200" {
					t.Fatalf("Access-Control-Max-Age %q", got)
				}
			}
		})
	}
}

// SECURITY-CASES #154, #155: trusted_proxies: X-Forwarded-For and
// X-Forwarded-Proto count only from a trusted peer; the client address is
// the last untrusted hop.
func TestTrustedProxies(t *testing.T) {
	tests := []struct {
		name, global, xff, proto string
		remote                   string // expected RemoteAddr ("" = the loopback peer)
		secure                   bool
	}{
		{"loopback is trusted by default", "", "203.0.113.7", "https", "203.0.113.7", true},
		{"last untrusted hop wins", "", "198.51.100.1, 203.0.113.7, 127.0.0.1", "", "203.0.113.7", false},
		{"spoofed leftmost hop ignored", `trusted_proxies = { "127.0.0.1", "10.0.0.0/8" }` + "\n", "6.6.6.6, 203.0.113.7, 10.1.2.3", "", "203.0.113.7", false},
		{"untrusted peer", `trusted_proxies = { "192.0.2.1" }` + "\n", "203.0.113.7", "https", "", false},
		{"garbage header", "", "not-an-ip", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rec transporttest.Recorder
			srv := startWith(t, tc.global+`
modules_enabled = { "bosh" }
VirtualHost "rec.example"
    authentication = "recording"
`, bosh.Options{}, rec.Option())
			c := newBOSH(t, srv.HTTPURL+"/http-bind")
			if tc.xff != "" {
				c.header.Set("X-Forwarded-For", tc.xff)
			}
			if tc.proto != "" {
				c.header.Set("X-Forwarded-Proto", tc.proto)
			}
			c.create("rec.example", "")
			reqs := rec.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d auth requests recorded", len(reqs))
			}
			got := reqs[0]
			want := tc.remote
			if want == "" {
				if !strings.HasPrefix(got.RemoteAddr, "127.0.0.1:") {
					t.Fatalf("RemoteAddr %q, want the loopback peer", got.RemoteAddr)
				}
			} else if got.RemoteAddr != want {
				t.Fatalf("RemoteAddr %q, want %q", got.RemoteAddr, want)
			}
			if got.Secure != tc.secure {
				t.Fatalf("Secure %v, want %v", got.Secure, tc.secure)
			}
		})
	}
}

// /health from the http_health module (docker-jitsi-meet's healthcheck).
func TestHealth(t *testing.T) {
	srv := startServer(t, "", "")
	hc := httpClient(t)
	tests := []struct {
		name, method string
		header       http.Header
		status       int
		body         string
	}{
		{"loopback", http.MethodGet, http.Header{}, 200, "OK\n"},
		{"forwarded outsider", http.MethodGet, http.Header{"X-Forwarded-For": {"203.0.113.7"}}, 403, ""},
		{"POST", http.MethodPost, http.Header{}, 405, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, hc, tc.method, srv.HTTPURL+"/health", tc.header)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.body != "" && body != tc.body {
				t.Fatalf("body %q", body)
			}
		})
	}
}

// Prosody's HTTP host routing: a per-host module serves requests whose
// Host is that VirtualHost or whose fallback http_default_host has it; a
// session may still target any VirtualHost with 'to'.
func TestHostGate(t *testing.T) {
	sections := `
VirtualHost "meet.example"
    modules_enabled = { "bosh" }
VirtualHost "guest.example"
    authentication = "anonymous"
`
	tests := []struct {
		name, global, host string
		status             int
	}{
		{"Host names the vhost", "", "meet.example", 200},
		{"Host names another vhost", "", "guest.example", 404},
		{"unknown Host", "", "public.example", 404},
		{"unknown Host, http_default_host", `http_default_host = "meet.example"` + "\n", "public.example", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startWith(t, tc.global+`
modules_enabled = { "http_health" }
`+sections, bosh.Options{})
			c := newBOSH(t, srv.HTTPURL+"/http-bind")
			c.do = func(r *http.Request) (*http.Response, error) {
				r.Host = tc.host
				return c.hc.Do(r)
			}
			status, _, _ := c.postRaw(`<body xmlns='` + bosh.NS + `' rid='1' to='guest.example' wait='60' hold='1' xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0'/>`)
			if status != tc.status {
				t.Fatalf("status %d, want %d", status, tc.status)
			}
			if tc.status == 200 {
				// The session itself is on guest.example, which does not
				// load bosh (as Jitsi's guest domain).
				c.rid = 1
				c.sid = ""
				body := c.create("guest.example", "")
				if body.Get("from") != "guest.example" {
					t.Fatalf("session on %q", body.Get("from"))
				}
			}
		})
	}
}
