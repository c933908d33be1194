// Package xclient is the load generator's XMPP client: cheap enough to run
// thousands of sessions from one process on two cores. It speaks TCP
// (RFC 6120), WebSocket (RFC 7395) and BOSH (XEP-0124/0206), SASL
// ANONYMOUS, PLAIN and SCRAM-SHA-1/256, resource binding and XEP-0198
// stream management, and hands every received stanza to a callback as raw
// bytes (see package xscan for reading them). It does not parse XML into
// trees and trusts the server to be well-formed.
package xclient

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-xmpp/parley/cmd/parley-load/internal/metrics"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/xscan"
)

// Transport names.
const (
	TCP       = "tcp"
	WebSocket = "ws"
	BOSH      = "bosh"
)

// Config says how to open one session.
type Config struct {
	// Transport is TCP, WebSocket or BOSH.
	Transport string
	// Addr is the c2s host:port for TCP.
	Addr string
	// URL is the ws:// endpoint for WebSocket or the http:// endpoint
	// for BOSH.
	URL string
	// Domain is the XMPP host to log in to.
	Domain string
	// Mechanism is a SASL mechanism name (Anonymous, Plain, ...).
	Mechanism string
	// Username and Password are the credentials for PLAIN and SCRAM.
	Username, Password string
	// Resource is the resource to request at bind (empty: server's).
	Resource string
	// Token is passed as the "token" URL parameter (WebSocket, BOSH).
	Token string
	// StreamManagement enables XEP-0198 (with resumption) when offered.
	StreamManagement bool
	// AckEvery makes the client request an ack after this many sent
	// stanzas (0: never); the server's acks are answered regardless.
	AckEvery int
	// ReadBuffer is the initial TCP read buffer (default 4 KiB).
	ReadBuffer int
}

// Shared is what all sessions of a run share.
type Shared struct {
	Dialer   net.Dialer
	WS       *websocket.Dialer
	HTTP     *http.Client
	Scram    ScramCache
	AckRTT   metrics.Histogram // round trip of client-initiated acks
	received atomic.Int64
	epoch    time.Time
}

// Nanotime is a monotonic clock in nanoseconds, shared by every session
// of the run, for timestamps carried in stanzas.
func (sh *Shared) Nanotime() int64 { return int64(time.Since(sh.epoch)) }

// NewShared returns the shared state with connection pools sized for
// maxSessions concurrent sessions.
func NewShared(maxSessions int) *Shared {
	tr := &http.Transport{
		MaxIdleConns:        2*maxSessions + 16,
		MaxIdleConnsPerHost: 2*maxSessions + 16,
		IdleConnTimeout:     2 * boshWait * time.Second,
		DisableCompression:  true,
		WriteBufferSize:     4096,
		ReadBufferSize:      4096,
	}
	return &Shared{
		WS: &websocket.Dialer{
			Subprotocols:     []string{"xmpp"},
			HandshakeTimeout: 30 * time.Second,
			ReadBufferSize:   2048,
			WriteBufferSize:  2048,
			WriteBufferPool:  &sync.Pool{},
		},
		HTTP:  &http.Client{Transport: tr},
		epoch: time.Now(),
	}
}

// Close releases idle HTTP connections (BOSH).
func (sh *Shared) Close() {
	sh.HTTP.CloseIdleConnections()
}

// Received counts stanzas delivered to handlers across all sessions.
func (sh *Shared) Received() int64 { return sh.received.Load() }

// Handler receives each stanza (message, presence or iq) as raw bytes on
// the session's reading goroutine; the slice is only valid during the
// call.
type Handler func(s *Session, stanza []byte)

// Session is one logged-in client.
type Session struct {
	cfg  Config
	sh   *Shared
	c    conn
	jid  string
	smOn bool

	smIn    uint32 // stanzas received since <enabled/>, reader-owned
	sent    atomic.Int64
	acked   atomic.Uint32
	ackSent atomic.Int64 // nanotime of the outstanding <r/>, 0 if none

	// Setup is how long Open took.
	Setup time.Duration

	closing   atomic.Bool // Close was called
	closeOnce sync.Once
	done      chan struct{}
	errMu     sync.Mutex
	err       error
}

