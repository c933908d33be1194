// Package jitsitest holds Jitsi-shaped XMPP clients for end-to-end tests
// of parley: a Jicofo (focus), a videobridge, brewery members such as
// Jibri and Jigasi, and a jitsi-meet web participant. They speak the wire
// protocol the real components speak (TCP with STARTTLS, SCRAM, resource
// binding and XEP-0198 for the Java components; WebSocket with SASL
// ANONYMOUS and a token for the web client), so a test can run the join
// sequence of docs JITSI.md §7 against a real server built from a real
// Prosody config.
package jitsitest

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/server/stanza"
)

// Namespaces the clients use.
const (
	NSSASL     = "urn:ietf:params:xml:ns:xmpp-sasl"
	NSTLS      = "urn:ietf:params:xml:ns:xmpp-tls"
	NSBind     = "urn:ietf:params:xml:ns:xmpp-bind"
	NSSM       = "urn:xmpp:sm:3"
	NSPing     = "urn:xmpp:ping"
	NSDiscInfo = "http://jabber.org/protocol/disco#info"
)

// Config says how a client logs in.
type Config struct {
	// Domain is the VirtualHost to log in to.
	Domain string
	// User and Password log in with SCRAM-SHA-1 (falling back to PLAIN
	// when the server offers no SCRAM). An empty User logs in with SASL
	// ANONYMOUS.
	User, Password string
	// Resource is the resource to bind ("" lets the server choose).
	Resource string
	// TLS, when set, makes the client use STARTTLS (required: a server
	// that does not offer it is an error). Jicofo and JVB do this with
	// certificate checks off in Docker (InsecureSkipVerify).
	TLS *tls.Config
	// StreamManagement enables XEP-0198 with resumption when the server
	// offers it, as Smack does by default.
	StreamManagement bool
	// Log receives debug output (nil: discarded).
	Log *slog.Logger
}

// Conn is a logged-in client connection. Responses to its own requests go
// to Request's caller; every other stanza goes to In, which the owner
// must drain.
type Conn struct {
	// In receives every incoming stanza that is not a response to
	// Request. It is closed when the connection ends.
	In <-chan *stanza.Element

	in       chan *stanza.Element
	w        wire
	jid      string
	smID     string
	log      *slog.Logger
	wmu      sync.Mutex
	mu       sync.Mutex
	pending  map[string]chan *stanza.Element
	seq      int
	sm       bool
	h        uint32
	done     chan struct{}
	err      error
	features *stanza.Element
}

// Dial connects to a c2s TCP address and logs in.
func Dial(ctx context.Context, addr string, cfg Config) (*Conn, error) {
	w, err := dialTCP(ctx, addr)
	if err != nil {
		return nil, err
	}
	c, err := login(ctx, w, cfg)
	if err != nil {
		_ = w.close()
		return nil, err
	}
	return c, nil
}

// DialWebSocket connects to a WebSocket endpoint (ws:// or wss:// URL with
// the query jitsi-meet adds: room, token, previd) and logs in.
func DialWebSocket(ctx context.Context, url string, header http.Header, cfg Config) (*Conn, error) {
	w, err := dialWS(ctx, url, header)
	if err != nil {
		return nil, err
	}
	c, err := login(ctx, w, cfg)
	if err != nil {
		_ = w.close()
		return nil, err
	}
	return c, nil
}

// AuthError is a SASL failure from the server.
type AuthError struct {
	// Condition is the failure condition (not-authorized, ...).
	Condition string
	// Text is the failure text (token auth puts the reason there).
	Text string
}

// Error describes the failure.
func (e *AuthError) Error() string {
	return "jitsitest: authentication failed: " + e.Condition + " " + strconv.Quote(e.Text)
}

