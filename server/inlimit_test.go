package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/storage"
)

// throttledReads is the counter of reads a byte rate paused.
const throttledReads = "parley_c2s_throttled_reads_total"

// aliceAndBob logs alice and bob in over TCP and returns bob's full JID.
func aliceAndBob(t *testing.T, srv *servertest.Server) (alice, bob *servertest.Raw, bobJID string) {
	t.Helper()
	srv.CreateUser("alice", "example.com", "secret")
	srv.CreateUser("bob", "example.com", "secret")
	alice = servertest.DialRaw(t, srv.C2SAddr)
	alice.Login("example.com", "alice", "secret", "a")
	bob = servertest.DialRaw(t, srv.C2SAddr)
	return alice, bob, bob.Login("example.com", "bob", "secret", "b")
}

// SECURITY-CASES 151: limits are on by default. With no `limits` option, a
// client outside parley_connection_limit_exempt gets parley_session_rate;
// over it, its reads pause and nothing is lost or reordered.
func TestDefaultSessionRateThrottles(t *testing.T) {
	srv := servertest.Start(t, `
allow_unencrypted_plain_auth = true
parley_connection_limit_exempt = {}
parley_session_rate = "4kb/s"
parley_ip_rate = false
VirtualHost "example.com"
`)
	alice, bob, bobJID := aliceAndBob(t, srv)
	// 12 KB: more than the 8 KB burst.
	servertest.SendChatBurst(t, alice, bob, bobJID, 40, 300)
	if got := srv.Metric(throttledReads); got == 0 {
		t.Fatalf("%s = 0 after 12 KB at 4kb/s: the default session rate is off", throttledReads)
	}
}

// The defaults leave exempt addresses (loopback, by default: Jicofo and
// the videobridge) alone.
func TestDefaultRatesSpareExemptAddresses(t *testing.T) {
	srv := servertest.Start(t, `
allow_unencrypted_plain_auth = true
parley_session_rate = "1kb/s"
parley_ip_rate = "1kb/s"
VirtualHost "example.com"
`)
	alice, bob, bobJID := aliceAndBob(t, srv)
	servertest.SendChatBurst(t, alice, bob, bobJID, 40, 300)
	if got := srv.Metric(throttledReads); got != 0 {
		t.Fatalf("%s = %v for loopback clients, want 0", throttledReads, got)
	}
}

// The per-address rate is shared by all sessions from one address: two
// clients that each stay under it alone are paused together.
func TestIPRateIsSharedBySessions(t *testing.T) {
	srv := servertest.Start(t, `
allow_unencrypted_plain_auth = true
parley_connection_limit_exempt = {}
parley_session_rate = false
parley_ip_rate = "2kb/s"
VirtualHost "example.com"
`)
	for _, u := range []string{"alice", "bob", "carol"} {
		srv.CreateUser(u, "example.com", "secret")
	}
	carol := servertest.DialRaw(t, srv.C2SAddr)
	carolJID := carol.Login("example.com", "carol", "secret", "c")
	if got := srv.Metric(throttledReads); got != 0 {
		t.Fatalf("%s = %v after one login, want 0", throttledReads, got)
	}
	// The burst is 4 KB; each login is about 0.5 KB and each burst
	// below 1.5 KB: alone, alice stays under it.
	alice := servertest.DialRaw(t, srv.C2SAddr)
	alice.Login("example.com", "alice", "secret", "a")
	servertest.SendChatBurst(t, alice, carol, carolJID, 5, 250)
	if got := srv.Metric(throttledReads); got != 0 {
		t.Fatalf("%s = %v with one sender under the address's burst, want 0", throttledReads, got)
	}
	bob := servertest.DialRaw(t, srv.C2SAddr)
	bob.Login("example.com", "bob", "secret", "b")
	servertest.SendChatBurst(t, bob, carol, carolJID, 5, 250)
	servertest.SendChatBurst(t, alice, carol, carolJID, 5, 250)
	if got := srv.Metric(throttledReads); got == 0 {
		t.Fatalf("%s = 0 with three sessions over the address's burst together", throttledReads)
	}
}

// SECURITY-CASES 152: an account in unlimited_jids is exempt from the
// default rates once it has authenticated.
func TestUnlimitedJIDsSkipDefaultRates(t *testing.T) {
	srv := servertest.Start(t, `
allow_unencrypted_plain_auth = true
parley_connection_limit_exempt = {}
parley_session_rate = "2kb/s"
parley_ip_rate = "2kb/s"
VirtualHost "example.com"
    modules_enabled = { "limits_exception" }
    unlimited_jids = { "focus@example.com" }
`)
	srv.CreateUser("focus", "example.com", "secret")
	srv.CreateUser("bob", "example.com", "secret")
	bob := servertest.DialRaw(t, srv.C2SAddr)
	bobJID := bob.Login("example.com", "bob", "secret", "b")
	focus := servertest.DialRaw(t, srv.C2SAddr)
	focus.Login("example.com", "focus", "secret", "f")
	before := srv.Metric(throttledReads)
	servertest.SendChatBurst(t, focus, bob, bobJID, 40, 500)
	if got := srv.Metric(throttledReads); got != before {
		t.Fatalf("%s went from %v to %v for an unlimited JID", throttledReads, before, got)
	}
}

// Bad values of the rate options are configuration errors with file:line.
func TestRateOptionErrors(t *testing.T) {
	for _, tc := range []struct{ name, cfg, want string }{
		{"true", `parley_session_rate = true`, "parley_session_rate: want a rate"},
		{"number", `parley_ip_rate = 5`, "parley_ip_rate: want a rate"},
		{"unit", `parley_ip_rate = "5kb"`, "parley_ip_rate: rate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := startErr(t, tc.cfg+"\nVirtualHost \"example.com\"\n")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), ":1") {
				t.Fatalf("error = %v, want %q with a line number", err, tc.want)
			}
		})
	}
}

// startErr builds a server from cfgText and returns New's error.
func startErr(t *testing.T, cfgText string) error {
	t.Helper()
	cfg, err := config.Parse("rates.cfg.lua", []byte(cfgText))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	srv, err := server.New(cfg, server.WithStore(storage.NewMemoryStore()))
	if err == nil {
		_ = srv.Shutdown(context.Background())
	}
	return err
}