// Open connects, authenticates, binds and (if configured) enables stream
// management. ctx bounds the whole negotiation.
func Open(ctx context.Context, cfg Config, sh *Shared) (*Session, error) {
	start := time.Now()
	s := &Session{cfg: cfg, sh: sh, done: make(chan struct{})}
	switch cfg.Transport {
	case TCP, "":
		s.c = &tcpConn{addr: cfg.Addr, domain: cfg.Domain, dialer: &sh.Dialer, bufLen: max(cfg.ReadBuffer, 4096)}
	case WebSocket:
		s.c = &wsConn{url: withToken(cfg.URL, cfg.Token), domain: cfg.Domain, dialer: sh.WS}
	case BOSH:
		s.c = newBOSH(withToken(cfg.URL, cfg.Token), cfg.Domain, sh.HTTP)
	default:
		return nil, fmt.Errorf("xclient: unknown transport %q", cfg.Transport)
	}
	if dl, ok := ctx.Deadline(); ok {
		s.c.deadline(dl)
	}
	if err := s.negotiate(ctx); err != nil {
		_ = s.c.close()
		return nil, err
	}
	s.c.deadline(time.Time{})
	s.Setup = time.Since(start)
	return s, nil
}

func withToken(u, token string) string {
	if token == "" {
		return u
	}
	sep := "?"
	if bytes.IndexByte([]byte(u), '?') >= 0 {
		sep = "&"
	}
	return u + sep + "token=" + url.QueryEscape(token)
}

// expect reads elements until one named local (ignoring the prefix)
// arrives.
func (s *Session) expect(local string) ([]byte, error) {
	for {
		el, err := s.c.next()
		if err != nil {
			return nil, err
		}
		name := xscan.Local(xscan.Name(el))
		if string(name) == local {
			return el, nil
		}
		if string(name) == "error" {
			return nil, fmt.Errorf("xclient: stream error: %.300s", el)
		}
	}
}

func (s *Session) negotiate(ctx context.Context) error {
	if err := s.c.open(ctx); err != nil {
		return err
	}
	feat, err := s.expect("features")
	if err != nil {
		return fmt.Errorf("xclient: waiting for features: %w", err)
	}
	if !bytes.Contains(feat, []byte(">"+s.cfg.Mechanism+"<")) {
		return fmt.Errorf("xclient: server does not offer %s: %.400s", s.cfg.Mechanism, feat)
	}
	if err := s.auth(); err != nil {
		return err
	}
	if err := s.c.restart(ctx); err != nil {
		return err
	}
	feat, err = s.expect("features")
	if err != nil {
		return fmt.Errorf("xclient: waiting for features after SASL: %w", err)
	}
	if err := s.bind(); err != nil {
		return err
	}
	if s.cfg.StreamManagement && bytes.Contains(feat, []byte(nsSM)) {
		if err := s.c.send([]byte("<enable xmlns='" + nsSM + "' resume='true'/>")); err != nil {
			return err
		}
		el, err := s.expectOneOf("enabled", "failed")
		if err != nil {
			return fmt.Errorf("xclient: enabling stream management: %w", err)
		}
		if string(xscan.Local(xscan.Name(el))) == "failed" {
			return fmt.Errorf("xclient: stream management refused: %.200s", el)
		}
		s.smOn = true
	}
	return nil
}

func (s *Session) expectOneOf(a, b string) ([]byte, error) {
	for {
		el, err := s.c.next()
		if err != nil {
			return nil, err
		}
		switch string(xscan.Local(xscan.Name(el))) {
		case a, b:
			return el, nil
		case "error":
			return nil, fmt.Errorf("xclient: stream error: %.300s", el)
		}
	}
}

