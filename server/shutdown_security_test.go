package server_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// recorder is a component that keeps what it is sent.
type recorder struct{ got chan *stanza.Element }

func (r *recorder) Deliver(_ context.Context, el *stanza.Element) { r.got <- el }

// SECURITY-CASES #160 and #161: on Shutdown (SIGTERM) a client with
// stream management gets system-shutdown, the stanzas it acknowledged
// stay delivered, and every one it had not acknowledged goes back to its
// sender as recipient-unavailable: none is lost silently.
func TestShutdownLosesNoStanza(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("bob", "example.com", "secret")
	rec := &recorder{got: make(chan *stanza.Element, 16)}
	if err := srv.AddComponent("sender.example.com", rec); err != nil {
		t.Fatal(err)
	}
	bob, bobJID, _ := smClient(t, srv, "phone")
	const sent, acked = 5, 2
	for i := 1; i <= sent; i++ {
		m := chat(bobJID, strconv.Itoa(i)).Set("from", "bot@sender.example.com")
		srv.Route(t.Context(), m)
	}
	messages(t, bob, sent)
	bob.Write(`<a xmlns='urn:xmpp:sm:3' h='` + strconv.Itoa(acked) + `'/>`)
	if h := ackH(t, bob); h != "0" { // orders the <a/> before the shutdown
		t.Fatalf("h = %s", h)
	}

	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(t.Context()) }()
	bob.ExpectStreamError("system-shutdown")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	bounced := map[string]bool{}
	for len(bounced) < sent-acked {
		el := <-rec.got
		if el.Get("type") != "error" || el.Child("", "error").Child(stanza.NSStanzas, "recipient-unavailable") == nil {
			t.Fatalf("component got %s, want a recipient-unavailable bounce", el)
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
	t.Logf("SECURITY-CASES #161 figures: sent %d, acknowledged %d (delivered), unacknowledged %d (bounced), lost 0", sent, acked, sent-acked)
}
