package bosh_test

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/bosh"
	"github.com/parley-xmpp/parley/server/httpx/transporttest"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

func pingIQ(id, to string) string {
	return `<iq xmlns='jabber:client' type='get' id='` + id + `' to='` + to + `'><ping xmlns='urn:xmpp:ping'/></iq>`
}

// SECURITY-CASES #43: an unknown sid gets HTTP 200 and a terminate body
// with item-not-found, as Prosody answers.
func TestUnknownSID(t *testing.T) {
	srv := startServer(t, "", "")
	c := newBOSH(t, srv.HTTPURL+"/http-bind")
	c.sid = "0d2b7a4e-5f7a-4c63-9f7e-3a0b7c1d2e3f"
	body := c.send(pingIQ("x", "example.com"))
	if body.Get("type") != "terminate" || body.Get("condition") != "item-not-found" {
		t.Fatalf("response %s, want terminate item-not-found", body)
	}
}

// SECURITY-CASES #45: a retransmitted rid gets the cached response and its
// payload is not processed again.
func TestRetransmissionReplaysResponse(t *testing.T) {
	srv := startServer(t, "", "")
	c := newBOSH(t, srv.HTTPURL+"/http-bind")
	c.login("anon.example", sasl.Anonymous, "", "")
	rid := c.nextRID()
	_, _, first := c.postRaw(c.bodyXML(rid, "", pingIQ("once", "anon.example")))
	if !bytes.Contains(first, []byte("id='once'")) {
		t.Fatalf("first response %s lacks the ping result", first)
	}
	_, _, again := c.postRaw(c.bodyXML(rid, "", pingIQ("twice", "anon.example")))
	if !bytes.Equal(first, again) {
		t.Fatalf("retransmission got %s, want the cached %s", again, first)
	}
	// Had the second payload been processed, its result would be pending
	// and answer this request.
	body := c.send(pingIQ("next", "anon.example"))
	if got := len(body.Elements()); got != 1 || body.Elements()[0].Get("id") != "next" {
		t.Fatalf("next response %s, want only the result of 'next'", body)
	}
}

// SECURITY-CASES #57: a terminate request's stanzas are processed, then the
// session ends.
func TestTerminateWithStanzas(t *testing.T) {
	srv := startServer(t, "", "")
	srv.CreateUser("bob", "example.com", "secret")
	bob := srv.Connect(t, "bob@example.com", "secret", servertest.ClientOptions{})
	c := newBOSH(t, srv.HTTPURL+"/http-bind")
	c.login("anon.example", sasl.Anonymous, "", "")
	body := c.sendAttrs(` type='terminate'`, message(bob.JID.String(), "goodbye"))
	if body.Get("type") != "terminate" || body.Get("condition") != "" {
		t.Fatalf("response %s, want a plain terminate", body)
	}
	got := bob.NextMatch(func(el *stanza.Element) bool { return el.Name.Local == "message" })
	if got.ChildText("", "body") != "goodbye" {
		t.Fatalf("bob got %s", got)
	}
	if body := c.send(""); body.Get("condition") != "item-not-found" {
		t.Fatalf("after terminate: %s, want item-not-found", body)
	}
	if n := srv.bosh.Sessions(); n != 0 {
		t.Fatalf("%d sessions after terminate", n)
	}
}

