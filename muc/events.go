package muc

import (
	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/server/hook"
	"github.com/parley-xmpp/parley/server/stanza"
)

// Events are the typed hook chains of one MUC service, named after the
// Prosody events they stand for and fired with the room held. Handlers
// registered at Prosody's priorities interleave with the built-in ones as
// they would on Prosody; each field lists the built-in handlers and their
// priorities.
type Events struct {
	// RoomPreCreate ("muc-room-pre-create") runs before a room is created
	// by a join. Built-ins: locking (10), defaults (1), creation policy and
	// password from the join (0), creator becomes owner (-1). A veto
	// refuses the join and the room is not created.
	RoomPreCreate *hook.Chain[RoomCreateEvent]
	// RoomCreated ("muc-room-created") runs once the creator has joined.
	RoomCreated *hook.Chain[RoomCreateEvent]
	// OccupantPreJoin ("muc-occupant-pre-join") runs before an occupant
	// enters. Built-ins: nick checks (2, 1), reserved nicks (0), members
	// only (-5), ban (-10), password (-20), lock (-30). Jitsi: max
	// occupants 10, rate limit 9, jicofo lock 8, password whitelist -7.
	OccupantPreJoin *hook.Chain[JoinEvent]
	// OccupantJoined ("muc-occupant-joined") runs after the occupant's
	// self-presence went out.
	OccupantJoined *hook.Chain[OccupantEvent]
	// OccupantPreLeave ("muc-occupant-pre-leave") runs before an occupant
	// leaves by sending unavailable presence.
	OccupantPreLeave *hook.Chain[LeaveEvent]
	// OccupantLeft ("muc-occupant-left") runs after an occupant left, was
	// kicked, banned or removed. Built-in: destroy an empty temporary room
	// (-1).
	OccupantLeft *hook.Chain[OccupantEvent]
	// OccupantPreChange ("muc-occupant-pre-change") runs before a presence
	// update or nick change of an occupant.
	OccupantPreChange *hook.Chain[ChangeEvent]
	// RoomDestroyed ("muc-room-destroyed") runs when a room goes away.
	// Built-ins: forget and delete (0), tombstone (-10).
	RoomDestroyed *hook.Chain[DestroyEvent]
	// PreSetAffiliation ("muc-pre-set-affiliation") runs after the
	// permission checks and before an affiliation changes; a veto refuses
	// the change.
	PreSetAffiliation *hook.Chain[AffiliationEvent]
	// SetAffiliation ("muc-set-affiliation") runs after an affiliation
	// changed.
	SetAffiliation *hook.Chain[AffiliationEvent]
	// BroadcastPresence ("muc-broadcast-presence") runs before an
	// occupant's presence is sent to the room; handlers may edit the
	// presence. Built-in: occupant-id (0).
	BroadcastPresence *hook.Chain[PresenceEvent]
	// ConfigForm ("muc-config-form") builds the owner configuration form;
	// the built-in fields are added at Prosody's priorities (100 .. 63).
	ConfigForm *hook.Chain[ConfigFormEvent]
	// ConfigSubmitted ("muc-config-submitted") runs when an owner submits
	// the configuration form. Handlers above 0 may Drop fields; the
	// built-in handler at 0 applies the standard fields and unlocking runs
	// at -1.
	ConfigSubmitted *hook.Chain[ConfigSubmitEvent]
	// DiscoInfo ("muc-disco#info") builds a room's disco#info reply.
	DiscoInfo *hook.Chain[DiscoInfoEvent]
	// Stanza ("muc-stanza") runs for every stanza addressed to an
	// existing room or one of its occupants before the room handles it,
	// like handlers of Prosody's iq/presence/message events on the MUC
	// host at priorities above mod_muc's -2. A veto answers the stanza.
	Stanza *hook.Chain[StanzaEvent]
	// MaybeDestroyRoom ("maybe-destroy-room") runs when a module asks for
	// a room to go away (end of a conference, the last breakout room
	// closed). A handler that must keep the room alive (a persistent
	// lobby) returns hook.ErrStop. Built-in: Jitsi's room_destroy at -1,
	// which clears persistence and destroys the room.
	MaybeDestroyRoom *hook.Chain[MaybeDestroyEvent]
	// Groupchat ("muc-occupant-groupchat") runs for a groupchat message to
	// the room. Built-ins: role check (50), subject change (20),
	// occupant-id and delay stripping (0).
	Groupchat *hook.Chain[GroupchatEvent]
	// Invite ("muc-invite") runs before a mediated invitation (XEP-0045
	// §7.8.2) the room accepted goes to the invitee; handlers may edit the
	// outgoing message. Built-in: the room password (0), as Prosody's
	// password handling adds it. hook.ErrStop drops the invitation.
	Invite *hook.Chain[InviteEvent]
}

