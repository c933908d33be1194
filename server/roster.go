package server

import (
	"context"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/server/stanza"
	"github.com/parley-xmpp/parley/server/storage"
)

// The roster of RFC 6121 §2 and the subscription state machine of §3,
// stored in Prosody's roster format.

func (h *Host) registerRoster() {
	h.HandleOwnIQ("get", NSRoster, "query", h.rosterGet)
	h.HandleOwnIQ("set", NSRoster, "query", h.rosterSet)
}

func rosterItemElement(cj string, it *storage.RosterItem) *stanza.Element {
	el := stanza.New(NSRoster, "item").Set("jid", cj)
	el.Set("name", it.Name)
	sub := it.Subscription
	if sub == "" {
		sub = "none"
	}
	el.Set("subscription", sub)
	if it.Ask == "subscribe" {
		el.Set("ask", "subscribe")
	}
	for _, g := range it.Groups {
		el.Add(stanza.New(NSRoster, "group").AddText(g))
	}
	return el
}

func (h *Host) rosterGet(ctx context.Context, iq *IQ) (*stanza.Element, error) {
	from, _ := jid.Parse(iq.Stanza.Get("from"))
	if s := h.srv.router.Session(from.String()); s != nil {
		s.mu.Lock()
		s.interested = true
		s.mu.Unlock()
	}
	r, err := h.loadRoster(ctx, from.Localpart())
	if err != nil {
		return nil, err
	}
	q := stanza.New(NSRoster, "query")
	if r != nil {
		q.Set("ver", r.Version)
		for cj, it := range r.Items {
			q.Add(rosterItemElement(cj, it))
		}
	}
	return iq.Result().Add(q), nil
}

func (h *Host) rosterSet(ctx context.Context, iq *IQ) (*stanza.Element, error) {
	from, _ := jid.Parse(iq.Stanza.Get("from"))
	items := iq.Payload.Elements()
	if len(items) != 1 || items[0].Name.Local != "item" {
		return nil, &StanzaError{Type: "modify", Condition: "bad-request", Text: "exactly one item is required"}
	}
	item := items[0]
	cj, err := jid.Parse(item.Get("jid"))
	if err != nil {
		return nil, &StanzaError{Type: "modify", Condition: "jid-malformed"}
	}
	contact := cj.String()
	if cj.Bare().Equal(from.Bare()) {
		return nil, &StanzaError{Type: "cancel", Condition: "not-allowed", Text: "cannot add yourself"}
	}
	user := from.Localpart()
	bare := from.Bare().String()
	var removed *storage.RosterItem
	err = h.updateRoster(ctx, user, func(r *storage.Roster) (string, bool) {
		if item.Get("subscription") == "remove" {
			removed = r.Items[contact]
			if removed == nil {
				return "", false
			}
			delete(r.Items, contact)
			return contact, true
		}
		it := r.Items[contact]
		if it == nil {
			it = &storage.RosterItem{JID: contact, Subscription: "none"}
			r.Items[contact] = it
		}
		it.Name = item.Get("name")
		it.Groups = nil
		for _, g := range item.Elements() {
			if g.Name.Local == "group" && g.Text() != "" {
				it.Groups = append(it.Groups, g.Text())
			}
		}
		return contact, true
	})
	if err != nil {
		return nil, err
	}
	if removed != nil {
		if removed.Subscription == "to" || removed.Subscription == "both" || removed.Ask == "subscribe" {
			h.srv.route(ctx, presenceOf("unsubscribe", bare, contact))
		}
		if removed.Subscription == "from" || removed.Subscription == "both" {
			h.srv.route(ctx, presenceOf("unsubscribed", bare, contact))
			h.srv.sendCurrentPresence(ctx, bare, contact, true)
		}
	}
	return iq.Result(), nil
}

func presenceOf(typ, from, to string) *stanza.Element {
	return stanza.New(stanza.NSClient, "presence").Set("type", typ).Set("from", from).Set("to", to)
}

// updateRoster applies change to user's roster under the host's roster
// lock, saves it and pushes the changed item to interested resources.
// change returns the changed contact and whether anything changed.
func (h *Host) updateRoster(ctx context.Context, user string, change func(r *storage.Roster) (string, bool)) error {
	if h.Store == nil {
		return &StanzaError{Type: "cancel", Condition: "service-unavailable"}
	}
	h.rosterMu.Lock()
	r, err := storage.LoadRoster(ctx, h.Store, h.Name, user)
	if err != nil {
		h.rosterMu.Unlock()
		return err
	}
	contact, changed := change(r)
	if !changed {
		h.rosterMu.Unlock()
		return nil
	}
	r.IncrementVersion()
	err = storage.SaveRoster(ctx, h.Store, h.Name, user, r)
	h.rosterMu.Unlock()
	if err != nil {
		return err
	}
	if contact != "" {
		h.pushRoster(user, r, contact)
	}
	return nil
}

// pushRoster sends a roster push for contact to every interested session.
func (h *Host) pushRoster(user string, r *storage.Roster, contact string) {
	bare := user + "@" + h.Name
	q := stanza.New(NSRoster, "query").Set("ver", r.Version)
	if it := r.Items[contact]; it != nil {
		q.Add(rosterItemElement(contact, it))
	} else {
		q.Add(stanza.New(NSRoster, "item").Set("jid", contact).Set("subscription", "remove"))
	}
	for _, s := range h.srv.router.Sessions(bare) {
		s.mu.Lock()
		interested, full := s.interested, s.full
		s.mu.Unlock()
		if !interested {
			continue
		}
		push := stanza.New(stanza.NSClient, "iq").Set("type", "set").Set("id", "push"+randomID())
		push.Set("to", full.String())
		s.Send(push.Add(q))
	}
}