// SECURITY-CASES #53, #8: a bad payload inside a session.
func TestBadPayload(t *testing.T) {
	srv := startServer(t, "c2s_stanza_size_limit = 20000\n", "")
	big := strings.Repeat("x", 25000)
	tests := []struct {
		name    string
		payload string
		status  int    // HTTP status when not 200
		cond    string // terminate condition
		stream  string // stream error inside a remote-stream-error
	}{
		{"stanza over the stanza limit (#8)", message("x@anon.example", big), 0, "remote-stream-error", "policy-violation"},
		{"body over the HTTP limit (#54)", message("x@anon.example", big+big), http.StatusRequestEntityTooLarge, "", ""},
		{"not well-formed (#6)", `<message><body>`, 0, "bad-request", ""},
		{"entity (#1)", `<message xmlns='jabber:client'><body>&ent;</body></message>`, 0, "bad-request", ""},
		{"invalid UTF-8 (#7)", "<message xmlns='jabber:client'><body>\xff</body></message>", 0, "bad-request", ""},
		{"stanza before auth (#18)", "", 0, "remote-stream-error", "not-authorized"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newBOSH(t, srv.HTTPURL+"/http-bind")
			if tc.payload == "" {
				c.create("anon.example", "")
				tc.payload = message("x@anon.example", "too early")
			} else {
				c.login("anon.example", sasl.Anonymous, "", "")
			}
			status, _, data := c.postRaw(c.bodyXML(c.nextRID(), "", tc.payload))
			if tc.status != 0 {
				if status != tc.status {
					t.Fatalf("status %d, want %d", status, tc.status)
				}
				return
			}
			body, err := stanza.Parse(data, stanza.Limits{MaxStanza: 1 << 20})
			if err != nil {
				t.Fatalf("response %q: %v", data, err)
			}
			if body.Get("type") != "terminate" || body.Get("condition") != tc.cond {
				t.Fatalf("response %s, want terminate %s", body, tc.cond)
			}
			if tc.stream != "" {
				se := body.Child(stanza.NSStream, "error")
				if se == nil || se.Child(stanza.NSStreams, tc.stream) == nil {
					t.Fatalf("response %s, want stream error %s", body, tc.stream)
				}
				if body := c.send(""); body.Get("condition") != "item-not-found" {
					t.Fatalf("after a stream error: %s, want item-not-found", body)
				}
			}
		})
	}
}

// SECURITY-CASES #55: the Content-Type of a request does not matter; the
// response is always text/xml.
func TestContentTypeIgnored(t *testing.T) {
	srv := startServer(t, "", "")
	for _, ct := range []string{"", "application/x-www-form-urlencoded", "text/plain", "application/json"} {
		t.Run(strconv.Quote(ct), func(t *testing.T) {
			c := newBOSH(t, srv.HTTPURL+"/http-bind")
			if ct != "" {
				c.header.Set("Content-Type", ct)
			}
			body := c.create("example.com", "")
			if body.Child(stanza.NSStream, "features") == nil {
				t.Fatalf("no features with Content-Type %q: %s", ct, body)
			}
		})
	}
}

// SECURITY-CASES #16 (CVE-2018-10847): a restart with another 'to' is
// refused.
func TestRestartToOtherHost(t *testing.T) {
	srv := startServer(t, "", "")
	srv.CreateUser("alice", "example.com", "secret")
	c := newBOSH(t, srv.HTTPURL+"/http-bind")
	c.create("example.com", "")
	if res := transporttest.SASL(t, c.exchange, sasl.Plain, "alice", "secret"); res.Name.Local != "success" {
		t.Fatalf("SASL: %s", res)
	}
	body := c.sendAttrs(` to='anon.example' xmpp:restart='true'`, "")
	se := body.Child(stanza.NSStream, "error")
	if body.Get("type") != "terminate" || se == nil || se.Child(stanza.NSStreams, "not-authorized") == nil {
		t.Fatalf("restart to another host: %s, want a not-authorized stream error", body)
	}
}

