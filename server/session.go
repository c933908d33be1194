package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stream"

	"github.com/parley-xmpp/parley/auth"
	"github.com/parley-xmpp/parley/server/stanza"
)

// Namespaces of stream negotiation.
const (
	nsTLS     = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession = "urn:ietf:params:xml:ns:xmpp-session"
)

// maxAuthFailures is how many failed SASL attempts a stream gets before it
// is closed (SECURITY-CASES 39).
const maxAuthFailures = auth.DefaultMaxAttempts

// truncate shortens peer-supplied text before it is echoed in an error.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

type sessionState int

const (
	stateAwaitHeader sessionState = iota
	stateNegotiating
	stateAuthenticated
	stateBound
	stateClosed
)

// CloseReason says why a session ended; the first reason recorded wins.
type CloseReason string

// Close reasons, counted in metrics.
const (
	ClosePeer          CloseReason = "peer_closed"
	CloseStreamError   CloseReason = "stream_error"
	CloseSlowConsumer  CloseReason = "slow_consumer"
	CloseReplaced      CloseReason = "replaced"
	CloseShutdown      CloseReason = "shutdown"
	CloseIOError       CloseReason = "io_error"
	CloseAuthTimeout   CloseReason = "auth_timeout"
	CloseIdle          CloseReason = "idle"
	CloseTransportGone CloseReason = "transport_gone"
	CloseResumed       CloseReason = "resumed"
	CloseHibernation   CloseReason = "hibernation_timeout"
	CloseSMOverflow    CloseReason = "sm_queue_overflow"
)

// Session is one client stream, independent of its transport. Its
// negotiation state is owned by the goroutine that calls Open and Handle;
// the routing state (address, presence) is guarded by mu because the router
// reads it from other goroutines.
type Session struct {
	srv *Server
	t   Transport
	qp  atomic.Pointer[outQueue]
	id  string
	lg  atomic.Pointer[slog.Logger] // replaced as the session learns its host and JID

	state     sessionState
	host      *Host
	lang      string
	exchange  auth.Exchange
	authFails int
	username  string

	mu   sync.Mutex
	full jid.JID
	bare string
	// boundKind is the transport kind the session bound on (metrics).
	boundKind  string
	available  bool
	priority   int
	presence   *stanza.Element
	directed   map[string]struct{}
	interested bool // fetched the roster: gets roster pushes
	closed     bool
	reason     CloseReason
	onClose    []func()

	sm          *smState    // XEP-0198 state once enabled
	hibernating bool        // transport gone, waiting for a resumption
	hibernation *time.Timer // ends the hibernation
	movedTo     *Session    // the session that resumed this one

	in inLimits // inbound byte rates (inlimit.go)
}

func newSession(srv *Server, t Transport) *Session {
	id := randomID()
	s := &Session{srv: srv, t: t, id: id}
	s.setLogger(srv.log.With("conn", t.Kind()+"/"+id, "remote", t.RemoteAddr()))
	s.qp.Store(newOutQueue(srv.opts.queueFrames, srv.opts.queueBytes))
	return s
}

func (s *Session) logger() *slog.Logger     { return s.lg.Load() }
func (s *Session) setLogger(l *slog.Logger) { s.lg.Store(l) }

// queue returns the session's current outbound queue (replaced only by a
// STARTTLS upgrade, before the session is routable).
func (s *Session) queue() *outQueue { return s.qp.Load() }

// randomID returns 16 random hex characters.
func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ID returns the stream id.
func (s *Session) ID() string { return s.id }

// JID returns the bound full JID (zero before binding).
func (s *Session) JID() jid.JID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.full
}

// Host returns the virtual host the session belongs to (nil before the
// stream header).
func (s *Session) Host() *Host { return s.host }

// Params returns the transport's parameters (such as a token).
func (s *Session) Params() map[string]string { return s.t.Params() }

// Send queues el for the client. A full queue closes the session as a slow
// consumer. With stream management on, el is also kept until the client
// acknowledges it, so the caller must not modify el afterwards.
func (s *Session) Send(el *stanza.Element) {
	if h := s.host; h != nil && h.Events.StanzaOut.Len() > 0 {
		ev := OutStanzaEvent{Session: s, Stanza: el}
		if err := h.Events.StanzaOut.Fire(context.Background(), &ev); err != nil || ev.Stanza == nil {
			return
		}
		el = ev.Stanza
	}
	s.srv.metrics.countOut(el.Name.Local)
	s.send(el)
}

