package bosh_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/bosh"
	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/stanza"
)

// memConfig has no listeners: synctest bubbles call the handler directly.
const memConfig = `
interfaces = { "127.0.0.1" }
c2s_ports = { }
component_ports = { }
http_ports = { }
storage = "memory"
modules_enabled = { "bosh" }
consider_bosh_secure = true
VirtualHost "example.com"
VirtualHost "anon.example"
    authentication = "anonymous"
`

// memServer starts a server without listeners inside the caller's bubble;
// extra holds global options (it comes before the VirtualHosts). The server
// shuts down when the test ends.
func memServer(t testing.TB, extra string) (*server.Server, *bosh.Module) {
	t.Helper()
	cfg, err := config.Parse("mem.cfg.lua", []byte(extra+memConfig), config.WithEnv(func(string) (string, bool) { return "", false }))
	if err != nil {
		t.Fatal(err)
	}
	level := slog.LevelWarn
	if os.Getenv("PARLEY_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	m := bosh.New(bosh.Options{})
	srv, err := server.New(cfg, server.WithModules(m), server.WithLogger(slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: level}))))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return srv, m
}

// async posts body from a goroutine; the result arrives on the channel.
func async(c *boshClient, body string) <-chan *stanza.Element {
	ch := make(chan *stanza.Element, 1)
	go func() { ch <- c.post(body) }()
	return ch
}

// ready returns the response if it has arrived, after letting every
// goroutine of the bubble run.
func ready(ch <-chan *stanza.Element) *stanza.Element {
	synctest.Wait()
	select {
	case el := <-ch:
		return el
	default:
		return nil
	}
}

// anonLogin logs an in-memory client in on anon.example.
func anonLogin(t *testing.T, m *bosh.Module) (*boshClient, string) {
	c := inMemory(t, t.Context(), m)
	return c, c.login("anon.example", sasl.Anonymous, "", "")
}

func message(to, body string) string {
	return `<message xmlns='jabber:client' type='chat' to='` + to + `'><body>` + body + `</body></message>`
}

func TestHeldRequestGetsData(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, m := memServer(t, "")
		a, aJID := anonLogin(t, m)
		b, _ := anonLogin(t, m)
		held := async(a, a.bodyXML(a.nextRID(), "", ""))
		if el := ready(held); el != nil {
			t.Fatalf("empty request answered at once: %s", el)
		}
		start := time.Now()
		sent := async(b, b.bodyXML(b.nextRID(), "", message(aJID, "hello")))
		got := ready(held)
		if got == nil {
			t.Fatal("held request not answered when a message arrived")
		}
		if msg := got.Child(stanza.NSClient, "message"); msg == nil || msg.ChildText(stanza.NSClient, "body") != "hello" {
			t.Fatalf("response %s, want the message", got)
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("answered after %s, want at once", d)
		}
		<-sent
	})
}

func TestWaitExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, m := memServer(t, "")
		a, _ := anonLogin(t, m)
		start := time.Now()
		held := async(a, a.bodyXML(a.nextRID(), "", ""))
		got := <-held
		if d := time.Since(start); d != 60*time.Second {
			t.Fatalf("held request answered after %s, want wait=60s", d)
		}
		if len(got.Nodes) != 0 || got.Get("type") != "" {
			t.Fatalf("wait expiry response %s, want an empty body", got)
		}
	})
}

// With hold=1, a new request releases the held one; the pending reply goes
// to the oldest request, as Prosody does (SECURITY-CASES #50).
func TestHoldReleasesOldest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, m := memServer(t, "")
		a, _ := anonLogin(t, m)
		first := async(a, a.bodyXML(a.nextRID(), "", ""))
		if ready(first) != nil {
			t.Fatal("first empty request was not held")
		}
		second := async(a, a.bodyXML(a.nextRID(), "", `<iq xmlns='jabber:client' type='get' id='p1' to='anon.example'><ping xmlns='urn:xmpp:ping'/></iq>`))
		got := ready(first)
		if got == nil {
			t.Fatal("the held request was not released by the next one")
		}
		if iq := got.Child(stanza.NSClient, "iq"); iq == nil || iq.Get("id") != "p1" {
			t.Fatalf("oldest request got %s, want the ping result", got)
		}
		if el := ready(second); el != nil {
			t.Fatalf("second request answered at once: %s", el)
		}
		advance(60 * time.Second)
		if el := ready(second); el == nil || len(el.Nodes) != 0 {
			t.Fatalf("second request after wait: %v", el)
		}
	})
}

