package transporttest

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/server/stanza"
)

// Wait bounds every read and write of the test clients.
const Wait = 5 * time.Second

// WS is an RFC 7395 test client on gorilla/websocket.
type WS struct {
	T    testing.TB
	Conn *websocket.Conn
}

// WSURL turns a servertest HTTPURL into the WebSocket endpoint's URL.
func WSURL(httpURL, query string) string {
	u := "ws" + strings.TrimPrefix(httpURL, "http") + "/xmpp-websocket"
	if query != "" {
		u += "?" + query
	}
	return u
}

// DialWS connects to url offering the xmpp subprotocol; the connection is
// closed at the end of the test.
func DialWS(t testing.TB, url string, header http.Header) *WS {
	t.Helper()
	c, resp, err := TryDialWS(t, url, header, "xmpp")
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("transporttest: dial %s: %v (status %d)", url, err, status)
	}
	if c.Conn.Subprotocol() != "xmpp" {
		t.Fatalf("transporttest: negotiated subprotocol %q, want xmpp", c.Conn.Subprotocol())
	}
	return c
}

// TryDialWS connects offering the given subprotocols.
func TryDialWS(t testing.TB, url string, header http.Header, protocols ...string) (*WS, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: Wait, Subprotocols: protocols}
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	c, resp, err := d.DialContext(ctx, url, header)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { _ = c.Close() })
	return &WS{T: t, Conn: c}, resp, nil
}

// Send writes one text message.
func (w *WS) Send(xml string) {
	w.T.Helper()
	_ = w.Conn.SetWriteDeadline(time.Now().Add(Wait))
	if err := w.Conn.WriteMessage(websocket.TextMessage, []byte(xml)); err != nil {
		w.T.Fatalf("transporttest: ws write: %v", err)
	}
}

// NextRaw reads one message.
func (w *WS) NextRaw() ([]byte, error) {
	_ = w.Conn.SetReadDeadline(time.Now().Add(Wait))
	_, data, err := w.Conn.ReadMessage()
	return data, err
}

// Next reads and parses one message, which must be a single element.
func (w *WS) Next() *stanza.Element {
	w.T.Helper()
	data, err := w.NextRaw()
	if err != nil {
		w.T.Fatalf("transporttest: ws read: %v", err)
	}
	el, err := stanza.Parse(data, stanza.Limits{MaxStanza: 1 << 22})
	if err != nil {
		w.T.Fatalf("transporttest: ws message %q: %v", data, err)
	}
	return el
}

// NextMatch skips elements until one satisfies match.
func (w *WS) NextMatch(match func(*stanza.Element) bool) *stanza.Element {
	w.T.Helper()
	for {
		if el := w.Next(); match(el) {
			return el
		}
	}
}

// Exchange sends one element and returns the next one received.
func (w *WS) Exchange(xml string) *stanza.Element {
	w.T.Helper()
	w.Send(xml)
	return w.Next()
}

// Open sends <open/> to host and returns the server's features after
// checking its <open/>.
func (w *WS) Open(host string) *stanza.Element {
	w.T.Helper()
	w.Send("<open xmlns='" + stanza.NSFraming + "' to='" + host + "' version='1.0' xml:lang='en'/>")
	o := w.Next()
	if o.Name.Space != stanza.NSFraming || o.Name.Local != "open" || o.Get("from") != host || o.Get("version") != "1.0" {
		w.T.Fatalf("transporttest: want the server's <open/> from %s, got %s", host, o)
	}
	f := w.Next()
	if f.Name.Space != stanza.NSStream || f.Name.Local != "features" {
		w.T.Fatalf("transporttest: want stream features, got %s", f)
	}
	return f
}

// Login opens a stream to host, authenticates with mech, restarts, binds
// and returns the bound JID.
func (w *WS) Login(host string, mech sasl.Mechanism, user, password string) string {
	w.T.Helper()
	w.Open(host)
	if res := SASL(w.T, w.Exchange, mech, user, password); res.Name.Local != "success" {
		w.T.Fatalf("transporttest: SASL %s: %s", mech.Name, res)
	}
	w.Open(host)
	return BoundJID(w.T, w.Exchange(BindIQ))
}

// ExpectStreamError reads until a stream error with condition cond, then
// expects <close/> and the WebSocket close frame with code.
func (w *WS) ExpectStreamError(cond string, code int) {
	w.T.Helper()
	for {
		el := w.Next()
		if el.Name.Space == stanza.NSStream && el.Name.Local == "error" {
			if el.Child(stanza.NSStreams, cond) == nil {
				w.T.Fatalf("transporttest: stream error %s, want %s", el, cond)
			}
			break
		}
	}
	w.ExpectClose(code)
}

// ExpectClose expects <close/> and then a close frame with code.
func (w *WS) ExpectClose(code int) {
	w.T.Helper()
	if el := w.Next(); el.Name.Space != stanza.NSFraming || el.Name.Local != "close" {
		w.T.Fatalf("transporttest: want <close/>, got %s", el)
	}
	_, err := w.NextRaw()
	if !websocket.IsCloseError(err, code) {
		w.T.Fatalf("transporttest: after <close/>: %v, want close code %d", err, code)
	}
}
