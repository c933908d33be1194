package muc

import (
	"context"
	"slices"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/server/stanza"
)

// owner of the built-in handlers in hook listings.
const builtin = "muc"

// registerBuiltins puts mod_muc's own behaviour on the hook chains, at
// Prosody's priorities.
func (s *Service) registerBuiltins() {
	e := &s.Events

	// Room creation.
	if s.cfg().locking {
		e.RoomPreCreate.On(10, builtin, s.lockNewRoom)
	}
	e.RoomPreCreate.On(1, builtin, s.applyDefaults)
	e.RoomPreCreate.On(0, builtin, s.passwordFromJoin)
	e.RoomPreCreate.On(0, builtin, s.restrictCreation)
	e.RoomPreCreate.On(-1, builtin, s.creatorIsOwner)

	// Joining and changing.
	e.OccupantPreJoin.On(1, builtin, func(_ context.Context, ev *JoinEvent) error {
		return invisibleNick(ev.Room, ev.Occupant)
	})
	e.OccupantPreJoin.On(0, builtin, func(_ context.Context, ev *JoinEvent) error {
		return reservedNick(ev.Room, ev.Occupant, ev.From)
	})
	if s.cfg().occupantID {
		e.OccupantPreJoin.On(0, builtin, func(_ context.Context, ev *JoinEvent) error {
			ev.Room.stampOccupantID(ev.Stanza, ev.Occupant)
			return nil
		})
	}
	e.OccupantPreJoin.On(-5, builtin, membersOnlyJoin)
	e.OccupantPreJoin.On(-10, builtin, banCheck)
	e.OccupantPreJoin.On(-20, builtin, passwordCheck)
	e.OccupantPreJoin.On(-30, builtin, s.lockCheck)

	e.OccupantPreChange.On(1, builtin, func(_ context.Context, ev *ChangeEvent) error {
		return invisibleNick(ev.Room, ev.Dest)
	})
	e.OccupantPreChange.On(0, builtin, func(_ context.Context, ev *ChangeEvent) error {
		return reservedNick(ev.Room, ev.Dest, ev.From)
	})
	if s.cfg().occupantID {
		e.OccupantPreChange.On(0, builtin, func(_ context.Context, ev *ChangeEvent) error {
			ev.Room.stampOccupantID(ev.Stanza, ev.Dest)
			return nil
		})
		e.BroadcastPresence.On(0, builtin, func(_ context.Context, ev *PresenceEvent) error {
			ev.Room.stampOccupantID(ev.Stanza, ev.Occupant)
			return nil
		})
	}

	// Leaving and destruction.
	e.OccupantLeft.On(-1, builtin, s.destroyWhenEmpty)
	e.MaybeDestroyRoom.On(-1, "room_destroy", s.destroyOnRequest)
	e.RoomDestroyed.On(0, builtin, s.forgetDestroyed)
	if s.cfg().tombstones {
		e.RoomDestroyed.On(-10, builtin, s.leaveTombstone)
	}

	// Groupchat.
	e.Groupchat.On(50, builtin, s.groupchatRole)
	e.Groupchat.On(20, builtin, s.groupchatSubject)
	e.Groupchat.On(0, builtin, s.groupchatStrip)

	// Configuration.
	s.registerConfigFields()
	e.ConfigSubmitted.On(0, builtin, s.applyConfig)
	e.ConfigSubmitted.On(-1, builtin, func(_ context.Context, ev *ConfigSubmitEvent) error {
		ev.Room.Unlock()
		return nil
	})
	e.DiscoInfo.On(0, builtin, s.roomDiscoInfo)
	e.Invite.On(0, builtin, invitePassword)
}

// invitePassword puts the room password in a mediated invitation
// (XEP-0045 §7.8.2); Jitsi's lobby removes it again (SECURITY-CASES 132).
func invitePassword(_ context.Context, ev *InviteEvent) error {
	if pw := ev.Room.config.Password; pw != "" {
		if x := ev.Stanza.Child(NSUser, "x"); x != nil {
			x.Add(stanza.New(NSUser, "password").AddText(pw))
		}
	}
	return nil
}

func (s *Service) lockNewRoom(_ context.Context, ev *RoomCreateEvent) error {
	if s.cfg().locking && ev.Stanza.Child(NS, "x") != nil {
		ev.Room.lockedUntil = s.now().Add(s.cfg().lockTimeout)
	}
	return nil
}

func (s *Service) applyDefaults(_ context.Context, ev *RoomCreateEvent) error {
	c := s.cfg().defaults
	c.PresenceBroadcast = slices.Clone(c.PresenceBroadcast)
	if lang := ev.Stanza.Lang(); lang != "" {
		c.Language = lang
	}
	ev.Room.config = c
	return nil
}

