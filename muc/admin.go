package muc

import (
	"context"
	"errors"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/server/stanza"
)

// SetAffiliation changes the affiliation of a bare JID (or domain, for
// bans) as actor (a real JID; "" acts as the room itself, without
// permission checks), with Prosody ≥0.12 rules: owners may do anything but
// remove the last owner; admins may only move users between none, member
// and outcast. Occupants of that user get their new role and everyone is
// told. A refusal is a *Deny.
func (r *Room) SetAffiliation(ctx context.Context, actor, j string, a Affiliation, reason string) error {
	return r.setAffiliation(ctx, actor, j, a, reason, "")
}

func (r *Room) setAffiliation(ctx context.Context, actor, j string, a Affiliation, reason, nick string) error {
	s := r.svc
	pj, err := jid.Parse(j)
	if err != nil {
		return deny("modify", "not-acceptable", "", "")
	}
	if a == "" {
		a = AffiliationNone
	}
	if a.Rank() < -1 {
		return deny("modify", "not-acceptable", "", "")
	}
	target := pj.Bare().String()
	hostOnly := pj.Localpart() == ""
	if s.cfg().adminsAsOwners && a != AffiliationOwner && s.IsAdmin(target) {
		return deny("modify", "not-acceptable", "", "")
	}
	prev, ok := r.affiliations[target]
	if !ok {
		prev = AffiliationNone
	}
	downgrade := prev.Rank() > a.Rank()
	if actor != "" {
		actorAff := r.Affiliation(actor)
		switch {
		case actorAff == AffiliationOwner:
			if bareOf(actor) == target && downgrade {
				last := true
				for _, o := range r.Affiliations(AffiliationOwner) {
					if o != target {
						last = false
						break
					}
				}
				if last {
					return deny("cancel", "conflict", "", "")
				}
			}
		case a == AffiliationOwner || a == AffiliationAdmin || actorAff != AffiliationAdmin ||
			prev == AffiliationOwner || prev == AffiliationAdmin:
			return deny("cancel", "not-allowed", "", "")
		}
	}
	ev := &AffiliationEvent{Room: r, Actor: actor, JID: target, Affiliation: a, Previous: prev, Reason: reason, ReservedNick: nick}
	if err := s.Events.PreSetAffiliation.Fire(ctx, ev); err != nil {
		var d *Deny
		if errors.As(err, &d) {
			return d
		}
		return deny("cancel", "not-allowed", "", "")
	}
	if a == AffiliationNone {
		delete(r.affiliations, target)
		delete(r.reserved, target)
	} else {
		r.affiliations[target] = a
		if ev.ReservedNick != "" {
			r.reserved[target] = ev.ReservedNick
		}
	}
	role := r.DefaultRole(a)
	type change struct {
		o    *Occupant
		prev Role
	}
	var changed []change
	for _, o := range r.Occupants() {
		if o.BareJID == target || (hostOnly && a == AffiliationOutcast && domainOf(o.BareJID) == target) {
			changed = append(changed, change{o, o.Role})
			if o.Role != role && (downgrade || o.Role.Rank() < role.Rank()) {
				o.Role = role
				r.saveOccupant(o)
			}
		}
	}
	x := userX()
	if role == RoleNone {
		if a == AffiliationOutcast {
			addStatus(x, "301")
		} else {
			addStatus(x, "321")
		}
	}
	semiAnonymous := r.config.Whois == WhoisModerators
	if len(changed) > 0 {
		for _, c := range changed {
			r.publicise(ctx, c.o, xset{base: x}, publishOpts{actor: actor, reason: reason, prevRole: c.prev})
			if c.o.Role == RoleNone {
				r.fireLeft(ctx, c.o, nil)
			} else if semiAnonymous && (c.prev == RoleModerator) != (c.o.Role == RoleModerator) {
				for _, real := range c.o.Sessions() {
					r.sendOccupantList(real, func(oo *Occupant) bool { return oo.BareJID != target })
				}
			}
		}
	} else {
		// XEP-0045 example 195: tell the room about someone not in it.
		ax := x.Copy()
		addItem(ax, a, "", target, "", "", "", reason)
		msg := stanza.New(stanza.NSClient, "message").Set("from", r.jid).Add(ax)
		minRank := RoleNone.Rank()
		if semiAnonymous {
			minRank = RoleModerator.Rank()
		}
		r.Broadcast(msg, func(o *Occupant) bool { return o.Role.Rank() >= minRank })
	}
	r.saveState(ctx)
	ev.InRoom = len(changed) > 0
	if err := s.Events.SetAffiliation.Fire(ctx, ev); err != nil {
		s.log.Error("muc-set-affiliation hook failed", "room", r.jid, "err", err)
	}
	return nil
}

