package jitsi

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/hook"
	"github.com/parley-xmpp/parley/server/stanza"
)

// MUCLobbyRoomsName is the module name of Jitsi's mod_muc_lobby_rooms.
const MUCLobbyRoomsName = "muc_lobby_rooms"

// Options muc_lobby_rooms reads on its VirtualHost (inherited from global),
// besides OptLobbyMUC (lobby_muc, the lobby MUC component lobby.D).
const (
	// OptMainMUC names the conference MUC component (conference.D).
	OptMainMUC = "main_muc"
	// OptLobbyWhitelist lists domains and bare JIDs that skip the lobby.
	OptLobbyWhitelist = "muc_lobby_whitelist"
	// OptLobbyCheckDisplayName (default true) makes a display name
	// mandatory for joining a room with a lobby.
	OptLobbyCheckDisplayName = "muc_lobby_check_display_name_required"
)

// Names lib-jitsi-meet and jitsi-meet read.
const (
	// LobbyIdentityType is the component identity type announced on the
	// main host ("component/lobbyrooms", named after the lobby MUC).
	LobbyIdentityType = "lobbyrooms"
	// LobbyRoomField is the muc#roominfo field carrying the lobby JID.
	LobbyRoomField = "muc#roominfo_lobbyroom"
	// LobbyNotifyType is the json-message type of lobby notifications.
	LobbyNotifyType = "lobby-notify"
	// LobbyDisplayNameRequiredFeature is the feature the lobbyrooms disco
	// node carries when the queried room has a lobby.
	LobbyDisplayNameRequiredFeature = "http://jitsi.org/protocol/lobbyrooms#displayname_required"
	// Events of lobby-notify messages.
	LobbyEventEnabled       = "LOBBY-ENABLED"
	LobbyEventAccessGranted = "LOBBY-ACCESS-GRANTED"
	LobbyEventAccessDenied  = "LOBBY-ACCESS-DENIED"
)

// lobbyClosedReason is the destroy reason when none is given.
const lobbyClosedReason = "Lobby room closed."

// LobbyOptions are the parameters of MUCLobbyRooms.CreateLobby (the
// create-lobby-room event of other modules).
type LobbyOptions struct {
	// Reason names an extra element (in the jitmeet namespace) added to
	// the registration-required error, e.g. "waiting-for-host".
	Reason string
	// SkipDisplayNameCheck lets users without a display name knock.
	SkipDisplayNameCheck bool
}

// MUCLobbyRooms is Jitsi's mod_muc_lobby_rooms, loaded on the main
// VirtualHost with the options main_muc and lobby_muc. When an owner (not
// jicofo) makes a room members-only, the module opens the lobby room
// <node>@<lobby_muc>, whose affiliations mirror the main room's, and
// announces it (status 104, muc#roominfo_lobbyroom, a lobby-notify
// json-message). Non-members joining the main room are then sent to the
// lobby (auth/registration-required with <lobbyroom/>), or asked for a
// display name first; whitelisted users and those who know the room
// password get membership on the spot. Moderators in the lobby approve a
// knocker by inviting it to the main room (which grants membership) and
// deny it by kicking it from the lobby; the main room is told with
// lobby-notify messages. Turning members-only off, or the main room going
// away, destroys the lobby.
type MUCLobbyRooms struct {
	mu    sync.Mutex
	insts map[string]*lobbyInst // main MUC domain -> instance
}

var _ server.Module = (*MUCLobbyRooms)(nil)

// NewMUCLobbyRooms returns the muc_lobby_rooms module.
func NewMUCLobbyRooms() *MUCLobbyRooms {
	return &MUCLobbyRooms{insts: map[string]*lobbyInst{}}
}

// Name implements server.Module.
func (*MUCLobbyRooms) Name() string { return MUCLobbyRoomsName }