func newEvents() Events {
	return Events{
		RoomPreCreate:     hook.NewChain[RoomCreateEvent]("muc-room-pre-create"),
		RoomCreated:       hook.NewChain[RoomCreateEvent]("muc-room-created"),
		OccupantPreJoin:   hook.NewChain[JoinEvent]("muc-occupant-pre-join"),
		OccupantJoined:    hook.NewChain[OccupantEvent]("muc-occupant-joined"),
		OccupantPreLeave:  hook.NewChain[LeaveEvent]("muc-occupant-pre-leave"),
		OccupantLeft:      hook.NewChain[OccupantEvent]("muc-occupant-left"),
		OccupantPreChange: hook.NewChain[ChangeEvent]("muc-occupant-pre-change"),
		RoomDestroyed:     hook.NewChain[DestroyEvent]("muc-room-destroyed"),
		PreSetAffiliation: hook.NewChain[AffiliationEvent]("muc-pre-set-affiliation"),
		SetAffiliation:    hook.NewChain[AffiliationEvent]("muc-set-affiliation"),
		BroadcastPresence: hook.NewChain[PresenceEvent]("muc-broadcast-presence"),
		ConfigForm:        hook.NewChain[ConfigFormEvent]("muc-config-form"),
		ConfigSubmitted:   hook.NewChain[ConfigSubmitEvent]("muc-config-submitted"),
		DiscoInfo:         hook.NewChain[DiscoInfoEvent]("muc-disco#info"),
		Stanza:            hook.NewChain[StanzaEvent]("muc-stanza"),
		Groupchat:         hook.NewChain[GroupchatEvent]("muc-occupant-groupchat"),
		MaybeDestroyRoom:  hook.NewChain[MaybeDestroyEvent]("maybe-destroy-room"),
		Invite:            hook.NewChain[InviteEvent]("muc-invite"),
	}
}

// RoomCreateEvent is the payload of RoomPreCreate and RoomCreated.
type RoomCreateEvent struct {
	Room *Room
	// Stanza is the join presence that creates the room.
	Stanza *stanza.Element
	// From is the creator's real full JID.
	From jid.JID
}

// JoinEvent is the payload of OccupantPreJoin.
type JoinEvent struct {
	Room *Room
	// Stanza is the join presence; handlers may edit its children (Jitsi's
	// password whitelist injects the room password).
	Stanza *stanza.Element
	// From is the joining real full JID.
	From jid.JID
	// Occupant is the occupant about to enter, not yet in the room.
	// Handlers may change its role or nick (SetNick).
	Occupant *Occupant
	// IsNewRoom is set for the join that creates the room.
	IsNewRoom bool
	// IsFirstSession is false when the user joins an occupant it already
	// has another session in.
	IsFirstSession bool
}

// OccupantEvent is the payload of OccupantJoined and OccupantLeft.
type OccupantEvent struct {
	Room     *Room
	Occupant *Occupant
	// Stanza is the presence that caused the event, nil when the room
	// acted on its own (kick, ban, destroy).
	Stanza *stanza.Element
}

// LeaveEvent is the payload of OccupantPreLeave.
type LeaveEvent struct {
	Room     *Room
	Occupant *Occupant
	// Stanza is the unavailable presence.
	Stanza *stanza.Element
	From   jid.JID
	// IsLastSession is set when the occupant has no other session.
	IsLastSession bool
}

