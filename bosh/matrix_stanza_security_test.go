package bosh_test

// SECURITY-CASES transports: TCP, BOSH, WS (for the count in SECURITY.md)
//
// The matrix tests run catalogue cases that TCP tests cover in server/
// over each of parley's three transports (issue 9): one session core
// (server/session.go) sits under the c2s listener, the WebSocket module and
// the BOSH module, and each case asserts the same result on all three, in
// the transport's own form where the framing differs.

import (
	"errors"
	"io"
	"strings"
	"testing"

	gws "github.com/gorilla/websocket"
	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/bosh"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/httpx/transporttest"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// matrixTransports are the transport kinds login understands, with the
// names the subtests use.
var matrixTransports = []struct{ kind, name string }{
	{"tcp", "TCP"}, {"ws", "WS"}, {"bosh", "BOSH"},
}

const matrixGlobal = "allow_unencrypted_plain_auth = true\n"

// mclient is one client on one transport for the matrix tests. Unlike the
// endpoint types it keeps BOSH's terminate body, so that a stream error
// can be checked to end the session on every transport.
type mclient struct {
	t    *testing.T
	kind string
	jid  string
	tcp  *servertest.Raw
	ws   *transporttest.WS
	bosh *boshClient
	buf  []*stanza.Element // BOSH: received, not yet read
	term *stanza.Element   // BOSH: the terminate body, once received
}

// mlogin logs user in on example.com over kind and binds a resource.
func mlogin(t *testing.T, e *env, kind, user string) *mclient {
	t.Helper()
	c := mauth(t, e, kind, user, "en")
	c.bind()
	return c
}

// mauth opens a stream to example.com over kind with lang, authenticates
// user with PLAIN and restarts the stream, without binding (as a client
// about to resume).
func mauth(t *testing.T, e *env, kind, user, lang string) *mclient {
	t.Helper()
	c, _ := openers[kind](t, e, "example.com", lang)
	c.authRestart("example.com", user, lang)
	return c
}

// use makes c report to t (a subtest), for clients shared by subtests.
func (c *mclient) use(t *testing.T) *mclient {
	c.t = t
	switch {
	case c.tcp != nil:
		c.tcp.T = t
	case c.ws != nil:
		c.ws.T = t
	default:
		c.bosh.t = t
	}
	return c
}

// send writes one or more top-level elements (one request on BOSH, one
// message on WebSocket).
func (c *mclient) send(xml string) {
	c.t.Helper()
	switch {
	case c.tcp != nil:
		c.tcp.Write(xml)
	case c.ws != nil:
		c.ws.Send(xml)
	default:
		c.take(c.bosh.send(xml))
	}
}

// take keeps the elements of a BOSH response, and the body if it is the
// terminate one.
func (c *mclient) take(body *stanza.Element) {
	c.buf = append(c.buf, body.Elements()...)
	if body.Get("type") == "terminate" && c.term == nil {
		c.term = body
	}
}

// next returns the next element the server sent, skipping XEP-0198
// requests (<r/>).
func (c *mclient) next() *stanza.Element {
	c.t.Helper()
	for {
		var el *stanza.Element
		switch {
		case c.tcp != nil:
			el = c.tcp.Next()
		case c.ws != nil:
			el = c.ws.Next()
		default:
			for i := 0; len(c.buf) == 0; i++ {
				if c.term != nil {
					c.t.Fatalf("bosh: session terminated: %s", c.term)
				}
				if i > 20 {
					c.t.Fatal("bosh: nothing received")
				}
				c.take(c.bosh.send(""))
			}
			el, c.buf = c.buf[0], c.buf[1:]
		}
		if el.Name.Space != nsSM || el.Name.Local != "r" {
			return el
		}
	}
}

// nextIQ returns the next iq with id, failing on a stream error first.
func (c *mclient) nextIQ(id string) *stanza.Element {
	c.t.Helper()
	for {
		el := c.next()
		if el.Name.Local == "iq" && el.Get("id") == id {
			return el
		}
		if isStreamError(el) {
			c.t.Fatalf("%s: stream error %s while waiting for iq %s", c.kind, el, id)
		}
	}
}

// ping sends a ping to example.com and checks that the very next element
// is its result: nothing else was sent to the client before it.
func (c *mclient) ping(id string) {
	c.t.Helper()
	c.send(pingIQ(id, "example.com"))
	if el := c.next(); el.Name.Local != "iq" || el.Get("id") != id || el.Get("type") != "result" {
		c.t.Fatalf("%s: got %s, want only the result of ping %s", c.kind, el, id)
	}
}

// streamError reads until a stream error, returns it, and checks that the
// session then ends in the transport's way: the stream's closing tag on
// TCP, <close/> and a normal close frame on WebSocket, a terminate body
// with remote-stream-error on BOSH (and the sid forgotten).
func (c *mclient) streamError() *stanza.Element {
	c.t.Helper()
	var se *stanza.Element
	for se == nil {
		if el := c.nextOrEnd(); isStreamError(el) {
			se = el
		}
	}
	switch {
	case c.tcp != nil:
		if _, err := c.tcp.R.Next(); !errors.Is(err, stanza.ErrStreamEnd) && !errors.Is(err, io.EOF) {
			c.t.Fatalf("tcp: after the stream error: %v, want the stream to end", err)
		}
	case c.ws != nil:
		c.ws.ExpectClose(gws.CloseNormalClosure)
	default:
		if c.term == nil || c.term.Get("condition") != "remote-stream-error" {
			c.t.Fatalf("bosh: stream error %s outside a terminate body with remote-stream-error (%v)", se, c.term)
		}
		if body := c.bosh.send(""); body.Get("type") != "terminate" {
			c.t.Fatalf("bosh: session still usable after its stream error: %s", body)
		}
	}
	return se
}

// nextOrEnd is next, except that on BOSH a terminate body is not fatal
// while it still has unread elements.
func (c *mclient) nextOrEnd() *stanza.Element {
	c.t.Helper()
	if c.bosh != nil && len(c.buf) == 0 && c.term == nil {
		for i := 0; len(c.buf) == 0 && c.term == nil; i++ {
			if i > 20 {
				c.t.Fatal("bosh: nothing received")
			}
			c.take(c.bosh.send(""))
		}
	}
	if c.bosh != nil && len(c.buf) == 0 {
		c.t.Fatalf("bosh: session terminated without a stream error: %s", c.term)
	}
	return c.next()
}

// expectStreamError checks the condition of the next stream error and the
// end of the session.
func (c *mclient) expectStreamError(cond string) *stanza.Element {
	c.t.Helper()
	se := c.streamError()
	if streamCondition(se) != cond {
		c.t.Fatalf("%s: stream error %s, want %s", c.kind, se, cond)
	}
	return se
}

const nsSM = "urn:xmpp:sm:3"

func isStreamError(el *stanza.Element) bool {
	return el.Name.Space == stanza.NSStream && el.Name.Local == "error"
}

// stanzaError returns the type and defined condition of a stanza's error.
func stanzaError(el *stanza.Element) (typ, cond string) {
	e := el.Child("", "error")
	if e == nil {
		return "", ""
	}
	for _, c := range e.Elements() {
		if c.Name.Space == stanza.NSStanzas && c.Name.Local != "text" {
			return e.Get("type"), c.Name.Local
		}
	}
	return e.Get("type"), ""
}

// observer is a TCP client that receives what the matrix clients send;
// it checks with a ping that nothing else reached it.
func observer(t *testing.T, e *env, user string) *mclient {
	t.Helper()
	e.CreateUser(user, "example.com", "secret")
	return mlogin(t, e, "tcp", user)
}

// TestMatrixStanzaCases runs the stanza-level cases of SECURITY-CASES §1
// after login on TCP, WebSocket and BOSH.
func TestMatrixStanzaCases(t *testing.T) {
	e := startServer(t, matrixGlobal, "")
	e.CreateUser("alice", "example.com", "secret")
	e.CreateUser("mallory", "example.com", "secret")
	bob := observer(t, e, "bob")

	cases := []struct {
		name string
		run  func(t *testing.T, kind string)
	}{
		// SECURITY-CASES 11: namespace prefix games. A jabber:client
		// stanza under a prefix is the same stanza (routed, answered);
		// a child whose prefix is bound to another namespace is not a
		// jabber:client <body/>, whatever its prefix is called.
		{"#11 prefixed jabber:client", func(t *testing.T, kind string) {
			alice := mlogin(t, e, kind, "alice")
			alice.send(`<c:iq xmlns:c='jabber:client' type='get' id='p11' to='example.com'><p:ping xmlns:p='urn:xmpp:ping'/></c:iq>`)
			if r := alice.nextIQ("p11"); r.Get("type") != "result" {
				t.Fatalf("prefixed ping: got %s, want a result", r)
			}
			alice.send(`<c:message xmlns:c='jabber:client' type='chat' id='m11' to='` + bob.jid + `'><c:body>prefixed</c:body>` +
				`<j:body xmlns:j='urn:example:not-client'>other</j:body></c:message>`)
			m := bob.next()
			if m.Name.Space != stanza.NSClient || m.Name.Local != "message" || m.Get("id") != "m11" {
				t.Fatalf("bob got %s, want message m11 in jabber:client", m)
			}
			if got := m.ChildText(stanza.NSClient, "body"); got != "prefixed" {
				t.Fatalf("jabber:client body %q, want %q: %s", got, "prefixed", m)
			}
			if o := m.Child("urn:example:not-client", "body"); o == nil || o.Text() != "other" {
				t.Fatalf("the other namespace's body was lost or merged: %s", m)
			}
			if m.Get("from") != alice.jid {
				t.Fatalf("from %q, want %q", m.Get("from"), alice.jid)
			}
			bob.ping("b11")
		}},
		// SECURITY-CASES 19: a from naming the client's own bare JID is
		// stamped with its full JID; one naming another resource or
		// another user ends the stream with invalid-from (ejabberd's
		// answer) and the spoofed stanza is never routed.
		{"#19 own bare JID stamped", func(t *testing.T, kind string) {
			alice := mlogin(t, e, kind, "alice")
			alice.send(`<message xmlns='jabber:client' type='chat' id='m19' from='alice@example.com' to='` + bob.jid + `'><body>x</body></message>`)
			if m := bob.next(); m.Get("id") != "m19" || m.Get("from") != alice.jid {
				t.Fatalf("bob got %s, want m19 from %s", m, alice.jid)
			}
		}},
		{"#19 other resource", func(t *testing.T, kind string) {
			alice := mlogin(t, e, kind, "alice")
			alice.send(`<message xmlns='jabber:client' type='chat' id='s19' from='alice@example.com/not-mine' to='` + bob.jid + `'><body>x</body></message>`)
			alice.expectStreamError("invalid-from")
			bob.ping("b19r")
		}},
		{"#19 other user", func(t *testing.T, kind string) {
			alice := mlogin(t, e, kind, "alice")
			alice.send(`<message xmlns='jabber:client' type='chat' id='u19' from='mallory@example.com' to='` + bob.jid + `'><body>x</body></message>`)
			alice.expectStreamError("invalid-from")
			bob.ping("b19u")
		}},
		// SECURITY-CASES 20 and 21 (server/stanza_security_test.go
		// TestIQErrors): malformed IQs get modify/bad-request, an
		// unknown namespace cancel/service-unavailable; the session goes
		// on.
		{"#20 #21 iq errors", func(t *testing.T, kind string) {
			alice := mlogin(t, e, kind, "alice")
			for _, tc := range []struct{ send, id, typ, cond string }{
				{`<iq xmlns='jabber:client' type='fetch' id='t1' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>`, "t1", "modify", "bad-request"},
				{`<iq xmlns='jabber:client' type='get' id='t2' to='example.com'/>`, "t2", "modify", "bad-request"},
				{`<iq xmlns='jabber:client' type='set' id='t3' to='example.com'><a xmlns='urn:a'/><b xmlns='urn:b'/></iq>`, "t3", "modify", "bad-request"},
				{`<iq xmlns='jabber:client' type='get' id='t4' to='example.com'><query xmlns='urn:example:nothing'/></iq>`, "t4", "cancel", "service-unavailable"},
				{`<iq xmlns='jabber:client' type='set' id='t5' to='bob@example.com'><query xmlns='urn:example:nothing'/></iq>`, "t5", "cancel", "service-unavailable"},
			} {
				alice.send(tc.send)
				r := alice.next()
				if typ, cond := stanzaError(r); r.Get("id") != tc.id || r.Get("type") != "error" || typ != tc.typ || cond != tc.cond {
					t.Fatalf("%s: got %s, want %s/%s", tc.id, r, tc.typ, tc.cond)
				}
			}
			// No id: the error comes before the next ping's result.
			alice.send(`<iq xmlns='jabber:client' type='get' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>`)
			r := alice.next()
			if typ, cond := stanzaError(r); r.Get("type") != "error" || typ != "modify" || cond != "bad-request" {
				t.Fatalf("iq without id: got %s, want modify/bad-request", r)
			}
			alice.ping("after20")
		}},
		// SECURITY-CASES 22: an unknown top-level element in jabber:client
		// ends the stream with unsupported-stanza-type (Prosody; the TCP
		// test is TestUnknownTopLevelElement).
		{"#22 unknown top-level element", func(t *testing.T, kind string) {
			alice := mlogin(t, e, kind, "alice")
			alice.send(`<thing xmlns='jabber:client'/>`)
			alice.expectStreamError("unsupported-stanza-type")
		}},
		// SECURITY-CASES 23: an error stanza without children and
		// unhandled iq errors and results are dropped, with nothing sent
		// back: the next thing the client gets is its ping's result.
		{"#23 dropped, no error loop", func(t *testing.T, kind string) {
			alice := mlogin(t, e, kind, "alice")
			alice.send(`<message xmlns='jabber:client' type='error' to='example.com' id='e1'/>`)
			alice.send(`<iq xmlns='jabber:client' type='error' to='example.com' id='e2'/>`)
			alice.send(`<iq xmlns='jabber:client' type='result' to='example.com' id='e3'/>`)
			alice.send(`<message xmlns='jabber:client' type='error' to='` + bob.jid + `' id='e4'/>`)
			alice.ping("after23")
			// The error message to bob is delivered as is, once, and
			// bob's server sends nothing back for it either.
			if m := bob.next(); m.Get("id") != "e4" || m.Get("type") != "error" {
				t.Fatalf("bob got %s, want the error message e4", m)
			}
			bob.ping("b23")
			alice.ping("after23b")
		}},
		// SECURITY-CASES 24 (TestInvalidTo): invalid to JIDs get
		// modify/jid-malformed.
		{"#24 invalid to", func(t *testing.T, kind string) {
			alice := mlogin(t, e, kind, "alice")
			for i, to := range []string{"@example.com", "node@/x", strings.Repeat("n", 1024) + "@example.com", "a@example.com/" + strings.Repeat("r", 1024)} {
				id := "j" + strings.Repeat("x", i)
				alice.send(`<iq xmlns='jabber:client' type='get' id='` + id + `' to='` + to + `'><ping xmlns='urn:xmpp:ping'/></iq>`)
				r := alice.nextIQ(id)
				if typ, cond := stanzaError(r); r.Get("type") != "error" || typ != "modify" || cond != "jid-malformed" {
					t.Fatalf("to=%.40q: got %.300s, want modify/jid-malformed", to, r)
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, tr := range matrixTransports {
				t.Run(tr.name, func(t *testing.T) {
					bob.use(t)
					tc.run(t, tr.kind)
				})
			}
		})
	}
}

// TestMatrixServerOnlyElements: SECURITY-CASES 28 (and 11) on each
// transport. Parley's core strips nothing; the MUC does: a client's
// <occupant-id/> (under any prefix) is replaced by the room's, and a
// <delay/> claiming to come from the room is removed from its groupchat
// message (muc/iq_test.go and muc/join_test.go test the same over TCP).
// The Jitsi <identity/> is stripped by jitsi's presence_identity, tested
// in jitsi/.
func TestMatrixServerOnlyElements(t *testing.T) {
	e := startServer(t, matrixGlobal, "Component \"conference.example.com\" \"muc\"\n    muc_room_locking = false\n",
		server.WithComponentType("muc", muc.Factory()))
	e.CreateUser("alice", "example.com", "secret")
	for _, tr := range matrixTransports {
		t.Run(tr.name, func(t *testing.T) {
			alice := mlogin(t, e, tr.kind, "alice")
			room := "sec28-" + tr.kind + "@conference.example.com"
			forgedID := `<o:occupant-id xmlns:o='` + muc.NSOccupantID + `' id='forged'/>`
			alice.send(`<presence xmlns='jabber:client' to='` + room + `/alice'><x xmlns='http://jabber.org/protocol/muc'/>` + forgedID + `</presence>`)
			var self *stanza.Element
			for self == nil {
				if el := alice.next(); el.Name.Local == "presence" && el.Get("from") == room+"/alice" {
					self = el
				}
			}
			real := onlyOccupantID(t, self)
			alice.send(`<message xmlns='jabber:client' type='groupchat' to='` + room + `'><body>b28</body>` +
				`<delay xmlns='` + muc.NSDelay + `' from='` + room + `' stamp='1999-01-01T00:00:00Z'/>` + forgedID +
				`<stanza-id xmlns='urn:xmpp:sid:0' by='` + room + `' id='forged'/></message>`)
			var echo *stanza.Element
			for echo == nil {
				if el := alice.next(); el.Name.Local == "message" && el.ChildText("", "body") == "b28" {
					echo = el
				}
			}
			if echo.Child(muc.NSDelay, "delay") != nil {
				t.Fatalf("forged delay relayed: %s", echo)
			}
			if got := onlyOccupantID(t, echo); got != real {
				t.Fatalf("groupchat occupant-id %q, want the room's %q", got, real)
			}
			// SECURITY-CASES 28: a <stanza-id by='room'/> from the client.
			t.Run("stanza-id", func(t *testing.T) {
				if sid := echo.Child("urn:xmpp:sid:0", "stanza-id"); sid != nil && sid.Get("id") == "forged" {
					t.Fatalf("forged stanza-id by the room relayed: %s", echo)
				}
			})
		})
	}
}

// onlyOccupantID returns the id of el's single occupant-id, which must
// not be the forged one.
func onlyOccupantID(t *testing.T, el *stanza.Element) string {
	t.Helper()
	var ids []string
	for _, c := range el.Elements() {
		if c.Name.Space == muc.NSOccupantID && c.Name.Local == "occupant-id" {
			ids = append(ids, c.Get("id"))
		}
	}
	if len(ids) != 1 || ids[0] == "forged" || ids[0] == "" {
		t.Fatalf("occupant-ids %q, want exactly the room's: %s", ids, el)
	}
	return ids[0]
}

// streamOpener opens a stream to host on one transport before
// authentication and returns a client for it; for BOSH the response to a
// refused session creation is returned instead (c is nil then).
type streamOpener func(t *testing.T, e *env, host, lang string) (c *mclient, refused *stanza.Element)

func openTCP(t *testing.T, e *env, host, lang string) (*mclient, *stanza.Element) {
	r := servertest.DialRaw(t, e.C2SAddr)
	r.Write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'` + toAttr(host) + ` version='1.0'` + langAttr(lang) + `>`)
	r.ReadHeader()
	return &mclient{t: t, kind: "tcp", tcp: r}, nil
}

func openWS(t *testing.T, e *env, host, lang string) (*mclient, *stanza.Element) {
	w := transporttest.DialWS(t, transporttest.WSURL(e.HTTPURL, ""), nil)
	w.Send(`<open xmlns='` + stanza.NSFraming + `'` + toAttr(host) + ` version='1.0'` + langAttr(lang) + `/>`)
	o := w.Next()
	if o.Name.Space != stanza.NSFraming || o.Name.Local != "open" {
		t.Fatalf("ws: want the server's <open/>, got %s", o)
	}
	return &mclient{t: t, kind: "ws", ws: w, buf: []*stanza.Element{o}}, nil
}

func openBOSH(t *testing.T, e *env, host, lang string) (*mclient, *stanza.Element) {
	c := newBOSH(t, e.HTTPURL+"/http-bind")
	body := c.post(`<body xmlns='` + bosh.NS + `' xmlns:xmpp='urn:xmpp:xbosh' rid='` + c.nextRID() + `'` + toAttr(host) +
		` wait='1' hold='1' ver='1.6'` + langAttr(lang) + ` xmpp:version='1.0'/>`)
	if body.Get("type") == "terminate" {
		return nil, body
	}
	c.sid = body.Get("sid")
	return &mclient{t: t, kind: "bosh", bosh: c, buf: body.Elements()}, body
}

func toAttr(host string) string {
	if host == "" {
		return ""
	}
	return ` to='` + host + `'`
}

func langAttr(lang string) string {
	if lang == "" {
		return ""
	}
	return ` xml:lang='` + lang + `'`
}

var openers = map[string]streamOpener{"tcp": openTCP, "ws": openWS, "bosh": openBOSH}

// TestMatrixStreamCases runs the stream-level cases of SECURITY-CASES §1
// that apply to each transport.
func TestMatrixStreamCases(t *testing.T) {
	e := startServer(t, matrixGlobal, "")
	e.CreateUser("alice", "example.com", "secret")
	bob := observer(t, e, "bob")

	// SECURITY-CASES 14 and 15: a stream without to, or to a host parley
	// does not serve. TCP and WebSocket answer with the stream error
	// (improper-addressing, host-unknown); BOSH refuses the session
	// creation with terminate improper-addressing for both (Prosody's
	// mod_bosh, SECURITY-CASES 41; bosh_test.go TestSessionCreationErrors).
	for _, tc := range []struct{ name, host, stream, bosh string }{
		{"#14 no to", "", "improper-addressing", "improper-addressing"},
		{"#15 unknown host", "nowhere.example", "host-unknown", "improper-addressing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, tr := range matrixTransports {
				t.Run(tr.name, func(t *testing.T) {
					c, refused := openers[tr.kind](t, e, tc.host, "en")
					if tr.kind == "bosh" {
						if refused.Get("type") != "terminate" || refused.Get("condition") != tc.bosh {
							t.Fatalf("session creation: %s, want terminate %s", refused, tc.bosh)
						}
						return
					}
					c.expectStreamError(tc.stream)
				})
			}
		})
	}

	// SECURITY-CASES 16 (CVE-2018-10847): after SASL the restarted stream
	// names another host: not-authorized. BOSH's restart body carries the
	// new to (also TestRestartToOtherHost).
	t.Run("#16 restart to another host", func(t *testing.T) {
		for _, tr := range matrixTransports {
			t.Run(tr.name, func(t *testing.T) {
				c, _ := openers[tr.kind](t, e, "example.com", "en")
				if f := c.next(); f.Name.Local != "features" {
					t.Fatalf("want features, got %s", f)
				}
				ex := func(x string) *stanza.Element { c.send(x); return c.next() }
				if res := transporttest.SASL(t, ex, sasl.Plain, "alice", "secret"); res.Name.Local != "success" {
					t.Fatalf("SASL: %s", res)
				}
				switch tr.kind {
				case "tcp":
					c.tcp.R.Restart()
					c.tcp.Write(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='anon.example' version='1.0'>`)
					c.tcp.ReadHeader()
				case "ws":
					c.send(`<open xmlns='` + stanza.NSFraming + `' to='anon.example' version='1.0'/>`)
				default:
					c.take(c.bosh.sendAttrs(` to='anon.example' xmpp:restart='true'`, ""))
				}
				se := c.expectStreamError("not-authorized")
				if txt := se.ChildText(stanza.NSStreams, "text"); !strings.Contains(txt, "must remain the same") {
					t.Fatalf("text %q, want Prosody's %q", txt, "must remain the same")
				}
			})
		}
	})

	// SECURITY-CASES 17: an oversized xml:lang (36 characters, and about
	// 4 KB) is never echoed back in the server's stream header, <open/>
	// or session creation response (TestOversizedLang over TCP).
	t.Run("#17 oversized xml:lang", func(t *testing.T) {
		for _, tr := range matrixTransports {
			for _, lang := range oversizedLangs() {
				t.Run(tr.name+"/"+itoa(int64(len(lang))), func(t *testing.T) {
					c, resp := openers[tr.kind](t, e, "example.com", lang)
					var echoed string
					switch tr.kind {
					case "tcp":
						echoed = c.tcp.Header.Lang
					case "ws":
						echoed = c.buf[0].Lang()
					default:
						echoed = resp.Lang()
					}
					if len(echoed) > 35 {
						t.Fatalf("the server echoed a %d-byte xml:lang", len(echoed))
					}
				})
			}
		}
	})
	// SECURITY-CASES 17, continued: nor is it stamped on the client's
	// stanzas as they reach others.
	t.Run("#17 oversized xml:lang stamped", func(t *testing.T) {
		for _, tr := range matrixTransports {
			for _, lang := range oversizedLangs() {
				t.Run(tr.name+"/"+itoa(int64(len(lang))), func(t *testing.T) {
					bob.use(t)
					c := mauth(t, e, tr.kind, "alice", lang)
					c.bind()
					c.send(`<message xmlns='jabber:client' type='chat' id='m17' to='` + bob.jid + `'><body>x</body></message>`)
					m := bob.next()
					if m.Get("id") != "m17" {
						t.Fatalf("bob got %s, want m17", m)
					}
					if l := m.Lang(); len(l) > 35 {
						t.Fatalf("the client's %d-byte xml:lang was stamped on its message", len(l))
					}
				})
			}
		}
	})

	// SECURITY-CASES 25: a client's stream error is logged and the
	// stream closed cleanly: the closing tag on TCP, <close/> and a
	// normal close frame on WebSocket. BOSH has no stream:error from the
	// client: a BOSH client ends its session with a terminate body
	// (XEP-0124 §13), tested in TestTerminateWithStanzas.
	t.Run("#25 client stream error", func(t *testing.T) {
		for _, tr := range matrixTransports[:2] {
			t.Run(tr.name, func(t *testing.T) {
				c := mlogin(t, e, tr.kind, "alice")
				c.send(`<stream:error xmlns:stream='http://etherx.jabber.org/streams'><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`)
				if c.tcp != nil {
					if _, err := c.tcp.R.Next(); !errors.Is(err, stanza.ErrStreamEnd) {
						t.Fatalf("after the client's stream error: %v, want the server's closing tag", err)
					}
					return
				}
				c.ws.ExpectClose(gws.CloseNormalClosure)
			})
		}
	})
}

// oversizedLangs are the xml:lang values of SECURITY-CASES 17: one
// character over ejabberd's limit, and a long one.
func oversizedLangs() []string {
	return []string{strings.Repeat("a", 36), strings.Repeat("x-", 2000) + "x"}
}

// authRestart authenticates user with PLAIN on a stream just opened and
// restarts it with lang.
func (c *mclient) authRestart(host, user, lang string) {
	t := c.t
	t.Helper()
	if f := c.next(); f.Name.Local != "features" {
		t.Fatalf("want features, got %s", f)
	}
	ex := func(x string) *stanza.Element { c.send(x); return c.next() }
	if res := transporttest.SASL(t, ex, sasl.Plain, user, "secret"); res.Name.Local != "success" {
		t.Fatalf("SASL: %s", res)
	}
	switch c.kind {
	case "tcp":
		c.tcp.R.Restart()
		c.tcp.Write(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='` + host + `' version='1.0'` + langAttr(lang) + `>`)
		c.tcp.ReadHeader()
	case "ws":
		c.send(`<open xmlns='` + stanza.NSFraming + `' to='` + host + `' version='1.0'` + langAttr(lang) + `/>`)
		if o := c.next(); o.Name.Local != "open" {
			t.Fatalf("want <open/>, got %s", o)
		}
	default:
		c.take(c.bosh.sendAttrs(` to='`+host+`' xmpp:restart='true'`+langAttr(lang), ""))
	}
	if f := c.next(); f.Name.Local != "features" {
		t.Fatalf("want features after the restart, got %s", f)
	}
}

// bind binds a server-chosen resource.
func (c *mclient) bind() {
	c.t.Helper()
	c.send(transporttest.BindIQ)
	c.jid = transporttest.BoundJID(c.t, c.nextIQ("bind1"))
}
