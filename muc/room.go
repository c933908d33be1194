package muc

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/server/stanza"
)

// RoomConfig is a room's configuration (Prosody's room._data).
type RoomConfig struct {
	Name        string
	Description string
	Language    string
	// Password is the room secret; "" for none.
	Password string
	// Hidden rooms are left out of the service's disco#items.
	Hidden      bool
	Persistent  bool
	MembersOnly bool
	// AllowMemberInvites lets members invite in a members-only room.
	AllowMemberInvites bool
	Moderated          bool
	// Whois is "moderators" (semi-anonymous) or "anyone".
	Whois string
	// ChangeSubject lets participants change the subject.
	ChangeSubject bool
	// HistoryLength is how many messages the room keeps.
	HistoryLength int
	// DefaultHistoryMessages is how many are sent on join by default.
	DefaultHistoryMessages int
	// PresenceBroadcast lists the roles whose presence is broadcast.
	PresenceBroadcast []Role
	// AllowQueryUsers lets occupants send IQs to other occupants through
	// the room (XEP-0045 §7.7 IQ relaying); when false such IQs get
	// cancel/not-allowed (SECURITY-CASES 138). It is ejabberd's
	// allow_query_users: the config form field "allow_query_users" (the
	// name ejabberd uses; XEP-0045's registry has none) and the component
	// option muc_room_default_allow_query_users (default true) set it.
	// Self-pings (XEP-0410) are always answered.
	AllowQueryUsers bool
}

const defaultHistoryLength = 20

// maxSpare bounds the outbox buffer a room keeps between operations.
const maxSpare = 1 << 14

func defaultRoomConfig() RoomConfig {
	return RoomConfig{
		Whois:                  WhoisModerators,
		HistoryLength:          defaultHistoryLength,
		DefaultHistoryMessages: defaultHistoryLength,
		PresenceBroadcast:      []Role{RoleVisitor, RoleParticipant, RoleModerator},
		AllowQueryUsers:        true,
	}
}

// Broadcasts reports whether presence of role is broadcast.
func (c *RoomConfig) Broadcasts(r Role) bool {
	if r == "" {
		r = RoleNone
	}
	return slices.Contains(c.PresenceBroadcast, r)
}

// Room is one chat room. Its methods must be called with the room held:
// from a hook handler for the room or through Service.Do.
type Room struct {
	svc  *Service
	jid  string
	node string

	mu sync.Mutex

	config       RoomConfig
	occupants    map[string]*Occupant // occupant JID -> occupant
	order        []*Occupant          // join order, for stable iteration
	byReal       map[string]string    // real full JID -> occupant JID
	affiliations map[string]Affiliation
	reserved     map[string]string // bare JID -> reserved nick
	history      []historyEntry
	subject      string
	subjectFrom  string
	subjectTime  time.Time
	salt         string
	lockedUntil  time.Time
	values       map[any]any
	created      time.Time

	destroying bool
	gone       bool
	tomb       *tombstone

	out      []*stanza.Element
	spare    []*stanza.Element // the outbox's other buffer
	flushing bool
	dirty    []*Occupant
}

func newRoom(s *Service, roomJID string) *Room {
	node, _, _ := strings.Cut(roomJID, "@")
	return &Room{
		svc:          s,
		jid:          roomJID,
		node:         node,
		config:       defaultRoomConfig(),
		occupants:    map[string]*Occupant{},
		byReal:       map[string]string{},
		affiliations: map[string]Affiliation{},
		reserved:     map[string]string{},
		values:       map[any]any{},
		created:      s.now(),
	}
}

// JID returns the room's bare JID.
func (r *Room) JID() string { return r.jid }

// Node returns the localpart of the room JID.
func (r *Room) Node() string { return r.node }

// Service returns the service the room belongs to.
func (r *Room) Service() *Service { return r.svc }

// Config returns the room's configuration for reading and changing.
func (r *Room) Config() *RoomConfig { return &r.config }

// Created returns when the room object was created.
func (r *Room) Created() time.Time { return r.created }

// Destroyed reports whether the room was destroyed (or is being).
func (r *Room) Destroyed() bool { return r.gone || r.destroying }

// Value returns module state stored with SetValue (nil when absent). Use
// an unexported key type per module, as with context values.
func (r *Room) Value(key any) any { return r.values[key] }

