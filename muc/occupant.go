package muc

import (
	"slices"

	"github.com/parley-xmpp/parley/server/stanza"
)

// Occupant is someone in a room under a nick: one user (bare JID) with one
// or more sessions (full JIDs), each with its last presence. Occupants are
// owned by their room; change them only through Room methods or in the
// hooks that allow it.
type Occupant struct {
	// JID is the occupant JID, room@service/nick.
	JID string
	// Nick is the resourcepart of JID.
	Nick string
	// BareJID is the user's real bare JID.
	BareJID string
	// Role is the occupant's role; none means leaving.
	Role Role

	sessions []occSession
	primary  string
	stableID string
}

type occSession struct {
	jid  string
	pres *stanza.Element
}

func newOccupant(roomJID, nick, bare string) *Occupant {
	return &Occupant{JID: roomJID + "/" + nick, Nick: nick, BareJID: bare}
}

// SetNick changes the nick the occupant is about to join with (from an
// OccupantPreJoin handler).
func (o *Occupant) SetNick(nick string) {
	room := o.JID[:len(o.JID)-len(o.Nick)-1]
	o.Nick = nick
	o.JID = room + "/" + nick
}

// RealJID returns the primary session's full JID.
func (o *Occupant) RealJID() string { return o.primary }

// Sessions returns the full JIDs of the occupant's sessions.
func (o *Occupant) Sessions() []string {
	out := make([]string, len(o.sessions))
	for i, s := range o.sessions {
		out[i] = s.jid
	}
	return out
}

// Presence returns the primary session's last presence (from the
// occupant JID, without muc#user data). Do not modify it.
func (o *Occupant) Presence() *stanza.Element { return o.SessionPresence(o.primary) }

// SessionPresence returns the last presence of one session, or nil.
func (o *Occupant) SessionPresence(real string) *stanza.Element {
	for _, s := range o.sessions {
		if s.jid == real {
			return s.pres
		}
	}
	return nil
}

// HasSession reports whether real is one of the occupant's sessions.
func (o *Occupant) HasSession(real string) bool { return o.SessionPresence(real) != nil }

// setSession records the presence of a session, filtered of MUC protocol
// elements and addressed from the occupant JID, and picks the primary
// session as Prosody does.
func (o *Occupant) setSession(real string, pres *stanza.Element, replacePrimary bool) {
	p := filterMUC(pres)
	p.Set("from", o.JID).Set("to", real)
	i := slices.IndexFunc(o.sessions, func(s occSession) bool { return s.jid == real })
	if i >= 0 {
		o.sessions[i].pres = p
	} else {
		o.sessions = append(o.sessions, occSession{jid: real, pres: p})
	}
	switch {
	case replacePrimary:
		o.primary = real
	case o.primary == "" || (isUnavailable(p) && o.primary == real):
		if np := o.choosePrimary(); np != "" {
			o.primary = np
		} else {
			o.primary = real
		}
	}
}

func (o *Occupant) removeSession(real string) {
	o.sessions = slices.DeleteFunc(o.sessions, func(s occSession) bool { return s.jid == real })
	if o.primary == real {
		o.primary = o.choosePrimary()
	}
}

func (o *Occupant) choosePrimary() string {
	for _, s := range o.sessions {
		if !isUnavailable(s.pres) {
			return s.jid
		}
	}
	return ""
}

// prune drops the unavailable presences of sessions other than the
// primary, as Prosody's occupant copy does.
func (o *Occupant) prune() {
	o.sessions = slices.DeleteFunc(o.sessions, func(s occSession) bool {
		return isUnavailable(s.pres) && s.jid != o.primary
	})
}

// sessionCount counts the sessions (available or not).
func (o *Occupant) sessionCount() int { return len(o.sessions) }

func isUnavailable(p *stanza.Element) bool { return p != nil && p.Get("type") == "unavailable" }

// filterMUC returns a deep copy of a presence without the MUC protocol
// children a client may not forge (Prosody's filter_muc_x, which also
// covers hats).
func filterMUC(p *stanza.Element) *stanza.Element {
	c := p.Copy()
	removeNS(c, NS, NSUser, nsHats)
	return c
}

// removeNS removes the child elements of el in any of the namespaces.
func removeNS(el *stanza.Element, spaces ...string) {
	keep := el.Nodes[:0:0]
	changed := false
	for _, n := range el.Nodes {
		if n.El != nil && slices.Contains(spaces, n.El.Name.Space) {
			changed = true
			continue
		}
		keep = append(keep, n)
	}
	if changed {
		el.Nodes = keep
	}
}

const nsHats = "xmpp:prosody.im/protocol/hats:1"
