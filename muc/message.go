package muc

import (
	"context"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/server/hook"
	"github.com/parley-xmpp/parley/server/stanza"
)

func (r *Room) handleMessageToRoom(ctx context.Context, el *stanza.Element, from jid.JID) {
	switch typ := el.Get("type"); typ {
	case "groupchat":
		r.handleGroupchat(ctx, el, from)
		return
	case "error":
		if isKickableError(el) {
			r.handleKickable(ctx, el, from)
		}
		return
	case "", "normal":
		if x := el.Child(NSUser, "x"); x != nil {
			p := x.FirstElement()
			switch {
			case p != nil && p.Name.Local == "invite" && p.Get("to") != "":
				r.handleInvite(ctx, el, from, p)
				return
			case p != nil && p.Name.Local == "decline" && p.Get("to") != "":
				r.handleDecline(ctx, el, from, p)
				return
			}
			r.replyError(el, deny("cancel", "bad-request", "", ""))
			return
		}
		r.replyError(el, deny("cancel", "service-unavailable", "", ""))
	case "chat":
		r.replyError(el, deny("cancel", "service-unavailable", "", ""))
	}
}

// handleGroupchat broadcasts a groupchat message from an occupant.
func (r *Room) handleGroupchat(ctx context.Context, el *stanza.Element, from jid.JID) {
	occ := r.OccupantByRealJID(from.String())
	if el.Get("id") == "" {
		el.Set("id", r.svc.newID(8))
	}
	ev := &GroupchatEvent{Room: r, Stanza: el, From: from, Occupant: occ}
	if err := r.svc.Events.Groupchat.Fire(ctx, ev); err != nil {
		r.veto(ctx, "muc-occupant-groupchat", el, err)
		return
	}
	msg := ev.Stanza
	if ev.Occupant != nil {
		msg.Set("from", ev.Occupant.JID)
	} else {
		msg.Set("from", r.jid)
	}
	r.broadcastMessage(ctx, msg)
}

// broadcastMessage records a message in the history when it is worth
// keeping and sends it to every occupant.
// BroadcastMessage sends msg to every occupant and keeps it in the
// history when it is historic (Prosody's room:broadcast_message). Set its
// from (the room or an occupant JID) and type before calling.
func (r *Room) BroadcastMessage(ctx context.Context, msg *stanza.Element) {
	r.broadcastMessage(ctx, msg)
}

func (r *Room) broadcastMessage(_ context.Context, msg *stanza.Element) {
	if isHistoric(msg) {
		r.addHistory(msg)
	}
	// Each copy gets its own to; a placeholder lets Set replace it in place.
	msg.Set("to", r.jid)
	r.Broadcast(msg, nil)
}

// isHistoric is Prosody's muc-message-is-historic.
func isHistoric(msg *stanza.Element) bool {
	if msg.Child(NSHints, "no-store") != nil || msg.Child(NSHints, "no-permanent-store") != nil {
		return false
	}
	if msg.Child(NSHints, "store") != nil || msg.Child("", "body") != nil {
		return true
	}
	if msg.Child("urn:xmpp:eme:0", "encryption") != nil || msg.ChildNS("urn:xmpp:chat-markers:0") != nil {
		return true
	}
	return false
}

// groupchatChecks are the built-in Groupchat handlers: role (50), subject
// (20), and the removal of forged elements (0).
func (s *Service) groupchatRole(_ context.Context, ev *GroupchatEvent) error {
	rank := RoleNone.Rank()
	if ev.Occupant != nil {
		rank = ev.Occupant.Role.Rank()
	}
	switch {
	case rank <= RoleNone.Rank():
		// SECURITY-CASES 139: not in the room.
		return deny("cancel", "not-acceptable", "You are not currently connected to this chat", "")
	case rank <= RoleVisitor.Rank():
		// SECURITY-CASES 139: a visitor in a moderated room.
		return deny("auth", "forbidden", "You do not currently have permission to speak in this chat", "")
	}
	return nil
}

