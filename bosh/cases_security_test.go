package bosh_test

// SECURITY-CASES transports: BOSH, WS (for the count in SECURITY.md)

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/bosh"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/httpx"
	"github.com/parley-xmpp/parley/server/httpx/transporttest"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/websocket"
)

// SECURITY-CASES #56: a session is not bound to the address that made it
// (neither Prosody nor XEP-0124 does that; the sid's entropy and TLS are
// the protection), but a session made over HTTPS that is continued over
// plain HTTP gets its connection dropped, and stays usable over HTTPS.
func TestSessionAcrossAddressesAndSchemes(t *testing.T) {
	srv := servertest.Start(t, `
modules_enabled = { "bosh" }
VirtualHost "anon.example"
    authentication = "anonymous"
`, servertest.WithTLS(), servertest.WithServerOptions(server.WithModules(bosh.New(bosh.Options{}))))
	if srv.HTTPSURL == "" {
		t.Fatal("no HTTPS listener")
	}
	tr := &http.Transport{TLSClientConfig: srv.ClientTLS.Clone()}
	tr.TLSClientConfig.ServerName = "anon.example"
	t.Cleanup(tr.CloseIdleConnections)
	secure := &boshClient{t: t, url: srv.HTTPSURL + "/http-bind", do: (&http.Client{Transport: tr, Timeout: servertest.Wait}).Do, header: http.Header{}, rid: 4000}
	secure.header.Set("X-Forwarded-For", "198.51.100.1")
	secure.login("anon.example", sasl.Anonymous, "", "")
	ping := func(id string) {
		t.Helper()
		if r := secure.exchange(pingIQ(id, "anon.example")); r.Get("type") != "result" || r.Get("id") != id {
			t.Fatalf("ping %s: %s", id, r)
		}
	}

	t.Run("new address", func(t *testing.T) {
		secure.header.Set("X-Forwarded-For", "203.0.113.99")
		ping("new-address")
	})
	t.Run("plain HTTP dropped, session kept", func(t *testing.T) {
		rid := strconv.FormatInt(secure.rid+1, 10)
		plain := newBOSH(t, srv.HTTPURL+"/http-bind")
		req, err := http.NewRequest(http.MethodPost, plain.url, strings.NewReader(`<body xmlns='`+bosh.NS+`' sid='`+secure.sid+`' rid='`+rid+`'>`+pingIQ("plain", "anon.example")+`</body>`))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := plain.hc.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("plain HTTP request for a secure session answered %d, want the connection dropped", resp.StatusCode)
		}
		if ue := (*url.Error)(nil); errors.As(err, &ue) && ue.Timeout() {
			t.Fatalf("plain HTTP request for a secure session was held (%v), want the connection dropped", err)
		}
		// The same rid over HTTPS is processed normally.
		ping("after-plain")
	})
}

// SECURITY-CASES #163 (and #160 for WebSocket): on shutdown a WebSocket
// client gets the system-shutdown stream error (held BOSH requests get a
// system-shutdown terminate body: TestShutdownAnswersHeld); after a
// restart the old BOSH sid is unknown (item-not-found) and new sessions on
// both transports work.
func TestSessionsAcrossRestart(t *testing.T) {
	const cfg = "modules_enabled = { \"bosh\", \"websocket\" }\nconsider_bosh_secure = true\nconsider_websocket_secure = true\nVirtualHost \"anon.example\"\n    authentication = \"anonymous\"\n"
	mods := func() server.Option {
		return server.WithModules(bosh.New(bosh.Options{}), websocket.New(websocket.Options{}), httpx.NewHealth())
	}
	first := servertest.Start(t, cfg, servertest.WithServerOptions(mods()))
	b := newBOSH(t, first.HTTPURL+"/http-bind")
	b.login("anon.example", sasl.Anonymous, "", "")
	ws := transporttest.DialWS(t, transporttest.WSURL(first.HTTPURL, ""), nil)
	ws.Open("anon.example")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- first.Shutdown(ctx) }()
	ws.ExpectStreamError("system-shutdown", 1000)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	second := servertest.Start(t, cfg, servertest.WithServerOptions(mods()))
	b.url = second.HTTPURL + "/http-bind"
	if body := b.send(""); body.Get("type") != "terminate" || body.Get("condition") != "item-not-found" {
		t.Fatalf("old sid after restart: %s, want terminate item-not-found", body)
	}
	newBOSH(t, second.HTTPURL+"/http-bind").login("anon.example", sasl.Anonymous, "", "")
	transporttest.DialWS(t, transporttest.WSURL(second.HTTPURL, ""), nil).Open("anon.example")
}