// mayChangeRole checks whether actor may give occupant o the role role
// (Prosody ≥0.12 may_set_role: owners may change the roles of owners).
func (r *Room) mayChangeRole(actor string, o *Occupant, role Role) error {
	actorAff := r.Affiliation(actor)
	occAff := r.Affiliation(o.BareJID)
	if actorAff.Rank() < occAff.Rank() {
		return deny("cancel", "not-allowed", "", "")
	}
	if o.Role == RoleModerator || role == RoleModerator {
		if actorAff != AffiliationOwner && actorAff != AffiliationAdmin {
			return deny("cancel", "not-allowed", "", "")
		}
	}
	if ao := r.OccupantByRealJID(actor); ao == nil || ao.Role != RoleModerator {
		return deny("cancel", "not-allowed", "", "")
	}
	return nil
}

// SetRole changes the role of the occupant with the given nick as actor (a
// real JID; "" acts as the room itself). Role none kicks (status 307).
func (r *Room) SetRole(ctx context.Context, actor, nick string, role Role, reason string) error {
	o := r.OccupantByNick(nick)
	if o == nil {
		return deny("modify", "item-not-found", "", "")
	}
	if role == "" {
		role = RoleNone
	}
	if role.Rank() < 0 {
		return deny("modify", "not-acceptable", "", "")
	}
	if actor != "" {
		if err := r.mayChangeRole(actor, o, role); err != nil {
			return err
		}
	}
	x := userX()
	if role == RoleNone {
		addStatus(x, "307")
	}
	prev := o.Role
	o.Role = role
	r.saveOccupant(o)
	r.publicise(ctx, o, xset{base: x}, publishOpts{actor: actor, reason: reason, prevRole: prev})
	if role == RoleNone {
		r.fireLeft(ctx, o, nil)
	}
	return nil
}

// Kick removes an occupant (role none, status 307).
func (r *Room) Kick(ctx context.Context, actor, nick, reason string) error {
	return r.SetRole(ctx, actor, nick, RoleNone, reason)
}

func (r *Room) handleAdminSet(ctx context.Context, el *stanza.Element, q *stanza.Element) {
	item := q.FirstElement()
	if item == nil {
		r.replyError(el, deny("cancel", "bad-request", "", ""))
		return
	}
	itemJID := item.Get("jid")
	if itemJID != "" {
		pj, err := jid.Parse(itemJID)
		if err != nil {
			r.replyError(el, deny("modify", "jid-malformed", "", ""))
			return
		}
		if pj.Resourcepart() != "" {
			r.replyError(el, deny("modify", "jid-malformed", "Bare JID expected, got full JID", ""))
			return
		}
		itemJID = pj.String()
	}
	nick := item.Get("nick")
	if nick != "" {
		pn, err := PrepareNick(nick)
		if err == nil {
			_, err = jid.New("x", "example.com", pn)
		}
		if err != nil {
			r.replyError(el, deny("modify", "jid-malformed", "invalid nickname", ""))
			return
		}
		// SECURITY-CASES 135: nicks are stored and compared prepared.
		nick = pn
	}
	affAttr, roleAttr := item.Get("affiliation"), item.Get("role")
	if itemJID == "" && nick != "" {
		if o := r.OccupantByNick(nick); o != nil {
			itemJID = o.BareJID
		}
	} else if roleAttr != "" && nick == "" && itemJID != "" {
		if oj := r.byReal[itemJID]; oj != "" {
			nick = oj[strings.IndexByte(oj, '/')+1:]
		} else if o := r.occupantOfBare(itemJID); o != nil {
			nick = o.Nick
		}
	}
	actor := el.Get("from")
	reason := item.ChildText("", "reason")
	var err error
	switch {
	case affAttr != "" && itemJID != "" && roleAttr == "":
		a, ok := ParseAffiliation(affAttr)
		if !ok {
			err = deny("modify", "not-acceptable", "", "")
			break
		}
		reserve := ""
		if nick != "" {
			reserve = nick
		}
		// Check the permission before touching anyone holding the nick
		// (SECURITY-CASES 141: authorisation before side effects).
		if perr := r.checkAffiliationPermission(actor, itemJID, a); perr != nil {
			err = perr
			break
		}
		if reserve != "" {
			if existing := r.OccupantByNick(reserve); existing != nil && existing.BareJID != bareOf(itemJID) {
				_ = r.SetRole(ctx, "", reserve, RoleNone, "This nickname is reserved")
			}
		}
		err = r.setAffiliation(ctx, actor, itemJID, a, reason, reserve)
	case roleAttr != "" && nick != "" && affAttr == "":
		role, ok := ParseRole(roleAttr)
		if !ok {
			err = deny("modify", "not-acceptable", "", "")
			break
		}
		err = r.SetRole(ctx, actor, nick, role, reason)
	default:
		err = deny("cancel", "bad-request", "", "")
	}
	r.saveState(ctx)
	if err != nil {
		var d *Deny
		if !errors.As(err, &d) {
			d = deny("cancel", "not-allowed", "", "")
		}
		r.replyError(el, &Deny{Type: d.Type, Condition: d.Condition})
		return
	}
	r.Send(reply(el))
}