// presenceSubscriptionOut applies RFC 6121 §3 to the sender's roster and
// routes the request with bare addresses.
func (srv *Server) presenceSubscriptionOut(ctx context.Context, s *Session, el *stanza.Element) {
	to, err := jid.Parse(el.Get("to"))
	if err != nil {
		s.Send(errorReply(el, "modify", "jid-malformed", ""))
		return
	}
	contact := to.Bare().String()
	full := s.JID()
	bare := full.Bare().String()
	typ := el.Get("type")
	var sendPresence, sendUnavailable bool
	err = s.host.updateRoster(ctx, full.Localpart(), func(r *storage.Roster) (string, bool) {
		it := r.Items[contact]
		switch typ {
		case "subscribe":
			if it == nil {
				it = &storage.RosterItem{JID: contact, Subscription: "none"}
				r.Items[contact] = it
			}
			if it.Subscription == "to" || it.Subscription == "both" || it.Ask == "subscribe" {
				return "", false
			}
			it.Ask = "subscribe"
			return contact, true
		case "subscribed":
			pending := r.Pending[contact]
			delete(r.Pending, contact)
			if it == nil {
				if !pending {
					return "", false
				}
				it = &storage.RosterItem{JID: contact, Subscription: "none"}
				r.Items[contact] = it
			}
			switch it.Subscription {
			case "", "none":
				it.Subscription = "from"
			case "to":
				it.Subscription = "both"
			default:
				return "", pending
			}
			sendPresence = true
			return contact, true
		case "unsubscribe":
			if it == nil {
				return "", false
			}
			it.Ask = ""
			switch it.Subscription {
			case "to":
				it.Subscription = "none"
			case "both":
				it.Subscription = "from"
			}
			return contact, true
		case "unsubscribed":
			pending := r.Pending[contact]
			delete(r.Pending, contact)
			if it == nil {
				return "", pending
			}
			switch it.Subscription {
			case "from":
				it.Subscription = "none"
			case "both":
				it.Subscription = "to"
			default:
				return "", pending
			}
			sendUnavailable = true
			return contact, true
		}
		return "", false
	})
	if err != nil {
		s.logger().Error("roster update failed", "err", err)
	}
	out := stanza.New(stanza.NSClient, "presence").Set("type", typ).Set("from", bare).Set("to", contact)
	srv.route(ctx, out)
	if sendPresence {
		srv.sendCurrentPresence(ctx, bare, contact, false)
	}
	if sendUnavailable {
		srv.sendCurrentPresence(ctx, bare, contact, true)
	}
}

// presenceSubscriptionIn applies RFC 6121 §3 on the contact's side and
// delivers the request to the contact's available resources.
func (srv *Server) presenceSubscriptionIn(ctx context.Context, h *Host, el *stanza.Element, to jid.JID) {
	from, err := jid.Parse(el.Get("from"))
	if err != nil || h.Store == nil {
		return
	}
	peer := from.Bare().String()
	user := to.Localpart()
	bare := to.String()
	typ := el.Get("type")
	deliver := false
	autoReply := false
	err = h.updateRoster(ctx, user, func(r *storage.Roster) (string, bool) {
		it := r.Items[peer]
		switch typ {
		case "subscribe":
			if it != nil && (it.Subscription == "from" || it.Subscription == "both") {
				autoReply = true
				return "", false
			}
			deliver = true
			if r.Pending[peer] {
				return "", false
			}
			r.Pending[peer] = true
			return "", true
		case "subscribed":
			if it == nil || it.Ask != "subscribe" {
				return "", false
			}
			it.Ask = ""
			switch it.Subscription {
			case "", "none":
				it.Subscription = "to"
			case "from":
				it.Subscription = "both"
			}
			deliver = true
			return peer, true
		case "unsubscribe":
			pending := r.Pending[peer]
			delete(r.Pending, peer)
			if it == nil || (it.Subscription != "from" && it.Subscription != "both") {
				return "", pending
			}
			if it.Subscription == "from" {
				it.Subscription = "none"
			} else {
				it.Subscription = "to"
			}
			deliver = true
			return peer, true
		case "unsubscribed":
			if it == nil || (it.Subscription != "to" && it.Subscription != "both" && it.Ask == "") {
				return "", false
			}
			it.Ask = ""
			switch it.Subscription {
			case "to":
				it.Subscription = "none"
			case "both":
				it.Subscription = "from"
			}
			deliver = true
			return peer, true
		}
		return "", false
	})
	if err != nil {
		srv.log.Error("roster update failed", "host", h.Name, "err", err)
		return
	}
	if autoReply {
		srv.route(ctx, presenceOf("subscribed", bare, peer))
		return
	}
	if !deliver {
		return
	}
	in := stanza.New(stanza.NSClient, "presence").Set("type", typ).Set("from", peer).Set("to", bare)
	for _, s := range srv.router.Sessions(bare) {
		if s.isAvailable() {
			s.Send(in)
		}
	}
}
