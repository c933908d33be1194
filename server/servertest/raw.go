package servertest

import (
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/stanza"
)

// Raw is a byte-level XMPP client for protocol tests: it writes whatever
// the test gives it and parses what comes back.
type Raw struct {
	T      testing.TB
	Conn   net.Conn
	R      *stanza.Reader
	Header stanza.Header
}

// DialRaw connects to addr; the connection closes in t.Cleanup. Every read
// and write must finish within Wait.
func DialRaw(t testing.TB, addr string) *Raw {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, Wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(Wait))
	return &Raw{T: t, Conn: conn, R: stanza.NewReader(conn, stanza.Limits{MaxStanza: 1 << 20})}
}

// Write sends s verbatim.
func (c *Raw) Write(s string) {
	c.T.Helper()
	_ = c.Conn.SetDeadline(time.Now().Add(Wait))
	if _, err := io.WriteString(c.Conn, s); err != nil {
		c.T.Fatalf("servertest: write: %v", err)
	}
}

// ReadHeader reads the server's stream header.
func (c *Raw) ReadHeader() stanza.Header {
	c.T.Helper()
	h, err := c.R.ReadHeader()
	if err != nil {
		c.T.Fatalf("servertest: read header: %v", err)
	}
	c.Header = h
	return h
}

// Next reads the next top-level element.
func (c *Raw) Next() *stanza.Element {
	c.T.Helper()
	_ = c.Conn.SetReadDeadline(time.Now().Add(Wait))
	el, err := c.R.Next()
	if err != nil {
		c.T.Fatalf("servertest: read: %v", err)
	}
	return el
}

// ExpectStreamError reads until a stream error, checks its condition, and
// checks that the server then ends the stream.
func (c *Raw) ExpectStreamError(cond string) {
	c.T.Helper()
	for {
		el, err := c.R.Next()
		if err != nil {
			c.T.Fatalf("servertest: want stream error %s, got read error %v", cond, err)
		}
		if el.Name.Space == stanza.NSStream && el.Name.Local == "error" {
			if el.Child(stanza.NSStreams, cond) == nil {
				c.T.Fatalf("servertest: stream error %s, want %s", el, cond)
			}
			break
		}
	}
	if _, err := c.R.Next(); !errors.Is(err, stanza.ErrStreamEnd) && !errors.Is(err, io.EOF) {
		c.T.Fatalf("servertest: after the stream error: %v, want the stream to end", err)
	}
}

// Open sends a client stream header for host and reads the server's header
// and features.
func (c *Raw) Open(host string) *stanza.Element {
	c.T.Helper()
	c.Write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='` + host + `' version='1.0'>`)
	c.ReadHeader()
	f := c.Next()
	if f.Name.Local != "features" {
		c.T.Fatalf("servertest: want stream features, got %s", f)
	}
	return f
}

// Login authenticates with PLAIN (the host must allow it on this stream),
// binds resource (server-chosen if empty) and returns the full JID.
func (c *Raw) Login(host, user, password, resource string) string {
	c.T.Helper()
	c.Open(host)
	msg := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
	c.Write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + msg + `</auth>`)
	if el := c.Next(); el.Name.Local != "success" {
		c.T.Fatalf("servertest: PLAIN login: %s", el)
	}
	c.R.Restart()
	c.Open(host)
	bind := `<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`
	if resource != "" {
		bind = `<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>` + resource + `</resource></bind></iq>`
	}
	c.Write(bind)
	el := c.Next()
	j := el.Child("", "bind").ChildText("", "jid")
	if el.Get("type") != "result" || j == "" {
		c.T.Fatalf("servertest: bind: %s", el)
	}
	return j
}

// ChatBurst returns n chat messages of size bytes each to toJID, with
// ids m0, m1, ...
func ChatBurst(toJID string, n, size int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = `<message type='chat' id='m` + strconv.Itoa(i) + `' to='` + toJID + `'><body>` +
			strings.Repeat("x", size) + `</body></message>`
	}
	return out
}

// ExpectChatBurst reads n elements from next and checks they are the
// messages of a ChatBurst, in order.
func ExpectChatBurst(t testing.TB, next func() *stanza.Element, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if m := next(); m.Get("id") != "m"+strconv.Itoa(i) {
			t.Fatalf("servertest: message %d arrived as %s", i, m)
		}
	}
}

// SendChatBurst has from send a ChatBurst to toJID in one write from
// another goroutine, and checks that to receives all of it in order: the
// way tests show that throttling pauses a client without losing or
// reordering anything.
func SendChatBurst(t testing.TB, from, to *Raw, toJID string, n, size int) {
	t.Helper()
	data := []byte(strings.Join(ChatBurst(toJID, n, size), ""))
	go func() { _, _ = from.Conn.Write(data) }()
	ExpectChatBurst(t, to.Next, n)
}
