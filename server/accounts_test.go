package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"

	gws "github.com/gorilla/websocket"
	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/auth"
	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/hook"
	"github.com/parley-xmpp/parley/server/httpx/transporttest"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/websocket"
)

// revocations are the two ways an account goes away while the server runs:
// the stream error text (Prosody's) and the SASL condition of a new login.
var revocations = []struct {
	name     string
	revoke   func(srv *server.Server, ctx context.Context, host, user string) error
	text     string
	loginErr string
}{
	{"deleted", (*server.Server).DeleteUser, "Account deleted", auth.CondNotAuthorized},
	{"disabled", (*server.Server).DisableUser, "Account disabled", auth.CondAccountDisabled},
}

// expectRevoked reads until a stream error, checks it is not-authorized
// with text, and that the server then ends the stream.
func expectRevoked(t *testing.T, c *servertest.Raw, text string) {
	t.Helper()
	for {
		el, err := c.R.Next()
		if err != nil {
			t.Fatalf("want a not-authorized stream error, got read error %v", err)
		}
		if el.Name.Space != stanza.NSStream || el.Name.Local != "error" {
			continue
		}
		if el.Child(stanza.NSStreams, "not-authorized") == nil || el.ChildText(stanza.NSStreams, "text") != text {
			t.Fatalf("stream error %s, want not-authorized %q", el, text)
		}
		break
	}
	if _, err := c.R.Next(); !errors.Is(err, stanza.ErrStreamEnd) && !errors.Is(err, io.EOF) {
		t.Fatalf("after the stream error: %v, want the stream to end", err)
	}
}

// rawPing checks that a raw session is alive: a ping to its host is
// answered.
func rawPing(t *testing.T, c *servertest.Raw, host, id string) {
	t.Helper()
	c.Write(`<iq type='get' id='` + id + `' to='` + host + `'><ping xmlns='urn:xmpp:ping'/></iq>`)
	for {
		el := c.Next()
		if el.Name.Local == "iq" && el.Get("id") == id {
			if el.Get("type") != "result" {
				t.Fatalf("ping %s: %s", id, el)
			}
			return
		}
	}
}

// anonLogin logs in to anon.example with SASL ANONYMOUS over raw TCP.
func anonLogin(t *testing.T, srv *servertest.Server) *servertest.Raw {
	t.Helper()
	c := servertest.DialRaw(t, srv.C2SAddr)
	c.Open("anon.example")
	c.Write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'/>`)
	if el := c.Next(); el.Name.Local != "success" {
		t.Fatalf("anonymous login: %s", el)
	}
	c.R.Restart()
	c.Open("anon.example")
	c.Write(`<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`)
	if el := c.Next(); el.Get("type") != "result" {
		t.Fatalf("anonymous bind: %s", el)
	}
	return c
}

// plainFails checks that a PLAIN login of user now fails with cond.
func plainFails(t *testing.T, srv *servertest.Server, user, cond string) {
	t.Helper()
	c := servertest.DialRaw(t, srv.C2SAddr)
	c.Open("example.com")
	c.Write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + base64Std("\x00"+user+"\x00secret") + `</auth>`)
	if el := c.Next(); el.Name.Local != "failure" || el.Child("", cond) == nil {
		t.Fatalf("login of %s: %s, want failure %s", user, el, cond)
	}
}

// TestAccountRevokedClosesSessions: SECURITY-CASES 40. Deleting or
// disabling an account while it is logged in closes every session of that
// account (all resources) with a not-authorized stream error carrying
// Prosody's text; other accounts and anonymous sessions stay connected,
// and the account cannot log in again.
func TestAccountRevokedClosesSessions(t *testing.T) {
	for _, tc := range revocations {
		t.Run(tc.name, func(t *testing.T) {
			srv := servertest.Start(t, twoHosts)
			srv.CreateUser("bob", "example.com", "secret")
			srv.CreateUser("alice", "example.com", "secret")
			srv.CreateUser("bob", "other.example", "secret")
			phone := servertest.DialRaw(t, srv.C2SAddr)
			phone.Login("example.com", "bob", "secret", "phone")
			laptop := servertest.DialRaw(t, srv.C2SAddr)
			laptop.Login("example.com", "bob", "secret", "laptop")
			alice := servertest.DialRaw(t, srv.C2SAddr)
			alice.Login("example.com", "alice", "secret", "")
			otherBob := servertest.DialRaw(t, srv.C2SAddr)
			otherBob.Login("other.example", "bob", "secret", "")
			anon := anonLogin(t, srv)
			before := server.ClosesCount(srv.Server, string(server.CloseAccountRevoked))

			// The username is normalised as a JID localpart.
			if err := tc.revoke(srv.Server, context.Background(), "example.com", "BOB"); err != nil {
				t.Fatal(err)
			}
			expectRevoked(t, phone, tc.text)
			expectRevoked(t, laptop, tc.text)
			if got := server.ClosesCount(srv.Server, string(server.CloseAccountRevoked)) - before; got != 2 {
				t.Errorf("%v sessions closed as account_revoked, want 2", got)
			}
			rawPing(t, alice, "example.com", "alice")
			rawPing(t, otherBob, "other.example", "other-bob")
			rawPing(t, anon, "anon.example", "anon")
			if n := len(srv.Router().Sessions("bob@example.com")); n != 0 {
				t.Errorf("%d sessions of bob@example.com still routed", n)
			}
			plainFails(t, srv, "bob", tc.loginErr)
		})
	}
}