// send queues el after the StanzaOut filters ran.
func (s *Session) send(el *stanza.Element) {
	frame := s.t.Frame(el)
	s.mu.Lock()
	if s.movedTo != nil {
		next := s.movedTo
		s.mu.Unlock()
		next.send(el)
		return
	}
	if s.sm == nil {
		s.mu.Unlock()
		s.push(frame)
		return
	}
	// Counting and queueing under one lock keeps the client's h and our
	// unacked list in the same order.
	overflow, requestAck := s.sm.sent(el, s.srv.smOpts)
	_, full := s.queue().push(frame)
	if requestAck {
		s.queue().push(s.t.Frame(stanza.New(nsSM, "r")))
	}
	s.mu.Unlock()
	switch {
	case full:
		s.logger().Warn("outbound queue full, closing")
		s.closeWith(CloseSlowConsumer, streamErr(stream.PolicyViolation, "outbound queue full: the client does not read"), true)
	case overflow:
		s.closeWith(CloseSMOverflow, streamErr(stream.ResourceConstraint, "too many unacknowledged stanzas"), false)
	}
}

func (s *Session) push(frame []byte) {
	q := s.queue()
	ok, full := q.push(frame)
	if full {
		s.logger().Warn("outbound queue full, closing", "frames", q.maxCount, "bytes", q.maxBytes)
		s.closeWith(CloseSlowConsumer, streamErr(stream.PolicyViolation, "outbound queue full: the client does not read"), true)
	}
	_ = ok
}

func (s *Session) pushStream(el *stanza.Element) { s.push(s.t.StreamElement(el)) }

// Take moves the pending outbound frames into dst and returns them. When
// closed is true the session has ended: final holds its last bytes (stream
// error and closing tag) and nothing more will come. Only the transport's
// writer calls it.
func (s *Session) Take(dst [][]byte) (frames [][]byte, final []byte, closed bool) {
	return s.queue().take(dst)
}

// Wake returns a channel that receives a value when frames are pending or
// the session closed. Transports wait on it between Take calls.
func (s *Session) Wake() <-chan struct{} { return s.queue().signal }

// maxLangTag is the longest language tag parley takes from a stream
// header: the length RFC 5646 §4.4.1 asks implementations to support.
const maxLangTag = 35

// validLangTag reports whether tag looks like a BCP 47 language tag of at
// most maxLangTag bytes: subtags of letters and digits joined by hyphens.
// The stream's language is stamped on every stanza the client sends, so a
// longer or malformed one is ignored rather than copied onto each of them
// (SECURITY-CASES 17).
func validLangTag(tag string) bool {
	if tag == "" || len(tag) > maxLangTag || tag[0] == '-' || tag[len(tag)-1] == '-' {
		return false
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' && tag[i-1] != '-':
		default:
			return false
		}
	}
	return true
}

// Open handles the peer's stream header (or WebSocket <open/>).
func (s *Session) Open(h stanza.Header) error {
	if s.state != stateAwaitHeader {
		return streamErr(stream.BadFormat, "unexpected stream header")
	}
	host := s.srv.vhost(h.To)
	s.lang = ""
	if validLangTag(h.Lang) {
		s.lang = h.Lang
	}
	s.sendHeader(h)
	switch {
	case h.To == "":
		return streamErr(stream.ImproperAddressing, "the stream header needs a 'to' address")
	case s.host != nil && host != s.host:
		// SECURITY-CASES 16 (CVE-2018-10847).
		return streamErr(stream.NotAuthorized, "the 'to' address must remain the same after a stream restart")
	case host == nil:
		return streamErr(stream.HostUnknown, "this server does not serve "+truncate(h.To, 64))
	}
	if h.NS != "" && h.NS != stanza.NSClient {
		return streamErr(stream.InvalidNamespace, "expected jabber:client")
	}
	if h.Version != "1.0" {
		return streamErr(stream.UnsupportedVersion, "version 1.0 is required")
	}
	s.host = host
	s.setLogger(s.logger().With("host", host.Name))
	if s.username == "" {
		s.state = stateNegotiating
	} else {
		s.state = stateAuthenticated
	}
	s.pushStream(s.features())
	return nil
}

func (s *Session) sendHeader(h stanza.Header) {
	out := OutHeader{ID: s.id, To: "", Lang: "en", Version: "1.0"}
	if s.srv.vhost(h.To) != nil {
		out.From = h.To
	} else {
		out.From = s.srv.defaultHost()
	}
	s.push(s.t.Header(out))
}

