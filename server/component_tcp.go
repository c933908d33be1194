package server

import (
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stream"

	"github.com/parley-xmpp/parley/server/stanza"
)

// externalComponent is one XEP-0114 connection. It implements Component:
// stanzas for its domain are queued to its writer.
type externalComponent struct {
	srv    *Server
	domain string
	q      *outQueue
	log    *slog.Logger

	mu     sync.Mutex
	closed bool
}

func (c *externalComponent) Deliver(_ context.Context, el *stanza.Element) {
	ok, full := c.q.push(stanza.AppendIn(nil, el, stanza.NSComponent))
	if full {
		c.close(streamErr(stream.PolicyViolation, "outbound queue full"), true)
	}
	_ = ok
}

func (c *externalComponent) close(se error, discard bool) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	var final []byte
	var e stream.Error
	if errors.As(se, &e) {
		final = stanza.AppendStreamElement(final, streamErrorElement(e))
	}
	final = append(final, stanza.StreamClose...)
	c.q.close(final, discard)
}

func (srv *Server) componentAcceptLoop(l net.Listener) {
	for {
		conn, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			srv.log.Warn("component accept failed", "err", err)
			continue
		}
		if !srv.Go(func() { srv.serveComponent(conn) }) {
			_ = conn.Close()
			return
		}
	}
}

// serveComponent runs the XEP-0114 handshake and then relays stanzas.
func (srv *Server) serveComponent(conn net.Conn) {
	defer conn.Close()
	c := &externalComponent{srv: srv, q: newOutQueue(srv.opts.queueFrames, srv.opts.queueBytes),
		log: srv.log.With("conn", "component", "remote", conn.RemoteAddr().String())}
	done := srv.startQueueWriter(conn, c.q, func() { c.close(nil, true) }, func() bool { return true })
	defer func() { <-done }()
	ctx, cancel := context.WithCancel(srv.ctx)
	defer cancel()

	stop := context.AfterFunc(srv.ctx, func() { c.close(streamErr(stream.SystemShutdown, ""), false) })
	defer stop()

	_ = conn.SetReadDeadline(time.Now().Add(srv.opts.authTimeout))
	rd := stanza.NewReader(conn, stanza.Limits{MaxStanza: srv.componentLimit})
	entry, err := srv.componentHandshake(c, rd)
	if err != nil {
		c.log.Info("component handshake failed", "err", err)
		c.close(err, false)
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	defer entry.detach(c)
	c.log = c.log.With("component", c.domain)
	c.log.Info("component connected")
	for {
		el, err := rd.Next()
		if err != nil {
			switch {
			case errors.Is(err, stanza.ErrStreamEnd), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
				c.close(nil, false)
			default:
				c.close(err, false)
			}
			c.log.Info("component disconnected", "err", err)
			return
		}
		if err := srv.componentStanza(ctx, c, el); err != nil {
			c.close(err, false)
			return
		}
	}
}

func (srv *Server) componentHandshake(c *externalComponent, rd *stanza.Reader) (*componentEntry, error) {
	h, err := rd.ReadHeader()
	id := randomID()
	header := func(from string) {
		c.q.push(stanza.AppendStreamHeader(nil, stanza.NSComponent, attr("from", from), attr("id", id)))
	}
	if err != nil {
		header("")
		return nil, err
	}
	header(h.To)
	if h.NS != stanza.NSComponent {
		return nil, streamErr(stream.InvalidNamespace, "expected jabber:component:accept")
	}
	if h.To == "" {
		return nil, streamErr(stream.ImproperAddressing, "the stream header needs a 'to' address")
	}
	secret, ok := srv.secrets[h.To]
	entry := srv.component(h.To)
	if !ok || entry == nil {
		return nil, streamErr(stream.HostUnknown, "no such component")
	}
	el, err := rd.Next()
	if err != nil {
		return nil, err
	}
	if el.Name.Local != "handshake" || el.Name.Space != stanza.NSComponent || len(el.Elements()) > 0 {
		return nil, streamErr(stream.NotAuthorized, "handshake expected")
	}
	sum := sha1.Sum([]byte(id + secret))
	want := hex.EncodeToString(sum[:])
	got := strings.ToLower(strings.TrimSpace(el.Text()))
	if secret == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return nil, streamErr(stream.NotAuthorized, "Given token does not match calculated token")
	}
	c.domain = h.To
	if !entry.attach(c) {
		return nil, streamErr(stream.Conflict, "the component is already connected")
	}
	c.q.push(stanza.AppendIn(nil, stanza.New(stanza.NSComponent, "handshake"), stanza.NSComponent))
	return entry, nil
}

// componentStanza routes a stanza from a component, whose from address
// must be in the component's domain (XEP-0114 §3.1).
func (srv *Server) componentStanza(ctx context.Context, c *externalComponent, el *stanza.Element) error {
	if !el.IsStanza() {
		return streamErr(stream.UnsupportedStanzaType, "only stanzas are allowed")
	}
	if el.Get("from") == "" {
		el.Set("from", c.domain) // SECURITY-CASES 80: stamp the component's address
	}
	from, err := jid.Parse(el.Get("from"))
	if err != nil || from.Domainpart() != c.domain {
		return streamErr(stream.InvalidFrom, "from must be in the component's domain")
	}
	renameNS(el, stanza.NSComponent, stanza.NSClient)
	if el.Get("to") == "" {
		// SECURITY-CASES 81: an error reply, not a stream error.
		srv.bounce(ctx, el, "modify", "bad-request", "the stanza has no 'to' address")
		return nil
	}
	srv.route(ctx, el)
	return nil
}

// renameNS moves el and its descendants from namespace from to namespace to.
func renameNS(el *stanza.Element, from, to string) {
	if el.Name.Space == from {
		el.Name.Space = to
	}
	for _, n := range el.Nodes {
		if n.El != nil {
			renameNS(n.El, from, to)
		}
	}
}
