package bosh_test

// SECURITY-CASES transports: TCP, BOSH, WS (for the count in SECURITY.md)

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	gws "github.com/gorilla/websocket"

	"github.com/parley-xmpp/parley/server/httpx/transporttest"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// corpusCase is one malformed input and the condition each transport must
// end the session with. BOSH reads a whole <body/> before anything else,
// so XML the parser refuses is a terminate with bad-request there
// (SECURITY-CASES #53); conditions the session core raises come back as
// the stream error inside the terminate body (remote-stream-error).
type corpusCase struct {
	name    string
	payload string
	tcp, ws string // stream error conditions
	bosh    string // terminate condition, or the stream error's
}

func malformedCorpus() []corpusCase {
	laughs := `<!DOCTYPE l [<!ENTITY l0 "lol">`
	for i := 1; i <= 9; i++ {
		laughs += fmt.Sprintf(`<!ENTITY l%d "%s">`, i, strings.Repeat(fmt.Sprintf("&l%d;", i-1), 10))
	}
	laughs += `]><message>&l9;</message>`
	return []corpusCase{
		{"#1 DOCTYPE with an entity", `<!DOCTYPE m [<!ENTITY a 'b'>]><message>&a;</message>`, "restricted-xml", "restricted-xml", "bad-request"},
		{"#2 billion laughs", laughs, "restricted-xml", "restricted-xml", "bad-request"},
		{"#3 comment", `<message><!-- hi --></message>`, "restricted-xml", "restricted-xml", "bad-request"},
		{"#4 processing instruction", `<?php x?>`, "restricted-xml", "restricted-xml", "bad-request"},
		// Each WebSocket message is a document of its own: a declaration at
		// its start is not mid-stream (RFC 7395 §3.3.3); the stanza then
		// meets the before-auth rule.
		{"#5 second XML declaration", `<?xml version='1.0'?><message/>`, "restricted-xml", "not-authorized", "bad-request"},
		{"#5 XML 1.1", `<?xml version='1.1'?><message/>`, "not-well-formed", "not-well-formed", "bad-request"},
		{"#5 ISO-8859-1", `<?xml version='1.0' encoding='ISO-8859-1'?><message/>`, "unsupported-encoding", "unsupported-encoding", "bad-request"},
		{"#6 garbage", `<'/>`, "not-well-formed", "not-well-formed", "bad-request"},
		{"#6 unbalanced", `<message><body></message>`, "not-well-formed", "not-well-formed", "bad-request"},
		{"#7 invalid UTF-8", "<message><body>\xff</body></message>", "not-well-formed", "not-well-formed", "bad-request"},
		{"#7 C0 control", "<message><body>\x01</body></message>", "not-well-formed", "not-well-formed", "bad-request"},
		{"#7 U+007F is accepted (then #18)", "<message to='x@anon.example'><body>\x7f</body></message>", "not-authorized", "not-authorized", "not-authorized"},
		{"#8 stanza over the limit", "<message><body>" + strings.Repeat("x", 12000) + "</body></message>", "policy-violation", "policy-violation", "policy-violation"},
		{"#9 deep nesting", "<message>" + strings.Repeat("<a>", 200) + strings.Repeat("</a>", 200) + "</message>", "policy-violation", "policy-violation", "bad-request"},
		{"#10 too many attributes", "<message" + strings.Repeat(" a='1'", 1) + attrs(100) + "/>", "policy-violation", "policy-violation", "bad-request"},
		{"#18 stanza before auth", "<iq type='get' id='x' to='anon.example'><ping xmlns='urn:xmpp:ping'/></iq>", "not-authorized", "not-authorized", "not-authorized"},
	}
}

func attrs(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, " b%d='1'", i)
	}
	return b.String()
}

// tcpCondition sends payload after the stream header and returns the
// stream error's condition.
func tcpCondition(t *testing.T, addr, payload string) string {
	c := servertest.DialRaw(t, addr)
	c.Open("anon.example")
	c.Write(payload)
	for {
		el, err := c.R.Next()
		if err != nil {
			t.Fatalf("tcp: read: %v, want a stream error", err)
		}
		if el.Name.Space == stanza.NSStream && el.Name.Local == "error" {
			return streamCondition(el)
		}
	}
}

func streamCondition(el *stanza.Element) string {
	for _, c := range el.Elements() {
		if c.Name.Space == stanza.NSStreams && c.Name.Local != "text" {
			return c.Name.Local
		}
	}
	return ""
}

// wsCondition sends payload as one message after <open/> and returns the
// stream error's condition; the connection must then close.
func wsCondition(t *testing.T, url, payload string) string {
	c := transporttest.DialWS(t, url, nil)
	c.Open("anon.example")
	c.Send(payload)
	cond := ""
	for cond == "" {
		el := c.Next()
		if el.Name.Space == stanza.NSStream && el.Name.Local == "error" {
			cond = streamCondition(el)
		}
	}
	for {
		if _, err := c.NextRaw(); err != nil {
			var ce *gws.CloseError
			if !errors.As(err, &ce) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("ws: after the stream error: %v, want the connection closed", err)
			}
			return cond
		}
	}
}