// nsStreamLimits advertises the stanza size limit (XEP-0478).
const nsStreamLimits = "urn:xmpp:stream-limits:0"

func (s *Session) features() *stanza.Element {
	f := stanza.New(stanza.NSStream, "features")
	f.Add(stanza.New(nsStreamLimits, "limits").Add(
		stanza.New(nsStreamLimits, "max-bytes").AddText(strconv.Itoa(s.srv.limits.MaxStanza))))
	if s.username == "" {
		secure := s.t.Secure()
		tlsOK := false
		if st, ok := s.t.(startTLSer); ok && !secure && st.CanStartTLS() && s.srv.tlsConfig != nil {
			tlsOK = true
			tls := stanza.New(nsTLS, "starttls")
			if s.host.requireEncryption {
				tls.Add(stanza.New(nsTLS, "required"))
			}
			f.Add(tls)
		}
		if secure || !s.host.requireEncryption || !tlsOK {
			mechs := stanza.New(nsSASL, "mechanisms")
			if secure || !s.host.requireEncryption {
				for _, m := range s.host.Auth.Mechanisms(s.authRequest()) {
					mechs.Add(stanza.New(nsSASL, "mechanism").AddText(m))
				}
			}
			f.Add(mechs)
		}
		return f
	}
	f.Add(stanza.New(nsBind, "bind"))
	f.Add(stanza.New(nsSession, "session").Add(stanza.New(nsSession, "optional")))
	f.Add(stanza.New(nsSM, "sm"))
	for _, sf := range s.host.streamFeatures {
		if el := sf(s); el != nil {
			f.Add(el)
		}
	}
	return f
}

func (s *Session) authRequest() *auth.Request {
	return &auth.Request{
		Host:       s.host.Name,
		Secure:     s.t.Secure(),
		RemoteAddr: s.t.RemoteAddr(),
		Params:     s.t.Params(),
	}
}

// Handle processes one top-level element. A returned stream.Error must be
// sent to the peer before the stream closes (see Fail).
func (s *Session) Handle(ctx context.Context, el *stanza.Element) (Action, error) {
	if el.Name.Space == stanza.NSStream && el.Name.Local == "error" {
		// SECURITY-CASES 25: the peer gave up; log it and close cleanly.
		cond := ""
		if c := el.FirstElement(); c != nil {
			cond = c.Name.Local
		}
		s.logger().Info("the client sent a stream error", "condition", cond)
		return ActionNone, errPeerStreamError
	}
	switch s.state {
	case stateNegotiating:
		return s.handleNegotiation(ctx, el)
	case stateAuthenticated:
		return ActionNone, s.handleBind(ctx, el)
	case stateBound:
		return ActionNone, s.handleStanza(ctx, el)
	}
	return ActionNone, streamErr(stream.BadFormat, "element outside an open stream")
}

func (s *Session) handleNegotiation(ctx context.Context, el *stanza.Element) (Action, error) {
	switch {
	case el.Name.Space == nsTLS && el.Name.Local == "starttls":
		st, ok := s.t.(startTLSer)
		if !ok || s.t.Secure() || !st.CanStartTLS() || s.srv.tlsConfig == nil || s.exchange != nil {
			s.push(s.t.Frame(stanza.New(nsTLS, "failure")))
			return ActionNone, errCloseQuietly
		}
		s.push(s.t.Frame(stanza.New(nsTLS, "proceed")))
		return ActionStartTLS, nil
	case el.Name.Space == nsSASL && el.Name.Local == "auth":
		return s.saslAuth(ctx, el)
	case el.Name.Space == nsSASL && el.Name.Local == "response":
		if s.exchange == nil {
			return s.saslFail(&auth.Failure{Condition: "not-authorized", Text: "Out of order SASL element"})
		}
		return s.saslStep(ctx, el)
	case el.Name.Space == nsSASL && el.Name.Local == "abort":
		s.exchange = nil
		return s.saslFail(&auth.Failure{Condition: "aborted"})
	}
	if s.host.requireEncryption && !s.t.Secure() {
		return ActionNone, streamErr(stream.PolicyViolation, "encryption is required")
	}
	return ActionNone, streamErr(stream.NotAuthorized, "authenticate first")
}

