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

// TestReloadClosesRevokedAccounts: SECURITY-CASES 40 and 164. An account
// deleted behind the server's back (as `parley deluser` does from another
// process) loses its sessions on the next Reload (SIGHUP); the other
// sessions stay.
func TestReloadClosesRevokedAccounts(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("alice", "example.com", "secret")
	srv.CreateUser("bob", "example.com", "secret")
	alice := servertest.DialRaw(t, srv.C2SAddr)
	alice.Login("example.com", "alice", "secret", "a")
	bob := servertest.DialRaw(t, srv.C2SAddr)
	bob.Login("example.com", "bob", "secret", "b")
	if err := srv.Host("example.com").Accounts.Delete(context.Background(), "bob"); err != nil {
		t.Fatal(err)
	}
	rawPing(t, bob, "example.com", "before") // nothing happens until the reload
	if err := srv.Reload(context.Background(), srv.Config()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	expectRevoked(t, bob, "Account deleted")
	rawPing(t, alice, "example.com", "after")
}
