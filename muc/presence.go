package muc

import (
	"context"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/server/stanza"
)

// dispatch handles one stanza for an existing room (the room is held).
func (r *Room) dispatch(ctx context.Context, el *stanza.Element, from, to jid.JID) {
	ev := &StanzaEvent{Room: r, Stanza: el, From: from, To: to}
	if err := r.svc.Events.Stanza.Fire(ctx, ev); err != nil {
		r.veto(ctx, "muc-stanza", el, err)
		return
	}
	full := to.Resourcepart() != ""
	switch el.Name.Local {
	case "presence":
		if full {
			r.handlePresenceToOccupant(ctx, el, from, to)
		} else {
			r.handlePresenceToRoom(ctx, el, from)
		}
	case "message":
		if full {
			r.handleMessageToOccupant(ctx, el, from, to)
		} else {
			r.handleMessageToRoom(ctx, el, from)
		}
	case "iq":
		if full {
			r.handleIQToOccupant(ctx, el, from, to)
		} else {
			r.handleIQToRoom(ctx, el, from)
		}
	}
}

// veto sends the reply a vetoing hook asked for (at most one).
func (r *Room) veto(_ context.Context, chain string, el *stanza.Element, err error) {
	kind, rep := classify(err, el)
	switch kind {
	case vetoNone:
		return
	case vetoInternal:
		r.svc.log.Error("hook failed", "hook", chain, "room", r.jid, "err", err)
	}
	r.svc.met.veto(chain)
	if rep == nil {
		return
	}
	if t := el.Get("type"); t == "error" || (el.Name.Local == "iq" && t == "result") {
		return
	}
	r.Send(rep)
}

// replyError queues an error reply to el unless el is an error itself.
func (r *Room) replyError(el *stanza.Element, d *Deny) {
	if t := el.Get("type"); t == "error" || (el.Name.Local == "iq" && t == "result") {
		return
	}
	r.Send(d.Reply(el))
}

// newOccupant returns an occupant for a user about to join, with the
// default role for its affiliation.
func (r *Room) newOccupant(bare, nick string) *Occupant {
	o := newOccupant(r.jid, nick, bare)
	o.Role = r.DefaultRole(r.Affiliation(bare))
	return o
}

// firstPresence creates the room for its first join (the room is new,
// tracked and held).
func (r *Room) firstPresence(ctx context.Context, el *stanza.Element, from, to jid.JID) {
	s := r.svc
	if err := s.Events.RoomPreCreate.Fire(ctx, &RoomCreateEvent{Room: r, Stanza: el, From: from}); err != nil {
		r.veto(ctx, "muc-room-pre-create", el, err)
		s.forget(r)
		return
	}
	real := from.String()
	occ := r.newOccupant(from.Bare().String(), to.Resourcepart())
	origJID := occ.JID
	jev := &JoinEvent{Room: r, Stanza: el, From: from, Occupant: occ, IsNewRoom: true, IsFirstSession: true}
	if err := s.Events.OccupantPreJoin.Fire(ctx, jev); err != nil {
		kind, _ := classify(err, el)
		r.veto(ctx, "muc-occupant-pre-join", el, err)
		if kind != vetoSilent && !r.HasOccupants() {
			// Prosody keeps the empty room; we drop it, since
			// muc-room-created never fired for it.
			s.forget(r)
		}
		return
	}
	x := userX()
	addStatus(x, "201")
	if r.config.Whois == WhoisAnyone {
		addStatus(x, "100")
	}
	if occ.JID != origJID || nickPrepared(ctx) {
		addStatus(x, "210")
	}
	occ.setSession(real, el, false)
	r.saveOccupant(occ)
	s.met.joins.Inc()
	r.publicise(ctx, occ, xset{base: x}, publishOpts{})
	r.fireJoined(ctx, occ, el)
	r.sessionNew(ctx, real, el)
	if err := s.Events.RoomCreated.Fire(ctx, &RoomCreateEvent{Room: r, Stanza: el, From: from}); err != nil {
		s.log.Error("muc-room-created hook failed", "room", r.jid, "err", err)
	}
}

