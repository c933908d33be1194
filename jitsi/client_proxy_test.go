package jitsi_test

import (
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// Part A test helpers carry a "pa" prefix: package jitsi_test is shared
// with other helpers' tests.

const nsFocus = "http://jitsi.org/protocol/focus"

const paProxyConfig = `
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
VirtualHost "meet.test"
VirtualHost "auth.meet.test"
Component "focus.meet.test" "client_proxy"
    target_address = "focus@auth.meet.test"
`

func paStartProxy(t *testing.T) *servertest.Server {
	t.Helper()
	s := servertest.Start(t, paProxyConfig, servertest.WithServerOptions(
		server.WithComponentType(jitsi.ClientProxyType, jitsi.ClientProxyFactory())))
	s.CreateUser("alice", "meet.test", "alice-pw")
	s.CreateUser("focus", "auth.meet.test", "focus-pw")
	return s
}

// paConference is the conference request lib-jitsi-meet sends to focus.D.
func paConference(id string) *stanza.Element {
	iq := stanza.New(stanza.NSClient, "iq").Set("type", "set").Set("id", id).Set("to", "focus.meet.test")
	c := stanza.New(nsFocus, "conference").Set("room", "r@conference.meet.test").Set("machine-uid", "m1")
	c.Add(stanza.New(nsFocus, "property").Set("name", "startBitrate").Set("value", "800"))
	return iq.Add(c)
}

func paErrCond(el *stanza.Element) (typ, cond string) {
	e := el.Child("", "error")
	if e == nil {
		return "", ""
	}
	for _, c := range e.Elements() {
		if c.Name.Space == stanza.NSStanzas && c.Name.Local != "text" {
			return e.Get("type"), c.Name.Local
		}
	}
	return e.Get("type"), ""
}

// paJicofo logs in as focus@auth.meet.test/resource with a raw client.
func paJicofo(t *testing.T, s *servertest.Server, resource string) *servertest.Raw {
	t.Helper()
	r := servertest.DialRaw(t, s.C2SAddr)
	if got := r.Login("auth.meet.test", "focus", "focus-pw", resource); got != "focus@auth.meet.test/"+resource {
		t.Fatalf("jicofo bound %q", got)
	}
	return r
}

// JITSI.md §2 P0 "client_proxy focus.D": service-unavailable while jicofo
// is offline.
func TestClientProxyJicofoOffline(t *testing.T) {
	s := paStartProxy(t)
	alice := s.Connect(t, "alice@meet.test", "alice-pw", servertest.ClientOptions{})
	resp := alice.Request(paConference("c1"))
	if typ, cond := paErrCond(resp); resp.Get("type") != "error" || typ != "cancel" || cond != "service-unavailable" {
		t.Fatalf("reply = %s, want cancel/service-unavailable", resp)
	}
	if resp.Get("from") != "focus.meet.test" {
		t.Fatalf("error from %q, want focus.meet.test", resp.Get("from"))
	}
}

// JITSI.md §2 P0 "client_proxy focus.D" and §7 step 4: the conference IQ
// reaches jicofo with from = focus.D/<client full JID> and the same id and
// payload; jicofo's result and error replies come back from focus.D.
func TestClientProxyForwardsAndDeNATs(t *testing.T) {
	s := paStartProxy(t)
	jicofo := paJicofo(t, s, "focus")
	alice := s.Connect(t, "alice@meet.test", "alice-pw", servertest.ClientOptions{})

	tests := []struct {
		name  string
		reply func(req *stanza.Element) string
		check func(t *testing.T, got *stanza.Element)
	}{
		{
			name: "result",
			reply: func(req *stanza.Element) string {
				return `<iq type='result' id='` + req.Get("id") + `' to='` + req.Get("from") + `'>` +
					`<conference xmlns='` + nsFocus + `' ready='true' focusjid='focus@auth.meet.test'/></iq>`
			},
			check: func(t *testing.T, got *stanza.Element) {
				c := got.Child(nsFocus, "conference")
				if got.Get("type") != "result" || c == nil || c.Get("ready") != "true" || c.Get("focusjid") != "focus@auth.meet.test" {
					t.Fatalf("result = %s", got)
				}
			},
		},
		{
			name: "error",
			reply: func(req *stanza.Element) string {
				return `<iq type='error' id='` + req.Get("id") + `' to='` + req.Get("from") + `'>` +
					`<error type='auth'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`
			},
			check: func(t *testing.T, got *stanza.Element) {
				if typ, cond := paErrCond(got); got.Get("type") != "error" || typ != "auth" || cond != "not-authorized" {
					t.Fatalf("error = %s", got)
				}
			},
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := "conf" + strconv.Itoa(i)
			alice.Send(paConference(id))
			req := jicofo.Next()
			wantFrom := "focus.meet.test/" + alice.JID.String()
			if req.Name.Local != "iq" || req.Get("type") != "set" || req.Get("id") != id ||
				req.Get("from") != wantFrom || req.Get("to") != "focus@auth.meet.test/focus" {
				t.Fatalf("jicofo got %s, want iq set %s from %s", req, id, wantFrom)
			}
			c := req.Child(nsFocus, "conference")
			if c == nil || c.Get("room") != "r@conference.meet.test" || c.Child(nsFocus, "property").Get("value") != "800" {
				t.Fatalf("payload not intact: %s", req)
			}
			jicofo.Write(tc.reply(req))
			got := alice.NextMatch(func(el *stanza.Element) bool { return el.Get("id") == id })
			if got.Get("from") != "focus.meet.test" || got.Get("to") != alice.JID.String() {
				t.Fatalf("reply addressed from %q to %q", got.Get("from"), got.Get("to"))
			}
			tc.check(t, got)
		})
	}
}