// boshCondition sends payload in a body of a fresh session and returns
// the terminate condition (or the stream error's inside it).
func boshCondition(t *testing.T, url, payload string) string {
	c := newBOSH(t, url)
	c.create("anon.example", "")
	body := c.post(c.bodyXML(c.nextRID(), "", payload))
	for body.Get("type") != "terminate" {
		if len(body.Elements()) == 0 {
			body = c.send("")
			continue
		}
		t.Fatalf("bosh: got %s, want a terminate body", body)
	}
	if e := body.Child(stanza.NSStream, "error"); e != nil {
		return streamCondition(e)
	}
	return body.Get("condition")
}

// SECURITY-CASES §9 malformed-input corpus: each input of malformedCorpus
// over TCP, BOSH and WebSocket ends with its exact condition asserted, no
// panic (a panic fails the test binary), and no goroutine left over
// (servertest checks at the end). Run with -v for the summary line.
func TestMalformedCorpusAllTransports(t *testing.T) {
	srv := startServer(t, "c2s_stanza_size_limit = 10000\n", "")
	corpus := malformedCorpus()
	streamConds, terminateConds := map[string]bool{}, map[string]bool{}
	for _, tc := range corpus {
		t.Run(tc.name, func(t *testing.T) {
			if got := tcpCondition(t, srv.C2SAddr, tc.payload); got != tc.tcp {
				t.Errorf("TCP: %s, want %s", got, tc.tcp)
			}
			if got := wsCondition(t, transporttest.WSURL(srv.HTTPURL, ""), tc.payload); got != tc.ws {
				t.Errorf("WebSocket: %s, want %s", got, tc.ws)
			}
			if got := boshCondition(t, srv.HTTPURL+"/http-bind", tc.payload); got != tc.bosh {
				t.Errorf("BOSH: %s, want %s", got, tc.bosh)
			}
			streamConds[tc.tcp], streamConds[tc.ws] = true, true
			if tc.bosh == "bad-request" {
				terminateConds[tc.bosh] = true
			} else {
				streamConds[tc.bosh] = true
			}
		})
	}
	t.Logf("SECURITY-CASES §9 malformed-input corpus: %d inputs x 3 transports; %d distinct stream-error conditions, %d BOSH terminate conditions (goroutine leaks are checked at cleanup)",
		len(corpus), len(streamConds), len(terminateConds))
}

// saslExchange runs SASL elements on one transport: each call sends one
// element and returns the next element the server sends.
type saslExchange func(t *testing.T, send string) *stanza.Element

// SECURITY-CASES #32, #33, #34, #37, #39 on TCP, BOSH and WebSocket: SASL
// failures have the same conditions whatever the transport, and the fifth
// failure ends the session with policy-violation.
func TestSASLFailuresAllTransports(t *testing.T) {
	srv := startServer(t, "allow_unencrypted_plain_auth = true\n", "")
	srv.CreateUser("alice", "example.com", "secret")
	plain := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	steps := []struct{ name, send, cond string }{
		{"#32 unknown mechanism", `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-UNKNOWN'/>`, "invalid-mechanism"},
		{"#33 PLAIN without NULs", `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + plain("alicesecret") + `</auth>`, "malformed-request"},
		{"#34 wrong password", `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + plain("\x00alice\x00wrong") + `</auth>`, "not-authorized"},
		{"#37 out-of-order response", `<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`, "not-authorized"},
	}
	transports := map[string]func(t *testing.T) saslExchange{
		"TCP": func(t *testing.T) saslExchange {
			c := servertest.DialRaw(t, srv.C2SAddr)
			c.Open("example.com")
			return func(t *testing.T, send string) *stanza.Element { c.Write(send); return c.Next() }
		},
		"WS": func(t *testing.T) saslExchange {
			c := transporttest.DialWS(t, transporttest.WSURL(srv.HTTPURL, ""), nil)
			c.Open("example.com")
			return func(t *testing.T, send string) *stanza.Element { return c.Exchange(send) }
		},
		"BOSH": func(t *testing.T) saslExchange {
			c := newBOSH(t, srv.HTTPURL+"/http-bind")
			c.create("example.com", "")
			return func(t *testing.T, send string) *stanza.Element {
				body := c.send(send)
				for len(body.Elements()) == 0 && body.Get("type") != "terminate" {
					body = c.send("")
				}
				if body.Get("type") == "terminate" {
					if e := body.Child(stanza.NSStream, "error"); e != nil {
						return e
					}
					return body
				}
				return body.Elements()[0]
			}
		},
	}
	for name, dial := range transports {
		t.Run(name, func(t *testing.T) {
			x := dial(t)
			for _, st := range steps {
				f := x(t, st.send)
				if f.Name.Local != "failure" || f.Child("", st.cond) == nil {
					t.Fatalf("%s: got %s, want failure %s", st.name, f, st.cond)
				}
			}
			// #39: the fifth failure ends the stream.
			f := x(t, steps[0].send)
			if f.Name.Local == "failure" {
				f = x(t, "")
			}
			if f.Name.Local != "error" || f.Child(stanza.NSStreams, "policy-violation") == nil {
				t.Fatalf("#39 fifth failure: got %s, want a policy-violation stream error", f)
			}
		})
	}
}
