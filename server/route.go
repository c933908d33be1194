package server

import (
	"context"
	"strconv"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stream"

	"github.com/parley-xmpp/parley/server/stanza"
)

// handleStanza processes a stanza from a bound client session: it checks the
// kind, stamps the session's full JID as the sender (RFC 6120 §8.1.2.1) and
// routes it.
func (s *Session) handleStanza(ctx context.Context, el *stanza.Element) error {
	if el.Name.Space == nsSM {
		return s.handleSM(ctx, el)
	}
	if el.Name.Space != stanza.NSClient {
		if h := s.host.nonza[el.Name.Space]; h != nil {
			return h(ctx, s, el)
		}
		return streamErr(stream.UnsupportedStanzaType, "unsupported element "+el.Name.Local)
	}
	switch el.Name.Local {
	case "message", "presence", "iq":
	default:
		return streamErr(stream.UnsupportedStanzaType, "unsupported element "+el.Name.Local)
	}
	s.countInbound()
	s.srv.metrics.countIn(el.Name.Local)
	full := s.JID()
	if from := el.Get("from"); from != "" {
		fj, err := jid.Parse(from)
		if err != nil || !(fj.Equal(full) || (fj.Resourcepart() == "" && fj.Equal(full.Bare()))) {
			return streamErr(stream.InvalidFrom, "the from address does not match the session")
		}
	}
	el.Set("from", full.String())
	if s.lang != "" && el.Lang() == "" {
		// Prosody stamps the stream's language on client stanzas.
		el.Attr = append(el.Attr, langAttr(s.lang))
	}
	if el.Name.Local == "iq" && !validIQ(el) {
		if t := el.Get("type"); t != "error" && t != "result" {
			s.Send(errorReply(el, "modify", "bad-request", "invalid iq"))
		}
		return nil
	}
	ev := &StanzaEvent{Session: s, Stanza: el}
	if err := s.host.Events.PreStanza.Fire(ctx, ev); err != nil {
		s.srv.replyHookError(ctx, el, err)
		return nil
	}
	if el.Name.Local == "presence" {
		if s.srv.presenceOut(ctx, s, el) {
			return nil
		}
	}
	if el.Get("to") == "" {
		el.Set("to", full.Bare().String())
	}
	s.srv.route(ctx, el)
	return nil
}

// validIQ checks RFC 6120 §8.2.3: an id, a known type, and exactly one
// payload for get and set.
func validIQ(el *stanza.Element) bool {
	if el.Get("id") == "" {
		return false
	}
	switch el.Get("type") {
	case "get", "set":
		return len(el.Elements()) == 1
	case "result", "error":
		return true
	}
	return false
}

// Route delivers a stanza from a trusted origin (a component or a module)
// whose from attribute is already correct.
func (srv *Server) Route(ctx context.Context, el *stanza.Element) {
	srv.route(ctx, el)
}

func (srv *Server) route(ctx context.Context, el *stanza.Element) {
	srv.metrics.stanzas.WithLabelValues(el.Name.Local).Inc()
	// Fast path for fan-out: a "to" that is exactly a bound full JID (as
	// components address occupants) needs no parsing.
	if s := srv.router.Session(el.Get("to")); s != nil {
		s.Send(el)
		return
	}
	to, err := jid.Parse(el.Get("to"))
	if err != nil {
		srv.bounce(ctx, el, "modify", "jid-malformed", "")
		return
	}
	domain := to.Domainpart()
	if c := srv.component(domain); c != nil {
		c.deliver(ctx, el)
		return
	}
	if h := srv.vhost(domain); h != nil {
		h.deliver(ctx, el, to)
		return
	}
	srv.bounce(ctx, el, "cancel", "remote-server-not-found", "server-to-server is not supported")
}

// bounce replies to el with a stanza error, unless el is itself an error
// or an IQ result (which never get replies).
func (srv *Server) bounce(ctx context.Context, el *stanza.Element, errType, cond, text string) {
	switch el.Get("type") {
	case "error", "result":
		return
	}
	if el.Get("from") == "" {
		return
	}
	srv.route(ctx, errorReply(el, errType, cond, text))
}

// replyHookError sends the reply a vetoing hook asked for.
func (srv *Server) replyHookError(ctx context.Context, el *stanza.Element, err error) {
	if se, ok := asStanzaError(err); ok {
		switch el.Get("type") {
		case "error", "result":
			return
		}
		srv.route(ctx, se.Reply(el))
		return
	}
	if !isStop(err) {
		srv.log.Error("hook failed", "err", err)
		srv.bounce(ctx, el, "wait", "internal-server-error", "")
	}
}

// deliver implements RFC 6121 §8.5 for a stanza addressed to this host.
func (h *Host) deliver(ctx context.Context, el *stanza.Element, to jid.JID) {
	switch {
	case to.Localpart() == "" && to.Resourcepart() == "":
		h.deliverToHost(ctx, el)
	case to.Resourcepart() == "":
		h.deliverToBare(ctx, el, to)
	default:
		h.deliverToFull(ctx, el, to)
	}
}