func (s *Service) passwordFromJoin(_ context.Context, ev *RoomCreateEvent) error {
	if x := ev.Stanza.Child(NS, "x"); x != nil {
		ev.Room.config.Password = x.ChildText(NS, "password")
	}
	return nil
}

// restrictCreation implements restrict_room_creation (SECURITY-CASES 121,
// 122: admins of this component create rooms).
func (s *Service) restrictCreation(_ context.Context, ev *RoomCreateEvent) error {
	if s.cfg().restrict == "" || s.IsAdmin(ev.From.String()) {
		return nil
	}
	if s.cfg().restrict == "local" && s.isLocalUser(ev.From) {
		return nil
	}
	return deny("cancel", "not-allowed", "Room creation is restricted", s.domain)
}

// isLocalUser reports whether a user is on the host the component belongs
// to or on another VirtualHost of this server.
func (s *Service) isLocalUser(j jid.JID) bool {
	d := j.Domainpart()
	if _, suffix, ok := strings.Cut(s.domain, "."); ok && d == suffix {
		return true
	}
	return j.Localpart() != "" && s.srv.Host(d) != nil
}

func (s *Service) creatorIsOwner(ctx context.Context, ev *RoomCreateEvent) error {
	if err := ev.Room.setAffiliation(ctx, "", ev.From.Bare().String(), AffiliationOwner, "", ""); err != nil {
		s.log.Debug("creator not made owner", "room", ev.Room.jid, "err", err)
	}
	return nil
}

func invisibleNick(r *Room, o *Occupant) error {
	if strings.TrimSpace(o.Nick) == "" {
		return deny("modify", "not-allowed", "Invisible Nicknames are forbidden", r.jid)
	}
	return nil
}

func reservedNick(r *Room, o *Occupant, from jid.JID) error {
	if by := r.reservedBy(o.Nick); by != "" && by != from.Bare().String() {
		return deny("cancel", "conflict", "", r.jid)
	}
	return nil
}

func membersOnlyJoin(_ context.Context, ev *JoinEvent) error {
	r := ev.Room
	if r.config.MembersOnly && r.Affiliation(ev.From.String()).Rank() <= AffiliationNone.Rank() {
		// SECURITY-CASES 130.
		return deny("auth", "registration-required", "", r.jid)
	}
	return nil
}

func banCheck(_ context.Context, ev *JoinEvent) error {
	if ev.Room.Affiliation(ev.From.String()) == AffiliationOutcast {
		// SECURITY-CASES 129.
		return deny("auth", "forbidden", "", ev.Room.jid)
	}
	return nil
}

func passwordCheck(_ context.Context, ev *JoinEvent) error {
	r := ev.Room
	if r.config.Password == "" {
		return nil
	}
	x := ev.Stanza.Child(NS, "x")
	if x == nil {
		return nil
	}
	if x.ChildText(NS, "password") != r.config.Password {
		// SECURITY-CASES 128.
		return deny("auth", "not-authorized", "", r.jid)
	}
	return nil
}

func (s *Service) lockCheck(_ context.Context, ev *JoinEvent) error {
	if !ev.IsNewRoom && ev.Room.Locked() {
		return deny("cancel", "item-not-found", "", s.domain)
	}
	return nil
}

func (s *Service) destroyWhenEmpty(ctx context.Context, ev *OccupantEvent) error {
	r := ev.Room
	if r.destroying || r.gone || r.HasOccupants() || r.config.Persistent {
		return nil
	}
	r.destroying = true
	r.fireDestroyed(ctx, &DestroyEvent{Room: r})
	return nil
}

// destroyOnRequest is Jitsi's room_destroy: a maybe-destroy-room request
// nobody objected to destroys the room, persistent or not.
func (s *Service) destroyOnRequest(ctx context.Context, ev *MaybeDestroyEvent) error {
	r := ev.Room
	if r.destroying || r.gone {
		return nil
	}
	s.log.Info("destroying room", "room", r.jid, "requested_by", ev.Caller)
	r.config.Persistent = false
	return r.Destroy(ctx, "", ev.Reason, "")
}

func (s *Service) forgetDestroyed(ctx context.Context, ev *DestroyEvent) error {
	r := ev.Room
	s.forget(r)
	if err := s.store.remove(ctx, r.jid); err != nil {
		s.log.Error("could not delete a destroyed room", "room", r.jid, "err", err)
	}
	s.met.destroyed.Inc()
	return nil
}