// TestAccountEnableAfterDisable: SECURITY-CASES 40. An enabled account logs
// in again with its old password; enabling fires user-enabled.
func TestAccountEnableAfterDisable(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("bob", "example.com", "secret")
	enabled := make(chan string, 1)
	srv.Host("example.com").Events.UserEnabled.On(0, "test", func(_ context.Context, ev *server.AccountEvent) error {
		enabled <- ev.Username + "@" + ev.Host.Name
		return nil
	})
	ctx := context.Background()
	if err := srv.DisableUser(ctx, "example.com", "bob"); err != nil {
		t.Fatal(err)
	}
	plainFails(t, srv, "bob", auth.CondAccountDisabled)
	if err := srv.EnableUser(ctx, "example.com", "bob"); err != nil {
		t.Fatal(err)
	}
	if got := <-enabled; got != "bob@example.com" {
		t.Errorf("user-enabled for %q", got)
	}
	c := servertest.DialRaw(t, srv.C2SAddr)
	c.Login("example.com", "bob", "secret", "")
	rawPing(t, c, "example.com", "back")
}

// TestAccountRevokedHookVeto: SECURITY-CASES 40. The sessions are closed by
// a built-in handler at Prosody's priority 200: handlers above it see the
// event first (with the normalised username) and hook.ErrStop keeps the
// sessions, as in Prosody.
func TestAccountRevokedHookVeto(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("bob", "example.com", "secret")
	bob := servertest.DialRaw(t, srv.C2SAddr)
	bob.Login("example.com", "bob", "secret", "")
	seen := make(chan string, 1)
	srv.Host("example.com").Events.UserDeleted.On(300, "test", func(_ context.Context, ev *server.AccountEvent) error {
		seen <- ev.Username
		return hook.ErrStop
	})
	if err := srv.DeleteUser(context.Background(), "example.com", "Bob"); err != nil {
		t.Fatal(err)
	}
	if got := <-seen; got != "bob" {
		t.Errorf("user-deleted for %q, want bob", got)
	}
	rawPing(t, bob, "example.com", "kept")
}

// TestAccountRevokedErrors: the administration API refuses what it cannot
// do, with errors callers can test.
func TestAccountRevokedErrors(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"unknown host", func() error { return srv.DeleteUser(ctx, "nowhere.example", "bob") }, server.ErrUnknownHost},
		{"anonymous host delete", func() error { return srv.DeleteUser(ctx, "anon.example", "bob") }, server.ErrNoAccounts},
		{"anonymous host disable", func() error { return srv.DisableUser(ctx, "anon.example", "bob") }, server.ErrNoAccounts},
		{"disable absent account", func() error { return srv.DisableUser(ctx, "example.com", "nobody") }, auth.ErrNoAccount},
		{"enable absent account", func() error { return srv.EnableUser(ctx, "example.com", "nobody") }, auth.ErrNoAccount},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
	// Prosody's delete_user of an absent account succeeds.
	if err := srv.DeleteUser(ctx, "example.com", "nobody"); err != nil {
		t.Errorf("deleting an absent account: %v", err)
	}
	if err := srv.DeleteUser(ctx, "example.com", ""); err == nil {
		t.Error("deleting an empty username succeeded")
	}
}

// hibernationWatch is a slog handler that reports when a session starts
// hibernating and passes warnings on to the test output.
type hibernationWatch struct {
	slog.Handler
	hibernating chan struct{}
}

func (h *hibernationWatch) Enabled(context.Context, slog.Level) bool { return true }

func (h *hibernationWatch) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "connection lost, session hibernating" {
		select {
		case h.hibernating <- struct{}{}:
		default:
		}
	}
	if r.Level < slog.LevelWarn {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h *hibernationWatch) WithAttrs(as []slog.Attr) slog.Handler {
	return &hibernationWatch{Handler: h.Handler.WithAttrs(as), hibernating: h.hibernating}
}