func (s *Session) auth() error {
	m, err := newMechanism(s.cfg.Mechanism, s.cfg.Username, s.cfg.Password, &s.sh.Scram)
	if err != nil {
		return err
	}
	first, err := m.start()
	if err != nil {
		return err
	}
	if err := s.c.send(saslElement("auth", s.cfg.Mechanism, first)); err != nil {
		return err
	}
	for {
		el, err := s.c.next()
		if err != nil {
			return fmt.Errorf("xclient: SASL: %w", err)
		}
		switch string(xscan.Local(xscan.Name(el))) {
		case "challenge":
			data, err := saslData(el)
			if err != nil {
				return err
			}
			resp, err := m.step(data)
			if err != nil {
				return err
			}
			if err := s.c.send(saslElement("response", "", resp)); err != nil {
				return err
			}
		case "success":
			data, err := saslData(el)
			if err != nil {
				return err
			}
			return m.finish(data)
		case "failure":
			return fmt.Errorf("xclient: SASL %s failed: %.300s", s.cfg.Mechanism, el)
		case "error":
			return fmt.Errorf("xclient: stream error during SASL: %.300s", el)
		}
	}
}

func saslElement(name, mech string, data []byte) []byte {
	b := []byte("<" + name + " xmlns='" + nsSASL + "'")
	if mech != "" {
		b = append(b, " mechanism='"+mech+"'"...)
	}
	b = append(b, '>')
	if len(data) == 0 {
		b = append(b, '=')
	} else {
		b = base64.StdEncoding.AppendEncode(b, data)
	}
	return append(b, "</"+name+">"...)
}

func saslData(el []byte) ([]byte, error) {
	end, empty := xscan.TagEnd(el)
	if empty || end < 0 {
		return nil, nil
	}
	closeTag := bytes.LastIndexByte(el, '<')
	if closeTag < end {
		return nil, nil
	}
	text := bytes.TrimSpace(el[end:closeTag])
	if len(text) == 0 || string(text) == "=" {
		return nil, nil
	}
	out, err := base64.StdEncoding.AppendDecode(nil, text)
	if err != nil {
		return nil, fmt.Errorf("xclient: SASL data: %w", err)
	}
	return out, nil
}

func (s *Session) bind() error {
	req := "<iq type='set' id='bind_1' xmlns='" + nsClient + "'><bind xmlns='" + nsBind + "'"
	if s.cfg.Resource == "" {
		req += "/></iq>"
	} else {
		req += "><resource>" + string(xscan.Escape(nil, s.cfg.Resource)) + "</resource></bind></iq>"
	}
	if err := s.c.send([]byte(req)); err != nil {
		return err
	}
	for {
		el, err := s.expect("iq")
		if err != nil {
			return fmt.Errorf("xclient: binding: %w", err)
		}
		if id, _ := xscan.Attr(el, "id"); string(id) != "bind_1" {
			continue
		}
		if t, _ := xscan.Attr(el, "type"); string(t) != "result" {
			return fmt.Errorf("xclient: bind refused: %.300s", el)
		}
		i := bytes.Index(el, []byte("<jid>"))
		j := bytes.Index(el, []byte("</jid>"))
		if i < 0 || j < i {
			return fmt.Errorf("xclient: bind result without jid: %.300s", el)
		}
		s.jid = xscan.Unescape(el[i+5 : j])
		return nil
	}
}

// JID is the full JID the server bound.
func (s *Session) JID() string { return s.jid }

// StreamManagement reports whether XEP-0198 is on.
func (s *Session) StreamManagement() bool { return s.smOn }

// Run starts the reading goroutine that hands stanzas to h, answers the
// server's ack requests and pings, and ends when the stream does.
func (s *Session) Run(h Handler) {
	if b, ok := s.c.(*boshConn); ok {
		b.goAsync()
	}
	go s.readLoop(h)
}

