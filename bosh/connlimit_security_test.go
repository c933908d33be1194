package bosh_test

// SECURITY-CASES transports: BOSH, WS (for the count in SECURITY.md)

import (
	"net/http"
	"testing"

	"github.com/parley-xmpp/parley/bosh"
	"github.com/parley-xmpp/parley/server/httpx/transporttest"
	"github.com/parley-xmpp/parley/server/servertest"
)

const connLimitGlobal = "parley_max_connections_per_ip = 2\nparley_connection_limit_exempt = {}\n"

func createBody(rid string) string {
	return `<body xmlns='` + bosh.NS + `' xmlns:xmpp='urn:xmpp:xbosh' rid='` + rid +
		`' to='anon.example' wait='60' hold='1' ver='1.6' xmpp:version='1.0'/>`
}

// BOSH session creation counts against parley_max_connections_per_ip by
// the client address resolved through trusted_proxies (loopback by
// default): a third session from one forwarded address gets 503, another
// address is unaffected, and a terminated session frees its slot.
func TestConnLimitBOSH(t *testing.T) {
	srv := startServer(t, connLimitGlobal, "")
	url := srv.HTTPURL + "/http-bind"
	from := func(ip string) *boshClient {
		c := newBOSH(t, url)
		c.header.Set("X-Forwarded-For", ip)
		return c
	}
	a := from("203.0.113.7")
	a.create("anon.example", "")
	b := from("203.0.113.7")
	b.create("anon.example", "")

	status, h, data := from("203.0.113.7").postRaw(createBody("100"))
	if status != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Fatalf("third session from one address: status %d, Retry-After %q: %s", status, h.Get("Retry-After"), data)
	}
	from("203.0.113.8").create("anon.example", "")

	if body := a.sendAttrs(" type='terminate'", ""); body.Get("type") != "terminate" {
		t.Fatalf("terminate answered %s", body)
	}
	servertest.Eventually(t, "the terminated session's slot", func() bool {
		status, _, _ := from("203.0.113.7").postRaw(createBody("200"))
		return status == http.StatusOK
	})
}

// SECURITY-CASES #154 and #156: X-Forwarded-For from a peer that is not a
// trusted proxy is ignored, so forged addresses do not escape the limit.
func TestConnLimitBOSHUntrustedForwardedFor(t *testing.T) {
	srv := startServer(t, connLimitGlobal+"trusted_proxies = {}\n", "")
	url := srv.HTTPURL + "/http-bind"
	for i, ip := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"} {
		c := newBOSH(t, url)
		c.header.Set("X-Forwarded-For", ip)
		status, _, data := c.postRaw(createBody("300"))
		want := http.StatusOK
		if i == 2 {
			want = http.StatusServiceUnavailable
		}
		if status != want {
			t.Fatalf("session %d (forged %s): status %d, want %d: %s", i, ip, status, want, data)
		}
	}
}

// WebSocket upgrades count the same way, and a closed connection frees
// its slot.
func TestConnLimitWebSocket(t *testing.T) {
	srv := startServer(t, connLimitGlobal, "")
	url := transporttest.WSURL(srv.HTTPURL, "")
	hdr := func(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }
	a := transporttest.DialWS(t, url, hdr("203.0.113.7"))
	a.Open("anon.example")
	transporttest.DialWS(t, url, hdr("203.0.113.7")).Open("anon.example")

	_, resp, err := transporttest.TryDialWS(t, url, hdr("203.0.113.7"), "xmpp")
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("third WebSocket from one address: err %v, status %d, want 503", err, status)
	}
	transporttest.DialWS(t, url, hdr("203.0.113.8")).Open("anon.example")

	_ = a.Conn.Close()
	servertest.Eventually(t, "the closed WebSocket's slot", func() bool {
		c, _, err := transporttest.TryDialWS(t, url, hdr("203.0.113.7"), "xmpp")
		if err != nil {
			return false
		}
		_ = c.Conn.Close()
		return true
	})
}
