package server

import (
	"context"
	"strconv"
	"time"

	"mellium.im/xmpp/stream"

	"github.com/parley-xmpp/parley/server/stanza"
)

// XEP-0198 stream management, in the transport-independent core so that a
// session can resume on any transport.

const nsSM = "urn:xmpp:sm:3"

// smOptions are Prosody's mod_smacks settings.
type smOptions struct {
	hibernation time.Duration // smacks_hibernation_time
	maxUnacked  int           // smacks_max_unacked_stanzas: ask for an ack above this
	maxQueue    int           // smacks_max_queue_size: more unacked stanzas end the session
	maxOld      int           // smacks_max_old_sessions: expired ids still answered with h
}

func defaultSMOptions() smOptions {
	return smOptions{hibernation: 10 * time.Minute, maxUnacked: 0, maxQueue: 500, maxOld: 1000}
}

type smItem struct {
	seq uint32
	el  *stanza.Element
}

// smState is a session's stream management state, guarded by Session.mu.
// On resumption it moves to the new session.
type smState struct {
	id          string // resumption id; "" when not resumable
	resumable   bool
	in          uint32 // stanzas handled from the client (our h)
	out         uint32 // stanzas sent to the client
	unacked     []smItem
	awaitingAck bool
}

// sent records an outgoing stanza; it reports whether the unacked queue
// overflowed and whether to ask the client for an ack.
func (sm *smState) sent(el *stanza.Element, o smOptions) (overflow, requestAck bool) {
	if !isCountedStanza(el) {
		return false, false
	}
	sm.out++
	sm.unacked = append(sm.unacked, smItem{seq: sm.out, el: el})
	if len(sm.unacked) > o.maxQueue {
		return true, false
	}
	if len(sm.unacked) > o.maxUnacked && !sm.awaitingAck {
		sm.awaitingAck = true
		return false, true
	}
	return false, false
}

// ack drops stanzas the client acknowledged with h. It reports false when h
// acknowledges more than was sent.
func (sm *smState) ack(h uint32) bool {
	if int32(h-sm.out) > 0 {
		return false
	}
	n := 0
	for _, it := range sm.unacked {
		if int32(it.seq-h) <= 0 {
			n++
			continue
		}
		break
	}
	clear(sm.unacked[:n])
	sm.unacked = sm.unacked[n:]
	return true
}

func isCountedStanza(el *stanza.Element) bool {
	switch el.Name.Local {
	case "message", "presence", "iq":
		return el.Name.Space == stanza.NSClient || el.Name.Space == "" || el.Name.Space == stanza.NSComponent || el.Name.Space == stanza.NSServer
	}
	return false
}

func parseH(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil
}

func smFailed(cond string) *stanza.Element {
	return stanza.New(nsSM, "failed").Add(stanza.New(stanza.NSStanzas, cond))
}

// countInbound counts a stanza from the client for our h.
func (s *Session) countInbound() {
	s.mu.Lock()
	if s.sm != nil {
		s.sm.in++
	}
	s.mu.Unlock()
}

// handleSM handles enable, r and a on a bound session.
func (s *Session) handleSM(_ context.Context, el *stanza.Element) error {
	switch el.Name.Local {
	case "enable":
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.sm != nil {
			s.queue().push(s.t.Frame(smFailed("unexpected-request")))
			return nil
		}
		sm := &smState{resumable: el.Get("resume") == "true" || el.Get("resume") == "1"}
		enabled := stanza.New(nsSM, "enabled")
		if sm.resumable {
			sm.id = randomID() + randomID()
			s.srv.smRegister(sm.id, s)
			enabled.Set("id", sm.id).Set("resume", "true")
			enabled.Set("max", strconv.Itoa(int(s.srv.smOpts.hibernation.Seconds())))
		}
		s.sm = sm
		s.queue().push(s.t.Frame(enabled))
		return nil
	case "r":
		s.mu.Lock()
		var h uint32
		if s.sm != nil {
			h = s.sm.in
		}
		enabled := s.sm != nil
		s.mu.Unlock()
		if enabled {
			s.push(s.t.Frame(stanza.New(nsSM, "a").Set("h", strconv.FormatUint(uint64(h), 10))))
		}
		return nil
	case "a":
		h, ok := parseH(el.Get("h"))
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.sm == nil {
			return nil
		}
		if !ok || !s.sm.ack(h) {
			// SECURITY-CASES 168.
			app := stanza.New(nsSM, "handled-count-too-high").Set("h", el.Get("h"))
			app.Set("send-count", strconv.FormatUint(uint64(s.sm.out), 10))
			return &appStreamError{base: streamErr(stream.UndefinedCondition, "acknowledged more stanzas than were sent"), app: app}
		}
		s.sm.awaitingAck = false
		return nil
	case "resume":
		s.push(s.t.Frame(smFailed("unexpected-request")))
		return nil
	}
	return streamErr(stream.UnsupportedStanzaType, "unknown stream management element")
}

// hibernate keeps the session alive without a transport, waiting for a
// resumption. Called with s.mu held.
func (s *Session) hibernate() {
	s.hibernating = true
	s.logger().Info("connection lost, session hibernating", "unacked", len(s.sm.unacked), "for", s.srv.smOpts.hibernation)
	s.hibernation = time.AfterFunc(s.srv.smOpts.hibernation, func() {
		s.closeWith(CloseHibernation, nil, false)
	})
	s.queue().close(nil, false)
}