// registerConfigFields adds the standard configuration form fields at
// Prosody 0.12's priorities, so that the form has the same layout.
func (s *Service) registerConfigFields() {
	add := func(prio int, f func(ev *ConfigFormEvent)) {
		s.Events.ConfigForm.On(prio, builtin, func(_ context.Context, ev *ConfigFormEvent) error {
			f(ev)
			return nil
		})
	}
	fixed := func(label string) func(*ConfigFormEvent) {
		return func(ev *ConfigFormEvent) {
			ev.Form.Add(&Field{Type: "fixed", Values: []string{label}})
		}
	}
	add(100, fixed("Room information"))
	add(99, func(ev *ConfigFormEvent) {
		ev.Form.Add(&Field{Var: "muc#roomconfig_roomname", Type: "text-single", Label: "Title", Values: optText(ev.Room.config.Name)})
	})
	add(98, func(ev *ConfigFormEvent) {
		ev.Form.Add(&Field{Var: "muc#roomconfig_roomdesc", Type: "text-single", Label: "Description",
			Desc: "A brief description of the room", Values: []string{ev.Room.config.Description}})
	})
	add(97, func(ev *ConfigFormEvent) {
		ev.Form.Add(&Field{Var: "muc#roomconfig_lang", Type: "text-single", Label: "Language tag for room (e.g. 'en', 'de', 'fr' etc.)",
			Desc: "Indicate the primary language spoken in this room", Datatype: "xs:language", Values: []string{ev.Room.config.Language}})
	})
	add(95, func(ev *ConfigFormEvent) {
		if !s.cfg().allowPersistent && !s.IsAdmin(ev.Actor.String()) {
			return
		}
		ev.Form.Add(&Field{Var: "muc#roomconfig_persistentroom", Type: "boolean", Label: "Persistent (room should remain even when it is empty)",
			Desc: "Rooms are automatically deleted when they are empty, unless this option is enabled", Values: optBoolValues(ev.Room.config.Persistent)})
	})
	add(91, func(ev *ConfigFormEvent) {
		if !s.cfg().allowPublic && !s.IsAdmin(ev.Actor.String()) {
			return
		}
		ev.Form.Add(&Field{Var: "muc#roomconfig_publicroom", Type: "boolean", Label: "Include room information in public lists",
			Desc: "Enable this to allow people to find the room", Values: boolValues(!ev.Room.config.Hidden)})
	})
	add(90, fixed("Access to the room"))
	add(88, func(ev *ConfigFormEvent) {
		ev.Form.Add(&Field{Var: "muc#roomconfig_roomsecret", Type: "text-private", Label: "Password", Values: []string{ev.Room.config.Password}})
	})
	add(87, func(ev *ConfigFormEvent) {
		c := &ev.Room.config
		ev.Form.Add(&Field{Var: "muc#roomconfig_membersonly", Type: "boolean", Label: "Only allow members to join",
			Desc: "Enable this to only allow access for room owners, admins and members", Values: optBoolValues(c.MembersOnly)})
		ev.Form.Add(&Field{Var: "{http://prosody.im/protocol/muc}roomconfig_allowmemberinvites", Type: "boolean",
			Label: "Allow members to invite new members", Values: optBoolValues(c.AllowMemberInvites)})
	})
	add(80, fixed("Permissions in the room"))
	add(79, func(ev *ConfigFormEvent) {
		ev.Form.Add(&Field{Var: "muc#roomconfig_changesubject", Type: "boolean", Label: "Allow anyone to set the room's subject",
			Desc: "Choose whether anyone, or only moderators, may set the room's subject", Values: optBoolValues(ev.Room.config.ChangeSubject)})
	})
	add(78, func(ev *ConfigFormEvent) {
		ev.Form.Add(&Field{Var: FieldAllowQueryUsers, Type: "boolean", Label: "Allow occupants to query other occupants",
			Desc: "Whether occupants may send IQ requests to other occupants through the room", Values: boolValues(ev.Room.config.AllowQueryUsers)})
	})
	add(77, func(ev *ConfigFormEvent) {
		ev.Form.Add(&Field{Var: "muc#roomconfig_moderatedroom", Type: "boolean", Label: "Moderated (require permission to speak)",
			Desc: "In moderated rooms occupants must be given permission to speak by a room moderator", Values: optBoolValues(ev.Room.config.Moderated)})
	})
	add(76, func(ev *ConfigFormEvent) {
		ev.Form.Add(&Field{Var: "muc#roomconfig_whois", Type: "list-single", Label: "Addresses (JIDs) of room occupants may be viewed by:",
			Options: []FieldOption{{Label: "Moderators only", Value: WhoisModerators}, {Label: "Anyone", Value: WhoisAnyone}},
			Values:  []string{ev.Room.config.Whois}})
	})
	add(70, fixed("Other options"))
	add(65, func(ev *ConfigFormEvent) {
		c := &ev.Room.config
		ev.Form.Add(&Field{Var: "muc#roomconfig_historylength", Type: "text-single", Datatype: "xs:integer",
			Label:  "Maximum number of history messages returned by room",
			Desc:   "Specify the maximum number of previous messages that should be sent to users when they join the room",
			Values: []string{itoa(ev.Room.historyLimit())}})
		ev.Form.Add(&Field{Var: "muc#roomconfig_defaulthistorymessages", Type: "text-single", Datatype: "xs:integer",
			Label:  "Default number of history messages returned by room",
			Desc:   "Specify the number of previous messages sent to new users when they join the room",
			Values: []string{itoa(c.DefaultHistoryMessages)}})
	})
	add(63, func(ev *ConfigFormEvent) {
		var vals []string
		for _, r := range []Role{RoleNone, RoleVisitor, RoleParticipant, RoleModerator} {
			if ev.Room.config.Broadcasts(r) {
				vals = append(vals, string(r))
			}
		}
		var opts []FieldOption
		for _, r := range []string{"none", "visitor", "participant", "moderator"} {
			opts = append(opts, FieldOption{Label: r, Value: r})
		}
		ev.Form.Add(&Field{Var: "muc#roomconfig_presencebroadcast", Type: "list-multi", Label: "Only show participants with roles:",
			Options: opts, Values: vals})
	})
}

