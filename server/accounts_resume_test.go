package server_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
)

// TestAccountRevokedDuringResume: SECURITY-CASES 40. An account deleted
// after a new stream authenticated but before it resumed the hibernated
// session (here straight in the store, as when the deletion's sweep of
// the router ran while the old session was being taken over) does not
// come back: the account is read again once the resumed session is
// routed, and the stream gets not-authorized.
func TestAccountRevokedDuringResume(t *testing.T) {
	watch := &hibernationWatch{Handler: slog.NewTextHandler(t.Output(), nil), hibernating: make(chan struct{}, 1)}
	srv := servertest.Start(t, twoHosts, servertest.WithServerOptions(server.WithLogger(slog.New(watch))))
	srv.CreateUser("bob", "example.com", "secret")
	bob, _, id := smClient(t, srv, "phone")
	_ = bob.Conn.Close()
	<-watch.hibernating

	c := authOnly(t, srv, "bob")
	if err := srv.Host("example.com").Accounts.Delete(context.Background(), "bob"); err != nil {
		t.Fatal(err)
	}
	c.Write(`<resume xmlns='urn:xmpp:sm:3' previd='` + id + `' h='0'/>`)
	if el := c.Next(); el.Name.Local != "resumed" {
		t.Fatalf("resume: %s", el)
	}
	expectRevoked(t, c, "Account deleted")
	servertest.Eventually(t, "bob unrouted", func() bool { return len(srv.Router().Sessions("bob@example.com")) == 0 })
}
