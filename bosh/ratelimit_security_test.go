package bosh_test

// SECURITY-CASES transports: BOSH, WS (for the count in SECURITY.md)

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/server/httpx/transporttest"
	"github.com/parley-xmpp/parley/server/servertest"
)

// rateGlobal turns a low default session rate on; the clients below come
// through the (trusted, loopback) proxy with a public address, so the
// loopback exemption does not cover them (SECURITY-CASES 156).
const rateGlobal = "allow_unencrypted_plain_auth = true\nparley_session_rate = \"2kb/s\"\nparley_ip_rate = false\n"

const throttledReads = "parley_c2s_throttled_reads_total"

// forwarded is the header of a client behind the local proxy.
func forwarded() http.Header { return http.Header{"X-Forwarded-For": {"203.0.113.50"}} }

// SECURITY-CASES 151 over WebSocket: the default session rate pauses a
// client's reads; every message arrives, in order.
func TestDefaultRateWebSocket(t *testing.T) {
	srv := startServer(t, rateGlobal, "")
	srv.CreateUser("alice", "example.com", "secret")
	srv.CreateUser("bob", "example.com", "secret")
	bob := servertest.DialRaw(t, srv.C2SAddr)
	bobJID := bob.Login("example.com", "bob", "secret", "b")
	ws := transporttest.DialWS(t, transporttest.WSURL(srv.HTTPURL, ""), forwarded())
	ws.Login("example.com", sasl.Plain, "alice", "secret")
	const n = 20 // 8 KB: twice the burst
	for _, m := range servertest.ChatBurst(bobJID, n, 400) {
		ws.Send(m)
	}
	servertest.ExpectChatBurst(t, bob.Next, n)
	if got := srv.Metric(throttledReads); got == 0 {
		t.Fatalf("%s = 0 after 8 KB at 2kb/s over WebSocket", throttledReads)
	}
}

// SECURITY-CASES 151 over BOSH: a body over the rate is held before it is
// handled; every message arrives, in order.
func TestDefaultRateBOSH(t *testing.T) {
	srv := startServer(t, rateGlobal, "")
	srv.CreateUser("alice", "example.com", "secret")
	srv.CreateUser("bob", "example.com", "secret")
	bob := servertest.DialRaw(t, srv.C2SAddr)
	bobJID := bob.Login("example.com", "bob", "secret", "b")
	c := newBOSH(t, srv.HTTPURL+"/http-bind")
	c.header = forwarded()
	c.login("example.com", sasl.Plain, "alice", "secret")
	const n = 20
	burst := servertest.ChatBurst(bobJID, n, 400)
	for i := 0; i < n; i += 5 {
		c.send(strings.Join(burst[i:i+5], "") + pingIQ("p"+strconv.Itoa(i), "example.com"))
	}
	servertest.ExpectChatBurst(t, bob.Next, n)
	if got := srv.Metric(throttledReads); got == 0 {
		t.Fatalf("%s = 0 after 8 KB at 2kb/s over BOSH", throttledReads)
	}
}