// ChangeEvent is the payload of OccupantPreChange.
type ChangeEvent struct {
	Room   *Room
	Stanza *stanza.Element
	From   jid.JID
	// Orig is the occupant the session is in; Dest the one it moves to
	// (the same for a presence update).
	Orig, Dest     *Occupant
	IsFirstSession bool
	IsLastSession  bool
}

// DestroyEvent is the payload of RoomDestroyed.
type DestroyEvent struct {
	Room                     *Room
	Reason, NewJID, Password string
}

// MaybeDestroyEvent is the payload of MaybeDestroyRoom.
type MaybeDestroyEvent struct {
	Room *Room
	// Reason goes into the <destroy/> sent to the occupants.
	Reason string
	// Caller names the module that asked, for logs.
	Caller string
}

// AffiliationEvent is the payload of PreSetAffiliation and SetAffiliation.
type AffiliationEvent struct {
	Room *Room
	// Actor is the real JID of who made the change, "" for the room itself.
	Actor string
	// JID is the bare JID (or domain) whose affiliation changes.
	JID         string
	Affiliation Affiliation
	Previous    Affiliation
	Reason      string
	// ReservedNick is the nick reserved with the change, if any.
	ReservedNick string
	// InRoom reports (for SetAffiliation) whether an occupant was affected.
	InRoom bool
}

// PresenceEvent is the payload of BroadcastPresence.
type PresenceEvent struct {
	Room     *Room
	Occupant *Occupant
	// Stanza is the presence to broadcast, before the muc#user <x/> is
	// added; handlers may edit it.
	Stanza *stanza.Element
	// X is the muc#user <x/> template with the status codes; read only.
	X *stanza.Element
	// Nick (new nick of a 303), Actor (real JID) and Reason may be changed.
	Nick, Actor, Reason string
}

// InviteEvent is the payload of Invite.
type InviteEvent struct {
	Room *Room
	// Stanza is the invitation about to go to the invitee, from the room.
	Stanza *stanza.Element
	// Incoming is the message the inviter sent to the room.
	Incoming *stanza.Element
	// From is the inviter's real full JID.
	From jid.JID
	// Invitee is the JID the invitation goes to.
	Invitee jid.JID
}

// HasStatus reports whether the broadcast carries status code.
func (e *PresenceEvent) HasStatus(code string) bool { return HasStatus(e.X, code) }

// ConfigFormEvent is the payload of ConfigForm.
type ConfigFormEvent struct {
	Room *Room
	// Actor is who asks for (or submits) the form.
	Actor jid.JID
	Form  *Form
}

// ConfigSubmitEvent is the payload of ConfigSubmitted.
type ConfigSubmitEvent struct {
	Room   *Room
	Actor  jid.JID
	Stanza *stanza.Element
	// Submission holds the submitted fields; empty for an instant room.
	Submission *Submission
	// StatusCodes collects the status codes announced to the room
	// afterwards ("104" for a configuration change).
	StatusCodes map[string]bool
}

// DiscoInfoEvent is the payload of DiscoInfo.
type DiscoInfoEvent struct {
	Room   *Room
	Stanza *stanza.Element
	From   jid.JID
	// Node is the queried node ("" for the room itself).
	Node string
	// Reply is the <query/> element; handlers add identities and
	// features.
	Reply *stanza.Element
	// Form is the muc#roominfo form, nil for node queries.
	Form *Form
}

// StanzaEvent is the payload of Stanza.
type StanzaEvent struct {
	Room     *Room
	Stanza   *stanza.Element
	From, To jid.JID
}

// GroupchatEvent is the payload of Groupchat.
type GroupchatEvent struct {
	Room   *Room
	Stanza *stanza.Element
	From   jid.JID
	// Occupant is the sender, nil when the sender is not in the room.
	Occupant *Occupant
}

// HasStatus reports whether a muc#user <x/> (nil allowed) has
// <status code=code/>.
func HasStatus(x *stanza.Element, code string) bool {
	if x == nil {
		return false
	}
	for _, c := range x.Elements() {
		if c.Name.Local == "status" && c.Get("code") == code {
			return true
		}
	}
	return false
}