// The Lua module answers everything but IQ requests with errors: presence
// with bad-request, messages with feature-not-implemented, and requests
// from the target itself with feature-not-implemented (or bad-request when
// addressed to the bare component).
func TestClientProxyRefusals(t *testing.T) {
	s := paStartProxy(t)
	jicofo := paJicofo(t, s, "focus")
	alice := s.Connect(t, "alice@meet.test", "alice-pw", servertest.ClientOptions{})

	alice.Send(stanza.New(stanza.NSClient, "presence").Set("to", "focus.meet.test").Set("id", "p1"))
	got := alice.NextMatch(func(el *stanza.Element) bool { return el.Get("id") == "p1" })
	if typ, cond := paErrCond(got); got.Name.Local != "presence" || got.Get("type") != "error" || typ != "cancel" || cond != "bad-request" {
		t.Fatalf("presence reply = %s", got)
	}
	alice.Send(stanza.New(stanza.NSClient, "message").Set("to", "focus.meet.test").Set("id", "m1").
		Add(stanza.New(stanza.NSClient, "body").AddText("hi")))
	got = alice.NextMatch(func(el *stanza.Element) bool { return el.Get("id") == "m1" })
	if typ, cond := paErrCond(got); got.Name.Local != "message" || typ != "cancel" || cond != "feature-not-implemented" {
		t.Fatalf("message reply = %s", got)
	}

	tests := []struct {
		name, stanza, wantCond string
	}{
		{"request to a client", `<iq type='get' id='j1' to='focus.meet.test/` + alice.JID.String() + `'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`, "feature-not-implemented"},
		{"message to a client", `<message id='j2' to='focus.meet.test/` + alice.JID.String() + `'><body>x</body></message>`, "feature-not-implemented"},
		{"message to the component", `<message id='j3' to='focus.meet.test'><body>x</body></message>`, "bad-request"},
		{"request to the component", `<iq type='get' id='j4' to='focus.meet.test'><ping xmlns='urn:xmpp:ping'/></iq>`, "bad-request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jicofo.Write(tc.stanza)
			got := jicofo.Next()
			if typ, cond := paErrCond(got); got.Get("type") != "error" || typ != "cancel" || cond != tc.wantCond {
				t.Fatalf("reply = %s, want cancel/%s", got, tc.wantCond)
			}
		})
	}
}

