package bosh_test

// SECURITY-CASES transports: TCP, BOSH, WS (for the count in SECURITY.md)
//
// Lifecycle and XEP-0198 cases of SECURITY-CASES §2 and §8 over each
// transport (issue 9); the helpers are in matrix_stanza_security_test.go.

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/bosh"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/httpx"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
	"github.com/parley-xmpp/parley/server/websocket"
)

// TestMatrixAccountRevoked: SECURITY-CASES 40 on each transport. An
// account deleted or disabled mid-session loses its session with the
// not-authorized stream error and Prosody's text; on BOSH that is the
// terminate body carrying the stream error (server/accounts_test.go has
// TCP and WebSocket).
func TestMatrixAccountRevoked(t *testing.T) {
	e := startServer(t, matrixGlobal, "")
	for _, rv := range []struct {
		name   string
		revoke func(srv *server.Server, ctx context.Context, host, user string) error
		text   string
	}{
		{"deleted", (*server.Server).DeleteUser, "Account deleted"},
		{"disabled", (*server.Server).DisableUser, "Account disabled"},
	} {
		t.Run(rv.name, func(t *testing.T) {
			for _, tr := range matrixTransports {
				t.Run(tr.name, func(t *testing.T) {
					user := "rv-" + rv.name + "-" + tr.kind
					e.CreateUser(user, "example.com", "secret")
					c := mlogin(t, e, tr.kind, user)
					c.ping("before")
					if err := rv.revoke(e.Server.Server, t.Context(), "example.com", user); err != nil {
						t.Fatal(err)
					}
					se := c.expectStreamError("not-authorized")
					if txt := se.ChildText(stanza.NSStreams, "text"); txt != rv.text {
						t.Fatalf("text %q, want %q", txt, rv.text)
					}
				})
			}
		})
	}
}

// unlimitedConfig turns a low default session rate on for every client
// (no exempt addresses), a 10000-byte stanza limit, and puts focus in
// unlimited_jids.
const unlimitedConfig = `
allow_unencrypted_plain_auth = true
parley_connection_limit_exempt = {}
parley_session_rate = "2kb/s"
parley_ip_rate = false
c2s_stanza_size_limit = 10000
modules_enabled = { "bosh", "websocket", "http_health", "test_params", "limits_exception" }
consider_bosh_secure = true
consider_websocket_secure = true
VirtualHost "example.com"
    unlimited_jids = { "focus@example.com" }
`

// TestMatrixUnlimitedJIDs: SECURITY-CASES 152 on each transport. An
// account in unlimited_jids is exempt from the byte rates
// (server/inlimit.go) once authenticated, and from the stanza size limit
// (only on TCP today, see the skip below).
func TestMatrixUnlimitedJIDs(t *testing.T) {
	e := startWith(t, unlimitedConfig, bosh.Options{})
	for _, u := range []string{"focus", "alice", "bob"} {
		e.CreateUser(u, "example.com", "secret")
	}
	bob := mlogin(t, e, "tcp", "bob")

	// burst sends n messages of size bytes from c to bob, in requests of
	// five on BOSH, and reads them all at bob, in order.
	burst := func(t *testing.T, c *mclient, n, size int) {
		t.Helper()
		msgs := servertest.ChatBurst(bob.jid, n, size)
		if c.bosh != nil {
			for i := 0; i < n; i += 5 {
				c.send(strings.Join(msgs[i:i+5], ""))
			}
		} else {
			for _, m := range msgs {
				c.send(m)
			}
		}
		servertest.ExpectChatBurst(t, bob.next, n)
	}
	t.Run("rate", func(t *testing.T) {
		for _, tr := range matrixTransports {
			t.Run(tr.name, func(t *testing.T) {
				bob.use(t)
				focus := mlogin(t, e, tr.kind, "focus")
				before := e.Metric(throttledReads)
				burst(t, focus, 20, 400) // 8 KB: twice the burst
				if got := e.Metric(throttledReads); got != before {
					t.Fatalf("%s went from %v to %v for an unlimited JID", throttledReads, before, got)
				}
				// The same from alice is throttled: the rate is on.
				alice := mlogin(t, e, tr.kind, "alice")
				burst(t, alice, 20, 400)
				if got := e.Metric(throttledReads); got == before {
					t.Fatalf("%s = %v after alice's 8 KB: the rate is off, the check above proves nothing", throttledReads, got)
				}
			})
		}
	})
	t.Run("size", func(t *testing.T) {
		for _, tr := range matrixTransports {
			t.Run(tr.name, func(t *testing.T) {
				if tr.kind == "bosh" {
					t.Skip("not on BOSH: the body is read, under the HTTP body limit, before it is known " +
						"whose session it is (SECURITY.md §3)")
				}
				bob.use(t)
				focus := mlogin(t, e, tr.kind, "focus")
				focus.send(`<message xmlns='jabber:client' type='chat' id='big' to='` + bob.jid + `'><body>` + strings.Repeat("b", 12000) + `</body></message>`)
				focus.ping("after-big")
				if m := bob.next(); m.Get("id") != "big" || len(m.ChildText("", "body")) != 12000 {
					t.Fatalf("bob got %.200s, want the 12 KB message", m)
				}
			})
		}
	})
}