func login(ctx context.Context, w wire, cfg Config) (*Conn, error) {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f, err := w.open(ctx, cfg.Domain)
	if err != nil {
		return nil, err
	}
	if cfg.TLS != nil {
		if f.Child(NSTLS, "starttls") == nil {
			return nil, fmt.Errorf("jitsitest: %s does not offer STARTTLS: %s", cfg.Domain, f)
		}
		if err := w.write(ctx, stanza.New(NSTLS, "starttls")); err != nil {
			return nil, err
		}
		p, err := w.read()
		if err != nil {
			return nil, fmt.Errorf("jitsitest: STARTTLS: %w", err)
		}
		if p.Name.Local != "proceed" {
			return nil, fmt.Errorf("jitsitest: STARTTLS refused: %s", p)
		}
		tc := cfg.TLS.Clone()
		if tc.ServerName == "" {
			tc.ServerName = cfg.Domain
		}
		if err := w.startTLS(ctx, tc); err != nil {
			return nil, err
		}
		if f, err = w.open(ctx, cfg.Domain); err != nil {
			return nil, err
		}
	}
	if err := authenticate(ctx, w, f, cfg); err != nil {
		return nil, err
	}
	w.restart()
	if f, err = w.open(ctx, cfg.Domain); err != nil {
		return nil, err
	}
	bind := stanza.New(NSBind, "bind")
	if cfg.Resource != "" {
		bind.Add(stanza.New(NSBind, "resource").AddText(cfg.Resource))
	}
	if err := w.write(ctx, stanza.New(stanza.NSClient, "iq").Set("type", "set").Set("id", "bind1").Add(bind)); err != nil {
		return nil, err
	}
	res, err := w.read()
	if err != nil {
		return nil, fmt.Errorf("jitsitest: bind: %w", err)
	}
	j := res.Child(NSBind, "bind").ChildText(NSBind, "jid")
	if res.Get("type") != "result" || j == "" {
		return nil, fmt.Errorf("jitsitest: bind refused: %s", res)
	}
	in := make(chan *stanza.Element, 4096)
	c := &Conn{In: in, in: in, w: w, jid: j, log: log.With("jid", j), pending: map[string]chan *stanza.Element{},
		done: make(chan struct{}), features: f}
	if cfg.StreamManagement && f.Child(NSSM, "sm") != nil {
		if err := w.write(ctx, stanza.New(NSSM, "enable").Set("resume", "true")); err != nil {
			return nil, err
		}
		en, err := w.read()
		if err != nil {
			return nil, fmt.Errorf("jitsitest: enable stream management: %w", err)
		}
		if en.Name.Space != NSSM || en.Name.Local != "enabled" {
			return nil, fmt.Errorf("jitsitest: stream management refused: %s", en)
		}
		c.sm, c.smID = true, en.Get("id")
	}
	go c.readLoop()
	return c, nil
}

func authenticate(ctx context.Context, w wire, features *stanza.Element, cfg Config) error {
	offered := map[string]bool{}
	if m := features.Child(NSSASL, "mechanisms"); m != nil {
		for _, e := range m.Elements() {
			offered[e.Text()] = true
		}
	}
	var mech sasl.Mechanism
	switch {
	case cfg.User == "":
		mech = sasl.Anonymous
	case offered["SCRAM-SHA-1"]:
		mech = sasl.ScramSha1
	default:
		mech = sasl.Plain
	}
	if !offered[mech.Name] {
		return fmt.Errorf("jitsitest: %s not offered on %s (offered %v)", mech.Name, cfg.Domain, offered)
	}
	client := sasl.NewClient(mech, sasl.Credentials(func() ([]byte, []byte, []byte) {
		return []byte(cfg.User), []byte(cfg.Password), nil
	}))
	_, resp, err := client.Step(nil)
	if err != nil {
		return fmt.Errorf("jitsitest: SASL %s: %w", mech.Name, err)
	}
	el := stanza.New(NSSASL, "auth").Set("mechanism", mech.Name).AddText(b64(resp))
	for {
		if err := w.write(ctx, el); err != nil {
			return err
		}
		r, err := w.read()
		if err != nil {
			return fmt.Errorf("jitsitest: SASL: %w", err)
		}
		switch r.Name.Local {
		case "challenge":
			data, err := base64.StdEncoding.DecodeString(r.Text())
			if err != nil {
				return fmt.Errorf("jitsitest: SASL challenge: %w", err)
			}
			if _, resp, err = client.Step(data); err != nil {
				return fmt.Errorf("jitsitest: SASL %s step: %w", mech.Name, err)
			}
			el = stanza.New(NSSASL, "response").AddText(b64(resp))
		case "success":
			if t := r.Text(); t != "" && t != "=" && mech.Name != "ANONYMOUS" {
				data, err := base64.StdEncoding.DecodeString(t)
				if err != nil {
					return fmt.Errorf("jitsitest: SASL success data: %w", err)
				}
				if _, _, err := client.Step(data); err != nil {
					return fmt.Errorf("jitsitest: SASL %s server signature: %w", mech.Name, err)
				}
			}
			return nil
		case "failure":
			ae := &AuthError{Text: r.ChildText(NSSASL, "text")}
			for _, e := range r.Elements() {
				if e.Name.Local != "text" {
					ae.Condition = e.Name.Local
				}
			}
			return ae
		default:
			return fmt.Errorf("jitsitest: unexpected SASL answer %s", r)
		}
	}
}