// HandlePresence processes a presence stanza addressed to an occupant JID
// of the room as if it had just arrived. Jitsi's jicofo lock and rate
// limiter use it to replay the joins they held back.
func (r *Room) HandlePresence(ctx context.Context, el *stanza.Element) {
	from, err1 := jid.Parse(el.Get("from"))
	to, err2 := jid.Parse(el.Get("to"))
	if err1 != nil || err2 != nil || r.gone {
		return
	}
	r.handlePresenceToOccupant(ctx, el, from, to)
}

func (r *Room) handlePresenceToRoom(ctx context.Context, el *stanza.Element, from jid.JID) {
	if cur := r.byReal[from.String()]; cur != "" {
		to, err := jid.Parse(cur)
		if err != nil {
			return
		}
		el.Set("to", cur)
		r.handlePresenceToOccupant(ctx, el, from, to)
		return
	}
	if isJoin(el) {
		// SECURITY-CASES 127: joining needs a nick.
		r.replyError(el, deny("modify", "jid-malformed", "", r.jid))
	}
}

func (r *Room) handlePresenceToOccupant(ctx context.Context, el *stanza.Element, from, to jid.JID) {
	switch el.Get("type") {
	case "error":
		r.handleKickable(ctx, el, from)
	case "", "unavailable", "probe":
		r.handleNormalPresence(ctx, el, from, to)
	case "result", "visible", "invisible":
	default:
		r.replyError(el, deny("modify", "bad-request", "", r.jid))
	}
}

