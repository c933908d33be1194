package server_test

import (
	"strconv"
	"testing"

	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

const nsSM = "urn:xmpp:sm:3"

// smClient logs in over raw TCP and enables stream management.
func smClient(t *testing.T, srv *servertest.Server, resource string) (*servertest.Raw, string, string) {
	t.Helper()
	c := servertest.DialRaw(t, srv.C2SAddr)
	full := c.Login("example.com", "bob", "secret", resource)
	c.Write(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`)
	en := c.Next()
	if en.Name.Local != "enabled" || en.Get("id") == "" || en.Get("resume") != "true" {
		t.Fatalf("enable: %s", en)
	}
	return c, full, en.Get("id")
}

// messages reads until n messages arrived, skipping SM requests.
func messages(t *testing.T, c *servertest.Raw, n int) []*stanza.Element {
	t.Helper()
	var out []*stanza.Element
	for len(out) < n {
		el := c.Next()
		if el.Name.Local == "message" {
			out = append(out, el)
		}
	}
	return out
}

func chat(to, id string) *stanza.Element {
	m := stanza.New(stanza.NSClient, "message").Set("type", "chat").Set("to", to).Set("id", id)
	return m.Add(stanza.New(stanza.NSClient, "body").AddText("msg " + id))
}

func TestStreamManagementResume(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("alice", "example.com", "secret")
	srv.CreateUser("bob", "example.com", "secret")
	alice := srv.Connect(t, "alice@example.com", "secret", servertest.ClientOptions{})
	bob, bobJID, id := smClient(t, srv, "phone")

	// Two messages are read and acknowledged, three are in flight.
	for i := 1; i <= 2; i++ {
		alice.Send(chat(bobJID, strconv.Itoa(i)))
	}
	messages(t, bob, 2)
	bob.Write(`<a xmlns='urn:xmpp:sm:3' h='2'/>`)
	for i := 3; i <= 5; i++ {
		alice.Send(chat(bobJID, strconv.Itoa(i)))
	}
	messages(t, bob, 3) // received but never acknowledged
	bob.Write(`<r xmlns='urn:xmpp:sm:3'/>`)
	var a *stanza.Element
	for a == nil || a.Name.Local != "a" {
		a = bob.Next()
	}
	if a.Get("h") != "0" {
		t.Fatalf("server h = %s, want 0 (bob sent no stanzas)", a.Get("h"))
	}
	_ = bob.Conn.Close() // connection lost

	// Sent while the session hibernates.
	for i := 6; i <= 7; i++ {
		alice.Send(chat(bobJID, strconv.Itoa(i)))
	}
	// A ping from alice proves the hibernating session still routes.
	r := alice.Request(iq("get", "example.com", stanza.New("urn:xmpp:ping", "ping")))
	if r.Get("type") != "result" {
		t.Fatal(r)
	}

	again := authOnly(t, srv, "bob")
	again.Write(`<resume xmlns='urn:xmpp:sm:3' previd='` + id + `' h='2'/>`)
	resumed := again.Next()
	if resumed.Name.Local != "resumed" || resumed.Get("previd") != id {
		t.Fatalf("resume: %s", resumed)
	}
	got := messages(t, again, 5)
	for i, m := range got {
		if want := strconv.Itoa(i + 3); m.Get("id") != want {
			t.Fatalf("replayed message %d has id %s, want %s (exactly once, in order)", i, m.Get("id"), want)
		}
	}
	// The resumed session has the old address and keeps receiving.
	alice.Send(chat(bobJID, "8"))
	if m := messages(t, again, 1)[0]; m.Get("id") != "8" {
		t.Fatalf("after resume got %s", m)
	}
	again.Write(`<iq type='get' id='p' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>`)
	for {
		el := again.Next()
		if el.Name.Local == "iq" {
			if el.Get("id") != "p" || el.Get("to") != bobJID {
				t.Fatalf("ping reply %s, want it addressed to %s", el, bobJID)
			}
			break
		}
	}
	// A second resume of the same id fails: it belongs to the new connection.
	third := authOnly(t, srv, "alice")
	third.Write(`<resume xmlns='urn:xmpp:sm:3' previd='` + id + `' h='0'/>`)
	if f := third.Next(); f.Name.Local != "failed" {
		t.Fatalf("resume by another user: %s", f)
	}
}

func TestStreamManagementExpiry(t *testing.T) {
	srv := servertest.Start(t, "smacks_hibernation_time = 1\n"+twoHosts)
	srv.CreateUser("alice", "example.com", "secret")
	srv.CreateUser("bob", "example.com", "secret")
	alice := srv.Connect(t, "alice@example.com", "secret", servertest.ClientOptions{})
	bob, bobJID, id := smClient(t, srv, "phone")
	alice.Send(chat(bobJID, "lost"))
	messages(t, bob, 1)
	_ = bob.Conn.Close()
	// When the hibernation ends the unacknowledged message bounces.
	e := alice.NextMatch(func(el *stanza.Element) bool { return el.Get("type") == "error" && el.Get("id") == "lost" })
	if e.Child("", "error").Child(stanza.NSStanzas, "recipient-unavailable") == nil {
		t.Fatalf("bounce %s", e)
	}
	c := authOnly(t, srv, "bob")
	c.Write(`<resume xmlns='urn:xmpp:sm:3' previd='` + id + `' h='0'/>`)
	f := c.Next()
	if f.Name.Local != "failed" || f.Child("", "item-not-found") == nil || f.Get("h") != "0" {
		t.Fatalf("late resume: %s", f)
	}
}

func TestStreamManagementBadAck(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("bob", "example.com", "secret")
	bob, _, _ := smClient(t, srv, "")
	bob.Write(`<a xmlns='urn:xmpp:sm:3' h='5'/>`)
	el := bob.Next()
	for el.Name.Local != "error" {
		el = bob.Next()
	}
	hc := el.Child(nsSM, "handled-count-too-high")
	if el.Child(stanza.NSStreams, "undefined-condition") == nil || hc == nil || hc.Get("h") != "5" || hc.Get("send-count") != "0" {
		t.Fatalf("SECURITY-CASES 168: got %s", el)
	}
}

// authOnly authenticates without binding, as a client about to resume.
func authOnly(t *testing.T, srv *servertest.Server, user string) *servertest.Raw {
	t.Helper()
	c := servertest.DialRaw(t, srv.C2SAddr)
	c.Open("example.com")
	c.Write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + base64Std("\x00"+user+"\x00secret") + `</auth>`)
	if el := c.Next(); el.Name.Local != "success" {
		t.Fatal(el)
	}
	c.R.Restart()
	c.Open("example.com")
	return c
}