// checkAffiliationPermission runs the permission part of setAffiliation
// without changing anything.
func (r *Room) checkAffiliationPermission(actor, target string, a Affiliation) error {
	actorAff := r.Affiliation(actor)
	if actorAff == AffiliationOwner {
		return nil
	}
	prev := r.affiliations[bareOf(target)]
	if a == AffiliationOwner || a == AffiliationAdmin || actorAff != AffiliationAdmin ||
		prev == AffiliationOwner || prev == AffiliationAdmin {
		return deny("cancel", "not-allowed", "", "")
	}
	return nil
}

// occupantOfBare returns the first occupant of a bare JID.
func (r *Room) occupantOfBare(bare string) *Occupant {
	for _, o := range r.order {
		if o.BareJID == bare {
			return o
		}
	}
	return nil
}

func (r *Room) handleAdminGet(_ context.Context, el *stanza.Element, q *stanza.Element) {
	actor := el.Get("from")
	actorAff := r.Affiliation(actor)
	item := q.FirstElement()
	if item == nil {
		r.replyError(el, deny("cancel", "bad-request", "", ""))
		return
	}
	affAttr, roleAttr := item.Get("affiliation"), item.Get("role")
	a, affOK := ParseAffiliation(affAttr)
	role, roleOK := ParseRole(roleAttr)
	switch {
	case affOK && roleAttr == "":
		if (actorAff.Rank() >= AffiliationAdmin.Rank() && actorAff.Rank() >= a.Rank()) ||
			(r.config.MembersOnly && r.config.Whois == WhoisAnyone && actorAff.Rank() >= AffiliationMember.Rank()) {
			res := reply(el)
			rq := stanza.New(NSAdmin, "query")
			var list []string
			if a == AffiliationNone {
				list = nil
			} else {
				list = r.Affiliations(a)
			}
			for _, j := range list {
				rq.Add(stanza.New(NSAdmin, "item").Set("affiliation", string(a)).Set("jid", j).Set("nick", r.reserved[j]))
			}
			r.Send(res.Add(rq))
			return
		}
		r.replyError(el, deny("auth", "forbidden", "", ""))
	case roleOK && affAttr == "":
		cur := r.DefaultRole(actorAff)
		if o := r.OccupantByRealJID(actor); o != nil {
			cur = o.Role
		}
		if cur.Rank() >= RoleModerator.Rank() {
			res := reply(el)
			rq := stanza.New(NSAdmin, "query")
			for _, o := range r.order {
				if o.Role == role {
					r.buildItemList(o, rq, false, o.Nick, "", "", "")
				}
			}
			r.Send(res.Add(rq))
			return
		}
		r.replyError(el, deny("auth", "forbidden", "", ""))
	default:
		r.replyError(el, deny("cancel", "bad-request", "", ""))
	}
}

func bareOf(j string) string {
	if i := strings.IndexByte(j, '/'); i >= 0 {
		return j[:i]
	}
	return j
}

func domainOf(bare string) string {
	if i := strings.IndexByte(bare, '@'); i >= 0 {
		return bare[i+1:]
	}
	return bare
}