func (h *hibernationWatch) WithGroup(name string) slog.Handler {
	return &hibernationWatch{Handler: h.Handler.WithGroup(name), hibernating: h.hibernating}
}

// TestAccountRevokedHibernatedCannotResume: SECURITY-CASES 40. A XEP-0198
// session that lost its connection and waits for a resumption is closed
// too: its unacknowledged stanzas bounce at once and a later <resume/> (even
// after the account is re-created) fails.
func TestAccountRevokedHibernatedCannotResume(t *testing.T) {
	for _, tc := range revocations {
		t.Run(tc.name, func(t *testing.T) {
			watch := &hibernationWatch{Handler: slog.NewTextHandler(t.Output(), nil), hibernating: make(chan struct{}, 1)}
			srv := servertest.Start(t, twoHosts, servertest.WithServerOptions(server.WithLogger(slog.New(watch))))
			srv.CreateUser("alice", "example.com", "secret")
			srv.CreateUser("bob", "example.com", "secret")
			alice := srv.Connect(t, "alice@example.com", "secret", servertest.ClientOptions{})
			bob, bobJID, id := smClient(t, srv, "phone")
			alice.Send(chat(bobJID, "unacked"))
			messages(t, bob, 1)
			_ = bob.Conn.Close()
			<-watch.hibernating

			if err := tc.revoke(srv.Server, context.Background(), "example.com", "bob"); err != nil {
				t.Fatal(err)
			}
			// The hibernation would last ten minutes: the bounce now
			// shows the session really ended.
			e := alice.NextMatch(func(el *stanza.Element) bool { return el.Get("type") == "error" && el.Get("id") == "unacked" })
			if e.Child("", "error").Child(stanza.NSStanzas, "recipient-unavailable") == nil {
				t.Fatalf("bounce %s", e)
			}
			if err := srv.EnableUser(context.Background(), "example.com", "bob"); err != nil && !errors.Is(err, auth.ErrNoAccount) {
				t.Fatal(err)
			}
			srv.CreateUser("bob", "example.com", "secret")
			c := authOnly(t, srv, "bob")
			c.Write(`<resume xmlns='urn:xmpp:sm:3' previd='` + id + `' h='1'/>`)
			if f := c.Next(); f.Name.Local != "failed" || f.Child("", "item-not-found") == nil {
				t.Fatalf("resume after the account was %s: %s", tc.name, f)
			}
		})
	}
}

// TestAccountRevokedBetweenLoginAndBind: SECURITY-CASES 40. A session that
// authenticated but had not bound a resource when its account went away
// is not in the router yet; the account is read again at binding, so it
// never becomes a working session.
func TestAccountRevokedBetweenLoginAndBind(t *testing.T) {
	for _, tc := range revocations {
		t.Run(tc.name, func(t *testing.T) {
			srv := servertest.Start(t, twoHosts)
			srv.CreateUser("bob", "example.com", "secret")
			c := authOnly(t, srv, "bob")
			if err := tc.revoke(srv.Server, context.Background(), "example.com", "bob"); err != nil {
				t.Fatal(err)
			}
			c.Write(`<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`)
			expectRevoked(t, c, tc.text)
			// The session leaves the router as it closes, which may be
			// just after its stream error was written.
			servertest.Eventually(t, "bob@example.com unrouted", func() bool {
				return len(srv.Router().Sessions("bob@example.com")) == 0
			})
		})
	}
}