// A reply whose encoded address is not a JID is dropped; alice sees
// nothing of it, and the proxy keeps working.
func TestClientProxyDropsUndecodableReply(t *testing.T) {
	s := paStartProxy(t)
	jicofo := paJicofo(t, s, "focus")
	alice := s.Connect(t, "alice@meet.test", "alice-pw", servertest.ClientOptions{})
	jicofo.Write(`<iq type='result' id='bogus' to='focus.meet.test/@@bad'/>`)
	alice.Send(paConference("after"))
	req := jicofo.Next()
	if req.Get("id") != "after" {
		t.Fatalf("jicofo got %s, want the next request", req)
	}
	jicofo.Write(`<iq type='result' id='after' to='` + req.Get("from") + `'/>`)
	got := alice.NextMatch(func(el *stanza.Element) bool { return el.Name.Local == "iq" })
	if got.Get("id") != "after" {
		t.Fatalf("alice got %s before her reply", got)
	}
}

// Requests spread over jicofo's online resources (each to exactly one);
// when one goes away the other takes everything, and with none left
// clients get service-unavailable again.
func TestClientProxyPicksOnlineResources(t *testing.T) {
	s := paStartProxy(t)
	a := paJicofo(t, s, "a")
	b := paJicofo(t, s, "b")
	alice := s.Connect(t, "alice@meet.test", "alice-pw", servertest.ClientOptions{})

	type arrival struct{ resource, id, to string }
	arrivals := make(chan arrival, 256)
	serve := func(r *servertest.Raw, resource string) {
		_ = r.Conn.SetDeadline(time.Time{})
		go func() {
			for {
				el, err := r.R.Next()
				if err != nil {
					return
				}
				if el.Name.Local != "iq" || el.Get("type") != "set" {
					continue
				}
				arrivals <- arrival{resource, el.Get("id"), el.Get("to")}
				_, _ = r.Conn.Write([]byte(`<iq type='result' id='` + el.Get("id") + `' to='` + el.Get("from") + `'/>`))
			}
		}()
	}
	serve(a, "a")
	serve(b, "b")
	collect := func(prefix string, n int) map[string]int {
		t.Helper()
		for i := range n {
			alice.Send(paConference(prefix + strconv.Itoa(i)))
		}
		perResource := map[string]int{}
		ids := map[string]bool{}
		timeout := time.After(servertest.Wait)
		for len(ids) < n {
			select {
			case ar := <-arrivals:
				if ids[ar.id] {
					t.Fatalf("request %s delivered twice", ar.id)
				}
				if ar.to != "focus@auth.meet.test/"+ar.resource {
					t.Fatalf("request %s addressed to %s reached %s", ar.id, ar.to, ar.resource)
				}
				ids[ar.id] = true
				perResource[ar.resource]++
			case <-timeout:
				t.Fatalf("only %d of %d requests reached jicofo", len(ids), n)
			}
		}
		for range n {
			if el := alice.NextMatch(func(el *stanza.Element) bool { return el.Name.Local == "iq" }); el.Get("type") != "result" {
				t.Fatalf("reply %s", el)
			}
		}
		return perResource
	}

	if got := collect("both", 40); got["a"] == 0 || got["b"] == 0 {
		t.Fatalf("requests per resource = %v, want both used", got)
	}
	paGone := func(want int) {
		t.Helper()
		servertest.Eventually(t, "the condition", func() bool { return len(s.Router().Sessions("focus@auth.meet.test")) == want })
	}
	_ = a.Conn.Close()
	paGone(1)
	if got := collect("onlyb", 10); got["b"] != 10 {
		t.Fatalf("after a left: %v, want all 10 on b", got)
	}
	_ = b.Conn.Close()
	paGone(0)
	resp := alice.Request(paConference("none"))
	if _, cond := paErrCond(resp); cond != "service-unavailable" {
		t.Fatalf("with jicofo gone: %s", resp)
	}
}