// applyConfig applies the standard fields of a submitted form; fields a
// higher-priority handler dropped are left alone.
func (s *Service) applyConfig(ctx context.Context, ev *ConfigSubmitEvent) error {
	r, sub := ev.Room, ev.Submission
	c := &r.config
	changed := func(ok bool) {
		if ok {
			ev.StatusCodes["104"] = true
		}
	}
	setStr := func(p *string, v string) bool {
		if *p == v {
			return false
		}
		*p = v
		return true
	}
	setBool := func(p *bool, v bool) bool {
		if *p == v {
			return false
		}
		*p = v
		return true
	}
	for _, f := range sub.Fields() {
		switch f {
		case "muc#roomconfig_roomname":
			changed(setStr(&c.Name, sub.String(f)))
		case "muc#roomconfig_roomdesc":
			changed(setStr(&c.Description, sub.String(f)))
		case "muc#roomconfig_lang":
			changed(setStr(&c.Language, sub.String(f)))
		case "muc#roomconfig_persistentroom":
			if s.cfg().allowPersistent || s.IsAdmin(ev.Actor.String()) {
				changed(setBool(&c.Persistent, sub.Bool(f)))
			}
		case "muc#roomconfig_publicroom":
			if s.cfg().allowPublic || s.IsAdmin(ev.Actor.String()) {
				changed(setBool(&c.Hidden, !sub.Bool(f)))
			}
		case "muc#roomconfig_roomsecret":
			changed(setStr(&c.Password, sub.String(f)))
		case "muc#roomconfig_membersonly":
			if v := sub.Bool(f); v != c.MembersOnly {
				ev.StatusCodes["104"] = true
				r.setMembersOnly(ctx, v)
			}
		case "{http://prosody.im/protocol/muc}roomconfig_allowmemberinvites":
			changed(setBool(&c.AllowMemberInvites, sub.Bool(f)))
		case "muc#roomconfig_changesubject":
			changed(setBool(&c.ChangeSubject, sub.Bool(f)))
		case FieldAllowQueryUsers:
			changed(setBool(&c.AllowQueryUsers, sub.Bool(f)))
		case "muc#roomconfig_moderatedroom":
			changed(setBool(&c.Moderated, sub.Bool(f)))
		case "muc#roomconfig_whois":
			v := sub.String(f)
			if (v == WhoisAnyone || v == WhoisModerators) && v != c.Whois {
				c.Whois = v
				if v == WhoisModerators {
					ev.StatusCodes["173"] = true
				} else {
					ev.StatusCodes["172"] = true
				}
			}
		case "muc#roomconfig_historylength":
			if n, ok := sub.Int(f); ok && n >= 0 {
				c.HistoryLength = n
				ev.StatusCodes["104"] = true
			}
		case "muc#roomconfig_defaulthistorymessages":
			// Prosody applies it without announcing a change.
			n, ok := sub.Int(f)
			if !ok {
				n = defaultHistoryLength
			}
			c.DefaultHistoryMessages = max(0, min(n, c.HistoryLength))
		case "muc#roomconfig_presencebroadcast":
			var roles []Role
			for _, v := range sub.Strings(f) {
				if role, ok := ParseRole(v); ok && !slices.Contains(roles, role) {
					roles = append(roles, role)
				}
			}
			if r.setPresenceBroadcast(ctx, roles) {
				ev.StatusCodes["104"] = true
			}
		}
	}
	return nil
}