// recorder is a component that keeps what it is sent.
type recorder struct{ got chan *stanza.Element }

func (r *recorder) Deliver(_ context.Context, el *stanza.Element) { r.got <- el }

// TestMatrixShutdownBounces: SECURITY-CASES 161 (and 160) on each
// transport. On Shutdown a client with stream management keeps what it
// acknowledged; each unacknowledged stanza goes back to its sender as
// recipient-unavailable, none lost (TestShutdownLosesNoStanza over TCP).
// TCP and WebSocket clients get system-shutdown; a BOSH client holding no
// request gets nothing more (held requests get the terminate body:
// TestShutdownAnswersHeld).
func TestMatrixShutdownBounces(t *testing.T) {
	for _, tr := range matrixTransports {
		t.Run(tr.name, func(t *testing.T) {
			e := startServer(t, matrixGlobal, "")
			e.CreateUser("bob", "example.com", "secret")
			rec := &recorder{got: make(chan *stanza.Element, 16)}
			if err := e.AddComponent("sender.example.com", rec); err != nil {
				t.Fatal(err)
			}
			bob := mlogin(t, e, tr.kind, "bob")
			bob.enableSM()
			const sent, acked = 5, 2
			for i := 1; i <= sent; i++ {
				e.Route(t.Context(), chatTo(bob.jid, i).Set("from", "bot@sender.example.com"))
			}
			for i := 1; i <= sent; i++ {
				if m := bob.next(); m.Name.Local != "message" || m.Get("id") != strconv.Itoa(i) {
					t.Fatalf("message %d: got %s", i, m)
				}
			}
			bob.send(`<a xmlns='urn:xmpp:sm:3' h='` + strconv.Itoa(acked) + `'/>`)
			bob.send(`<r xmlns='urn:xmpp:sm:3'/>`)
			if a := bob.next(); a.Name.Local != "a" || a.Get("h") != "0" { // orders the <a/> before the shutdown
				t.Fatalf("got %s, want <a h='0'/>", a)
			}

			done := make(chan error, 1)
			go func() { done <- e.Shutdown(context.Background()) }()
			if tr.kind != "bosh" {
				bob.expectStreamError("system-shutdown")
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			bounced := map[string]bool{}
			for len(bounced) < sent-acked {
				el := <-rec.got
				if typ, cond := stanzaError(el); el.Get("type") != "error" || typ != "cancel" || cond != "recipient-unavailable" {
					t.Fatalf("sender got %s, want a cancel/recipient-unavailable bounce", el)
				}
				bounced[el.Get("id")] = true
			}
			for i := 1; i <= sent; i++ {
				if want := i > acked; bounced[strconv.Itoa(i)] != want {
					t.Fatalf("message %d: bounced %v, want %v (acked %d of %d)", i, !want, want, acked, sent)
				}
			}
			select {
			case el := <-rec.got:
				t.Fatalf("unexpected extra delivery %s", el)
			default:
			}
		})
	}
}

// enableSM enables resumable stream management and returns the id.
func (c *mclient) enableSM() string {
	c.t.Helper()
	c.send(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`)
	en := c.next()
	if en.Name.Local != "enabled" || en.Get("id") == "" {
		c.t.Fatalf("enable: %s", en)
	}
	return en.Get("id")
}

// TestMatrixStreamManagementErrors runs the XEP-0198 error cases on each
// transport (server/sm_security_test.go and sm_test.go over TCP).
func TestMatrixStreamManagementErrors(t *testing.T) {
	e := startServer(t, matrixGlobal+"smacks_max_queue_size = 10\n", "")
	for _, u := range []string{"alice", "bob", "carol"} {
		e.CreateUser(u, "example.com", "secret")
	}
	// bob's resumable session, whose id the cases below try to steal.
	owner := mlogin(t, e, "tcp", "bob")
	previd := owner.enableSM()

	cases := []struct {
		name string
		run  func(t *testing.T, kind string)
	}{
		// SECURITY-CASES 166: <resume/> before authentication is refused
		// (failed, or the not-authorized stream error of a stanza before
		// auth).
		{"#166 resume before auth", func(t *testing.T, kind string) {
			c, _ := openers[kind](t, e, "example.com", "en")
			if f := c.next(); f.Name.Local != "features" {
				t.Fatalf("want features, got %s", f)
			}
			c.send(`<resume xmlns='urn:xmpp:sm:3' previd='` + previd + `' h='0'/>`)
			el := c.nextOrEnd()
			switch {
			case el.Name.Local == "failed" && el.Name.Space == nsSM:
			case isStreamError(el) && streamCondition(el) == "not-authorized":
			default:
				t.Fatalf("got %s, want failed or a not-authorized stream error", el)
			}
		}},
		// SECURITY-CASES 166: another user's previd is item-not-found
		// (the registry is keyed by user@host), and bob's session lives on.
		{"#166 previd of another user", func(t *testing.T, kind string) {
			c := mauth(t, e, kind, "alice", "en")
			c.send(`<resume xmlns='urn:xmpp:sm:3' previd='` + previd + `' h='0'/>`)
			if f := c.next(); f.Name.Local != "failed" || f.Child("", "item-not-found") == nil {
				t.Fatalf("got %s, want failed item-not-found", f)
			}
			owner.use(t).ping("owner-" + kind)
		}},
		// SECURITY-CASES 168: h above the number of stanzas sent.
		{"#168 h too high", func(t *testing.T, kind string) {
			c := mlogin(t, e, kind, "carol")
			c.enableSM()
			c.send(`<a xmlns='urn:xmpp:sm:3' h='5'/>`)
			se := c.expectStreamError("undefined-condition")
			hc := se.Child(nsSM, "handled-count-too-high")
			if hc == nil || hc.Get("h") != "5" || hc.Get("send-count") != "0" {
				t.Fatalf("got %s, want handled-count-too-high h=5 send-count=0", se)
			}
		}},
		// SECURITY-CASES 169: <enable/> before bind, and twice.
		{"#169 enable before bind", func(t *testing.T, kind string) {
			c := mauth(t, e, kind, "carol", "en")
			c.send(`<enable xmlns='urn:xmpp:sm:3'/>`)
			if f := c.next(); f.Name.Local != "failed" || f.Child("", "unexpected-request") == nil {
				t.Fatalf("got %s, want failed unexpected-request", f)
			}
		}},
		{"#169 enable twice", func(t *testing.T, kind string) {
			c := mlogin(t, e, kind, "carol")
			c.enableSM()
			c.send(`<enable xmlns='urn:xmpp:sm:3'/>`)
			if f := c.next(); f.Name.Local != "failed" || f.Child("", "unexpected-request") == nil {
				t.Fatalf("got %s, want failed unexpected-request", f)
			}
		}},
		// SECURITY-CASES 170: past smacks_max_queue_size (10 here)
		// unacknowledged stanzas the session is not resumable:
		// resource-constraint.
		{"#170 queue overflow", func(t *testing.T, kind string) {
			alice := mlogin(t, e, "tcp", "alice")
			c := mlogin(t, e, kind, "carol")
			c.enableSM()
			for i := 1; i <= 11; i++ {
				alice.send(chatTo(c.jid, i).String())
			}
			for {
				el := c.nextOrEnd()
				if isStreamError(el) {
					if streamCondition(el) != "resource-constraint" {
						t.Fatalf("stream error %s, want resource-constraint", el)
					}
					return
				}
				if el.Name.Local == "failed" {
					if el.Child("", "resource-constraint") == nil {
						t.Fatalf("got %s, want failed resource-constraint", el)
					}
					return
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, tr := range matrixTransports {
				t.Run(tr.name, func(t *testing.T) { tc.run(t, tr.kind) })
			}
		})
	}
}

// TestMatrixUnauthenticatedDeadline: SECURITY-CASES 157 on each
// transport. A client that opens a stream and never authenticates is
// closed with connection-timeout after the auth timeout (30 s by default,
// shortened here): server.WithAuthTimeout on TCP, the module's AuthTimeout
// on WebSocket and BOSH. On BOSH the client keeps polling (traffic does
// not extend the deadline); server/cases_security_test.go checks the same
// for TCP whitespace.
func TestMatrixUnauthenticatedDeadline(t *testing.T) {
	const timeout = 300 * time.Millisecond
	e := &env{bosh: bosh.New(bosh.Options{AuthTimeout: timeout})}
	e.Server = servertest.Start(t, matrixGlobal+"modules_enabled = { \"bosh\", \"websocket\" }\nconsider_bosh_secure = true\nconsider_websocket_secure = true\nVirtualHost \"example.com\"\n",
		servertest.WithServerOptions(server.WithAuthTimeout(timeout),
			server.WithModules(e.bosh, websocket.New(websocket.Options{AuthTimeout: timeout}), httpx.NewHealth())))
	for _, tr := range matrixTransports {
		t.Run(tr.name, func(t *testing.T) {
			c, _ := openers[tr.kind](t, e, "example.com", "en")
			if f := c.next(); f.Name.Local != "features" {
				t.Fatalf("want features, got %s", f)
			}
			c.expectStreamError("connection-timeout")
		})
	}
}