// transportLost reports whether a close reason means only the connection
// went away (so a resumable session hibernates instead of ending).
func transportLost(r CloseReason) bool {
	return r == CloseTransportGone || r == CloseIOError || r == CloseIdle
}

// resume handles <resume/> on an authenticated, unbound session: it takes
// over the hibernated (or still connected) session with that id.
func (s *Session) resume(el *stanza.Element) {
	previd := el.Get("previd")
	h, ok := parseH(el.Get("h"))
	old := s.srv.smLookup(previd)
	if !ok || old == nil || old == s {
		f := smFailed("item-not-found")
		if oldH, found := s.srv.smExpired(previd); found {
			f.Set("h", strconv.FormatUint(uint64(oldH), 10))
		}
		s.push(s.t.Frame(f))
		return
	}
	old.mu.Lock()
	if old.closed || old.movedTo != nil || old.sm == nil || old.username != s.username || old.host != s.host {
		old.mu.Unlock()
		s.push(s.t.Frame(smFailed("item-not-found")))
		return
	}
	if !old.sm.ack(h) {
		old.mu.Unlock()
		s.push(s.t.Frame(smFailed("undefined-condition")))
		return
	}
	if old.hibernation != nil {
		old.hibernation.Stop()
	}
	sm := old.sm
	sm.awaitingAck = false
	s.mu.Lock()
	s.full, s.bare = old.full, old.bare
	s.available, s.priority, s.presence = old.available, old.priority, old.presence
	s.directed, s.interested = old.directed, old.interested
	s.sm = sm
	resumed := stanza.New(nsSM, "resumed").Set("previd", previd).Set("h", strconv.FormatUint(uint64(sm.in), 10))
	s.queue().push(s.t.Frame(resumed))
	for _, it := range sm.unacked {
		s.queue().push(s.t.Frame(it.el))
	}
	replayed := len(sm.unacked)
	s.mu.Unlock()
	wasHibernating := old.hibernating
	old.movedTo = s
	old.closed = true
	old.reason = CloseResumed
	old.sm = nil
	onClose := old.onClose
	old.onClose = nil
	old.mu.Unlock()

	s.srv.router.Bind(s.full.String(), s.bare, s)
	s.srv.smRegister(previd, s)
	s.srv.metrics.closes.WithLabelValues(string(CloseResumed)).Inc()
	if !wasHibernating {
		final := old.t.StreamElement(streamErrorElement(streamErr(stream.Conflict, "replaced by a resumed session")))
		old.queue().close(append(final, old.t.Closing()...), false)
	}
	for _, f := range onClose {
		f()
	}
	s.state = stateBound
	s.setLogger(s.logger().With("jid", s.full.String()))
	s.logger().Info("session resumed", "replayed", replayed)
	// The account may have been deleted or disabled since this stream
	// authenticated, and a deletion that ran while the old session was
	// being taken over found neither in the router: read it again now
	// that this one is there (SECURITY-CASES 40).
	_ = checkAccountOnBind(s.srv.ctx, &SessionEvent{Session: s})
}

// bounceUnacked answers stanzas the client never acknowledged once the
// session has really ended: messages and IQ requests get
// recipient-unavailable errors; presence is dropped.
func (s *Session) bounceUnacked() {
	s.mu.Lock()
	sm := s.sm
	s.sm = nil
	s.mu.Unlock()
	if sm == nil {
		return
	}
	if sm.id != "" {
		s.srv.smForget(sm.id, s, sm.in)
	}
	ctx := s.srv.ctx
	for _, it := range sm.unacked {
		switch it.el.Name.Local {
		case "message":
			switch it.el.Get("type") {
			case "error", "groupchat", "headline":
				continue
			}
		case "iq":
			if t := it.el.Get("type"); t != "get" && t != "set" {
				continue
			}
		default:
			continue
		}
		s.srv.bounce(ctx, it.el, "cancel", "recipient-unavailable", "the recipient's session ended")
	}
}

// UsernameForResumption returns the username of the session on host whose
// stream management id is previd, for providers that keep a user's identity
// across reconnections (Jitsi's previd). A session of another VirtualHost
// never lends its username.
func (srv *Server) UsernameForResumption(host, previd string) (string, bool) {
	s := srv.smLookup(previd)
	if s == nil || s.host == nil || s.host.Name != host {
		return "", false
	}
	return s.username, true
}

func (srv *Server) smRegister(id string, s *Session) {
	srv.smMu.Lock()
	defer srv.smMu.Unlock()
	srv.smSessions[id] = s
}

func (srv *Server) smLookup(id string) *Session {
	srv.smMu.Lock()
	defer srv.smMu.Unlock()
	return srv.smSessions[id]
}

// smForget drops a finished session's id, remembering its h for a while so
// a late <resume/> learns what arrived.
func (srv *Server) smForget(id string, s *Session, h uint32) {
	srv.smMu.Lock()
	defer srv.smMu.Unlock()
	if srv.smSessions[id] == s {
		delete(srv.smSessions, id)
	}
	if len(srv.smOld) >= srv.smOpts.maxOld {
		for k := range srv.smOld {
			delete(srv.smOld, k)
			break
		}
	}
	srv.smOld[id] = h
}

func (srv *Server) smExpired(id string) (uint32, bool) {
	srv.smMu.Lock()
	defer srv.smMu.Unlock()
	h, ok := srv.smOld[id]
	return h, ok
}

func (srv *Server) isStopping() bool {
	srv.lmu.Lock()
	defer srv.lmu.Unlock()
	return srv.stopping
}