func b64(b []byte) string {
	if len(b) == 0 {
		return "="
	}
	return base64.StdEncoding.EncodeToString(b)
}

// JID is the bound full JID.
func (c *Conn) JID() string { return c.jid }

// SMID is the stream management resumption id ("" without XEP-0198).
func (c *Conn) SMID() string { return c.smID }

// Features are the stream features offered after authentication.
func (c *Conn) Features() *stanza.Element { return c.features }

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is why the connection ended (nil while it runs).
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Send writes a stanza.
func (c *Conn) Send(ctx context.Context, el *stanza.Element) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.w.write(ctx, el)
}

// Request sends an IQ get or set (an id is set if missing) and waits for
// its result or error.
func (c *Conn) Request(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	c.mu.Lock()
	if iq.Get("id") == "" {
		c.seq++
		iq.Set("id", "jt"+strconv.Itoa(c.seq))
	}
	id := iq.Get("id")
	ch := make(chan *stanza.Element, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	if err := c.Send(ctx, iq); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-c.done:
		return nil, fmt.Errorf("jitsitest: %s: connection ended waiting for %s: %w", c.jid, id, c.Err())
	case <-ctx.Done():
		return nil, fmt.Errorf("jitsitest: %s: waiting for the answer to %s %s: %w", c.jid, iq.Get("to"), id, ctx.Err())
	}
}

// Close ends the stream.
func (c *Conn) Close() error {
	c.wmu.Lock()
	err := c.w.close()
	c.wmu.Unlock()
	<-c.done
	return err
}

func (c *Conn) readLoop() {
	defer close(c.in)
	defer close(c.done)
	for {
		el, err := c.w.read()
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			c.closeWire()
			return
		}
		if el.Name.Space == NSSM {
			c.handleSM(el)
			continue
		}
		if !el.IsStanza() {
			c.log.Debug("ignored non-stanza", "el", el.String())
			continue
		}
		c.mu.Lock()
		if c.sm {
			c.h++
		}
		var waiter chan *stanza.Element
		if el.Name.Local == "iq" && (el.Get("type") == "result" || el.Get("type") == "error") {
			waiter = c.pending[el.Get("id")]
			delete(c.pending, el.Get("id"))
		}
		c.mu.Unlock()
		if waiter != nil {
			waiter <- el
			continue
		}
		select {
		case c.in <- el:
		default:
			c.mu.Lock()
			c.err = errors.New("jitsitest: inbox full (In not drained)")
			c.mu.Unlock()
			c.closeWire()
			return
		}
	}
}

func (c *Conn) closeWire() {
	c.wmu.Lock()
	_ = c.w.close()
	c.wmu.Unlock()
}

// handleSM answers the server's ack requests.
func (c *Conn) handleSM(el *stanza.Element) {
	if el.Name.Local != "r" {
		return
	}
	c.mu.Lock()
	h := c.h
	c.mu.Unlock()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.w.write(context.Background(), stanza.New(NSSM, "a").Set("h", strconv.FormatUint(uint64(h), 10)))
}