// SetValue stores module state with the room; nil deletes it.
func (r *Room) SetValue(key, v any) {
	if v == nil {
		delete(r.values, key)
		return
	}
	r.values[key] = v
}

// Send queues a stanza; it is routed after the room is released, in
// order with everything else the room sends.
func (r *Room) Send(el *stanza.Element) { r.out = append(r.out, el) }

// unlockAndFlush releases the room and routes what it queued. Only one
// goroutine drains a room's outbox at a time, so stanzas leave in the order
// they were queued; the drainer routes without holding the room.
func (r *Room) unlockAndFlush(ctx context.Context) {
	for _, o := range r.dirty {
		o.prune()
	}
	r.dirty = r.dirty[:0]
	if r.flushing || len(r.out) == 0 {
		r.mu.Unlock()
		return
	}
	r.flushing = true
	for len(r.out) > 0 {
		batch := r.out
		r.out = r.spare[:0]
		r.spare = nil
		r.mu.Unlock()
		for _, el := range batch {
			r.svc.route(ctx, el)
		}
		clear(batch)
		r.mu.Lock()
		if r.spare == nil && cap(batch) <= maxSpare {
			r.spare = batch[:0]
		}
	}
	r.flushing = false
	r.mu.Unlock()
}

// Occupants returns the occupants in join order.
func (r *Room) Occupants() []*Occupant { return slices.Clone(r.order) }

// Count returns the number of occupants.
func (r *Room) Count() int { return len(r.order) }

// HasOccupants reports whether anyone is in the room.
func (r *Room) HasOccupants() bool { return len(r.order) > 0 }

// OccupantByNick returns the occupant with the given nick, or nil.
func (r *Room) OccupantByNick(nick string) *Occupant { return r.occupants[r.jid+"/"+nick] }

// Occupant returns the occupant with the given occupant JID, or nil.
func (r *Room) Occupant(occupantJID string) *Occupant { return r.occupants[occupantJID] }

// OccupantByRealJID returns the occupant a real full JID is in, or nil.
func (r *Room) OccupantByRealJID(real string) *Occupant {
	if oj, ok := r.byReal[real]; ok {
		return r.occupants[oj]
	}
	return nil
}

// OccupantJID returns the occupant JID a real full JID is in, or "".
func (r *Room) OccupantJID(real string) string { return r.byReal[real] }

// saveOccupant stores an occupant after a change: an occupant without an
// available session, or with role none, leaves the room. It returns the
// occupant if it is (still) in the room.
//
// Like Prosody, which saves a copy, the caller's view of o keeps its role
// and its stale sessions for the rest of the operation; the sessions are
// pruned when the room is released.
func (r *Room) saveOccupant(o *Occupant) *Occupant {
	if !slices.Contains(r.dirty, o) {
		r.dirty = append(r.dirty, o)
	}
	if old := r.occupants[o.JID]; old != nil {
		for _, s := range old.sessions {
			if r.byReal[s.jid] == o.JID {
				delete(r.byReal, s.jid)
			}
		}
	}
	live := false
	if o.Role != RoleNone && o.Role != "" {
		for _, s := range o.sessions {
			if !isUnavailable(s.pres) {
				live = true
				r.byReal[s.jid] = o.JID
			}
		}
	}
	if !live {
		r.dropOccupant(o.JID)
		return nil
	}
	if old := r.occupants[o.JID]; old != o {
		if old != nil {
			r.order = slices.DeleteFunc(r.order, func(x *Occupant) bool { return x == old })
		}
		r.occupants[o.JID] = o
		r.order = append(r.order, o)
	}
	return o
}

func (r *Room) dropOccupant(occupantJID string) {
	old := r.occupants[occupantJID]
	if old == nil {
		return
	}
	delete(r.occupants, occupantJID)
	r.order = slices.DeleteFunc(r.order, func(x *Occupant) bool { return x == old })
}

// RemoveSilently takes an occupant out of the room without telling
// anyone and returns its previous role; AnnounceLeft tells the room later.
// Jitsi's rate limiter uses the pair to spread leaves over time.
func (r *Room) RemoveSilently(o *Occupant) Role {
	prev := o.Role
	o.Role = RoleNone
	r.saveOccupant(o)
	return prev
}

// AnnounceLeft broadcasts the unavailable presence of an occupant removed
// with RemoveSilently and fires OccupantLeft.
func (r *Room) AnnounceLeft(ctx context.Context, o *Occupant, prev Role) {
	r.publicise(ctx, o, xset{base: userX()}, publishOpts{prevRole: prev})
	r.fireLeft(ctx, o, nil)
}

