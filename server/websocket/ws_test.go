package websocket_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"
	"mellium.im/sasl"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	mws "mellium.im/xmpp/websocket"

	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/httpx/transporttest"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
	"github.com/parley-xmpp/parley/server/websocket"
)

const baseConfig = `
modules_enabled = { "websocket", "test_params" }
consider_websocket_secure = true
VirtualHost "example.com"
VirtualHost "anon.example"
    authentication = "anonymous"
`

type env struct {
	*servertest.Server
	params *transporttest.ParamsModule
}

// start runs a server with the websocket and test_params modules; global
// options go before baseConfig.
func start(t testing.TB, global string, o websocket.Options, opts ...server.Option) *env {
	t.Helper()
	e := &env{params: transporttest.NewParamsModule()}
	mods := server.WithModules(websocket.New(o), e.params)
	e.Server = servertest.Start(t, global+baseConfig, servertest.WithServerOptions(append([]server.Option{mods}, opts...)...))
	return e
}

func (e *env) url(query string) string { return transporttest.WSURL(e.HTTPURL, query) }

func TestLogin(t *testing.T) {
	srv := start(t, "", websocket.Options{})
	srv.CreateUser("alice", "example.com", "secret")
	tests := []struct {
		name string
		host string
		mech sasl.Mechanism
		want string
	}{
		{"PLAIN", "example.com", sasl.Plain, "alice@example.com"},
		{"SCRAM-SHA-1", "example.com", sasl.ScramSha1, "alice@example.com"},
		{"SCRAM-SHA-256", "example.com", sasl.ScramSha256, "alice@example.com"},
		{"ANONYMOUS", "anon.example", sasl.Anonymous, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := transporttest.DialWS(t, srv.url(""), nil)
			full := c.Login(tc.host, tc.mech, "alice", "secret")
			bare, _, _ := strings.Cut(full, "/")
			if tc.want != "" && bare != tc.want || tc.want == "" && !strings.HasSuffix(bare, "@anon.example") {
				t.Fatalf("bound %s", full)
			}
			reply := c.Exchange(`<iq xmlns='jabber:client' type='get' id='p1' to='` + tc.host + `'><ping xmlns='urn:xmpp:ping'/></iq>`)
			if reply.Get("type") != "result" || reply.Get("id") != "p1" || reply.Name.Space != stanza.NSClient {
				t.Fatalf("ping reply %s", reply)
			}
			c.Send("<close xmlns='" + stanza.NSFraming + "'/>")
			c.ExpectClose(gws.CloseNormalClosure) // SECURITY-CASES #73
		})
	}
}

// mellium's own RFC 7395 client logs in with SCRAM and pings the server.
func TestMelliumClient(t *testing.T) {
	srv := start(t, "", websocket.Options{})
	srv.CreateUser("alice", "example.com", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), servertest.Wait)
	defer cancel()
	d := mws.Dialer{Origin: srv.HTTPURL, InsecureNoTLS: true}
	conn, err := d.DialDirect(ctx, srv.url(""))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	addr := jid.MustParse("alice@example.com")
	// mellium negotiates SASL only on a secure session; consider the
	// plain ws:// connection secure, as the server does.
	sess, err := xmpp.NewSession(ctx, addr.Domain(), addr, conn, xmpp.Secure, mws.Negotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
		return xmpp.StreamConfig{Features: []xmpp.StreamFeature{xmpp.SASL("", "secret", sasl.ScramSha1), xmpp.BindResource()}}
	}))
	if err != nil {
		t.Fatalf("mellium session: %v", err)
	}
	c := servertest.Watch(t, sess)
	if c.JID.Bare().String() != "alice@example.com" || c.JID.Resourcepart() == "" {
		t.Fatalf("bound %s", c.JID)
	}
	reply := c.Request(stanza.New(stanza.NSClient, "iq").Set("type", "get").Set("to", "example.com").Add(stanza.New("urn:xmpp:ping", "ping")))
	if reply.Get("type") != "result" {
		t.Fatalf("ping reply %s", reply)
	}
}

