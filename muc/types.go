package muc

import (
	mmuc "mellium.im/xmpp/muc"
)

// Namespaces used by the MUC component.
const (
	NS           = mmuc.NS
	NSUser       = mmuc.NSUser
	NSOwner      = mmuc.NSOwner
	NSAdmin      = mmuc.NSAdmin
	NSConference = mmuc.NSConf
	NSUnique     = "http://jabber.org/protocol/muc#unique"
	NSRoomConfig = "http://jabber.org/protocol/muc#roomconfig"
	NSRoomInfo   = "http://jabber.org/protocol/muc#roominfo"
	NSRequest    = "http://jabber.org/protocol/muc#request"
	NSStableID   = "http://jabber.org/protocol/muc#stable_id"
	NSSelfPing   = "http://jabber.org/protocol/muc#self-ping-optimization"
	NSDataForms  = "jabber:x:data"
	NSValidate   = "http://jabber.org/protocol/xdata-validate"
	NSDiscoInfo  = "http://jabber.org/protocol/disco#info"
	NSDiscoItems = "http://jabber.org/protocol/disco#items"
	NSDelay      = "urn:xmpp:delay"
	NSLegacyDel  = "jabber:x:delay"
	NSOccupantID = "urn:xmpp:occupant-id:0"
	NSPing       = "urn:xmpp:ping"
	NSHints      = "urn:xmpp:hints"
	NSStanzaID   = "urn:xmpp:sid:0"
)

// Role is an occupant's role in a room (XEP-0045 §5.1).
type Role string

// The roles, lowest first.
const (
	RoleNone        Role = "none"
	RoleVisitor     Role = "visitor"
	RoleParticipant Role = "participant"
	RoleModerator   Role = "moderator"
)

// Rank orders roles: none 0, visitor 1, participant 2, moderator 3; -1 for
// an unknown role.
func (r Role) Rank() int {
	switch r {
	case RoleNone, "":
		return 0
	case RoleVisitor:
		return 1
	case RoleParticipant:
		return 2
	case RoleModerator:
		return 3
	}
	return -1
}

// ParseRole reports whether s names a role.
func ParseRole(s string) (Role, bool) {
	r := Role(s)
	return r, r.Rank() >= 0 && s != ""
}

// Affiliation is a user's long-lived affiliation with a room (XEP-0045
// §5.2).
type Affiliation string

// The affiliations, lowest first.
const (
	AffiliationOutcast Affiliation = "outcast"
	AffiliationNone    Affiliation = "none"
	AffiliationMember  Affiliation = "member"
	AffiliationAdmin   Affiliation = "admin"
	AffiliationOwner   Affiliation = "owner"
)

// Rank orders affiliations: outcast -1, none 0, member 1, admin 2, owner 3;
// -2 for an unknown affiliation.
func (a Affiliation) Rank() int {
	switch a {
	case AffiliationOutcast:
		return -1
	case AffiliationNone, "":
		return 0
	case AffiliationMember:
		return 1
	case AffiliationAdmin:
		return 2
	case AffiliationOwner:
		return 3
	}
	return -2
}

// ParseAffiliation reports whether s names an affiliation.
func ParseAffiliation(s string) (Affiliation, bool) {
	a := Affiliation(s)
	return a, a.Rank() > -2 && s != ""
}

// Whois values for RoomConfig.Whois.
const (
	WhoisModerators = "moderators"
	WhoisAnyone     = "anyone"
)