// Load implements server.Module.
func (m *MUCLobbyRooms) Load(_ context.Context, h *server.Host) error {
	srv := h.Server()
	cfg := srv.Config()
	log := srv.Logger().With("module", MUCLobbyRoomsName, "host", h.Name)
	mainDomain := cfg.String(h.Config, OptMainMUC, "")
	if mainDomain == "" {
		log.Error("lobby not enabled: missing " + OptMainMUC)
		return nil
	}
	lobbyDomain := cfg.String(h.Config, OptLobbyMUC, "")
	if lobbyDomain == "" {
		log.Error("lobby not enabled: missing " + OptLobbyMUC)
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.insts[mainDomain]; dup {
		log.Warn("lobby already enabled for this MUC by another host", "main_muc", mainDomain)
		return nil
	}
	l := &lobbyInst{
		srv:              srv,
		host:             h,
		log:              log,
		mainDomain:       mainDomain,
		lobbyDomain:      lobbyDomain,
		whitelist:        cfg.Strings(h.Config, OptLobbyWhitelist),
		checkDisplayName: cfg.Bool(h.Config, OptLobbyCheckDisplayName, true),
		mapper:           NewTenantMapper(cfg, h.Config),
		links:            map[string]*lobbyLink{},
	}
	m.insts[mainDomain] = l
	for _, vh := range srv.Hosts() {
		// Prosody adds the filter to every session of the server.
		vh.Events.StanzaOut.On(-1, MUCLobbyRoomsName, l.filterOut)
	}
	WhenMUC(srv, lobbyDomain, MUCLobbyRoomsName, l.attachLobbyMUC)
	WhenMUC(srv, mainDomain, MUCLobbyRoomsName, l.attachMainMUC)
	return nil
}

// CreateLobby is the create-lobby-room event: a module (not a user) turns
// the lobby on for room, which must be held and belong to a MUC some host
// enabled the lobby for. Current occupants become members so that nobody
// is removed, the room becomes members-only, everyone is told to reload
// the configuration (status 104) and the lobby room opens.
func (m *MUCLobbyRooms) CreateLobby(ctx context.Context, room *muc.Room, opts LobbyOptions) error {
	l := m.inst(room)
	if l == nil {
		return errLobbyNotEnabled
	}
	for _, o := range room.Occupants() {
		if room.Affiliation(o.BareJID).Rank() < muc.AffiliationMember.Rank() {
			if err := room.SetAffiliation(ctx, "", o.BareJID, muc.AffiliationMember, ""); err != nil {
				l.log.Warn("could not make an occupant a member", "room", room.JID(), "jid", o.BareJID, "err", err)
			}
		}
	}
	room.Config().MembersOnly = true
	lobbyAnnounceConfigChange(room)
	if _, err := l.attach(ctx, room, ""); err != nil {
		return err
	}
	if st := lobbyStateOf(room); st != nil {
		st.extraReason = opts.Reason
		st.skipDisplayNameCheck = opts.SkipDisplayNameCheck
	}
	return nil
}

// DestroyLobby is the destroy-lobby-room event: the lobby of room (held)
// is destroyed, its occupants pointed to newJID with message (default
// "Lobby room closed."), and the main room told to reload its
// configuration (status 104).
func (m *MUCLobbyRooms) DestroyLobby(ctx context.Context, room *muc.Room, newJID, message string) error {
	l := m.inst(room)
	if l == nil {
		return errLobbyNotEnabled
	}
	l.destroyLobby(ctx, room, newJID, message)
	lobbyAnnounceConfigChange(room)
	return nil
}

// LobbyJID returns the lobby room JID of room (held), "" when it has none.
func LobbyJID(room *muc.Room) string {
	if st := lobbyStateOf(room); st != nil {
		return st.lobbyJID
	}
	return ""
}

var errLobbyNotEnabled = errors.New("jitsi: muc_lobby_rooms: lobby not enabled for this MUC")

func (m *MUCLobbyRooms) inst(room *muc.Room) *lobbyInst {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.insts[room.Service().Domain()]
}

// lobbyInst is the module on one host: its two MUCs and its options.
type lobbyInst struct {
	srv         *server.Server
	host        *server.Host
	log         *slog.Logger
	mainDomain  string
	lobbyDomain string
	whitelist   []string
	// checkDisplayName is for the lobbyrooms disco#info node
	// (host-disco-info-node), which the server cannot hook yet.
	checkDisplayName bool
	mapper           TenantMapper

	mainSvc  atomic.Pointer[muc.Service]
	lobbySvc atomic.Pointer[muc.Service]

	mu    sync.Mutex
	links map[string]*lobbyLink // lobby room JID -> link
}

// lobbyLink records an open lobby outside of the rooms' locks, for the
// lobby side (which must not lock the main room while holding its own).
type lobbyLink struct {
	mainJID string
	// affs is the main room's explicit affiliations, kept current by the
	// main room's SetAffiliation hook.
	affs map[string]muc.Affiliation
}

// lobbyKey holds a main room's *lobbyState.
type lobbyKey struct{}

// lobbyMainKey holds a lobby room's main room JID.
type lobbyMainKey struct{}

// lobbyState is a main room's lobby (Prosody's room._data.lobbyroom and
// friends).
type lobbyState struct {
	lobbyJID             string
	extraReason          string
	skipDisplayNameCheck bool
}

func lobbyStateOf(r *muc.Room) *lobbyState {
	st, _ := r.Value(lobbyKey{}).(*lobbyState)
	return st
}

// lobbyRoomCreator is the muc.Service method that creates a room on behalf
// of a module (Prosody's create_room): no occupant, no owner, not subject
// to restrict_room_creation; setup runs with the new room held. created
// is false when the room already existed (setup not run).
type lobbyRoomCreator interface {
	CreateRoom(ctx context.Context, roomJID string, setup func(*muc.Room)) (created bool, err error)
}

func (l *lobbyInst) attachLobbyMUC(svc *muc.Service) {
	l.lobbySvc.Store(svc)
	l.host.AddIdentity(ComponentIdentity(LobbyIdentityType, l.lobbyDomain))
	e := &svc.Events
	e.BroadcastPresence.On(0, MUCLobbyRoomsName, l.onLobbyBroadcast)
	if _, ok := any(svc).(lobbyRoomCreator); !ok {
		// Without Service.CreateRoom the lobby room is made by its first
		// join; only rooms of open lobbies may be made, and their
		// affiliations are set from the main room's.
		e.RoomPreCreate.On(20, MUCLobbyRoomsName, l.onLobbyPreCreate)
		e.RoomCreated.On(0, MUCLobbyRoomsName, l.onLobbyCreated)
	}
}

func (l *lobbyInst) attachMainMUC(svc *muc.Service) {
	l.mainSvc.Store(svc)
	e := &svc.Events
	e.ConfigSubmitted.On(0, MUCLobbyRoomsName, l.onConfigSubmitted)
	e.RoomDestroyed.On(1, MUCLobbyRoomsName, func(ctx context.Context, ev *muc.DestroyEvent) error {
		l.destroyLobby(ctx, ev.Room, "", "")
		return nil
	})
	e.DiscoInfo.On(0, MUCLobbyRoomsName, l.onDiscoInfo)
	e.OccupantPreJoin.On(-4, MUCLobbyRoomsName, l.onPreJoin)
	e.Stanza.On(1, MUCLobbyRoomsName, l.onStanza)
	e.SetAffiliation.On(0, MUCLobbyRoomsName, l.onSetAffiliation)
	e.Invite.On(lobbyInvitePriority, MUCLobbyRoomsName, lobbyStripInvitePassword)
}

// lobbyInvitePriority runs after every other muc-invite handler, as
// Jitsi strips the password once the event has fired.
const lobbyInvitePriority = -1 << 20

// lobbyStripInvitePassword removes the room password from a mediated
// invitation of the main MUC, whatever handler added it: approving a
// knocker sends it an invite, and the password must not go with it
// (SECURITY-CASES 132, CVE-2024-33530). The approved knocker is a member
// and joins without the password (onPreJoin).
func lobbyStripInvitePassword(_ context.Context, ev *muc.InviteEvent) error {
	for _, x := range ev.Stanza.Elements() {
		if x.Name.Space == muc.NSUser && x.Name.Local == "x" {
			x.RemoveChildren(muc.NSUser, "password")
		}
	}
	return nil
}

// onConfigSubmitted opens or closes the lobby as members-only changes.
func (l *lobbyInst) onConfigSubmitted(ctx context.Context, ev *muc.ConfigSubmitEvent) error {
	if ev.Actor.Localpart() == "focus" {
		return nil
	}
	r, actor := ev.Room, ev.Actor.String()
	if ev.Submission.Bool("muc#roomconfig_membersonly") {
		created, err := l.attach(ctx, r, actor)
		if err != nil {
			l.log.Warn("could not open the lobby", "room", r.JID(), "err", err)
			return nil
		}
		if created {
			ev.StatusCodes["104"] = true
			lobbyBroadcastJSON(r, actor, lobbyNotify{Event: LobbyEventEnabled, Value: true})
		}
		return nil
	}
	if lobbyStateOf(r) != nil {
		l.destroyLobby(ctx, r, l.mapper.ToExternal(r.JID()), "")
		lobbyBroadcastJSON(r, actor, lobbyNotify{Event: LobbyEventEnabled, Value: false})
	}
	return nil
}

// attach opens the lobby room of main room r (held) unless it is open.
func (l *lobbyInst) attach(ctx context.Context, r *muc.Room, actor string) (bool, error) {
	lsvc := l.lobbySvc.Load()
	if lsvc == nil {
		return false, errors.New("jitsi: muc_lobby_rooms: lobby MUC " + l.lobbyDomain + " not available")
	}
	lobbyJID := r.Node() + "@" + l.lobbyDomain
	link := &lobbyLink{mainJID: r.JID(), affs: map[string]muc.Affiliation{}}
	for _, a := range []muc.Affiliation{muc.AffiliationOwner, muc.AffiliationAdmin, muc.AffiliationMember, muc.AffiliationOutcast} {
		for _, j := range r.Affiliations(a) {
			link.affs[j] = a
		}
	}
	l.mu.Lock()
	_, open := l.links[lobbyJID]
	l.links[lobbyJID] = link
	l.mu.Unlock()

	created := !open
	if c, ok := any(lsvc).(lobbyRoomCreator); ok {
		var err error
		created, err = c.CreateRoom(ctx, lobbyJID, func(lr *muc.Room) {
			lr.Config().Persistent = true
			lr.SetValue(lobbyMainKey{}, r.JID())
			lobbyApplyAffiliations(ctx, lr, link.affs)
		})
		if err != nil {
			return false, err
		}
	}
	if created {
		l.log.Info("lobby room created", "lobby", lobbyJID, "by", actor)
	}
	if st := lobbyStateOf(r); st == nil || created {
		r.SetValue(lobbyKey{}, &lobbyState{lobbyJID: lobbyJID})
	}
	return created, nil
}

// lobbyApplyAffiliations makes the affiliations of lobby room lr (held)
// those of affs.
func lobbyApplyAffiliations(ctx context.Context, lr *muc.Room, affs map[string]muc.Affiliation) {
	for _, a := range []muc.Affiliation{muc.AffiliationOwner, muc.AffiliationAdmin, muc.AffiliationMember, muc.AffiliationOutcast} {
		for _, j := range lr.Affiliations(a) {
			if _, keep := affs[j]; !keep {
				_ = lr.SetAffiliation(ctx, "", j, muc.AffiliationNone, "")
			}
		}
	}
	js := make([]string, 0, len(affs))
	for j := range affs {
		js = append(js, j)
	}
	slices.Sort(js)
	for _, j := range js {
		if lr.Affiliation(j) != affs[j] {
			_ = lr.SetAffiliation(ctx, "", j, affs[j], "")
		}
	}
}

// destroyLobby closes the lobby of main room r (held), if it has one.
func (l *lobbyInst) destroyLobby(ctx context.Context, r *muc.Room, newJID, message string) {
	st := lobbyStateOf(r)
	if st == nil {
		return
	}
	if message == "" {
		message = lobbyClosedReason
	}
	l.mu.Lock()
	delete(l.links, st.lobbyJID)
	l.mu.Unlock()
	r.SetValue(lobbyKey{}, nil)
	lsvc := l.lobbySvc.Load()
	if lsvc == nil {
		return
	}
	err := lsvc.Do(ctx, st.lobbyJID, func(lr *muc.Room) {
		lr.Config().Persistent = false
		if err := lr.Destroy(ctx, newJID, message, ""); err != nil {
			l.log.Warn("could not destroy the lobby room", "lobby", st.lobbyJID, "err", err)
		}
	})
	if err != nil && !errors.Is(err, muc.ErrNoRoom) {
		l.log.Warn("could not destroy the lobby room", "lobby", st.lobbyJID, "err", err)
	}
}

// onDiscoInfo adds muc#roominfo_lobbyroom to a members-only room's
// disco#info.
func (l *lobbyInst) onDiscoInfo(_ context.Context, ev *muc.DiscoInfoEvent) error {
	st := lobbyStateOf(ev.Room)
	if st == nil || ev.Form == nil || !ev.Room.Config().MembersOnly {
		return nil
	}
	ev.Form.Add(&muc.Field{Var: LobbyRoomField, Type: "text-single", Label: "Lobby room jid", Values: []string{st.lobbyJID}})
	return nil
}

// onSetAffiliation mirrors a main room affiliation change into its lobby.
func (l *lobbyInst) onSetAffiliation(ctx context.Context, ev *muc.AffiliationEvent) error {
	st := lobbyStateOf(ev.Room)
	if st == nil {
		return nil
	}
	l.mu.Lock()
	if link := l.links[st.lobbyJID]; link != nil {
		if ev.Affiliation == muc.AffiliationNone {
			delete(link.affs, ev.JID)
		} else {
			link.affs[ev.JID] = ev.Affiliation
		}
	}
	l.mu.Unlock()
	lsvc := l.lobbySvc.Load()
	if lsvc == nil {
		return nil
	}
	err := lsvc.Do(ctx, st.lobbyJID, func(lr *muc.Room) {
		if lr.Affiliation(ev.JID) != ev.Affiliation {
			if err := lr.SetAffiliation(ctx, "", ev.JID, ev.Affiliation, ev.Reason); err != nil {
				l.log.Warn("could not mirror an affiliation into the lobby", "lobby", st.lobbyJID, "jid", ev.JID, "err", err)
			}
		}
	})
	if err != nil && !errors.Is(err, muc.ErrNoRoom) {
		l.log.Warn("could not mirror an affiliation into the lobby", "lobby", st.lobbyJID, "err", err)
	}
	return nil
}

// whitelisted reports whether a real JID skips the lobby by
// muc_lobby_whitelist (its domain or bare JID listed).
func (l *lobbyInst) whitelisted(domain, bare string) bool {
	return slices.Contains(l.whitelist, domain) || slices.Contains(l.whitelist, bare)
}

// onPreJoin sends non-members of a members-only room to the lobby.
func (l *lobbyInst) onPreJoin(ctx context.Context, ev *muc.JoinEvent) error {
	r := ev.Room
	if IsHealthCheckRoom(r.Node()) || !r.Config().MembersOnly || ev.Occupant.Nick == "focus" {
		return nil
	}
	join := ev.Stanza.Child(muc.NS, "x")
	if join == nil {
		return nil
	}
	from := ev.From.String()
	bare := ev.From.Bare().String()
	password := r.Config().Password
	pwEl := join.Child(muc.NS, "password")
	allowed := l.whitelisted(ev.From.Domainpart(), bare)
	if pwEl != nil && password != "" && pwEl.Text() == password {
		allowed = true
	}
	if allowed {
		if a := r.Affiliation(from); a == muc.AffiliationNone || a == muc.AffiliationMember {
			ev.Occupant.Role = muc.RoleParticipant
			if err := r.SetAffiliation(ctx, "", bare, muc.AffiliationMember, ""); err != nil {
				l.log.Warn("could not make a whitelisted user a member", "room", r.JID(), "jid", bare, "err", err)
			}
			return nil
		}
	} else if password != "" && pwEl == nil && r.Affiliation(from).Rank() >= muc.AffiliationMember.Rank() {
		// An approved knocker need not know the password. Jitsi checks for
		// member only; token_affiliation (which runs first) may already
		// have made an admitted moderator-token user owner, who must get
		// in too (SECURITY-CASES 132).
		join.Add(stanza.New(muc.NS, "password").AddText(password))
	}
	st := lobbyStateOf(r)
	if st == nil {
		st = &lobbyState{}
	}
	if !st.skipDisplayNameCheck && ev.Stanza.ChildText(nsNick, "nick") == "" {
		e := lobbyErrorElement("modify", "406", "not-acceptable")
		e.Add(stanza.New(NSJitMeet, "displayname-required").Set("lobby", "true"))
		r.Send(lobbyJoinError(ev.Stanza, e))
		return hook.ErrStop
	}
	if a := r.Affiliation(from); a == muc.AffiliationNone {
		e := lobbyErrorElement("auth", "407", "registration-required")
		if st.extraReason != "" {
			e.Add(stanza.New(NSJitMeet, st.extraReason))
		}
		e.Add(stanza.New(NSJitMeet, "lobbyroom").AddText(st.lobbyJID))
		rep := lobbyJoinError(ev.Stanza, e)
		// Older clients read an un-namespaced <lobbyroom/> outside <error/>.
		rep.Add(stanza.New(stanza.NSClient, "lobbyroom").AddText(st.lobbyJID))
		r.Send(rep)
		return hook.ErrStop
	}
	return nil
}

// lobbyErrorElement is an <error/> with a legacy code and a condition.
func lobbyErrorElement(typ, code, cond string) *stanza.Element {
	return stanza.New(stanza.NSClient, "error").Set("type", typ).Set("code", code).Add(stanza.New(stanza.NSStanzas, cond))
}

// lobbyJoinError is the error presence answering join, with e and the MUC
// <x/> as Jitsi sends it.
func lobbyJoinError(join, e *stanza.Element) *stanza.Element {
	rep := stanza.New(stanza.NSClient, "presence").Set("from", join.Get("to")).Set("to", join.Get("from")).Set("type", "error")
	if id := join.Get("id"); id != "" {
		rep.Set("id", id)
	}
	return rep.Add(e, stanza.New(muc.NS, "x"))
}

// lobbyNotify is the payload of a lobby-notify json-message.
type lobbyNotify struct {
	Type  string `json:"type"`
	Event string `json:"event"`
	Value any    `json:"value"`
	Name  string `json:"name,omitempty"`
}

// lobbyBroadcastJSON sends a lobby-notify message to main room r (held)
// from the occupant of actor (a real JID); nothing when actor is not in
// the room.
func lobbyBroadcastJSON(r *muc.Room, actor string, n lobbyNotify) {
	o := r.OccupantByRealJID(actor)
	if o == nil {
		return
	}
	n.Type = LobbyNotifyType
	msg, err := JSONMessage(o.JID, r.JID(), n)
	if err != nil {
		r.Service().Logger().Error("lobby notification not sent", "room", r.JID(), "err", err)
		return
	}
	r.Broadcast(msg.Set("type", "groupchat"), nil)
}

// lobbyAnnounceConfigChange tells everyone in r (held) to reload the
// configuration (status 104), as CreateLobby and DestroyLobby do.
func lobbyAnnounceConfigChange(r *muc.Room) {
	x := stanza.New(muc.NSUser, "x").Add(stanza.New(muc.NSUser, "status").Set("code", "104"))
	msg := stanza.New(stanza.NSClient, "message").Set("type", "groupchat").Set("from", r.JID()).Set("to", r.JID()).Add(x)
	r.Broadcast(msg, nil)
}

// onStanza handles mediated invitations to a main room: several invites in
// one message (lib-jitsi-meet approves knockers in bulk) go back to the
// room one by one, and an invite the room will forward tells the room that
// the lobby occupant it names was let in.
func (l *lobbyInst) onStanza(ctx context.Context, ev *muc.StanzaEvent) error {
	el := ev.Stanza
	if el.Name.Local != "message" || ev.To.Resourcepart() != "" {
		return nil
	}
	if t := el.Get("type"); t != "" && t != "normal" {
		return nil
	}
	x := el.Child(muc.NSUser, "x")
	if x == nil {
		return nil
	}
	var invites []*stanza.Element
	for _, c := range x.Elements() {
		if c.Name.Local == "invite" && c.Get("to") != "" {
			invites = append(invites, c)
		}
	}
	if len(invites) == 0 {
		return nil
	}
	if len(invites) == 1 && x.FirstElement() == invites[0] {
		l.onInvite(ctx, ev.Room, ev.From.String(), invites[0])
		return nil
	}
	for _, inv := range invites {
		c := el.Copy()
		c.RemoveChildren(muc.NSUser, "x")
		c.Add(stanza.New(muc.NSUser, "x").Add(inv.Copy()))
		ev.Room.Send(c)
	}
	return hook.ErrStop
}

// onInvite announces LOBBY-ACCESS-GRANTED for an invite from the real JID
// from to a lobby occupant, if main room r (held) forwards the invite
// (Prosody's muc-pre-invite checks).
func (l *lobbyInst) onInvite(ctx context.Context, r *muc.Room, from string, inv *stanza.Element) {
	st := lobbyStateOf(r)
	lsvc := l.lobbySvc.Load()
	if st == nil || lsvc == nil {
		return
	}
	aff := r.Affiliation(from)
	role := r.DefaultRole(aff)
	if o := r.OccupantByRealJID(from); o != nil {
		role = o.Role
	}
	if role.Rank() <= muc.RoleVisitor.Rank() {
		return
	}
	if r.Config().MembersOnly {
		need := muc.AffiliationAdmin
		if r.Config().AllowMemberInvites {
			need = muc.AffiliationMember
		}
		if aff.Rank() < need.Rank() {
			return
		}
	}
	invitee, err := jid.Parse(inv.Get("to"))
	if err != nil {
		return
	}
	var n *lobbyNotify
	err = lsvc.Do(ctx, st.lobbyJID, func(lr *muc.Room) {
		o := lr.OccupantByRealJID(invitee.String())
		if o == nil {
			return
		}
		n = &lobbyNotify{Event: LobbyEventAccessGranted, Value: o.JID}
		if p := o.Presence(); p != nil {
			n.Name = p.ChildText(nsNick, "nick")
		}
	})
	if err != nil && !errors.Is(err, muc.ErrNoRoom) {
		l.log.Warn("lobby room not reachable", "lobby", st.lobbyJID, "err", err)
	}
	if n != nil {
		lobbyBroadcastJSON(r, from, *n)
	}
}

// onLobbyBroadcast tells the main room that a moderator kicked someone out
// of the lobby (LOBBY-ACCESS-DENIED). The lobby room is held, so the main
// room is reached from another goroutine (rooms are locked main first).
func (l *lobbyInst) onLobbyBroadcast(ctx context.Context, ev *muc.PresenceEvent) error {
	if !ev.HasStatus("307") {
		return nil
	}
	mainJID, _ := ev.Room.Value(lobbyMainKey{}).(string)
	msvc := l.mainSvc.Load()
	if mainJID == "" || msvc == nil {
		return nil
	}
	n := lobbyNotify{Event: LobbyEventAccessDenied, Value: ev.Occupant.JID}
	if p := ev.Occupant.Presence(); p != nil {
		n.Name = p.ChildText(nsNick, "nick")
	}
	actor := ev.Actor
	ctx = context.WithoutCancel(ctx)
	l.srv.Go(func() {
		err := msvc.Do(ctx, mainJID, func(mr *muc.Room) { lobbyBroadcastJSON(mr, actor, n) })
		if err != nil && !errors.Is(err, muc.ErrNoRoom) {
			l.log.Warn("lobby denial not announced", "room", mainJID, "err", err)
		}
	})
	return nil
}

// onLobbyPreCreate, without Service.CreateRoom, lets only the rooms of
// open lobbies be created (by their first join).
func (l *lobbyInst) onLobbyPreCreate(_ context.Context, ev *muc.RoomCreateEvent) error {
	l.mu.Lock()
	_, open := l.links[ev.Room.JID()]
	l.mu.Unlock()
	if !open {
		return &muc.Deny{Type: "cancel", Condition: "not-allowed", Text: "Room creation is restricted", By: l.lobbyDomain}
	}
	return nil
}

// onLobbyCreated, without Service.CreateRoom, sets up a lobby room its
// first join created: persistent, linked to its main room, with the main
// room's affiliations (the creator is no owner unless it is one there).
func (l *lobbyInst) onLobbyCreated(ctx context.Context, ev *muc.RoomCreateEvent) error {
	l.mu.Lock()
	link := l.links[ev.Room.JID()]
	var mainJID string
	affs := map[string]muc.Affiliation{}
	if link != nil {
		mainJID = link.mainJID
		maps.Copy(affs, link.affs)
	}
	l.mu.Unlock()
	if link == nil {
		return nil
	}
	ev.Room.Config().Persistent = true
	ev.Room.SetValue(lobbyMainKey{}, mainJID)
	lobbyApplyAffiliations(ctx, ev.Room, affs)
	return nil
}

// filterOut is the lobby's stanzas/out filter: knockers see only
// themselves in the lobby, moderators see the knockers (not each other,
// but for leaving), lobby messages reach only moderators or come from
// them, and of the lobby's IQs only disco#info gets through.
func (l *lobbyInst) filterOut(ctx context.Context, ev *server.OutStanzaEvent) error {
	el := ev.Stanza
	from := el.Get("from")
	node, domain, _ := splitJID(from)
	lsvc := l.lobbySvc.Load()
	if domain != l.lobbyDomain || lsvc == nil || l.mainSvc.Load() == nil {
		return nil
	}
	to := el.Get("to")
	roomJID := node + "@" + domain
	l.mu.Lock()
	_, open := l.links[roomJID]
	l.mu.Unlock()
	keep := false
	switch el.Name.Local {
	case "presence":
		x := el.Child(muc.NSUser, "x")
		if x == nil || muc.HasStatus(x, "110") || el.Get("type") == "unavailable" || !open {
			return nil
		}
		itemJID := ""
		if it := x.Child(muc.NSUser, "item"); it != nil {
			itemJID = it.Get("jid")
		}
		err := lsvc.Do(ctx, roomJID, func(lr *muc.Room) {
			toOwner := lr.Affiliation(to) == muc.AffiliationOwner
			fo := lr.Occupant(from)
			switch {
			case fo == nil:
				keep = toOwner
			case itemJID != "":
				keep = toOwner && lr.Affiliation(itemJID) != muc.AffiliationOwner
			default:
				keep = toOwner && lr.Affiliation(fo.RealJID()) != muc.AffiliationOwner
			}
		})
		if errors.Is(err, muc.ErrNoRoom) {
			return nil
		}
	case "iq":
		if el.Child(muc.NSDiscoInfo, "query") != nil {
			return nil
		}
	case "message":
		if !open {
			break
		}
		_ = lsvc.Do(ctx, roomJID, func(lr *muc.Room) {
			fo := lr.Occupant(from)
			if fo == nil {
				return
			}
			keep = lr.Affiliation(to) == muc.AffiliationOwner || lr.Affiliation(fo.RealJID()) == muc.AffiliationOwner
		})
	}
	if keep {
		return nil
	}
	return hook.ErrStop
}