// Framing (RFC 7395 §3.3): every message is one standalone element;
// features declare the stream prefix, stanzas jabber:client.
func TestFraming(t *testing.T) {
	srv := start(t, "", websocket.Options{})
	c := transporttest.DialWS(t, srv.url(""), nil)
	c.Send("<open xmlns='" + stanza.NSFraming + "' to='anon.example' version='1.0'/>")
	open, _ := c.NextRaw()
	if !bytes.HasPrefix(open, []byte("<open xmlns='"+stanza.NSFraming+"'")) || !bytes.Contains(open, []byte("from='anon.example'")) {
		t.Fatalf("open = %s", open)
	}
	features, _ := c.NextRaw()
	if !bytes.HasPrefix(features, []byte("<stream:features xmlns:stream='"+stanza.NSStream+"'>")) {
		t.Fatalf("features = %s", features)
	}
	if res := transporttest.SASL(t, c.Exchange, sasl.Anonymous, "", ""); res.Name.Local != "success" {
		t.Fatalf("SASL: %s", res)
	}
	c.Open("anon.example")
	// A stanza without xmlns is read as jabber:client (Prosody's default
	// namespace) and the reply declares jabber:client.
	c.Send(transporttest.BindIQ)
	c.Next()
	c.Send(`<iq type='get' id='p2' to='anon.example'><ping xmlns='urn:xmpp:ping'/></iq>`)
	reply, _ := c.NextRaw()
	if !bytes.HasPrefix(reply, []byte("<iq xmlns='jabber:client'")) || !bytes.Contains(reply, []byte("id='p2'")) {
		t.Fatalf("reply = %s", reply)
	}
}