// SECURITY-CASES #59 and #60: methods and paths.
func TestHTTPMethods(t *testing.T) {
	srv := startServer(t, "", "")
	hc := httpClient(t)
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	tests := []struct {
		name, method, path string
		status             int
		contains           string
	}{
		{"GET page", http.MethodGet, "/http-bind", 200, "BOSH"},
		{"GET trailing slash", http.MethodGet, "/http-bind/", 200, "BOSH"},
		{"HEAD", http.MethodHead, "/http-bind", 200, ""},
		{"OPTIONS", http.MethodOptions, "/http-bind", 200, ""},
		{"PUT", http.MethodPut, "/http-bind", 405, ""},
		{"DELETE", http.MethodDelete, "/http-bind", 405, ""},
		{"subpath", http.MethodGet, "/http-bind/x", 404, ""},
		{"encoded traversal (#59)", http.MethodGet, "/http-bind/%2e%2e/health", 404, ""},
		{"traversal (#59)", http.MethodGet, "/http-bind/../health", http.StatusTemporaryRedirect, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.HTTPURL+tc.path, nil)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.status, buf.String())
			}
			if tc.contains != "" && !strings.Contains(buf.String(), tc.contains) {
				t.Fatalf("body %q lacks %q", buf.String(), tc.contains)
			}
			if tc.status == http.StatusTemporaryRedirect && resp.Header.Get("Location") != "/health" {
				t.Fatalf("traversal redirected to %q, want the cleaned path", resp.Header.Get("Location"))
			}
		})
	}
}

// The session parameters come from the session creation request only
// (SECURITY-CASES #58); the query's token wins over the Authorization
// header (JITSI.md §4.2).
func TestSessionParams(t *testing.T) {
	srv := startServer(t, "region_header_name = \"x_edge_region\"\n", "")
	tests := []struct {
		name   string
		query  string
		header map[string]string
		want   map[string]string
	}{
		{
			"query",
			"token=qtok&room=myroom&prefix=tenant&previd=prev1&customusername=cu",
			map[string]string{"User-Agent": "strophe-test", "X-Edge-Region": "eu-west"},
			map[string]string{"token": "qtok", "room": "myroom", "prefix": "tenant", "previd": "prev1", "customusername": "cu", "user_agent": "strophe-test", "region": "eu-west"},
		},
		{
			"bearer header",
			"room=r2",
			map[string]string{"Authorization": "Bearer htok", "User-Agent": "ua"},
			map[string]string{"token": "htok", "room": "r2", "user_agent": "ua"},
		},
		{
			"query wins over header",
			"token=qtok",
			map[string]string{"Authorization": "Bearer htok", "User-Agent": "ua"},
			map[string]string{"token": "qtok", "user_agent": "ua"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newBOSH(t, srv.HTTPURL+"/http-bind?"+tc.query)
			for k, v := range tc.header {
				c.header.Set(k, v)
			}
			c.create("anon.example", "")
			// Later requests carry other values; they must not count.
			c.url = srv.HTTPURL + "/http-bind?token=later&room=later"
			c.header.Set("Authorization", "Bearer later")
			if res := transporttest.SASL(t, c.exchange, sasl.Anonymous, "", ""); res.Name.Local != "success" {
				t.Fatalf("SASL: %s", res)
			}
			got := <-srv.params.Seen
			if len(got) != len(tc.want) {
				t.Errorf("params %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("params[%q] = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// Without consider_bosh_secure a plain HTTP session is not secure (no
// PLAIN) unless a trusted proxy says the client used HTTPS.
func TestSecureFromProxy(t *testing.T) {
	srv := startWith(t, `
modules_enabled = { "bosh" }
VirtualHost "example.com"
`, bosh.Options{})
	tests := []struct {
		name  string
		proto string
		plain bool
	}{
		{"plain HTTP", "", false},
		{"X-Forwarded-Proto http", "http", false},
		{"X-Forwarded-Proto https from a trusted proxy", "https", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newBOSH(t, srv.HTTPURL+"/http-bind")
			if tc.proto != "" {
				c.header.Set("X-Forwarded-Proto", tc.proto)
			}
			f := c.create("example.com", "").Child(stanza.NSStream, "features")
			mechs := transporttest.Mechanisms(f)
			if has := strings.Contains(strings.Join(mechs, " "), "PLAIN"); has != tc.plain {
				t.Fatalf("mechanisms %v: PLAIN offered = %v, want %v", mechs, has, tc.plain)
			}
		})
	}
}
