package bosh_test

import (
	"slices"
	"strings"
	"testing"

	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/bosh"
	"github.com/parley-xmpp/parley/server/httpx/transporttest"
	"github.com/parley-xmpp/parley/server/stanza"
)

func TestLogin(t *testing.T) {
	srv := startServer(t, "", "")
	srv.CreateUser("alice", "example.com", "secret")
	tests := []struct {
		name string
		host string
		mech sasl.Mechanism
		want string // bare JID; "" for anonymous
	}{
		{"PLAIN", "example.com", sasl.Plain, "alice@example.com"},
		{"SCRAM-SHA-1", "example.com", sasl.ScramSha1, "alice@example.com"},
		{"SCRAM-SHA-256", "example.com", sasl.ScramSha256, "alice@example.com"},
		{"ANONYMOUS", "anon.example", sasl.Anonymous, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newBOSH(t, srv.HTTPURL+"/http-bind")
			full := c.login(tc.host, tc.mech, "alice", "secret")
			bare, _, _ := strings.Cut(full, "/")
			if tc.want != "" && bare != tc.want {
				t.Fatalf("bound %s, want %s/…", full, tc.want)
			}
			if tc.want == "" && !strings.HasSuffix(bare, "@anon.example") {
				t.Fatalf("anonymous login bound %s", full)
			}
			reply := c.exchange(`<iq xmlns='jabber:client' type='get' id='p1' to='` + tc.host + `'><ping xmlns='urn:xmpp:ping'/></iq>`)
			if reply.Get("type") != "result" || reply.Get("id") != "p1" || reply.Name.Space != stanza.NSClient {
				t.Fatalf("ping reply = %s", reply)
			}
		})
	}
}

func TestSessionCreationResponse(t *testing.T) {
	srv := startServer(t, "", "")
	c := newBOSH(t, srv.HTTPURL+"/http-bind")
	body := c.create("example.com", "")
	want := map[string]string{
		"wait": "60", "hold": "1", "requests": "2", "inactivity": "60", "polling": "5",
		"ver": "1.6", "from": "example.com", "secure": "true",
	}
	for k, v := range want {
		if got := body.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if body.Get("authid") == "" {
		t.Errorf("no authid in %s", body)
	}
	var ver, restartLogic string
	for _, a := range body.Attr {
		if a.Name.Space == bosh.NSXBOSH && a.Name.Local == "version" {
			ver = a.Value
		}
		if a.Name.Space == bosh.NSXBOSH && a.Name.Local == "restartlogic" {
			restartLogic = a.Value
		}
	}
	if ver != "1.0" || restartLogic != "true" {
		t.Errorf("xmpp:version=%q xmpp:restartlogic=%q", ver, restartLogic)
	}
	f := body.Child(stanza.NSStream, "features")
	if f == nil {
		t.Fatalf("no features in %s", body)
	}
	// consider_bosh_secure makes PLAIN available.
	if !slices.Contains(transporttest.Mechanisms(f), "PLAIN") {
		t.Fatalf("mechanisms %v lack PLAIN", transporttest.Mechanisms(f))
	}
}

// SECURITY-CASES #49: wait and hold are clamped.
func TestSessionCreationClamps(t *testing.T) {
	srv := startServer(t, "", "")
	tests := []struct {
		name, attrs          string
		wait, hold, requests string
	}{
		{"wait above bosh_max_wait", ` wait='100000' hold='1'`, "120", "1", "2"},
		{"hold above 1", ` wait='30' hold='10'`, "30", "1", "2"},
		{"hold 0", ` wait='30' hold='0'`, "30", "0", "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newBOSH(t, srv.HTTPURL+"/http-bind")
			body := c.post(`<body xmlns='` + bosh.NS + `' rid='10' to='example.com'` + tc.attrs + `/>`)
			if body.Get("wait") != tc.wait || body.Get("hold") != tc.hold || body.Get("requests") != tc.requests {
				t.Fatalf("wait=%s hold=%s requests=%s, want %s %s %s", body.Get("wait"), body.Get("hold"), body.Get("requests"), tc.wait, tc.hold, tc.requests)
			}
		})
	}
}

// SECURITY-CASES #41, #42: unusable session creation requests.
func TestSessionCreationErrors(t *testing.T) {
	srv := startServer(t, "", `
Component "conference.example.com" "muc"
`)
	tests := []struct {
		name string
		body string
		cond string
	}{
		{"no to (#41)", `<body xmlns='` + bosh.NS + `' rid='1' wait='60' hold='1'/>`, "improper-addressing"},
		{"unknown host (#41)", `<body xmlns='` + bosh.NS + `' rid='1' to='nowhere.example' wait='60' hold='1'/>`, "improper-addressing"},
		{"component host (#41)", `<body xmlns='` + bosh.NS + `' rid='1' to='conference.example.com' wait='60' hold='1'/>`, "improper-addressing"},
		{"no rid (#42)", `<body xmlns='` + bosh.NS + `' to='example.com' wait='60' hold='1'/>`, "bad-request"},
		{"rid not a number (#42)", `<body xmlns='` + bosh.NS + `' rid='x1' to='example.com' wait='60' hold='1'/>`, "bad-request"},
		{"rid with a leading zero (#42)", `<body xmlns='` + bosh.NS + `' rid='007' to='example.com' wait='60' hold='1'/>`, "bad-request"},
		{"negative rid (#42)", `<body xmlns='` + bosh.NS + `' rid='-5' to='example.com' wait='60' hold='1'/>`, "bad-request"},
		{"rid above 2^53-1 (#48)", `<body xmlns='` + bosh.NS + `' rid='9007199254740992' to='example.com' wait='60' hold='1'/>`, "bad-request"},
		{"no wait (#42)", `<body xmlns='` + bosh.NS + `' rid='1' to='example.com' hold='1'/>`, "bad-request"},
		{"negative wait (#42)", `<body xmlns='` + bosh.NS + `' rid='1' to='example.com' wait='-1' hold='1'/>`, "bad-request"},
		{"fractional wait (#42)", `<body xmlns='` + bosh.NS + `' rid='1' to='example.com' wait='1.5' hold='1'/>`, "bad-request"},
		{"wrong root", `<iq xmlns='jabber:client' rid='1' to='example.com' wait='60'/>`, "bad-request"},
		{"wrong namespace", `<body xmlns='jabber:client' rid='1' to='example.com' wait='60'/>`, "bad-request"},
		{"not XML (#53)", `<body xmlns='` + bosh.NS + `' rid='1'`, "bad-request"},
		{"DOCTYPE (#53, #1)", `<!DOCTYPE body [<!ENTITY a "aaaa">]><body xmlns='` + bosh.NS + `' rid='1' to='example.com' wait='60'>&a;</body>`, "bad-request"},
		{"comment (#3)", `<body xmlns='` + bosh.NS + `' rid='1' to='example.com' wait='60'><!-- x --></body>`, "bad-request"},
		{"processing instruction (#4)", `<body xmlns='` + bosh.NS + `' rid='1' to='example.com' wait='60'><?php x?></body>`, "bad-request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newBOSH(t, srv.HTTPURL+"/http-bind")
			body := c.post(tc.body)
			if body.Get("type") != "terminate" || body.Get("condition") != tc.cond {
				t.Fatalf("response %s, want terminate %s", body, tc.cond)
			}
		})
	}
	if n := srv.bosh.Sessions(); n != 0 {
		t.Fatalf("%d sessions left by refused requests", n)
	}
}