func (s *Session) saslAuth(ctx context.Context, el *stanza.Element) (Action, error) {
	if s.host.requireEncryption && !s.t.Secure() {
		return s.saslFail(&auth.Failure{Condition: "encryption-required", Text: "use STARTTLS first"})
	}
	mech := el.Get("mechanism")
	ex, err := s.host.Auth.Start(mech, s.authRequest())
	if err != nil {
		return s.saslFail(err)
	}
	s.exchange = ex
	return s.saslStep(ctx, el)
}

func (s *Session) saslStep(ctx context.Context, el *stanza.Element) (Action, error) {
	var in []byte
	text := el.Text()
	switch {
	case text == "" && el.Name.Local == "auth":
		in = nil
	case text == "=" || text == "":
		in = []byte{}
	default:
		b, err := base64.StdEncoding.DecodeString(text)
		if err != nil {
			s.exchange = nil
			return s.saslFail(&auth.Failure{Condition: "incorrect-encoding"})
		}
		in = b
	}
	out, done, err := s.exchange.Step(ctx, in)
	if err != nil {
		s.exchange = nil
		return s.saslFail(err)
	}
	if !done {
		s.push(s.t.Frame(stanza.New(nsSASL, "challenge").AddText(encodeSASL(out))))
		return ActionNone, nil
	}
	user := s.exchange.Username()
	s.exchange = nil
	if err := s.host.checkAuthenticated(ctx, s, user); err != nil {
		return s.saslFail(err)
	}
	s.username = user
	if s.srv.unlimited[user+"@"+s.host.Name] {
		s.unlimitIn()
		if u, ok := s.t.(SizeUnlimiter); ok {
			u.UnlimitSize(s.srv.unlimitedSize)
		}
	}
	s.push(s.t.Frame(stanza.New(nsSASL, "success").AddText(encodeSASL(out))))
	s.setLogger(s.logger().With("user", user))
	s.logger().Info("authenticated")
	s.state = stateAwaitHeader
	return ActionRestart, nil
}

func encodeSASL(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return base64.StdEncoding.EncodeToString(b)
}

func (s *Session) saslFail(err error) (Action, error) {
	f := &auth.Failure{}
	if !errors.As(err, &f) {
		s.logger().Error("authentication backend failed", "err", err)
		f = &auth.Failure{Condition: "temporary-auth-failure"}
	} else if f.Err != nil {
		s.logger().Warn("authentication failed", "condition", f.Condition, "err", f.Err)
	}
	fe := stanza.New(nsSASL, "failure").Add(stanza.New(nsSASL, f.Condition))
	if f.Text != "" {
		fe.Add(stanza.New(nsSASL, "text").AddText(f.Text))
	}
	s.push(s.t.Frame(fe))
	if f.Condition == "aborted" {
		return ActionNone, nil
	}
	s.authFails++
	reason := f.Reason
	if reason == "" {
		reason = f.Condition
	}
	s.srv.metrics.authFailures.WithLabelValues(f.Condition, reason).Inc()
	if s.authFails >= maxAuthFailures {
		return ActionNone, streamErr(stream.PolicyViolation, "too many failed authentication attempts")
	}
	return ActionNone, nil
}

func (s *Session) handleBind(ctx context.Context, el *stanza.Element) error {
	if el.Name.Space == nsSM {
		if el.Name.Local == "resume" {
			s.resume(el)
		} else {
			s.push(s.t.Frame(smFailed("unexpected-request")))
		}
		return nil
	}
	if el.Name.Local != "iq" || el.Name.Space != stanza.NSClient {
		return streamErr(stream.NotAuthorized, "bind a resource first")
	}
	if el.Get("type") == "set" && el.Child(nsSession, "session") != nil {
		s.Send(iqResult(el))
		return nil
	}
	b := el.Child(nsBind, "bind")
	if b == nil || el.Get("type") != "set" {
		s.Send(errorReply(el, "cancel", "not-allowed", "bind a resource first"))
		return nil
	}
	res := b.ChildText(nsBind, "resource")
	if res == "" {
		res = randomID()
	}
	full, err := jid.New(s.username, s.host.Name, res)
	if err != nil {
		s.Send(errorReply(el, "modify", "bad-request", "invalid resource"))
		return nil
	}
	if err := s.srv.bind(ctx, s, full); err != nil {
		s.Send(errorReply(el, "cancel", "conflict", err.Error()))
		return nil
	}
	reply := iqResult(el)
	reply.Add(stanza.New(nsBind, "bind").Add(stanza.New(nsBind, "jid").AddText(full.String())))
	s.Send(reply)
	s.state = stateBound
	return nil
}