// SECURITY-CASES #46: the current rid repeated replaces the held request;
// its payload is not processed again.
func TestCurrentRIDRepeated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, m := memServer(t, "")
		a, aJID := anonLogin(t, m)
		b, _ := anonLogin(t, m)
		rid := a.nextRID()
		first := async(a, a.bodyXML(rid, "", ""))
		if ready(first) != nil {
			t.Fatal("request was not held")
		}
		second := async(a, a.bodyXML(rid, "", `<iq xmlns='jabber:client' type='get' id='again' to='anon.example'><ping xmlns='urn:xmpp:ping'/></iq>`))
		got := ready(first)
		if got == nil || len(got.Nodes) != 0 {
			t.Fatalf("replaced request got %v, want an empty body", got)
		}
		if el := ready(second); el != nil {
			t.Fatalf("repeated request answered at once (payload processed?): %s", el)
		}
		sent := async(b, b.bodyXML(b.nextRID(), "", message(aJID, "to the new request")))
		got = ready(second)
		if got == nil || got.Child(stanza.NSClient, "message") == nil {
			t.Fatalf("repeated request got %v, want the message", got)
		}
		if got.Child(stanza.NSClient, "iq") != nil {
			t.Fatalf("the repeated request's payload was processed: %s", got)
		}
		<-sent
	})
}

// SECURITY-CASES #47: rid+2 waits for rid+1; payloads run in rid order.
func TestOutOfOrderRIDs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, m := memServer(t, "")
		a, _ := anonLogin(t, m)
		b, bJID := anonLogin(t, m)
		r1, r2 := a.nextRID(), a.nextRID()
		late := async(a, a.bodyXML(r2, "", message(bJID, "second")))
		if el := ready(late); el != nil {
			t.Fatalf("rid+2 answered before rid+1 arrived: %s", el)
		}
		early := async(a, a.bodyXML(r1, "", message(bJID, "first")))
		if el := ready(early); el == nil || el.Get("type") == "terminate" {
			t.Fatalf("rid+1 not released by rid+2: %v", el)
		}
		var got []string
		for len(got) < 2 {
			body := b.send("")
			for _, el := range body.Elements() {
				got = append(got, el.ChildText(stanza.NSClient, "body"))
			}
		}
		if strings.Join(got, ",") != "first,second" {
			t.Fatalf("messages arrived as %v, want first,second", got)
		}
		advance(60 * time.Second)
		if el := ready(late); el == nil || el.Get("type") == "terminate" {
			t.Fatalf("rid+2: %v", el)
		}
	})
}

// SECURITY-CASES #48 and #50: rids outside the window, or more unanswered
// requests than 'requests', end the session.
func TestRIDWindowErrors(t *testing.T) {
	tests := []struct {
		name    string
		held    bool  // an empty request is held first
		advance int64 // rid offset of the offending request from the next rid
		cond    string
	}{
		{"beyond window (#48)", false, 2, "item-not-found"},
		{"far beyond window (#48)", false, 1000, "item-not-found"},
		{"past rid without cached response (#48)", false, -5, "item-not-found"},
		{"deferred while one is held (#50)", true, 1, "policy-violation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				_, m := memServer(t, "")
				a, _ := anonLogin(t, m)
				var held <-chan *stanza.Element
				if tc.held {
					held = async(a, a.bodyXML(a.nextRID(), "", ""))
					if ready(held) != nil {
						t.Fatal("request not held")
					}
				}
				rid := a.rid + 1 + tc.advance
				got := a.post(a.bodyXML(itoa(rid), "", ""))
				if got.Get("type") != "terminate" || got.Get("condition") != tc.cond {
					t.Fatalf("response %s, want terminate %s", got, tc.cond)
				}
				if held != nil {
					if el := ready(held); el == nil || el.Get("condition") != tc.cond {
						t.Fatalf("held request got %v, want terminate %s", el, tc.cond)
					}
				}
				got = a.send("")
				if got.Get("type") != "terminate" || got.Get("condition") != "item-not-found" {
					t.Fatalf("after termination: %s, want item-not-found", got)
				}
				if n := m.Sessions(); n != 0 {
					t.Fatalf("%d BOSH sessions left, want 0", n)
				}
			})
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// SECURITY-CASES #51: an empty request while the previous one is still
// held, sooner than 'polling' (5 s) after it, is overactivity; later it is
// not.
func TestPollingTooFast(t *testing.T) {
	tests := []struct {
		name  string
		after time.Duration
		cond  string // "" when the second request is accepted
	}{
		{"at once", 0, "policy-violation"},
		{"after 4s", 4 * time.Second, "policy-violation"},
		{"after 5s", 5 * time.Second, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				_, m := memServer(t, "")
				a, _ := anonLogin(t, m)
				first := async(a, a.bodyXML(a.nextRID(), "", ""))
				if ready(first) != nil {
					t.Fatal("request not held")
				}
				advance(tc.after)
				second := async(a, a.bodyXML(a.nextRID(), "", ""))
				got := ready(first)
				if got == nil {
					t.Fatal("first request still held")
				}
				if tc.cond != "" {
					if got.Get("type") != "terminate" || got.Get("condition") != tc.cond {
						t.Fatalf("first request got %s, want terminate %s", got, tc.cond)
					}
					if el := ready(second); el == nil || el.Get("condition") != tc.cond {
						t.Fatalf("second request got %v, want terminate %s", el, tc.cond)
					}
					return
				}
				if got.Get("type") == "terminate" {
					t.Fatalf("first request got %s", got)
				}
				if el := ready(second); el != nil {
					t.Fatalf("second request answered at once: %s", el)
				}
				advance(60 * time.Second)
				if el := ready(second); el == nil || el.Get("type") == "terminate" {
					t.Fatalf("second request: %v", el)
				}
			})
		})
	}
}

