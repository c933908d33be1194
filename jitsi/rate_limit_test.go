package jitsi_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
)

const (
	rlThrottled = "parley_c2s_throttled_reads_total"
	rlLimitedIP = "parley_rate_limit_limited_ips"
)

// rlStart starts a server with mod_rate_limit and the users alice, bob,
// carol and dave. global holds the module's options.
func rlStart(t *testing.T, global string, opts ...server.Option) *servertest.Server {
	t.Helper()
	srv := servertest.Start(t, `
allow_unencrypted_plain_auth = true
modules_enabled = { "rate_limit" }
`+global+`
VirtualHost "example.com"
`, servertest.WithServerOptions(append([]server.Option{server.WithModules(jitsi.NewRateLimit())}, opts...)...))
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		srv.CreateUser(u, "example.com", "secret")
	}
	return srv
}

// SECURITY-CASES 153: sessions opened from one address faster than
// rate_limit_login_rate get that address limited, and the session over
// the rate has its reads throttled to rate_limit_ip_rate: slowed,
// not disconnected. Sessions opened before are not throttled.
func TestRateLimitLoginRate(t *testing.T) {
	srv := rlStart(t, `
rate_limit_whitelist = {}
rate_limit_login_rate = 1
rate_limit_ip_rate = 500
`)
	// The burst is two logins.
	bob := servertest.DialRaw(t, srv.C2SAddr)
	bobJID := bob.Login("example.com", "bob", "secret", "b")
	alice := servertest.DialRaw(t, srv.C2SAddr)
	alice.Login("example.com", "alice", "secret", "a")
	if got := srv.Metric(rlLimitedIP); got != 0 {
		t.Fatalf("%s = %v after two logins, want 0", rlLimitedIP, got)
	}
	servertest.SendChatBurst(t, alice, bob, bobJID, 10, 300)
	if got := srv.Metric(rlThrottled); got != 0 {
		t.Fatalf("%s = %v for a session opened within the login rate, want 0", rlThrottled, got)
	}

	carol := servertest.DialRaw(t, srv.C2SAddr)
	carol.Login("example.com", "carol", "secret", "c")
	if got := srv.Metric(rlLimitedIP); got != 1 {
		t.Fatalf("%s = %v after a third login in a burst of two, want 1", rlLimitedIP, got)
	}
	// 2.5 KB at 500 B/s with a 1 KB burst: paused, all delivered.
	servertest.SendChatBurst(t, carol, bob, bobJID, 8, 250)
	if got := srv.Metric(rlThrottled); got == 0 {
		t.Fatalf("%s = 0: the session over the login rate was not throttled", rlThrottled)
	}
}

// Loopback is on rate_limit_whitelist by default (Jicofo and the
// videobridge connect from there).
func TestRateLimitWhitelistsLoopback(t *testing.T) {
	srv := rlStart(t, "rate_limit_login_rate = 1\n")
	for i, u := range []string{"alice", "bob", "carol", "dave"} {
		servertest.DialRaw(t, srv.C2SAddr).Login("example.com", u, "secret", "r"+strconv.Itoa(i))
	}
	if got := srv.Metric(rlLimitedIP); got != 0 {
		t.Fatalf("%s = %v for loopback logins, want 0", rlLimitedIP, got)
	}
}

// SECURITY-CASES 150 (per-session part): a session that sends messages
// faster than rate_limit_message_rate is throttled; its messages all
// arrive.
func TestRateLimitMessageRate(t *testing.T) {
	srv := rlStart(t, `
rate_limit_whitelist = {}
rate_limit_login_rate = 100
rate_limit_message_rate = 1
rate_limit_session_rate = 500
`)
	bob := servertest.DialRaw(t, srv.C2SAddr)
	bobJID := bob.Login("example.com", "bob", "secret", "b")
	alice := servertest.DialRaw(t, srv.C2SAddr)
	alice.Login("example.com", "alice", "secret", "a")
	servertest.SendChatBurst(t, alice, bob, bobJID, 2, 10) // the burst: two messages
	if got := srv.Metric(rlThrottled); got != 0 {
		t.Fatalf("%s = %v within the message rate, want 0", rlThrottled, got)
	}
	// The third message is over the rate: what the session sends next
	// is throttled (the bytes already read are not).
	servertest.SendChatBurst(t, alice, bob, bobJID, 1, 10)
	servertest.SendChatBurst(t, alice, bob, bobJID, 8, 250)
	if got := srv.Metric(rlThrottled); got == 0 {
		t.Fatalf("%s = 0: a session over the message rate was not throttled", rlThrottled)
	}
}