// handleNormalPresence is Prosody's handle_normal_presence: joins, leaves,
// presence updates and nick changes, with multi-session occupants.
func (r *Room) handleNormalPresence(ctx context.Context, el *stanza.Element, from, to jid.JID) {
	s := r.svc
	typ := el.Get("type")
	real, bare := from.String(), from.Bare().String()
	orig := r.OccupantByRealJID(real)
	mucX := el.Child(NS, "x")
	if orig == nil && mucX == nil && typ == "" {
		r.kickNonOccupant(el, from, to)
		return
	}
	var dest *Occupant
	isFirstDest := false
	switch {
	case typ == "unavailable":
		if orig == nil {
			return
		}
	case typ == "probe":
		r.respondToProbe(ctx, el, to, orig)
		return
	case orig != nil && orig.JID == to.String():
		dest = orig
	default:
		dest = r.occupants[to.String()]
		if dest == nil {
			isFirstDest = true
			dest = r.newOccupant(bare, to.Resourcepart())
			if orig != nil {
				dest.Role = orig.Role
			}
		}
	}
	isLastOrig := orig != nil && orig.sessionCount() < 2
	destJID := ""
	if dest != nil {
		destJID = dest.JID
	}
	var err error
	var chain string
	switch {
	case orig == nil:
		chain = "muc-occupant-pre-join"
		err = s.Events.OccupantPreJoin.Fire(ctx, &JoinEvent{Room: r, Stanza: el, From: from, Occupant: dest, IsFirstSession: isFirstDest})
	case dest == nil:
		chain = "muc-occupant-pre-leave"
		err = s.Events.OccupantPreLeave.Fire(ctx, &LeaveEvent{Room: r, Occupant: orig, Stanza: el, From: from, IsLastSession: isLastOrig})
	default:
		chain = "muc-occupant-pre-change"
		err = s.Events.OccupantPreChange.Fire(ctx, &ChangeEvent{Room: r, Stanza: el, From: from, Orig: orig, Dest: dest, IsFirstSession: isFirstDest, IsLastSession: isLastOrig})
	}
	if err != nil {
		r.veto(ctx, chain, el, err)
		return
	}
	if r.gone {
		return
	}
	nickChanged := dest != nil && destJID != dest.JID
	// SECURITY-CASES 126: a nick in use by another user is a conflict.
	if dest != nil && !isFirstDest && bare != dest.BareJID {
		r.replyError(el, deny("cancel", "conflict", "", r.jid))
		return
	}
	var origRole Role
	if orig != nil {
		origRole = orig.Role
	}
	if orig != nil && orig != dest {
		origX := userX()
		destNick := ""
		if dest == nil {
			if isLastOrig {
				orig.Role = RoleNone
			}
			orig.setSession(real, el, false)
		} else {
			generated := stanza.New(stanza.NSClient, "presence").Set("from", orig.JID).Set("to", real).Set("type", "unavailable")
			orig.setSession(real, generated, false)
			destNick = dest.Nick
			if !isFirstDest {
				x := userX()
				addItem(x, r.Affiliation(bare), RoleNone, "", "", "", "", "")
				pr := stanza.New(stanza.NSClient, "presence").Set("from", dest.JID).Set("to", real).Set("type", "unavailable")
				pr.Add(stanza.New(stanza.NSClient, "status").AddText("you are joining pre-existing session "+destNick), x)
				r.Send(pr)
			}
			if isFirstDest && isLastOrig {
				addStatus(origX, "303")
			} else {
				orig.removeSession(real)
				x := userX()
				addItem(x, r.Affiliation(bare), orig.Role, real, destNick, "", "", "")
				addStatus(x, "303")
				addStatus(x, "110")
				r.Send(generated.Copy().Add(x))
				destNick = ""
			}
		}
		r.saveOccupant(orig)
		r.publicise(ctx, orig, xset{base: origX}, publishOpts{nick: destNick, prevRole: origRole})
		if isLastOrig {
			r.fireLeft(ctx, orig, el)
		}
	}
	if dest == nil {
		return
	}
	dest.setSession(real, el, false)
	r.saveOccupant(dest)
	if orig == nil {
		s.met.joins.Inc()
	}
	if orig == nil || mucX != nil {
		r.sendOccupantList(real, func(o *Occupant) bool { return !o.HasSession(real) })
	}
	selfX := userX()
	if orig == nil && r.config.Whois == WhoisAnyone {
		addStatus(selfX, "100")
	}
	if nickChanged || (nickPrepared(ctx) && orig != dest) {
		addStatus(selfX, "210")
	}
	r.publicise(ctx, dest, xset{base: userX(), self: selfX}, publishOpts{prevRole: origRole})
	if orig != nil && orig != dest && !isLastOrig {
		if p := orig.Presence(); p != nil {
			pr := p.ShallowCopy()
			pr.Set("to", real)
			x := userX()
			r.buildItemList(orig, x, false, "", "", "", "")
			r.Send(pr.Add(x))
		}
	}
	if orig == nil || mucX != nil {
		if isFirstDest {
			r.fireJoined(ctx, dest, el)
		}
		r.sessionNew(ctx, real, el)
	}
}

// kickNonOccupant answers available presence without a MUC <x/> from a
// session that is not in the room (SECURITY-CASES 143). XEP-0045 (since
// 1.32) recommends telling such a desynchronised client that it is not
// joined with the presence of a removal by the service: unavailable, role
// none, status codes 110 (self), 307 (kicked) and 333 (technical reasons).
// Prosody answers with a cancel/item-not-found error instead; both make a
// client rejoin, the kick is what current clients look for. Nobody else
// in the room is told, since nobody else saw the session.
func (r *Room) kickNonOccupant(el *stanza.Element, from, to jid.JID) {
	pr := stanza.New(stanza.NSClient, "presence").Set("from", to.String()).Set("to", from.String()).Set("type", "unavailable")
	if id := el.Get("id"); id != "" {
		pr.Set("id", id)
	}
	x := userX()
	addItem(x, r.Affiliation(from.String()), RoleNone, "", "", "", "", "")
	addStatus(x, "110")
	addStatus(x, "307")
	addStatus(x, "333")
	r.Send(pr.Add(x))
}