// Affiliation returns the affiliation of a JID (its bare JID counts; a
// banned domain bans its users). Admins are owners when the component says
// so (component_admins_as_room_owners).
func (r *Room) Affiliation(j string) Affiliation {
	bare, ok := normalBare(j)
	if !ok {
		return AffiliationNone
	}
	if c := r.svc.cfg(); c.adminsAsOwners && c.admins[bare] {
		return AffiliationOwner
	}
	if a, ok := r.affiliations[bare]; ok {
		return a
	}
	if r.affiliations[domainOf(bare)] == AffiliationOutcast {
		return AffiliationOutcast
	}
	return AffiliationNone
}

// normalBare returns the normalized bare JID of j. JIDs inside the service
// are normalized already, so plain lower-case ASCII skips the (costly)
// PRECIS preparation.
func normalBare(j string) (string, bool) {
	bare := bareOf(j)
	for i := 0; i < len(bare); i++ {
		if c := bare[i]; c >= 0x80 || ('A' <= c && c <= 'Z') || c == ' ' {
			pj, err := jid.Parse(j)
			if err != nil {
				return "", false
			}
			return pj.Bare().String(), true
		}
	}
	return bare, bare != ""
}

// Affiliations returns the JIDs with the given affiliation, sorted.
func (r *Room) Affiliations(a Affiliation) []string {
	var out []string
	for j, aa := range r.affiliations {
		if aa == a {
			out = append(out, j)
		}
	}
	slices.Sort(out)
	return out
}

// ReservedNick returns the nick reserved for a bare JID, or "".
func (r *Room) ReservedNick(bare string) string { return r.reserved[bare] }

// reservedBy returns the bare JID that reserved nick, or "".
func (r *Room) reservedBy(nick string) string {
	for j, n := range r.reserved {
		if n == nick {
			return j
		}
	}
	return ""
}

// DefaultRole returns the role a user with affiliation a gets on joining:
// moderator for admins and owners, none for non-members of a members-only
// room, visitor for unaffiliated users of a moderated room, else
// participant (outcasts: none).
func (r *Room) DefaultRole(a Affiliation) Role {
	switch {
	case a.Rank() >= AffiliationAdmin.Rank():
		return RoleModerator
	case a == AffiliationNone && r.config.MembersOnly:
		return RoleNone
	case a == AffiliationNone && r.config.Moderated:
		return RoleVisitor
	case a.Rank() >= 0:
		return RoleParticipant
	}
	return RoleNone
}

// Locked reports whether the room is locked (created but not configured,
// XEP-0045 §10.1.2).
func (r *Room) Locked() bool {
	if r.lockedUntil.IsZero() {
		return false
	}
	if r.svc.now().Before(r.lockedUntil) {
		return true
	}
	r.lockedUntil = time.Time{}
	return false
}

// Unlock unlocks the room.
func (r *Room) Unlock() { r.lockedUntil = time.Time{} }

// canSeeRealJIDs reports whether occupant o may see real JIDs under the
// room's whois setting.
func (r *Room) canSeeRealJIDs(o *Occupant) bool {
	switch r.config.Whois {
	case WhoisAnyone:
		return true
	case WhoisModerators:
		return o != nil && o.Role.Rank() >= RoleModerator.Rank()
	}
	return false
}

// anonymousFor reports whether real JIDs are hidden from the real JID j.
func (r *Room) anonymousFor(j string) bool {
	if r.config.Whois == WhoisAnyone {
		return false
	}
	a := r.Affiliation(j)
	if a == AffiliationAdmin || a == AffiliationOwner {
		return false
	}
	return !r.canSeeRealJIDs(r.OccupantByRealJID(j))
}

// routeToOccupant sends el to every session of o, each copy addressed to
// the session.
func (r *Room) routeToOccupant(o *Occupant, el *stanza.Element) {
	for _, s := range o.sessions {
		c := el.ShallowCopy()
		c.Set("to", s.jid)
		r.Send(c)
	}
}

// Broadcast sends el to every session of every occupant for which cond
// (nil: all) is true.
func (r *Room) Broadcast(el *stanza.Element, cond func(*Occupant) bool) {
	for _, o := range r.order {
		if cond == nil || cond(o) {
			r.routeToOccupant(o, el)
		}
	}
}