// A missing or malformed target_address stops the server from starting.
func TestClientProxyNeedsTarget(t *testing.T) {
	tests := []struct{ name, section string }{
		{"missing", ``},
		{"full JID", `target_address = "focus@auth.meet.test/r"`},
		{"domain only", `target_address = "auth.meet.test"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := paNewServer(t, servertest.Defaults+`
VirtualHost "auth.meet.test"
Component "focus.meet.test" "client_proxy"
    `+tc.section+"\n", server.WithComponentType(jitsi.ClientProxyType, jitsi.ClientProxyFactory()))
			err := srv.Start(t.Context())
			if err == nil {
				_ = srv.Shutdown(t.Context())
				t.Fatal("server started")
			}
			if !strings.Contains(err.Error(), "target_address") {
				t.Fatalf("error %v does not name target_address", err)
			}
			_ = srv.Shutdown(t.Context())
		})
	}
}

// paNewServer builds (without starting) a server for tests of start-up
// failures.
func paNewServer(t *testing.T, cfgText string, opts ...server.Option) *server.Server {
	t.Helper()
	cfg, err := config.Parse("t.cfg.lua", []byte(cfgText), config.WithEnv(func(string) (string, bool) { return "", false }))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(cfg, append(opts, server.WithLogger(slog.New(slog.DiscardHandler)))...)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// BenchmarkClientProxyForward measures a conference request from a client
// through focus.D to jicofo over real sockets.
func BenchmarkClientProxyForward(b *testing.B) {
	s := servertest.Start(b, paProxyConfig, servertest.WithServerOptions(
		server.WithComponentType(jitsi.ClientProxyType, jitsi.ClientProxyFactory())))
	s.CreateUser("alice", "meet.test", "alice-pw")
	s.CreateUser("focus", "auth.meet.test", "focus-pw")
	jicofo := servertest.DialRaw(b, s.C2SAddr)
	jicofo.Login("auth.meet.test", "focus", "focus-pw", "focus")
	_ = jicofo.Conn.SetDeadline(time.Time{})
	alice := servertest.DialRaw(b, s.C2SAddr)
	alice.Login("meet.test", "alice", "alice-pw", "web")
	_ = alice.Conn.SetDeadline(time.Time{})
	req := `<iq type='set' id='c' to='focus.meet.test'><conference xmlns='` + nsFocus + `' room='r@conference.meet.test' machine-uid='m'/></iq>`
	b.ResetTimer()
	for range b.N {
		if _, err := alice.Conn.Write([]byte(req)); err != nil {
			b.Fatal(err)
		}
		el, err := jicofo.R.Next()
		if err != nil || el.Get("id") != "c" {
			b.Fatalf("%v %v", el, err)
		}
	}
}

// SECURITY-CASES 19 (forged origin): only the target's replies are
// de-NATed. A client sending a "reply" to focus.D/<victim> reaches nobody,
// so it cannot make stanzas appear to come from focus.D.
func TestClientProxyOnlyTargetDeNATs(t *testing.T) {
	s := paStartProxy(t)
	s.CreateUser("bob", "meet.test", "bob-pw")
	jicofo := paJicofo(t, s, "focus")
	alice := s.Connect(t, "alice@meet.test", "alice-pw", servertest.ClientOptions{})
	bob := s.Connect(t, "bob@meet.test", "bob-pw", servertest.ClientOptions{})
	for _, typ := range []string{"result", "error"} {
		forged := stanza.New(stanza.NSClient, "iq").Set("type", typ).Set("id", "forged-"+typ).
			Set("to", "focus.meet.test/"+bob.JID.String())
		if typ == "error" {
			forged.Add(stanza.New(stanza.NSClient, "error").Set("type", "cancel").Add(stanza.New(stanza.NSStanzas, "not-allowed")))
		}
		alice.Send(forged)
	}
	// A real request from bob afterwards: the first iq bob sees must be
	// the reply to it, so the forged ones were dropped.
	bob.Send(paConference("real"))
	req := jicofo.Next()
	if req.Get("id") != "real" {
		t.Fatalf("jicofo got %s", req)
	}
	jicofo.Write(`<iq type='result' id='real' to='` + req.Get("from") + `'/>`)
	if got := bob.NextMatch(func(el *stanza.Element) bool { return el.Name.Local == "iq" }); got.Get("id") != "real" {
		t.Fatalf("bob got %s first", got)
	}
}