// respondToProbe answers a presence probe from an occupant.
func (r *Room) respondToProbe(ctx context.Context, el *stanza.Element, to jid.JID, probing *Occupant) {
	if probing == nil {
		r.replyError(el, deny("cancel", "not-acceptable", "You are not currently connected to this chat", r.jid))
		return
	}
	probed := r.occupants[to.String()]
	if probed == nil {
		nick := to.Resourcepart()
		owner := r.reservedBy(nick)
		if owner == "" {
			return
		}
		pr := stanza.New(stanza.NSClient, "presence").Set("to", el.Get("from")).Set("from", to.String()).Set("type", "unavailable")
		x := userX()
		j := owner
		if r.anonymousFor(el.Get("from")) {
			j = ""
		}
		addItem(x, r.Affiliation(owner), RoleNone, j, nick, "", "", "")
		r.Send(pr.Add(x))
		return
	}
	r.publicise(ctx, probed, xset{base: userX()}, publishOpts{recipient: probing})
}

// handleKickable removes a session that bounced an error (Prosody's
// handle_kickable); the last session gone makes the occupant leave with
// status 333.
func (r *Room) handleKickable(ctx context.Context, el *stanza.Element, from jid.JID) {
	real := from.String()
	o := r.OccupantByRealJID(real)
	if o == nil {
		return
	}
	cond, text := stanzaError(el)
	msg := "Kicked: presence error"
	if cond != "" {
		msg = "Kicked: " + strings.ReplaceAll(cond, "-", " ")
	}
	if text != "" && r.config.Whois == WhoisAnyone {
		msg += ": " + text
	}
	un := stanza.New(stanza.NSClient, "presence").Set("type", "unavailable")
	un.Add(stanza.New(stanza.NSClient, "status").AddText(msg))
	o.setSession(real, un, false)
	prev := o.Role
	isLast := o.primary == real
	if isLast {
		o.Role = RoleNone
	}
	r.saveOccupant(o)
	x := userX()
	if isLast {
		addStatus(x, "333")
	}
	r.publicise(ctx, o, xset{base: x}, publishOpts{prevRole: prev})
	if isLast {
		r.fireLeft(ctx, o, nil)
	}
}

// stanzaError returns the condition and text of an error stanza.
func stanzaError(el *stanza.Element) (cond, text string) {
	e := el.Child("", "error")
	if e == nil {
		return "", ""
	}
	for _, c := range e.Elements() {
		if c.Name.Space != stanza.NSStanzas {
			continue
		}
		if c.Name.Local == "text" {
			text = c.Text()
		} else if cond == "" {
			cond = c.Name.Local
		}
	}
	return cond, text
}

// isKickableError reports whether an error stanza has one of the
// conditions that make Prosody drop the session that bounced it (or no
// readable condition).
func isKickableError(el *stanza.Element) bool {
	cond, _ := stanzaError(el)
	switch cond {
	case "", "gone", "internal-server-error", "item-not-found", "jid-malformed",
		"recipient-unavailable", "redirect", "remote-server-not-found",
		"remote-server-timeout", "service-unavailable":
		return true
	}
	return false
}

func (r *Room) fireJoined(ctx context.Context, o *Occupant, el *stanza.Element) {
	if err := r.svc.Events.OccupantJoined.Fire(ctx, &OccupantEvent{Room: r, Occupant: o, Stanza: el}); err != nil {
		r.svc.log.Error("muc-occupant-joined hook failed", "room", r.jid, "err", err)
	}
}

func (r *Room) fireLeft(ctx context.Context, o *Occupant, el *stanza.Element) {
	if err := r.svc.Events.OccupantLeft.Fire(ctx, &OccupantEvent{Room: r, Occupant: o, Stanza: el}); err != nil {
		r.svc.log.Error("muc-occupant-left hook failed", "room", r.jid, "err", err)
	}
}

// sessionNew sends a newly joined session the history and the subject.
func (r *Room) sessionNew(_ context.Context, real string, el *stanza.Element) {
	r.sendHistory(real, el)
	r.sendSubject(real)
}
