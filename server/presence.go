package server

import (
	"context"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/server/stanza"
	"github.com/parley-xmpp/parley/server/storage"
)

// presenceOut handles presence a client sends. It reports true when the
// stanza was fully handled here (a broadcast); false means route it.
func (srv *Server) presenceOut(ctx context.Context, s *Session, el *stanza.Element) bool {
	typ := el.Get("type")
	to := el.Get("to")
	switch typ {
	case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
		if to == "" {
			return true
		}
		srv.presenceSubscriptionOut(ctx, s, el)
		return true
	case "", "unavailable":
	default:
		return to == "" // probes and errors need an address
	}
	if to != "" {
		s.trackDirected(ctx, to, typ == "")
		return false
	}
	srv.broadcastPresence(ctx, s, el)
	return true
}

// trackDirected remembers directed available presence so that the peer
// (a MUC room, typically) hears of the session's end.
func (s *Session) trackDirected(ctx context.Context, to string, available bool) {
	j, err := jid.Parse(to)
	if err != nil {
		return
	}
	key := j.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	if available {
		if s.directed == nil {
			s.directed = map[string]struct{}{}
		}
		s.directed[key] = struct{}{}
	} else {
		delete(s.directed, key)
	}
}

// broadcastPresence sends the session's presence to its own resources and
// to contacts subscribed to it (RFC 6121 §4.2, §4.4).
func (srv *Server) broadcastPresence(ctx context.Context, s *Session, el *stanza.Element) {
	available := el.Get("type") == ""
	s.mu.Lock()
	wasAvailable := s.available
	s.available = available
	s.priority = parsePriority(el)
	s.presence = el.Copy()
	full, bare := s.full, s.bare
	var directed []string
	if !available {
		for d := range s.directed {
			directed = append(directed, d)
		}
		s.directed = nil
	}
	s.mu.Unlock()

	for _, o := range srv.router.Sessions(bare) {
		if o == s || o.isAvailable() {
			c := el.ShallowCopy()
			c.Set("to", o.JID().String())
			o.Send(c)
		}
	}
	roster, err := s.host.loadRoster(ctx, full.Localpart())
	if err != nil {
		s.logger().Error("roster load failed", "err", err)
	}
	if roster != nil {
		for cj, item := range roster.Items {
			if item.Subscription == "from" || item.Subscription == "both" {
				c := el.ShallowCopy()
				c.Set("to", cj)
				srv.route(ctx, c)
			}
		}
		if available && !wasAvailable {
			for cj, item := range roster.Items {
				if item.Subscription == "to" || item.Subscription == "both" {
					probe := stanza.New(stanza.NSClient, "presence").Set("type", "probe")
					probe.Set("from", bare).Set("to", cj)
					srv.route(ctx, probe)
				}
			}
			for pj := range roster.Pending {
				req := stanza.New(stanza.NSClient, "presence").Set("type", "subscribe")
				req.Set("from", pj).Set("to", bare)
				s.Send(req)
			}
		}
	}
	for _, d := range directed {
		c := el.ShallowCopy()
		c.Set("to", d)
		srv.route(ctx, c)
	}
}

// presenceGone announces that a session ended: unavailable presence to
// contacts and directed-presence peers if it was online (RFC 6121 §4.6).
func (srv *Server) presenceGone(ctx context.Context, s *Session) {
	s.mu.Lock()
	available := s.available
	hasDirected := len(s.directed) > 0
	full := s.full
	s.mu.Unlock()
	if !available && !hasDirected {
		return
	}
	un := stanza.New(stanza.NSClient, "presence").Set("type", "unavailable").Set("from", full.String())
	if available {
		srv.broadcastPresence(ctx, s, un)
		return
	}
	s.mu.Lock()
	var directed []string
	for d := range s.directed {
		directed = append(directed, d)
	}
	s.directed = nil
	s.mu.Unlock()
	for _, d := range directed {
		c := un.ShallowCopy()
		c.Set("to", d)
		srv.route(ctx, c)
	}
}

// presenceProbe answers a probe with the current presence of every
// available resource, if the prober is subscribed (RFC 6121 §4.3.2).
func (srv *Server) presenceProbe(ctx context.Context, h *Host, el *stanza.Element, to jid.JID) {
	from, err := jid.Parse(el.Get("from"))
	if err != nil {
		return
	}
	roster, err := h.loadRoster(ctx, to.Localpart())
	if err != nil || roster == nil {
		return
	}
	item := roster.Items[from.Bare().String()]
	if item == nil || (item.Subscription != "from" && item.Subscription != "both") {
		return
	}
	for _, s := range srv.router.Sessions(to.String()) {
		s.mu.Lock()
		p := s.presence
		avail := s.available
		s.mu.Unlock()
		if !avail || p == nil {
			continue
		}
		c := p.ShallowCopy()
		c.Set("to", from.String())
		srv.route(ctx, c)
	}
}

// sendCurrentPresence sends every available resource's presence of user
// to a contact who just got a subscription.
func (srv *Server) sendCurrentPresence(ctx context.Context, bare, to string, unavailable bool) {
	for _, s := range srv.router.Sessions(bare) {
		s.mu.Lock()
		p, avail, full := s.presence, s.available, s.full
		s.mu.Unlock()
		if !avail || p == nil {
			continue
		}
		var c *stanza.Element
		if unavailable {
			c = stanza.New(stanza.NSClient, "presence").Set("type", "unavailable").Set("from", full.String())
		} else {
			c = p.ShallowCopy()
		}
		c.Set("to", to)
		srv.route(ctx, c)
	}
}

// loadRoster returns the user's roster, or an empty one.
func (h *Host) loadRoster(ctx context.Context, user string) (*storage.Roster, error) {
	if h.Store == nil || user == "" {
		return nil, nil
	}
	return storage.LoadRoster(ctx, h.Store, h.Name, user)
}