func (s *Service) groupchatSubject(_ context.Context, ev *GroupchatEvent) error {
	subj := ev.Stanza.Child("", "subject")
	if subj == nil || ev.Stanza.Child("", "body") != nil || ev.Stanza.Child("", "thread") != nil {
		return nil
	}
	r := ev.Room
	rank := RoleNone.Rank()
	if ev.Occupant != nil {
		rank = ev.Occupant.Role.Rank()
	}
	if rank >= RoleModerator.Rank() || (rank >= RoleParticipant.Rank() && r.config.ChangeSubject) {
		r.SetSubject(ev.Occupant.JID, subj.Text())
		r.saveState(context.Background())
		return hook.ErrStop
	}
	// SECURITY-CASES 139: subject change without the right.
	return deny("auth", "forbidden", "You are not allowed to change the subject", "")
}

func (s *Service) groupchatStrip(_ context.Context, ev *GroupchatEvent) error {
	r := ev.Room
	keep := ev.Stanza.Nodes[:0:0]
	for _, n := range ev.Stanza.Nodes {
		if n.El != nil && n.El.Get("from") == r.jid &&
			((n.El.Name.Space == NSDelay && n.El.Name.Local == "delay") || (n.El.Name.Space == NSLegacyDel && n.El.Name.Local == "x")) {
			continue
		}
		// A stanza id claiming to be the room's (XEP-0359) is the room's
		// to give, as Prosody's mod_muc_mam strips it (SECURITY-CASES 28).
		if n.El != nil && n.El.Name.Space == NSStanzaID && n.El.Name.Local == "stanza-id" && n.El.Get("by") == r.jid {
			continue
		}
		keep = append(keep, n)
	}
	ev.Stanza.Nodes = keep
	if s.cfg().occupantID && ev.Occupant != nil {
		r.stampOccupantID(ev.Stanza, ev.Occupant)
	}
	return nil
}

// SetSubject changes the subject as from (an occupant JID, or "" for the
// room) and announces it.
func (r *Room) SetSubject(from, subject string) bool {
	if from == "" {
		from = r.jid
	}
	if r.subject == subject && r.subjectFrom == from {
		return false
	}
	r.subject, r.subjectFrom = subject, from
	r.subjectTime = r.svc.now()
	msg := stanza.New(stanza.NSClient, "message").Set("from", from).Set("type", "groupchat")
	msg.Add(stanza.New(stanza.NSClient, "subject").AddText(subject))
	r.broadcastMessage(context.Background(), msg)
	return true
}

// Subject returns the subject and who set it.
func (r *Room) Subject() (subject, from string) {
	from = r.subjectFrom
	if from == "" {
		from = r.jid
	}
	return r.subject, from
}

// sendSubject sends the subject to a newly joined session.
func (r *Room) sendSubject(to string) {
	subject, from := r.Subject()
	msg := stanza.New(stanza.NSClient, "message").Set("from", from).Set("type", "groupchat").Set("to", to)
	msg.Add(stanza.New(stanza.NSClient, "subject").AddText(subject))
	if !r.subjectTime.IsZero() {
		msg.Add(stanza.New(NSDelay, "delay").Set("from", r.jid).Set("stamp", stamp(r.subjectTime)))
	}
	r.Send(msg)
}

// handleMessageToOccupant routes a private message between occupants.
func (r *Room) handleMessageToOccupant(ctx context.Context, el *stanza.Element, from, to jid.JID) {
	cur := r.byReal[from.String()]
	typ := el.Get("type")
	if cur == "" {
		// SECURITY-CASES 137: PMs only from occupants.
		r.replyError(el, deny("cancel", "not-acceptable", "You are not currently connected to this chat", r.jid))
		return
	}
	switch {
	case typ == "groupchat":
		// SECURITY-CASES 136.
		r.replyError(el, deny("modify", "bad-request", "", r.jid))
		return
	case typ == "error" && isKickableError(el):
		r.handleKickable(ctx, el, from)
		return
	}
	target := r.occupants[to.String()]
	if target == nil {
		// SECURITY-CASES 137.
		r.replyError(el, deny("cancel", "item-not-found", "Recipient not in room", r.jid))
		return
	}
	pm := el.Copy()
	removeNS(pm, NS, NSUser, nsHats)
	pm.Add(stanza.New(NSUser, "x"))
	// SECURITY-CASES 142: the sender is always the sender's occupant JID.
	pm.Set("from", cur)
	if r.svc.cfg().occupantID {
		if o := r.occupants[cur]; o != nil {
			r.stampOccupantID(pm, o)
		}
	}
	r.routeToOccupant(target, pm)
}

