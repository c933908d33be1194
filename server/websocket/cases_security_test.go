package websocket_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"
	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/server/httpx/transporttest"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
	"github.com/parley-xmpp/parley/server/websocket"
)

// frameWS is a WebSocket client that writes frames by hand.
type frameWS struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dialFrameWS(t *testing.T, httpURL string) *frameWS {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(httpURL, "http://"), servertest.Wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(servertest.Wait))
	if _, err := io.WriteString(conn, wsUpgrade); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	return &frameWS{t: t, conn: conn, r: r}
}

// write sends frames built by frame (masked on the way, see fuzzFrames).
func (w *frameWS) write(fs ...[]byte) {
	w.t.Helper()
	if _, err := w.conn.Write(fuzzFrames(frames(fs...))); err != nil {
		w.t.Fatal(err)
	}
}

// next returns the next text message, or the code of a close frame,
// skipping other control frames.
func (w *frameWS) next() (el *stanza.Element, closeCode int) {
	w.t.Helper()
	for {
		op, payload, err := readServerFrame(w.r)
		if err != nil {
			w.t.Fatalf("read: %v", err)
		}
		switch op {
		case 1:
			el, err := stanza.Parse(payload, stanza.Limits{MaxStanza: 1 << 20})
			if err != nil {
				w.t.Fatalf("server message %q: %v", payload, err)
			}
			return el, 0
		case 8:
			if len(payload) < 2 {
				return nil, 1005
			}
			return nil, int(payload[0])<<8 | int(payload[1])
		}
	}
}

// SECURITY-CASES #67: a text message that is not XML (or not UTF-8) ends
// the stream with not-well-formed and WebSocket close code 1007.
func TestTextNotXML(t *testing.T) {
	srv := start(t, "", websocket.Options{})
	for _, tc := range []struct{ name, input string }{
		{"plain text", "hello"},
		{"whitespace then text", "  \n hello <message/>"},
		{"invalid UTF-8", "<message xmlns='jabber:client'><body>\xff\xfe</body></message>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := transporttest.DialWS(t, srv.url(""), nil)
			c.Login("anon.example", sasl.Anonymous, "", "")
			c.Send(tc.input)
			c.ExpectStreamError("not-well-formed", gws.CloseInvalidFramePayloadData)
		})
	}
}

// SECURITY-CASES #64 and #70, a deliberate difference from Prosody: RFC
// 6455 lets any message be fragmented, and browsers' WebSocket stacks may
// do it, so parley reassembles fragments (gorilla/websocket) where Prosody
// 0.11 closed with 1003 and Prosody 0.12+ caps the fragment count at 8.
// Memory stays bounded because the reassembled message is capped at the
// stanza size limit, not at twice it: a message of 20 small fragments is
// accepted, and one whose fragments add up to more than the limit gets
// policy-violation.
func TestFragmentedMessages(t *testing.T) {
	srv := start(t, "c2s_stanza_size_limit = 4096\n", websocket.Options{})
	open := "<open xmlns='" + stanza.NSFraming + "' to='anon.example' version='1.0'/>"

	t.Run("20 fragments under the limit are one message (#64, #70)", func(t *testing.T) {
		w := dialFrameWS(t, srv.HTTPURL)
		var fs [][]byte
		for i := 0; i < 20; i++ {
			lo, hi := i*len(open)/20, (i+1)*len(open)/20
			op := byte(0)
			if i == 0 {
				op = 1
			}
			fs = append(fs, frame(op, i == 19, open[lo:hi]))
		}
		w.write(fs...)
		if el, code := w.next(); el == nil || el.Name.Local != "open" {
			t.Fatalf("got %v (close %d), want the server's <open/>", el, code)
		}
		if el, _ := w.next(); el == nil || el.Name.Local != "features" {
			t.Fatalf("got %v, want features", el)
		}
	})
	t.Run("fragments over the limit are policy-violation (#70)", func(t *testing.T) {
		w := dialFrameWS(t, srv.HTTPURL)
		w.write(frame(1, true, open))
		w.next() // <open/>
		w.next() // features
		body := strings.Repeat("x", 1000)
		fs := [][]byte{frame(1, false, "<message xmlns='jabber:client'><body>")}
		for range 5 {
			fs = append(fs, frame(0, false, body))
		}
		fs = append(fs, frame(0, true, "</body></message>"))
		w.write(fs...)
		el, _ := w.next()
		if el == nil || el.Name.Local != "error" || el.Child(stanza.NSStreams, "policy-violation") == nil {
			t.Fatalf("got %v, want a policy-violation stream error", el)
		}
	})
}

// SECURITY-CASES #65, #66, #68: WebSocket protocol violations close the
// connection with 1002 (gorilla/websocket's checks, as Prosody's
// validate_frame). One deliberate difference: gorilla reads a close frame
// with a 1-byte payload as a close without a status and answers with an
// empty close frame (1005 here) rather than 1002; the connection ends
// either way.
func TestProtocolViolations(t *testing.T) {
	srv := start(t, "", websocket.Options{})
	tests := []struct {
		name  string
		frame []byte // in fuzzFrames' format
		code  int
	}{
		{"RSV1 set (#65)", frame(1|0x40, true, "<open/>"), gws.CloseProtocolError},
		{"reserved opcode (#65)", frame(3, true, "x"), gws.CloseProtocolError},
		{"control frame over 125 bytes (#65)", frame(9, true, strings.Repeat("p", 126)), gws.CloseProtocolError},
		{"fragmented control frame (#65)", frame(9, false, "p"), gws.CloseProtocolError},
		{"close frame with a 1-byte payload (#66)", frame(8, true, "\x03"), gws.CloseNoStatusReceived},
		{"reserved close code 1004 (#66)", frame(8, true, "\x03\xec"), gws.CloseProtocolError},
		{"unmasked client frame (#68)", []byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'}, gws.CloseProtocolError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := dialFrameWS(t, srv.HTTPURL)
			w.write(tc.frame)
			for {
				el, code := w.next()
				if el != nil {
					continue // a stream error may precede the close
				}
				if code != tc.code {
					t.Fatalf("close code %d, want %d", code, tc.code)
				}
				return
			}
		})
	}
}