// SECURITY-CASES #52: a client silent for bosh_max_inactivity loses its
// session; a request in time keeps it.
func TestInactivity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, m := memServer(t, "bosh_max_inactivity = 30\n")
		a, _ := anonLogin(t, m)
		b, bJID := anonLogin(t, m)
		advance(29 * time.Second)
		if got := a.send(message(bJID, "still here")); got.Get("type") == "terminate" {
			t.Fatalf("session ended before the inactivity period: %s", got)
		}
		// a's request above was held for wait (60 s); b has been silent
		// since it logged in, twice the inactivity period.
		if got := b.send(""); got.Get("condition") != "item-not-found" {
			t.Fatalf("silent session: %s, want item-not-found", got)
		}
		advance(29 * time.Second)
		first := async(a, a.bodyXML(a.nextRID(), "", ""))
		if ready(first) != nil {
			t.Fatal("request not held: session ended too early")
		}
		<-first
		if n := m.Sessions(); n != 1 {
			t.Fatalf("%d sessions, want 1", n)
		}
		advance(31 * time.Second)
		if n := m.Sessions(); n != 0 {
			t.Fatalf("%d sessions after 31 s of silence, want 0", n)
		}
		if got := a.send(""); got.Get("condition") != "item-not-found" {
			t.Fatalf("expired session: %s, want item-not-found", got)
		}
	})
}

// An unauthenticated session is closed after the auth timeout with a
// connection-timeout stream error in the terminate body.
func TestAuthTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, m := memServer(t, "")
		a := inMemory(t, t.Context(), m)
		a.create("example.com", "")
		start := time.Now()
		got := a.send("")
		if d := time.Since(start); d != 30*time.Second {
			t.Fatalf("answered after %s, want the 30 s auth timeout", d)
		}
		if got.Get("type") != "terminate" || got.Get("condition") != "remote-stream-error" {
			t.Fatalf("response %s, want terminate remote-stream-error", got)
		}
		if e := got.Child(stanza.NSStream, "error"); e == nil || e.Child(stanza.NSStreams, "connection-timeout") == nil {
			t.Fatalf("response %s, want a connection-timeout stream error", got)
		}
	})
}

// A held request is answered with a system-shutdown stream error when the
// server stops.
func TestShutdownAnswersHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, m := memServer(t, "")
		a, _ := anonLogin(t, m)
		held := async(a, a.bodyXML(a.nextRID(), "", ""))
		if ready(held) != nil {
			t.Fatal("request not held")
		}
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := <-held
		if got.Get("type") != "terminate" || got.Child(stanza.NSStream, "error").Child(stanza.NSStreams, "system-shutdown") == nil {
			t.Fatalf("response %s, want terminate with system-shutdown", got)
		}
		if n := m.Sessions(); n != 0 {
			t.Fatalf("%d sessions after shutdown", n)
		}
	})
}

// SECURITY-CASES #44: sids are v4 UUIDs and never repeat.
func TestSIDsUnique(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, m := memServer(t, "bosh_max_inactivity = 3600\n")
		seen := map[string]bool{}
		c := inMemory(t, t.Context(), m)
		for range 2000 {
			c.create("anon.example", "")
			sid := c.sid
			if len(sid) != 36 || sid[14] != '4' || !strings.ContainsRune("89ab", rune(sid[19])) {
				t.Fatalf("sid %q is not a v4 UUID", sid)
			}
			if seen[sid] {
				t.Fatalf("sid %s repeated", sid)
			}
			seen[sid] = true
		}
		if n := m.Sessions(); n != 2000 {
			t.Fatalf("%d sessions, want 2000", n)
		}
	})
}

// The session outlives its requests: a client that drops its held
// request and comes back later gets what arrived meanwhile.
func TestSessionOutlivesRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, m := memServer(t, "")
		a, aJID := anonLogin(t, m)
		b, _ := anonLogin(t, m)
		ctx, cancel := context.WithCancel(t.Context())
		gone := inMemory(t, ctx, m)
		gone.sid, gone.rid = a.sid, a.rid
		done := make(chan struct{})
		go func() {
			defer close(done)
			req, _ := http.NewRequest(http.MethodPost, gone.url, strings.NewReader(gone.bodyXML(gone.nextRID(), "", "")))
			resp, _ := gone.do(req)
			if body, _ := io.ReadAll(resp.Body); len(body) != 0 {
				t.Errorf("abandoned request answered with %s", body)
			}
		}()
		synctest.Wait()
		cancel()
		<-done
		a.rid = gone.rid
		sent := async(b, b.bodyXML(b.nextRID(), "", message(aJID, "while away")))
		advance(50 * time.Second)
		got := a.send("")
		if msg := got.Child(stanza.NSClient, "message"); msg == nil || msg.ChildText(stanza.NSClient, "body") != "while away" {
			t.Fatalf("after reconnecting: %s, want the queued message", got)
		}
		<-sent
	})
}

// advance lets d pass on the synctest bubble's fake clock: the bubble's
// goroutines run until all are blocked, then time jumps.
func advance(d time.Duration) {
	<-time.After(d)
}