// setMembersOnly changes members-only; turning it on removes the
// non-members with status 322 (XEP-0045 §9.7).
func (r *Room) setMembersOnly(ctx context.Context, on bool) {
	r.config.MembersOnly = on
	if !on {
		return
	}
	type gone struct {
		o    *Occupant
		prev Role
	}
	var removed []gone
	for _, o := range r.Occupants() {
		if r.Affiliation(o.BareJID).Rank() <= AffiliationNone.Rank() {
			removed = append(removed, gone{o, o.Role})
			o.Role = RoleNone
			r.saveOccupant(o)
		}
	}
	for _, g := range removed {
		x := userX()
		addStatus(x, "322")
		// Prosody tells only the removed user; XEP-0045 §9.7 says the
		// remaining occupants get the 322 too, so they are told here.
		r.publicise(ctx, g.o, xset{base: x}, publishOpts{prevRole: g.prev})
		r.fireLeft(ctx, g.o, nil)
	}
}

// setPresenceBroadcast changes the roles whose presence is broadcast and
// tells the room about the occupants that appear or disappear.
func (r *Room) setPresenceBroadcast(ctx context.Context, roles []Role) bool {
	old := r.config.PresenceBroadcast
	same := len(old) == len(roles)
	for _, role := range roles {
		if !slices.Contains(old, role) {
			same = false
		}
	}
	if same {
		return false
	}
	oldCfg := RoomConfig{PresenceBroadcast: old}
	r.config.PresenceBroadcast = roles
	for _, o := range r.Occupants() {
		now, before := r.config.Broadcasts(o.Role), oldCfg.Broadcasts(o.Role)
		switch {
		case now && !before:
			r.publicise(ctx, o, xset{base: userX()}, publishOpts{})
		case before && !now:
			r.publicise(ctx, o, xset{base: userX()}, publishOpts{force: true})
		}
	}
	return true
}

// roomDiscoInfo adds the standard identity, features and muc#roominfo
// fields.
func (s *Service) roomDiscoInfo(_ context.Context, ev *DiscoInfoEvent) error {
	if ev.Node != "" {
		return nil
	}
	r, q, c := ev.Room, ev.Reply, &ev.Room.config
	feature := func(v string) { q.Add(stanza.New(NSDiscoInfo, "feature").Set("var", v)) }
	q.Add(stanza.New(NSDiscoInfo, "identity").Set("category", "conference").Set("type", "text").Set("name", c.Name))
	feature(NS)
	feature(NSStableID)
	feature(NSSelfPing)
	pick := func(b bool, yes, no string) string {
		if b {
			return yes
		}
		return no
	}
	feature(pick(c.Hidden, "muc_hidden", "muc_public"))
	feature(pick(c.Password != "", "muc_passwordprotected", "muc_unsecured"))
	feature(pick(c.MembersOnly, "muc_membersonly", "muc_open"))
	feature(pick(c.Moderated, "muc_moderated", "muc_unmoderated"))
	feature(pick(c.Persistent, "muc_persistent", "muc_temporary"))
	feature(pick(c.Whois != WhoisAnyone, "muc_semianonymous", "muc_nonanonymous"))
	if s.cfg().occupantID {
		feature(NSOccupantID)
	}
	ev.Form.Add(
		&Field{Var: "muc#roominfo_occupants", Label: "Number of occupants", Values: []string{itoa(r.Count())}},
		&Field{Var: "muc#roomconfig_roomname", Type: "text-single", Label: "Title", Values: optText(c.Name)},
		&Field{Var: "muc#roominfo_description", Label: "Description", Values: optText(c.Description)},
		&Field{Var: "muc#roominfo_lang", Values: optText(c.Language)},
		&Field{Var: "{http://prosody.im/protocol/muc}roomconfig_allowmemberinvites", Type: "boolean",
			Label: "Allow members to invite new members", Values: boolValues(c.AllowMemberInvites)},
		&Field{Var: "muc#roomconfig_allowinvites", Type: "boolean", Label: "Allow users to invite other users",
			Values: boolValues(!c.MembersOnly || c.AllowMemberInvites)},
		&Field{Var: "muc#roomconfig_changesubject", Type: "boolean", Values: boolValues(c.ChangeSubject)},
	)
	return nil
}