// A limited address's new sessions are throttled until rate_limit_timeout
// has passed since it was last over the rate; then the limit is lifted.
func TestRateLimitTimeout(t *testing.T) {
	clk := servertest.NewClock(time.Now())
	srv := rlStart(t, `
rate_limit_whitelist = {}
rate_limit_login_rate = 1
rate_limit_timeout = 60
`, server.WithClock(clk.Now))
	bob := servertest.DialRaw(t, srv.C2SAddr)
	bob.Login("example.com", "bob", "secret", "b")
	servertest.DialRaw(t, srv.C2SAddr).Login("example.com", "alice", "secret", "a")
	servertest.DialRaw(t, srv.C2SAddr).Login("example.com", "carol", "secret", "c")
	if got := srv.Metric(rlLimitedIP); got != 1 {
		t.Fatalf("%s = %v, want 1", rlLimitedIP, got)
	}
	// 30 s later the login bucket is full again, but the address is
	// still limited: the entry stays.
	clk.Advance(30 * time.Second)
	servertest.DialRaw(t, srv.C2SAddr).Login("example.com", "dave", "secret", "d")
	if got := srv.Metric(rlLimitedIP); got != 1 {
		t.Fatalf("%s = %v within the timeout, want 1", rlLimitedIP, got)
	}
	// Past the timeout, the next session lifts the limit.
	clk.Advance(61 * time.Second)
	servertest.DialRaw(t, srv.C2SAddr).Login("example.com", "dave", "secret", "e")
	if got := srv.Metric(rlLimitedIP); got != 0 {
		t.Fatalf("%s = %v after the timeout, want 0", rlLimitedIP, got)
	}
}

// docker-jitsi-meet enables rate_limit in the main MUC's modules_enabled,
// with its options in that section; sessions that bind on a host of
// rate_limit_whitelist_hosts (the recorder's hidden domain) are exempt.
func TestRateLimitAsMUCModule(t *testing.T) {
	srv := servertest.Start(t, `
allow_unencrypted_plain_auth = true
VirtualHost "example.com"
VirtualHost "hidden.example.com"
Component "conference.example.com" "muc"
    modules_enabled = { "rate_limit" }
    rate_limit_whitelist = {}
    rate_limit_login_rate = 100
    rate_limit_message_rate = 1
    rate_limit_session_rate = 500
    rate_limit_whitelist_hosts = { "hidden.example.com" }
`, servertest.WithServerOptions(server.WithComponentType("muc", muc.Factory(jitsi.MUCModules()...))))
	srv.CreateUser("bob", "example.com", "secret")
	srv.CreateUser("recorder", "hidden.example.com", "secret")
	srv.CreateUser("alice", "example.com", "secret")
	bob := servertest.DialRaw(t, srv.C2SAddr)
	bobJID := bob.Login("example.com", "bob", "secret", "b")

	rec := servertest.DialRaw(t, srv.C2SAddr)
	rec.Login("hidden.example.com", "recorder", "secret", "r")
	servertest.SendChatBurst(t, rec, bob, bobJID, 3, 10) // over the message rate, but exempt
	servertest.SendChatBurst(t, rec, bob, bobJID, 8, 250)
	if got := srv.Metric(rlThrottled); got != 0 {
		t.Fatalf("%s = %v for a session on a whitelisted host, want 0", rlThrottled, got)
	}

	alice := servertest.DialRaw(t, srv.C2SAddr)
	alice.Login("example.com", "alice", "secret", "a")
	servertest.SendChatBurst(t, alice, bob, bobJID, 3, 10)
	servertest.SendChatBurst(t, alice, bob, bobJID, 8, 250)
	if got := srv.Metric(rlThrottled); got == 0 {
		t.Fatalf("%s = 0: the MUC-loaded module did not throttle a session over the message rate", rlThrottled)
	}
}