func (s *Session) readLoop(h Handler) {
	defer s.finish(nil)
	for {
		el, err := s.c.next()
		if err != nil {
			s.finish(err)
			return
		}
		name := xscan.Name(el)
		switch string(name) {
		case "message", "presence", "iq":
			if s.smOn {
				s.smIn++
			}
			s.sh.received.Add(1)
			if string(name) == "iq" && s.answerIQ(el) {
				continue
			}
			h(s, el)
			continue
		}
		switch string(xscan.Local(name)) {
		case "r":
			_ = s.c.send([]byte("<a xmlns='" + nsSM + "' h='" + strconv.FormatUint(uint64(s.smIn), 10) + "'/>"))
		case "a":
			if v, ok := xscan.Attr(el, "h"); ok {
				n, _ := strconv.ParseUint(string(v), 10, 32)
				s.acked.Store(uint32(n))
			}
			if t := s.ackSent.Swap(0); t != 0 {
				s.sh.AckRTT.Record(time.Duration(s.sh.Nanotime() - t))
			}
			// Stanzas sent while this ack was outstanding asked for no
			// ack of their own: ask now, or they are never acknowledged.
			if v, ok := xscan.Attr(el, "h"); ok && s.cfg.AckEvery > 0 {
				n, _ := strconv.ParseUint(string(v), 10, 32)
				if s.sent.Load() > int64(n) && s.ackSent.CompareAndSwap(0, s.sh.Nanotime()) {
					_ = s.c.send([]byte("<r xmlns='" + nsSM + "'/>"))
				}
			}
		case "error":
			s.finish(fmt.Errorf("xclient: stream error: %.300s", el))
			return
		}
	}
}

// answerIQ replies to requests addressed to the client: a result for
// pings, service-unavailable for everything else. It reports whether el
// was a request.
func (s *Session) answerIQ(el []byte) bool {
	t, _ := xscan.Attr(el, "type")
	if string(t) != "get" && string(t) != "set" {
		return false
	}
	id, _ := xscan.Attr(el, "id")
	from, _ := xscan.Attr(el, "from")
	reply := "<iq type='result' id='" + string(id) + "'"
	if len(from) > 0 {
		reply += " to='" + string(from) + "'"
	}
	if bytes.Contains(el, []byte("urn:xmpp:ping")) {
		reply += " xmlns='" + nsClient + "'/>"
	} else {
		reply = "<iq type='error' id='" + string(id) + "'"
		if len(from) > 0 {
			reply += " to='" + string(from) + "'"
		}
		reply += " xmlns='" + nsClient + "'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
	}
	_ = s.c.send([]byte(reply))
	return true
}

// Send writes one stanza (raw XML, which must declare or inherit
// jabber:client; over BOSH it must declare it).
func (s *Session) Send(el []byte) error {
	if err := s.c.send(el); err != nil {
		return err
	}
	n := s.sent.Add(1)
	if s.smOn && s.cfg.AckEvery > 0 && n%int64(s.cfg.AckEvery) == 0 && s.ackSent.CompareAndSwap(0, s.sh.Nanotime()) {
		return s.c.send([]byte("<r xmlns='" + nsSM + "'/>"))
	}
	return nil
}

// Acked returns the last h the server acknowledged.
func (s *Session) Acked() uint32 { return s.acked.Load() }

// Close ends the stream and the connection.
func (s *Session) Close() error {
	s.closing.Store(true)
	err := s.c.close()
	s.finish(ErrClosed)
	return err
}

func (s *Session) finish(err error) {
	s.errMu.Lock()
	switch {
	case s.err != nil || err == nil:
	case s.closing.Load():
		// Close was called: whatever the reader saw while the
		// connection went away is part of a clean end.
	case !errors.Is(err, ErrClosed):
		s.err = err
	default:
		s.err = errors.New("xclient: the server closed the stream")
	}
	s.errMu.Unlock()
	s.closeOnce.Do(func() { close(s.done) })
}

// Done is closed when the session ends.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err returns why the session ended: nil while it runs and after Close,
// an error if the server or the connection ended it.
func (s *Session) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}
