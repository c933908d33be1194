package muc

import (
	"context"
	"encoding/xml"
	"errors"
	"strings"

	"github.com/parley-xmpp/parley/server/hook"
	"github.com/parley-xmpp/parley/server/stanza"
)

// xset holds the muc#user <x/> templates of a presence broadcast: base for
// everyone, self (when set) for the occupant itself.
type xset struct {
	base, self *stanza.Element
}

type publishOpts struct {
	nick, actor, reason string
	prevRole            Role
	force               bool
	recipient           *Occupant
}

func userX() *stanza.Element { return stanza.New(NSUser, "x") }

func addStatus(x *stanza.Element, code string) {
	x.Add(stanza.New(NSUser, "status").Set("code", code))
}

// addItem appends a muc#user <item/>; empty strings leave attributes and
// children out (an empty role too, as in Prosody's affiliation notices).
func addItem(x *stanza.Element, aff Affiliation, role Role, j, nick, actorNick, actorJID, reason string) {
	if aff == "" {
		aff = AffiliationNone
	}
	it := &stanza.Element{Name: xml.Name{Space: x.Name.Space, Local: "item"}, Attr: make([]xml.Attr, 0, 4)}
	it.Attr = append(it.Attr, xml.Attr{Name: xml.Name{Local: "affiliation"}, Value: string(aff)})
	for _, a := range [...][2]string{{"role", string(role)}, {"jid", j}, {"nick", nick}} {
		if a[1] != "" {
			it.Attr = append(it.Attr, xml.Attr{Name: xml.Name{Local: a[0]}, Value: a[1]})
		}
	}
	if actorNick != "" || actorJID != "" {
		it.Add(stanza.New(x.Name.Space, "actor").Set("nick", actorNick).Set("jid", actorJID))
	}
	if reason != "" {
		it.Add(stanza.New(x.Name.Space, "reason").AddText(reason))
	}
	x.Add(it)
}

// buildItemList adds the items describing o: one without a JID when
// anonymous, else one per session with its real JID.
func (r *Room) buildItemList(o *Occupant, x *stanza.Element, anonymous bool, nick, actorNick, actorJID, reason string) {
	aff := r.Affiliation(o.BareJID)
	role := o.Role
	if role == "" {
		role = RoleNone
	}
	if anonymous {
		addItem(x, aff, role, "", nick, actorNick, actorJID, reason)
		return
	}
	for _, s := range o.sessions {
		addItem(x, aff, role, s.jid, nick, actorNick, actorJID, reason)
	}
}

// publicise is Prosody's publicise_occupant_status: it tells the room (or
// one recipient) about occupant o. Other occupants get o's presence with
// every child element the client sent, plus a muc#user <x/> showing real
// JIDs as the room's whois allows; o's own sessions get their presences
// with status 110.
func (r *Room) publicise(ctx context.Context, o *Occupant, x xset, opts publishOpts) {
	s := r.svc
	var base *stanza.Element
	if pr := o.Presence(); pr != nil && (o.Role != RoleNone || isUnavailable(pr)) && !opts.force {
		base = pr.ShallowCopy()
	} else {
		base = stanza.New(stanza.NSClient, "presence").Set("from", o.JID).Set("type", "unavailable")
	}
	ev := &PresenceEvent{Room: r, Occupant: o, Stanza: base, X: x.base, Nick: opts.nick, Actor: opts.actor, Reason: opts.reason}
	if opts.recipient == nil {
		if err := s.Events.BroadcastPresence.Fire(ctx, ev); err != nil && !errors.Is(err, hook.ErrStop) {
			s.log.Error("muc-broadcast-presence hook failed", "room", r.jid, "err", err)
		}
	}
	base, nick, actor, reason := ev.Stanza, ev.Nick, ev.Actor, ev.Reason
	// Every copy gets its own to; having one already lets Set replace it
	// without growing the attributes.
	base.Set("to", o.JID)
	actorNick := ""
	if actor != "" {
		if oj := r.byReal[actor]; oj != "" {
			actorNick = oj[strings.IndexByte(oj, '/')+1:]
		}
	}
	var fullP, anonP, othersSelfP *stanza.Element
	getFull := func() *stanza.Element {
		if fullP == nil {
			fx := x.base.Copy()
			r.buildItemList(o, fx, false, nick, actorNick, actor, reason)
			fullP = base.ShallowCopy().Add(fx)
		}
		return fullP
	}
	getAnon := func() *stanza.Element {
		if anonP == nil {
			ax := x.base.Copy()
			r.buildItemList(o, ax, true, nick, actorNick, "", reason)
			anonP = base.ShallowCopy().Add(ax)
		}
		return anonP
	}
	selfTemplate := x.self
	if selfTemplate == nil {
		selfTemplate = x.base
	}
	getSelf := func() *stanza.Element {
		if othersSelfP == nil {
			sx := selfTemplate.Copy()
			r.buildItemList(o, sx, false, nick, actorNick, "", reason)
			othersSelfP = base.ShallowCopy().Add(sx)
		}
		return othersSelfP
	}
	getP := func(rec *Occupant) *stanza.Element {
		switch {
		case r.canSeeRealJIDs(rec):
			return getFull()
		case o.BareJID == rec.BareJID:
			return getSelf()
		}
		return getAnon()
	}
	if opts.recipient != nil {
		r.routeToOccupant(opts.recipient, getP(opts.recipient))
		return
	}
	broadcast := r.config.Broadcasts(o.Role)
	prevBroadcast := opts.prevRole != "" && r.config.Broadcasts(opts.prevRole)
	// A visitor's presence goes to nobody when visitors are not broadcast:
	// skip the walk over a room of thousands.
	others := r.order
	if !broadcast && !prevBroadcast && !opts.force {
		others = nil
	}
	for _, n := range others {
		if n.JID == o.JID {
			continue
		}
		switch {
		case broadcast || opts.force:
			r.routeToOccupant(n, getP(n))
		case prevBroadcast:
			p := getP(n).ShallowCopy()
			p.Set("type", "unavailable")
			r.routeToOccupant(n, p)
		}
	}
	selfX := selfTemplate.Copy()
	r.buildItemList(o, selfX, false, nick, actorNick, "", reason)
	addStatus(selfX, "110")
	if o.Role == RoleNone || o.Role == "" {
		r.routeToOccupant(o, base.ShallowCopy().Add(selfX))
		return
	}
	for _, sess := range o.sessions {
		p := sess.pres.ShallowCopy()
		p.Set("to", sess.jid)
		r.Send(p.Add(selfX))
	}
}

// sendOccupantList sends the presence of every occupant (for which filter
// is true) to the real JID to, as a newly joined session needs.
func (r *Room) sendOccupantList(to string, filter func(*Occupant) bool) {
	toBare := to
	if i := strings.IndexByte(to, '/'); i >= 0 {
		toBare = to[:i]
	}
	anonymous := r.anonymousFor(to)
	for _, o := range r.order {
		// The role test first: it is cheap and, in a room of visitors
		// that are not broadcast, rules out nearly everyone before the
		// filter (which may compare against every session) runs.
		if toBare != o.BareJID && !r.config.Broadcasts(o.Role) {
			continue
		}
		if filter != nil && !filter(o) {
			continue
		}
		p := o.Presence()
		if p == nil {
			continue
		}
		x := userX()
		r.buildItemList(o, x, anonymous && toBare != o.BareJID, "", "", "", "")
		c := p.ShallowCopy()
		c.Set("to", to)
		r.Send(c.Add(x))
	}
}