// TestRecheckAccounts: SECURITY-CASES 40. An account deleted or disabled
// by another process (the command line on the file store of the running
// server) fires no event; RecheckAccounts, which Reload calls on SIGHUP,
// closes its sessions and leaves every other session alone.
func TestRecheckAccounts(t *testing.T) {
	edits := []struct {
		name string
		edit func(ctx context.Context, h *server.Host) error
		text string
	}{
		{"deleted", func(ctx context.Context, h *server.Host) error { return h.Accounts.Delete(ctx, "bob") }, "Account deleted"},
		{"disabled", func(ctx context.Context, h *server.Host) error {
			return h.Accounts.(auth.Disabler).SetDisabled(ctx, "bob", true)
		}, "Account disabled"},
	}
	for _, tc := range edits {
		t.Run(tc.name, func(t *testing.T) {
			cfgText := fmt.Sprintf("storage = \"internal\"\ndata_path = %q\n", t.TempDir()) + twoHosts
			srv := servertest.Start(t, cfgText)
			srv.CreateUser("bob", "example.com", "secret")
			srv.CreateUser("alice", "example.com", "secret")
			bob := servertest.DialRaw(t, srv.C2SAddr)
			bob.Login("example.com", "bob", "secret", "")
			alice := servertest.DialRaw(t, srv.C2SAddr)
			alice.Login("example.com", "alice", "secret", "")
			anon := anonLogin(t, srv)
			ctx := context.Background()
			if n, err := srv.RecheckAccounts(ctx); n != 0 || err != nil {
				t.Fatalf("RecheckAccounts with every account in place = %d, %v", n, err)
			}

			// Another process, as `parley deluser` builds it: its own
			// server over the same data directory.
			cfg, err := config.Parse("other.cfg.lua", []byte(servertest.Defaults+cfgText), config.WithEnv(func(string) (string, bool) { return "", false }))
			if err != nil {
				t.Fatal(err)
			}
			other, err := server.New(cfg, server.WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.edit(ctx, other.Host("example.com")); err != nil {
				t.Fatal(err)
			}
			rawPing(t, bob, "example.com", "unnoticed") // nothing told the server

			n, err := srv.RecheckAccounts(ctx)
			if n != 1 || err != nil {
				t.Fatalf("RecheckAccounts = %d, %v; want 1 session closed", n, err)
			}
			expectRevoked(t, bob, tc.text)
			rawPing(t, alice, "example.com", "alice")
			rawPing(t, anon, "anon.example", "anon")
			if n, err := srv.RecheckAccounts(ctx); n != 0 || err != nil {
				t.Fatalf("second RecheckAccounts = %d, %v", n, err)
			}
		})
	}
}

// TestRecheckAccountsStoreError: an account whose state cannot be read
// keeps its sessions and the error is reported.
func TestRecheckAccountsStoreError(t *testing.T) {
	st := &failingStore{Store: storage.NewMemoryStore()}
	srv := servertest.Start(t, twoHosts, servertest.WithServerOptions(server.WithStore(st)))
	srv.CreateUser("bob", "example.com", "secret")
	bob := servertest.DialRaw(t, srv.C2SAddr)
	bob.Login("example.com", "bob", "secret", "")
	st.fail.Store(true)
	n, err := srv.RecheckAccounts(context.Background())
	st.fail.Store(false)
	if n != 0 || !errors.Is(err, errStoreDown) {
		t.Fatalf("RecheckAccounts = %d, %v; want 0 and the store error", n, err)
	}
	rawPing(t, bob, "example.com", "kept")
}

// TestAccountRevokedWebSocket: SECURITY-CASES 40 over RFC 7395: the stream
// error is followed by <close/> and a normal close frame.
func TestAccountRevokedWebSocket(t *testing.T) {
	srv := servertest.Start(t, "modules_enabled = { \"websocket\" }\nconsider_websocket_secure = true\n"+twoHosts,
		servertest.WithServerOptions(server.WithModules(websocket.New(websocket.Options{}))))
	srv.CreateUser("bob", "example.com", "secret")
	c := transporttest.DialWS(t, transporttest.WSURL(srv.HTTPURL, ""), nil)
	c.Login("example.com", sasl.Plain, "bob", "secret")
	if err := srv.DeleteUser(context.Background(), "example.com", "bob"); err != nil {
		t.Fatal(err)
	}
	c.ExpectStreamError("not-authorized", gws.CloseNormalClosure)
}

var errStoreDown = errors.New("test: store down")

// failingStore fails reads of the accounts store while fail is set.
type failingStore struct {
	storage.Store
	fail atomic.Bool
}

func (s *failingStore) Get(ctx context.Context, host, store, user string) (storage.Table, error) {
	if store == auth.AccountsStore && s.fail.Load() {
		return nil, errStoreDown
	}
	return s.Store.Get(ctx, host, store, user)
}

// BenchmarkRecheckAccounts measures the SIGHUP recheck over 200 bound TCP
// sessions of 20 accounts (memory store), none of them revoked.
func BenchmarkRecheckAccounts(b *testing.B) {
	srv := servertest.Start(b, twoHosts)
	for u := 0; u < 20; u++ {
		user := fmt.Sprintf("user%d", u)
		srv.CreateUser(user, "example.com", "secret")
		for r := 0; r < 10; r++ {
			c := servertest.DialRaw(b, srv.C2SAddr)
			c.Login("example.com", user, "secret", fmt.Sprintf("r%d", r))
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if n, err := srv.RecheckAccounts(ctx); n != 0 || err != nil {
			b.Fatalf("RecheckAccounts = %d, %v", n, err)
		}
	}
}