// appStreamError is a stream error with an application-specific condition
// element.
type appStreamError struct {
	base stream.Error
	app  *stanza.Element
}

func (e *appStreamError) Error() string { return e.base.Error() }
func (e *appStreamError) Unwrap() error { return e.base }

// errPeerStreamError ends a stream whose peer sent a stream error.
var errPeerStreamError = errors.New("server: the peer sent a stream error")

// errCloseQuietly ends the stream without a stream error (after a TLS
// <failure/>, which is itself the error report).
var errCloseQuietly = errors.New("server: close stream")

func streamErr(base stream.Error, text string) stream.Error {
	e := base
	if text != "" {
		e.Text = []struct {
			Lang  string
			Value string
		}{{Lang: "en", Value: text}}
	}
	return e
}

// streamErrorElement builds <stream:error/> for e.
func streamErrorElement(e stream.Error) *stanza.Element {
	el := stanza.New(stanza.NSStream, "error")
	el.Add(stanza.New(stanza.NSStreams, e.Err))
	if e.Err == stream.PolicyViolation.Err && len(e.Text) > 0 && e.Text[0].Value == "stanza too large" {
		// SECURITY-CASES 8: say which limit was hit.
		el.Add(stanza.New("urn:xmpp:errors", "stanza-too-big"))
	}
	for _, t := range e.Text {
		txt := stanza.New(stanza.NSStreams, "text").AddText(t.Value)
		if t.Lang != "" {
			txt.Attr = append(txt.Attr, langAttr(t.Lang))
		}
		el.Add(txt)
	}
	return el
}

// Fail closes the session with a stream error (written and flushed before
// the stream ends) or, for other errors, as an I/O failure.
func (s *Session) Fail(err error) {
	var se stream.Error
	switch {
	case errors.As(err, &se):
		s.logger().Info("stream error", "condition", se.Err, "text", fmt.Sprint(se.Text))
		s.closeWith(CloseStreamError, err, false)
	case errors.Is(err, errCloseQuietly):
		s.closeWith(CloseStreamError, nil, false)
	case errors.Is(err, errPeerStreamError):
		s.closeWith(ClosePeer, nil, false)
	default:
		s.closeWith(CloseIOError, nil, false)
	}
}

// Close ends the session with reason; a non-nil streamError is sent first.
func (s *Session) Close(reason CloseReason, streamError error) {
	s.closeWith(reason, streamError, false)
}

// closeWith records the first close reason, unregisters the session,
// broadcasts unavailable presence, and queues the final bytes.
func (s *Session) closeWith(reason CloseReason, streamError error, discard bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if transportLost(reason) && s.sm != nil && s.sm.resumable && !s.srv.isStopping() {
		if !s.hibernating {
			s.hibernate()
		}
		s.mu.Unlock()
		return
	}
	if s.hibernation != nil {
		s.hibernation.Stop()
	}
	s.closed = true
	s.reason = reason
	onClose := s.onClose
	s.onClose = nil
	s.mu.Unlock()
	s.srv.metrics.closes.WithLabelValues(string(reason)).Inc()
	s.logger().Debug("session closed", "reason", reason, "err", streamError)

	var final []byte
	var se stream.Error
	if discard {
		// The peer is not reading: nothing more can reach it.
	} else if errors.As(streamError, &se) {
		el := streamErrorElement(se)
		var ae *appStreamError
		if errors.As(streamError, &ae) {
			el.Add(ae.app)
		}
		final = append(final, s.t.StreamElement(el)...)
	}
	if reason != CloseIOError && reason != CloseTransportGone && !discard {
		final = append(final, s.t.Closing()...)
	}
	s.queue().close(final, discard)
	if a, ok := s.t.(Aborter); ok && discard {
		a.Abort()
	}
	if reason != CloseResumed {
		s.srv.unbind(s)
		s.bounceUnacked()
	}
	for _, f := range onClose {
		f()
	}
}

// OnClose registers f to run once when the session closes.
func (s *Session) OnClose(f func()) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		f()
		return
	}
	s.onClose = append(s.onClose, f)
	s.mu.Unlock()
}

// Reason returns the recorded close reason ("" while open).
func (s *Session) Reason() CloseReason {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

func isStreamError(err error) bool {
	var se stream.Error
	return errors.As(err, &se)
}

var connectionTimeout = stream.ConnectionTimeout
