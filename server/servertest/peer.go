package servertest

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/server/stanza"
)

// Wait is how long test clients wait for an answer before failing the test:
// generous, because CI machines run many test binaries at once.
const Wait = 15 * time.Second

// Client is a logged-in mellium session whose incoming stanzas are
// collected as elements.
type Client struct {
	*xmpp.Session
	JID jid.JID
	In  chan *stanza.Element

	t       testing.TB
	done    chan struct{}
	mu      sync.Mutex
	serveEr error
	seq     int
}

// Connect is Dial plus a reader that feeds In; it is closed in t.Cleanup.
func (s *Server) Connect(t testing.TB, address, password string, o ClientOptions) *Client {
	t.Helper()
	sess := s.Dial(t, address, password, o)
	return Watch(t, sess)
}

// Watch starts collecting the incoming stanzas of sess.
func Watch(t testing.TB, sess *xmpp.Session) *Client {
	c := &Client{Session: sess, JID: sess.LocalAddr(), In: make(chan *stanza.Element, 1024), t: t, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		err := sess.Serve(xmpp.HandlerFunc(func(r xmlstream.TokenReadEncoder, start *xml.StartElement) error {
			el, err := ElementFrom(r, *start)
			if err != nil {
				return err
			}
			select {
			case c.In <- el:
			default:
				return errors.New("servertest: client inbox full")
			}
			return nil
		}))
		c.mu.Lock()
		c.serveEr = err
		c.mu.Unlock()
	}()
	t.Cleanup(func() {
		_ = sess.Close()
		_ = sess.Conn().Close()
		<-c.done
	})
	return c
}

// ServeErr waits for the session to end and returns why.
func (c *Client) ServeErr() error {
	select {
	case <-c.done:
	case <-time.After(Wait):
		c.t.Fatalf("servertest: %s: session did not end", c.JID)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.serveEr
}

// Send writes el to the server.
func (c *Client) Send(el *stanza.Element) {
	c.t.Helper()
	// No deadline: mellium v0.22 maps a context deadline onto the
	// connection, and a cancelled one can break a later write.
	if err := c.Session.Send(context.Background(), xml.NewDecoder(bytes.NewReader(stanza.AppendIn(nil, el, stanza.NSClient)))); err != nil {
		c.t.Fatalf("servertest: %s: send: %v", c.JID, err)
	}
}

// Next returns the next incoming stanza or fails the test after Wait.
func (c *Client) Next() *stanza.Element {
	c.t.Helper()
	select {
	case el := <-c.In:
		return el
	case <-time.After(Wait):
		c.t.Fatalf("servertest: %s: no stanza within %s", c.JID, Wait)
		return nil
	}
}

// NextMatch skips stanzas until one satisfies match.
func (c *Client) NextMatch(match func(*stanza.Element) bool) *stanza.Element {
	c.t.Helper()
	deadline := time.After(Wait)
	for {
		select {
		case el := <-c.In:
			if match(el) {
				return el
			}
		case <-deadline:
			c.t.Fatalf("servertest: %s: no matching stanza within %s", c.JID, Wait)
			return nil
		}
	}
}

// Request sends an IQ (an id is set if missing) and returns its response.
func (c *Client) Request(iq *stanza.Element) *stanza.Element {
	c.t.Helper()
	if iq.Get("id") == "" {
		c.mu.Lock()
		c.seq++
		iq.Set("id", "req"+itoa(c.seq))
		c.mu.Unlock()
	}
	id := iq.Get("id")
	c.Send(iq)
	return c.NextMatch(func(el *stanza.Element) bool {
		return el.Name.Local == "iq" && el.Get("id") == id && (el.Get("type") == "result" || el.Get("type") == "error")
	})
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for n >= 10 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	i--
	b[i] = byte('0' + n)
	return string(b[i:])
}

// ElementFrom builds an element from start and the tokens that follow it.
func ElementFrom(r xml.TokenReader, start xml.StartElement) (*stanza.Element, error) {
	el := &stanza.Element{Name: start.Name}
	for _, a := range start.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		el.Attr = append(el.Attr, a)
	}
	for {
		tok, err := r.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return el, nil
			}
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			child, err := ElementFrom(r, t.Copy())
			if err != nil {
				return nil, err
			}
			el.Add(child)
		case xml.CharData:
			el.AddText(string(t))
		case xml.EndElement:
			return el, nil
		}
	}
}

// Eventually polls cond every few milliseconds until it holds, and fails
// the test when Wait passes first. It is for state the server changes on
// its own goroutines (a released connection slot, a fetched key) where no
// event reaches the test.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(Wait)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}