// SECURITY-CASES #60, #61, #62: the HTTP side of the endpoint.
func TestHandshake(t *testing.T) {
	srv := start(t, "", websocket.Options{})
	hc := &http.Client{Transport: &http.Transport{}, Timeout: servertest.Wait}
	t.Cleanup(hc.CloseIdleConnections)
	t.Run("plain GET answers 200 (#60)", func(t *testing.T) {
		resp, err := hc.Get(srv.HTTPURL + "/xmpp-websocket")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "WebSocket") {
			t.Fatalf("status %d body %q", resp.StatusCode, body)
		}
	})
	t.Run("POST is refused", func(t *testing.T) {
		resp, err := hc.Post(srv.HTTPURL+"/xmpp-websocket", "text/xml", strings.NewReader("<x/>"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	for _, protos := range [][]string{nil, {"chat"}, {"XMPP"}} {
		t.Run("subprotocol "+strings.Join(protos, ",")+" refused (#61)", func(t *testing.T) {
			_, resp, err := transporttest.TryDialWS(t, srv.url(""), nil, protos...)
			if err == nil || resp == nil || resp.StatusCode != http.StatusNotImplemented {
				t.Fatalf("err %v, response %v: want 501", err, resp)
			}
		})
	}
	t.Run("xmpp among several subprotocols", func(t *testing.T) {
		c, _, err := transporttest.TryDialWS(t, srv.url(""), nil, "chat", "xmpp")
		if err != nil || c.Conn.Subprotocol() != "xmpp" {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("foreign Origin accepted (#62)", func(t *testing.T) {
		c := transporttest.DialWS(t, srv.url(""), http.Header{"Origin": {"https://elsewhere.example"}})
		c.Open("anon.example")
	})
}

// Session parameters come from the upgrade request (JITSI.md §4.2).
func TestSessionParams(t *testing.T) {
	srv := start(t, "", websocket.Options{})
	c := transporttest.DialWS(t, srv.url("room=r1&prefix=tenant&previd=p1&customusername=cu&token=qtok"), http.Header{
		"Authorization":  {"Bearer htok"},
		"User-Agent":     {"lib-jitsi-meet"},
		"X-Proxy-Region": {"us-east"},
	})
	c.Login("anon.example", sasl.Anonymous, "", "")
	got := <-srv.params.Seen
	want := map[string]string{"token": "qtok", "room": "r1", "prefix": "tenant", "previd": "p1", "customusername": "cu", "user_agent": "lib-jitsi-meet", "region": "us-east"}
	if len(got) != len(want) {
		t.Errorf("params %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("params[%q] = %q, want %q", k, got[k], v)
		}
	}
}

// SECURITY-CASES #69, #71, #72, #63, #14: bad input ends the stream.
func TestStreamErrors(t *testing.T) {
	srv := start(t, "c2s_stanza_size_limit = 10000\n", websocket.Options{})
	tests := []struct {
		name  string
		open  bool // log in first
		input string
		cond  string
	}{
		{"oversized message (#69)", true, "<message xmlns='jabber:client' to='x@anon.example'><body>" + strings.Repeat("x", 20000) + "</body></message>", "policy-violation"},
		{"DOCTYPE in <open/> (#71, CVE-2022-0217)", false, "<!DOCTYPE open [<!ENTITY a 'aaaa'>]><open xmlns='" + stanza.NSFraming + "' to='anon.example' version='1.0'/>", "restricted-xml"},
		{"entity in <open/> (#71)", false, "<open xmlns='" + stanza.NSFraming + "' to='&a;' version='1.0'/>", "restricted-xml"},
		{"<stream:stream> over WebSocket (#72)", false, "<stream:stream xmlns:stream='" + stanza.NSStream + "' to='anon.example' version='1.0'/>", "invalid-namespace"},
		{"<open/> without to (#14)", false, "<open xmlns='" + stanza.NSFraming + "' version='1.0'/>", "improper-addressing"},
		{"<open/> to an unknown host (#15)", false, "<open xmlns='" + stanza.NSFraming + "' to='nowhere.example' version='1.0'/>", "host-unknown"},
		{"stanza before <open/>", false, "<message xmlns='jabber:client'/>", "bad-format"},
		{"not well-formed (#6)", true, "<message xmlns='jabber:client'><body>", "not-well-formed"},
		{"two elements in one message", true, "<presence xmlns='jabber:client'/><presence xmlns='jabber:client'/>", "not-well-formed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := transporttest.DialWS(t, srv.url(""), nil)
			if tc.open {
				c.Login("anon.example", sasl.Anonymous, "", "")
			}
			c.Send(tc.input)
			if !tc.open {
				// The server answers with <open/> before its stream error.
				if o := c.Next(); o.Name.Space != stanza.NSFraming || o.Name.Local != "open" {
					t.Fatalf("want <open/> first, got %s", o)
				}
			}
			c.ExpectStreamError(tc.cond, gws.CloseNormalClosure)
		})
	}
	t.Run("binary frame (#63)", func(t *testing.T) {
		c := transporttest.DialWS(t, srv.url(""), nil)
		c.Open("anon.example")
		if err := c.Conn.WriteMessage(gws.BinaryMessage, []byte("<presence/>")); err != nil {
			t.Fatal(err)
		}
		c.ExpectClose(gws.CloseUnsupportedData)
	})
}

// SECURITY-CASES #74: a client ping is answered with a pong.
func TestClientPing(t *testing.T) {
	srv := start(t, "", websocket.Options{})
	c := transporttest.DialWS(t, srv.url(""), nil)
	pong := make(chan string, 1)
	c.Conn.SetPongHandler(func(data string) error { pong <- data; return nil })
	if err := c.Conn.WriteControl(gws.PingMessage, []byte("are you there"), time.Now().Add(servertest.Wait)); err != nil {
		t.Fatal(err)
	}
	c.Send("<open xmlns='" + stanza.NSFraming + "' to='anon.example' version='1.0'/>")
	c.Next() // <open/>: reading also runs the pong handler
	c.Next() // features
	select {
	case data := <-pong:
		if data != "are you there" {
			t.Fatalf("pong %q", data)
		}
	default:
		t.Fatal("no pong before the server's reply to <open/>")
	}
}

// closeWatch returns a function that waits for the session bound to full
// to end and returns why.
func closeWatch(t *testing.T, srv *env, full string) func() server.CloseReason {
	t.Helper()
	s := srv.Router().Session(full)
	if s == nil {
		t.Fatalf("no session bound to %s", full)
	}
	done := make(chan struct{})
	s.OnClose(func() { close(done) })
	return func() server.CloseReason {
		t.Helper()
		select {
		case <-done:
		case <-time.After(servertest.Wait):
			t.Fatalf("session %s still open", full)
		}
		return s.Reason()
	}
}

// The server pings an idle connection; pongs keep it open.
func TestKeepalive(t *testing.T) {
	srv := start(t, "", websocket.Options{PingInterval: 20 * time.Millisecond, ReadTimeout: 100 * time.Millisecond})
	c := transporttest.DialWS(t, srv.url(""), nil)
	full := c.Login("anon.example", sasl.Anonymous, "", "")
	pings := make(chan struct{}, 100)
	c.Conn.SetPingHandler(func(data string) error {
		pings <- struct{}{}
		return c.Conn.WriteControl(gws.PongMessage, []byte(data), time.Now().Add(servertest.Wait))
	})
	readErr := make(chan error, 1)
	go func() {
		_, _, err := c.Conn.ReadMessage()
		readErr <- err
	}()
	// Ten pings take at least 180 ms, longer than the read timeout: the
	// pongs must have kept the connection open.
	for i := range 10 {
		select {
		case <-pings:
		case err := <-readErr:
			t.Fatalf("connection ended after %d pings: %v", i, err)
		case <-time.After(servertest.Wait):
			t.Fatalf("only %d pings", i)
		}
	}
	s := srv.Router().Session(full)
	if s == nil || s.Reason() != "" {
		t.Fatalf("session closed while answering pings")
	}
}

// A peer that answers nothing is gone after the read timeout.
func TestDeadPeer(t *testing.T) {
	srv := start(t, "", websocket.Options{PingInterval: 20 * time.Millisecond, ReadTimeout: 100 * time.Millisecond})
	c := transporttest.DialWS(t, srv.url(""), nil)
	full := c.Login("anon.example", sasl.Anonymous, "", "")
	wait := closeWatch(t, srv, full)
	// The client reads nothing from now on, so it answers no ping.
	if r := wait(); r != server.CloseTransportGone {
		t.Fatalf("close reason %q, want %q", r, server.CloseTransportGone)
	}
}

// A client that does not bind within the auth timeout gets
// connection-timeout.
func TestAuthTimeout(t *testing.T) {
	srv := start(t, "", websocket.Options{AuthTimeout: 100 * time.Millisecond})
	c := transporttest.DialWS(t, srv.url(""), nil)
	c.Open("anon.example")
	c.ExpectStreamError("connection-timeout", gws.CloseNormalClosure)
}

// A client that closes the WebSocket without <close/> leaves as a
// vanished transport (the path stream management will resume from).
func TestTransportGone(t *testing.T) {
	srv := start(t, "", websocket.Options{})
	c := transporttest.DialWS(t, srv.url(""), nil)
	full := c.Login("anon.example", sasl.Anonymous, "", "")
	wait := closeWatch(t, srv, full)
	_ = c.Conn.WriteControl(gws.CloseMessage, gws.FormatCloseMessage(gws.CloseGoingAway, ""), time.Now().Add(servertest.Wait))
	if r := wait(); r != server.CloseTransportGone {
		t.Fatalf("close reason %q, want %q", r, server.CloseTransportGone)
	}
}