func (h *Host) deliverToHost(ctx context.Context, el *stanza.Element) {
	switch el.Name.Local {
	case "iq":
		h.handleIQ(ctx, el, h.iq)
	case "message":
		if !h.fireHostMessage(ctx, el) {
			switch el.Get("type") {
			case "error", "groupchat", "headline":
			default:
				h.srv.bounce(ctx, el, "cancel", "service-unavailable", "")
			}
		}
	}
}

func (h *Host) fireHostMessage(ctx context.Context, el *stanza.Element) bool {
	ev := &StanzaEvent{Stanza: el}
	err := h.Events.MessageToHost.Fire(ctx, ev)
	if err == nil {
		return false
	}
	h.srv.replyHookError(ctx, el, err)
	return true
}

func (h *Host) deliverToBare(ctx context.Context, el *stanza.Element, to jid.JID) {
	bare := to.String()
	switch el.Name.Local {
	case "iq":
		from, _ := jid.Parse(el.Get("from"))
		if from.Bare().Equal(to) {
			h.handleIQ(ctx, el, h.ownIQ)
			return
		}
		h.handleIQ(ctx, el, h.bareIQ)
	case "message":
		sessions := h.srv.router.Sessions(bare)
		targets := topPriority(sessions, el.Get("type") == "headline")
		if len(targets) == 0 {
			switch el.Get("type") {
			case "error", "headline":
			default:
				h.srv.bounce(ctx, el, "cancel", "service-unavailable", "")
			}
			return
		}
		for _, s := range targets {
			s.Send(el)
		}
	case "presence":
		switch el.Get("type") {
		case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
			h.srv.presenceSubscriptionIn(ctx, h, el, to)
		case "probe":
			h.srv.presenceProbe(ctx, h, el, to)
		default:
			for _, s := range h.srv.router.Sessions(bare) {
				if s.isAvailable() {
					s.Send(el)
				}
			}
		}
	}
}

func (h *Host) deliverToFull(ctx context.Context, el *stanza.Element, to jid.JID) {
	if s := h.srv.router.Session(to.String()); s != nil {
		s.Send(el)
		return
	}
	switch el.Name.Local {
	case "iq":
		h.srv.bounce(ctx, el, "cancel", "service-unavailable", "")
	case "message":
		switch el.Get("type") {
		case "", "normal", "chat":
			h.deliverToBare(ctx, el, to.Bare())
		case "groupchat":
			h.srv.bounce(ctx, el, "cancel", "service-unavailable", "")
		}
	case "presence":
		switch el.Get("type") {
		case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
			h.deliverToBare(ctx, el, to.Bare())
		}
	}
}

// topPriority picks the available sessions with the highest non-negative
// priority (RFC 6121 §8.5.2.1.1); all non-negative ones for headlines.
func topPriority(sessions []*Session, all bool) []*Session {
	best := -1
	var out []*Session
	for _, s := range sessions {
		avail, prio := s.presenceState()
		if !avail || prio < 0 {
			continue
		}
		switch {
		case all:
			out = append(out, s)
		case prio > best:
			best = prio
			out = append(out[:0], s)
		case prio == best:
			out = append(out, s)
		}
	}
	return out
}

func (s *Session) isAvailable() bool {
	a, _ := s.presenceState()
	return a
}

func (s *Session) presenceState() (bool, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.available, s.priority
}

func parsePriority(el *stanza.Element) int {
	p, err := strconv.Atoi(el.ChildText("", "priority"))
	if err != nil || p < -128 || p > 127 {
		return 0
	}
	return p
}

// handleIQ dispatches an IQ get/set to the handler registered for its
// payload; results and errors for the server are dropped.
func (h *Host) handleIQ(ctx context.Context, el *stanza.Element, table *iqTable) {
	typ := el.Get("type")
	if typ != "get" && typ != "set" {
		ev := &StanzaEvent{Stanza: el}
		if err := h.Events.IQResponse.Fire(ctx, ev); err != nil && !isStop(err) {
			h.srv.log.Error("iq response hook failed", "err", err)
		}
		return
	}
	payload := el.FirstElement()
	if payload == nil {
		h.srv.bounce(ctx, el, "modify", "bad-request", "")
		return
	}
	handler := table.lookup(typ, payload.Name.Space, payload.Name.Local)
	if handler == nil {
		h.srv.bounce(ctx, el, "cancel", "service-unavailable", "")
		return
	}
	reply, err := handler(ctx, &IQ{Host: h, Stanza: el, Payload: payload})
	if err != nil {
		h.srv.replyHookError(ctx, el, err)
		return
	}
	if reply != nil {
		h.srv.route(ctx, reply)
	}
}