// handleInvite forwards a mediated invitation (XEP-0045 §7.8.2).
func (r *Room) handleInvite(ctx context.Context, el *stanza.Element, from jid.JID, inv *stanza.Element) {
	invitee, err := jid.Parse(inv.Get("to"))
	if err != nil {
		r.replyError(el, deny("cancel", "jid-malformed", "", ""))
		return
	}
	inviter := r.OccupantByRealJID(from.String())
	role := r.DefaultRole(r.Affiliation(from.String()))
	if inviter != nil {
		role = inviter.Role
	}
	if role.Rank() <= RoleVisitor.Rank() {
		r.replyError(el, deny("auth", "forbidden", "", ""))
		return
	}
	if r.config.MembersOnly {
		need := AffiliationAdmin
		if r.config.AllowMemberInvites {
			need = AffiliationMember
		}
		if r.Affiliation(from.String()).Rank() < need.Rank() {
			r.replyError(el, deny("auth", "forbidden", "", r.jid))
			return
		}
	}
	reason := inv.ChildText("", "reason")
	msg := el.Copy()
	removeNS(msg, NS, NSUser, nsHats)
	msg.Set("from", r.jid).Set("to", invitee.String())
	fromAttr := from.String()
	if r.config.Whois == WhoisModerators && r.DefaultRole(r.Affiliation(invitee.String())) != RoleModerator {
		if oj := r.byReal[from.String()]; oj != "" {
			fromAttr = oj
		}
	}
	x := stanza.New(NSUser, "x")
	x.Add(stanza.New(NSUser, "invite").Set("from", fromAttr).Add(stanza.New(NSUser, "reason").AddText(reason)))
	msg.Add(x)
	msg.Add(stanza.New(NSConference, "x").Set("jid", r.jid).AddText(reason))
	if msg.Child("", "body") == nil {
		body := fromAttr + " invited you to the room " + r.jid
		if reason != "" {
			body += " (" + reason + ")"
		}
		msg.Add(stanza.New(stanza.NSClient, "body").AddText(body))
	}
	ev := &InviteEvent{Room: r, Stanza: msg, Incoming: el, From: from, Invitee: invitee}
	if err := r.svc.Events.Invite.Fire(ctx, ev); err != nil {
		r.veto(ctx, "muc-invite", el, err)
		return
	}
	msg = ev.Stanza
	if r.config.MembersOnly && r.Affiliation(invitee.String()).Rank() <= AffiliationNone.Rank() {
		if err := r.SetAffiliation(ctx, "", invitee.Bare().String(), AffiliationMember, "Invited by "+from.String()); err != nil {
			r.svc.log.Debug("membership for invitee refused", "room", r.jid, "err", err)
		}
	}
	r.Send(msg)
}

// handleDecline forwards a declined invitation.
func (r *Room) handleDecline(_ context.Context, el *stanza.Element, from jid.JID, dec *stanza.Element) {
	declinee, err := jid.Parse(dec.Get("to"))
	if err != nil {
		r.replyError(el, deny("cancel", "jid-malformed", "", ""))
		return
	}
	reason := dec.ChildText("", "reason")
	msg := el.Copy()
	removeNS(msg, NS, NSUser, nsHats)
	msg.Set("from", r.jid).Set("to", declinee.String())
	x := stanza.New(NSUser, "x")
	x.Add(stanza.New(NSUser, "decline").Set("from", from.String()).Add(stanza.New(NSUser, "reason").AddText(reason)))
	msg.Add(x)
	if msg.Child("", "body") == nil {
		body := from.String() + " declined your invite to the room " + r.jid
		if reason != "" {
			body += " (" + reason + ")"
		}
		msg.Add(stanza.New(stanza.NSClient, "body").AddText(body))
	}
	if declinee.Bare().String() == r.jid {
		if o := r.occupants[declinee.String()]; o != nil {
			r.routeToOccupant(o, msg)
			return
		}
	}
	r.Send(msg)
}
