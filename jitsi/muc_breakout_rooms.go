package jitsi

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/hook"
	"github.com/parley-xmpp/parley/server/stanza"
)

// Names, options and protocol strings of muc_breakout_rooms.
const (
	// BreakoutRoomsName is the host module name.
	BreakoutRoomsName = "muc_breakout_rooms"
	// BreakoutRoomsType is the component identity type and the "type" of
	// the json-messages the module sends.
	BreakoutRoomsType = "breakout_rooms"
	// BreakoutRenameFeature is announced on the breakout_rooms disco node.
	BreakoutRenameFeature = "http://jitsi.org/protocol/breakout_rooms#rename"
	// Actions moderators send in <breakout_rooms type=...>, and the events
	// of the json-messages.
	BreakoutActionAdd    = "features/breakout-rooms/add"
	BreakoutActionMove   = "features/breakout-rooms/move-to-room"
	BreakoutActionRemove = "features/breakout-rooms/remove"
	BreakoutActionRename = "features/breakout-rooms/rename"
	BreakoutEventUpdate  = "features/breakout-rooms/update"
	// Room info fields of breakout rooms (disco#info and config form).
	BreakoutIsBreakoutField = "muc#roominfo_isbreakout"
	BreakoutMainRoomField   = "muc#roominfo_breakout_main_room"
	// BreakoutSwitchStatus is the <status/> of a leave that switches rooms.
	BreakoutSwitchStatus = "switch_room"
)

const (
	boDefaultBroadcast = 300 * time.Millisecond
	boDefaultClose     = 5 * time.Second
	boSwitchingCap     = 1000
	boRemovedText      = "Breakout room removed."
	boAllLeftText      = "All occupants left."
)

// BreakoutRoomsOptions tune the module; zero values are Jitsi's.
type BreakoutRoomsOptions struct {
	// BroadcastInterval is the update debounce (Jitsi: 300 ms).
	BroadcastInterval time.Duration
	// CloseDelay is how long a conference whose rooms are all empty waits
	// before it is closed (Jitsi: 5 s).
	CloseDelay time.Duration
	// Jiconop, when set, gets the breakout_rooms disco node answer for its
	// post-bind push.
	Jiconop *Jiconop
}

// BreakoutRooms is Jitsi's mod_muc_breakout_rooms (JITSI.md §2 P1 Breakout
// rooms), loaded on the main VirtualHost. Moderators send
// <message to="breakout.D"><breakout_rooms type="features/breakout-rooms/…"/>
// to the breakout MUC; the main room is the one named by the sender's
// session parameters room and prefix. It creates, renames and removes
// breakout rooms (uuid@breakout.D), asks participants to move with a
// json-message, and sends every occupant of the conference a debounced
// features/breakout-rooms/update json-message when rooms or occupants
// change. The main room stays alive while breakout rooms are occupied and
// is closed a few seconds after everybody left; its end closes the breakout
// rooms. Breakout rooms carry muc#roominfo_isbreakout and
// muc#roominfo_breakout_main_room in disco#info and the config form, may
// only be created for a registered uuid, and take their occupants' roles
// from their affiliations in the main room.
type BreakoutRooms struct {
	opts      BreakoutRoomsOptions
	mu        sync.Mutex
	instances atomic.Pointer[map[string]*boInstance] // breakout domain → instance
}

var (
	_ server.Module       = (*BreakoutRooms)(nil)
	_ server.ServerModule = (*BreakoutRooms)(nil)
	_ server.Stopper      = (*BreakoutRooms)(nil)
)

// NewBreakoutRooms returns the muc_breakout_rooms module.
func NewBreakoutRooms(opts BreakoutRoomsOptions) *BreakoutRooms {
	if opts.BroadcastInterval <= 0 {
		opts.BroadcastInterval = boDefaultBroadcast
	}
	if opts.CloseDelay <= 0 {
		opts.CloseDelay = boDefaultClose
	}
	m := &BreakoutRooms{opts: opts}
	m.instances.Store(&map[string]*boInstance{})
	return m
}

// Name implements server.Module.
func (*BreakoutRooms) Name() string { return BreakoutRoomsName }

// LoadServer implements server.ServerModule: it watches the stanzas of the
// client sessions of every host (Prosody's message/host on the breakout
// component sees them all) and their ends.
func (m *BreakoutRooms) LoadServer(_ context.Context, srv *server.Server) error {
	for _, h := range srv.Hosts() {
		h.Events.PreStanza.On(0, BreakoutRoomsName, m.preStanza)
		h.Events.SessionClosed.On(0, BreakoutRoomsName, m.sessionClosed)
	}
	return nil
}

// Load implements server.Module.
func (m *BreakoutRooms) Load(_ context.Context, h *server.Host) error {
	srv := h.Server()
	cfg := srv.Config()
	mainMUC := cfg.String(h.Config, OptMainMUC, "")
	if mainMUC == "" {
		srv.Logger().Error("breakout rooms not enabled: missing main_muc", "host", h.Name)
		return nil
	}
	domain := strings.ToLower(cfg.String(h.Config, OptBreakoutMUC, "breakout."+h.Name))
	b := &boInstance{
		opts:       m.opts,
		srv:        srv,
		host:       h,
		log:        srv.Logger().With("module", BreakoutRoomsName, "host", h.Name),
		domain:     domain,
		mainDomain: strings.ToLower(mainMUC),
		mapper:     NewTenantMapper(cfg, h.Config),
		mains:      map[string]*boMain{},
		parent:     map[string]string{},
		rooms:      map[string]map[string]boOcc{},
		affs:       map[string]map[string]muc.Affiliation{},
		sessions:   map[string]string{},
		switching:  map[string]string{},
	}
	m.mu.Lock()
	cur := *m.instances.Load()
	if _, dup := cur[domain]; dup {
		m.mu.Unlock()
		srv.Logger().Warn("breakout rooms component already served by another host", "host", h.Name, "component", domain)
		return nil
	}
	next := make(map[string]*boInstance, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	next[domain] = b
	m.instances.Store(&next)
	m.mu.Unlock()
	if m.opts.Jiconop != nil {
		m.opts.Jiconop.OnDiscoNode(domain, b.discoNode)
	}
	WhenMUC(srv, b.mainDomain, BreakoutRoomsName, b.attachMain)
	WhenMUC(srv, domain, BreakoutRoomsName, b.attachBreakout)
	return nil
}

// Stop implements server.Stopper: it stops the module's timers.
func (m *BreakoutRooms) Stop(context.Context) error {
	for _, b := range *m.instances.Load() {
		b.stop()
	}
	return nil
}

func (m *BreakoutRooms) preStanza(ctx context.Context, ev *server.StanzaEvent) error {
	el := ev.Stanza
	if el.Name.Local == "presence" {
		return nil
	}
	to := el.Get("to")
	if to == "" || strings.ContainsAny(to, "@/") {
		return nil
	}
	b := (*m.instances.Load())[strings.ToLower(to)]
	if b == nil || ev.Session == nil {
		return nil
	}
	if el.Name.Local == "iq" {
		return b.discoIQ(ev.Session, el)
	}
	return b.onMessage(ctx, ev.Session, el)
}

func (m *BreakoutRooms) sessionClosed(_ context.Context, ev *server.SessionEvent) error {
	full := ev.Session.JID()
	for _, b := range *m.instances.Load() {
		b.forgetSession(full.String(), full.Bare().String())
	}
	return nil
}

// boInstance is the module on one host: one main MUC and its breakout MUC.
// Its mutex comes after any room's (muc lock order); nothing takes a room
// while holding it, and no main room is entered while a breakout room is
// held or the reverse: what a hook of one needs from the other comes from
// the caches below, kept by the hooks of both MUCs.
type boInstance struct {
	opts       BreakoutRoomsOptions
	srv        *server.Server
	host       *server.Host
	log        *slog.Logger
	domain     string // the breakout MUC
	mainDomain string
	mapper     TenantMapper

	mu       sync.Mutex
	mainSvc  *muc.Service
	boSvc    *muc.Service
	mains    map[string]*boMain          // main room → its breakout state
	parent   map[string]string           // breakout room → main room
	rooms    map[string]map[string]boOcc // room (both MUCs) → nick → occupant
	affs     map[string]map[string]muc.Affiliation
	sessions map[string]string // real full JID → main room it joined last
	// switching maps main room/nick to the bare JID leaving with
	// status switch_room, so nobody else takes the nick meanwhile.
	switching   map[string]string
	switchOrder []string
	stopped     bool
}

// boMain is what the module keeps for a main room with breakout rooms
// (the Lua keeps it in the room's _data).
type boMain struct {
	breakouts map[string]string // breakout room JID → subject
	counter   int
	active    bool
	broadcast *time.Timer
	close     *time.Timer
}

type boOcc struct {
	bare, real string
	person     bool // not jicofo nor an admin
}

func (b *boInstance) services() (main, bo *muc.Service) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mainSvc, b.boSvc
}

func (b *boInstance) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopped = true
	for _, st := range b.mains {
		st.stopTimers()
	}
}

func (st *boMain) stopTimers() {
	if st.broadcast != nil {
		st.broadcast.Stop()
		st.broadcast = nil
	}
	if st.close != nil {
		st.close.Stop()
		st.close = nil
	}
}

// mainRoomOf returns the main room of a room of either MUC ("" if none).
func (b *boInstance) mainRoomOfLocked(room string) string {
	if domainOfJID(room) == b.mainDomain {
		return room
	}
	return b.parent[room]
}

func domainOfJID(j string) string {
	_, d, _ := splitJID(j)
	return d
}

// roomJIDFromSession builds the main room JID from the session's room and
// prefix parameters (Jitsi's get_room_by_name_and_subdomain).
func (b *boInstance) roomJIDFromSession(params map[string]string) (string, bool) {
	name := params[ParamRoom]
	if name == "" {
		return "", false
	}
	if p := params[ParamPrefix]; p != "" && !strings.EqualFold(p, b.mapper.Base) {
		name = "[" + p + "]" + name
	}
	j, err := jid.New(name, b.mainDomain, "")
	if err != nil {
		return "", false
	}
	return j.String(), true
}

// normRoom normalises a room JID given by a client.
func normRoom(s string) string {
	j, err := jid.Parse(s)
	if err != nil {
		return ""
	}
	return j.Bare().String()
}

// person reports whether an occupant counts: not jicofo (node focus) and
// not an admin of svc.
func boPerson(svc *muc.Service, real string) bool {
	node, _, _ := splitJID(real)
	return node != "focus" && !svc.IsAdmin(real)
}

// scheduleLocked arms the debounced update of a main room.
func (b *boInstance) scheduleLocked(mainJID string, st *boMain) {
	if st.broadcast != nil || b.stopped {
		return
	}
	st.broadcast = time.AfterFunc(b.opts.BroadcastInterval, func() {
		b.srv.Go(func() { b.flushUpdate(context.Background(), mainJID) })
	})
}

// BreakoutRoomInfo is one room of a BreakoutUpdate, keyed by its id (the
// room JID's node).
type BreakoutRoomInfo struct {
	IsMainRoom   bool                           `json:"isMainRoom,omitempty"`
	ID           string                         `json:"id"`
	JID          string                         `json:"jid"`
	Name         string                         `json:"name,omitempty"`
	Participants map[string]BreakoutParticipant `json:"participants"`
}

// BreakoutParticipant is one occupant of a room in a BreakoutUpdate,
// keyed by its occupant JID.
type BreakoutParticipant struct {
	JID         string `json:"jid"`
	Role        string `json:"role"`
	DisplayName string `json:"displayName,omitempty"`
}

// BreakoutUpdate is the payload of a features/breakout-rooms/update
// json-message.
type BreakoutUpdate struct {
	Type        string                      `json:"type"`
	Event       string                      `json:"event"`
	RoomCounter int                         `json:"roomCounter"`
	Rooms       map[string]BreakoutRoomInfo `json:"rooms"`
}

// snapshot lists a room's participants and the real JIDs to notify.
func (b *boInstance) snapshot(r *muc.Room) (map[string]BreakoutParticipant, []string) {
	ps := map[string]BreakoutParticipant{}
	var to []string
	svc := r.Service()
	for _, o := range r.Occupants() {
		real := o.RealJID()
		if !boPerson(svc, real) {
			continue
		}
		p := BreakoutParticipant{JID: real, Role: string(o.Role)}
		if pres := o.Presence(); pres != nil {
			p.DisplayName = pres.ChildText(nsNick, "nick")
		}
		ps[b.mapper.ToExternal(o.JID)] = p
		to = append(to, real)
	}
	return ps, to
}

// flushUpdate sends the update of a main room's conference to everyone in
// it (no lock held).
func (b *boInstance) flushUpdate(ctx context.Context, mainJID string) {
	b.mu.Lock()
	st := b.mains[mainJID]
	if st == nil || b.mainSvc == nil || b.boSvc == nil {
		b.mu.Unlock()
		return
	}
	st.broadcast = nil
	counter := st.counter
	list := make(map[string]string, len(st.breakouts))
	for k, v := range st.breakouts {
		list[k] = v
	}
	mainSvc, boSvc := b.mainSvc, b.boSvc
	b.mu.Unlock()

	ext := b.mapper.ToExternal(mainJID)
	node, _, _ := splitJID(ext)
	upd := BreakoutUpdate{Type: BreakoutRoomsType, Event: BreakoutEventUpdate, RoomCounter: counter, Rooms: map[string]BreakoutRoomInfo{}}
	var to []string
	err := mainSvc.Do(ctx, mainJID, func(r *muc.Room) {
		subject, _ := r.Subject()
		ps, rcpt := b.snapshot(r)
		upd.Rooms[node] = BreakoutRoomInfo{IsMainRoom: true, ID: node, JID: ext, Name: subject, Participants: ps}
		to = append(to, rcpt...)
	})
	if err != nil {
		return
	}
	for bj, subject := range list {
		bnode, _, _ := splitJID(bj)
		entry := BreakoutRoomInfo{ID: bnode, JID: bj, Name: subject, Participants: map[string]BreakoutParticipant{}}
		_ = boSvc.Do(ctx, bj, func(r *muc.Room) {
			ps, rcpt := b.snapshot(r)
			entry.Participants = ps
			to = append(to, rcpt...)
		})
		upd.Rooms[bnode] = entry
	}
	payload, err := json.Marshal(upd)
	if err != nil {
		b.log.Error("not broadcasting breakout rooms", "room", mainJID, "err", err)
		return
	}
	for _, rcpt := range to {
		b.sendJSON(ctx, rcpt, json.RawMessage(payload))
	}
}

func (b *boInstance) sendJSON(ctx context.Context, to string, payload any) {
	msg, err := JSONMessage(b.domain, to, payload)
	if err != nil {
		b.log.Error("breakout rooms json-message", "err", err)
		return
	}
	b.srv.Route(ctx, msg)
}

// discoNode answers the breakout_rooms disco node (Prosody's
// host-disco-info-node on the breakout component).
func (b *boInstance) discoNode(s *server.Session, node string, query *stanza.Element) {
	if node == NodeBreakoutRooms && s != nil && s.Params()[ParamRoom] != "" {
		query.Add(stanza.New(server.NSDiscoInfo, "feature").Set("var", BreakoutRenameFeature))
	}
}

// discoIQ answers a client's disco#info for the breakout_rooms node of the
// breakout component.
func (b *boInstance) discoIQ(s *server.Session, el *stanza.Element) error {
	if el.Get("type") != "get" {
		return nil
	}
	q := el.Child(server.NSDiscoInfo, "query")
	if q == nil || q.Get("node") != NodeBreakoutRooms {
		return nil
	}
	rq := stanza.New(server.NSDiscoInfo, "query").Set("node", NodeBreakoutRooms)
	b.discoNode(s, NodeBreakoutRooms, rq)
	res := server.IQResult(el).Set("from", b.domain)
	s.Send(res.Add(rq))
	return hook.ErrStop
}

// onMessage handles a <breakout_rooms/> command from a client session. It
// returns hook.ErrStop when the command was taken; anything else goes on to
// the MUC, which answers service-unavailable as Prosody does.
func (b *boInstance) onMessage(ctx context.Context, s *server.Session, el *stanza.Element) error {
	if el.Get("type") == "error" {
		return nil
	}
	cmd := el.Child(stanza.NSClient, BreakoutRoomsType)
	if cmd == nil {
		cmd = el.Child(NSJitMeet, BreakoutRoomsType)
	}
	if cmd == nil {
		return nil
	}
	mainJID, ok := b.roomJIDFromSession(s.Params())
	if !ok {
		return nil
	}
	mainSvc, boSvc := b.services()
	if mainSvc == nil || boSvc == nil {
		return nil
	}
	from := el.Get("from")
	role, found := muc.RoleNone, false
	err := mainSvc.Do(ctx, mainJID, func(r *muc.Room) {
		if o := r.OccupantByRealJID(from); o != nil {
			role, found = o.Role, true
		}
	})
	if err != nil {
		b.log.Warn("no room found for breakout rooms command", "room", mainJID, "from", from)
		return nil
	}
	if !found {
		for _, bj := range b.breakoutsOf(mainJID) {
			_ = boSvc.Do(ctx, bj, func(r *muc.Room) {
				if o := r.OccupantByRealJID(from); o != nil {
					role, found = o.Role, true
				}
			})
			if found {
				break
			}
		}
	}
	if !found {
		b.log.Warn("breakout rooms command from a non-occupant", "room", mainJID, "from", from)
		return nil
	}
	if role != muc.RoleModerator {
		b.log.Warn("breakout rooms command from a non-moderator", "room", mainJID, "from", from)
		return nil
	}
	switch cmd.Get("type") {
	case BreakoutActionAdd:
		b.add(ctx, mainJID, cmd.Get("subject"))
	case BreakoutActionRemove:
		b.remove(ctx, mainJID, normRoom(cmd.Get("breakoutRoomJid")), "")
	case BreakoutActionRename:
		b.rename(ctx, mainJID, normRoom(cmd.Get("breakoutRoomJid")), cmd.Get("subject"))
	case BreakoutActionMove:
		if !b.move(ctx, mainJID, cmd.Get("participantJid"), cmd.Get("roomJid")) {
			return nil
		}
	default:
		return nil
	}
	return hook.ErrStop
}

// breakoutsOf lists the breakout rooms of a main room.
func (b *boInstance) breakoutsOf(mainJID string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.mains[mainJID]
	if st == nil {
		return nil
	}
	out := make([]string, 0, len(st.breakouts))
	for bj := range st.breakouts {
		out = append(out, bj)
	}
	return out
}

func (b *boInstance) add(ctx context.Context, mainJID, subject string) {
	mainSvc, _ := b.services()
	// Keep the main room while everybody is in breakout rooms.
	if err := mainSvc.Do(ctx, mainJID, func(r *muc.Room) { r.Config().Persistent = true }); err != nil {
		return
	}
	id, err := uuid4()
	if err != nil {
		b.log.Error("breakout room id", "err", err)
		return
	}
	bj := id + "@" + b.domain
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.mains[mainJID]
	if st == nil {
		st = &boMain{breakouts: map[string]string{}}
		b.mains[mainJID] = st
	}
	st.counter++
	st.breakouts[bj] = subject
	st.active = true
	b.parent[bj] = mainJID
	b.scheduleLocked(mainJID, st)
}

func (b *boInstance) owned(mainJID, bj string) (*boMain, bool) {
	st := b.mains[mainJID]
	if st == nil || bj == "" || b.parent[bj] != mainJID {
		return nil, false
	}
	return st, true
}

// remove destroys a breakout room, sending its occupants to the main room.
func (b *boInstance) remove(ctx context.Context, mainJID, bj, reason string) {
	b.mu.Lock()
	_, ok := b.owned(mainJID, bj)
	boSvc := b.boSvc
	b.mu.Unlock()
	if !ok {
		b.log.Warn("invalid breakout room removal", "room", mainJID, "breakout", bj)
		return
	}
	if reason == "" {
		reason = boRemovedText
	}
	_ = boSvc.Do(ctx, bj, func(r *muc.Room) {
		if err := r.Destroy(ctx, mainJID, reason, ""); err != nil {
			b.log.Warn("breakout room destroy", "room", bj, "err", err)
		}
	})
	b.mu.Lock()
	defer b.mu.Unlock()
	if st, ok := b.owned(mainJID, bj); ok {
		delete(st.breakouts, bj)
		delete(b.parent, bj)
		b.scheduleLocked(mainJID, st)
	}
}

func (b *boInstance) rename(ctx context.Context, mainJID, bj, name string) {
	b.mu.Lock()
	st, ok := b.owned(mainJID, bj)
	if ok {
		st.breakouts[bj] = name
		b.scheduleLocked(mainJID, st)
	}
	boSvc := b.boSvc
	b.mu.Unlock()
	if !ok {
		b.log.Warn("invalid breakout room rename", "room", mainJID, "breakout", bj)
		return
	}
	_ = boSvc.Do(ctx, bj, func(r *muc.Room) { r.SetSubject("", name) })
}

// move asks a participant of the conference to switch to target (a
// breakout room or the main room). Unlike Jitsi, which sends the request to
// any JID, only occupants of the conference's rooms are asked.
func (b *boInstance) move(ctx context.Context, mainJID, participant, target string) bool {
	nt := normRoom(target)
	b.mu.Lock()
	st := b.mains[mainJID]
	valid := st != nil && nt != "" && (st.breakouts[nt] != "" || b.parent[nt] == mainJID ||
		nt == normRoom(b.mapper.ToExternal(mainJID)))
	known := valid && b.inConferenceLocked(mainJID, st, participant)
	b.mu.Unlock()
	if !valid || !known {
		b.log.Warn("invalid breakout room move", "room", mainJID, "target", target, "participant", participant)
		return false
	}
	b.sendJSON(ctx, participant, map[string]string{"type": BreakoutRoomsType, "event": BreakoutActionMove, "roomJid": target})
	return true
}

func (b *boInstance) inConferenceLocked(mainJID string, st *boMain, real string) bool {
	has := func(room string) bool {
		for _, o := range b.rooms[room] {
			if o.real == real {
				return true
			}
		}
		return false
	}
	if has(mainJID) {
		return true
	}
	for bj := range st.breakouts {
		if has(bj) {
			return true
		}
	}
	return false
}

// existPeopleLocked reports whether a person is in the main room or one
// of its breakout rooms.
func (b *boInstance) existPeopleLocked(mainJID string, st *boMain) bool {
	some := func(room string) bool {
		for _, o := range b.rooms[room] {
			if o.person {
				return true
			}
		}
		return false
	}
	if some(mainJID) {
		return true
	}
	for bj := range st.breakouts {
		if some(bj) {
			return true
		}
	}
	return false
}

// closeConference asks for the main room to end once everybody left.
func (b *boInstance) closeConference(ctx context.Context, mainJID string, st *boMain) {
	b.mu.Lock()
	fire := b.mains[mainJID] == st && st.close != nil && !b.stopped
	st.close = nil
	mainSvc := b.mainSvc
	b.mu.Unlock()
	if !fire {
		return
	}
	_ = mainSvc.Do(ctx, mainJID, func(r *muc.Room) { r.MaybeDestroy(ctx, boAllLeftText, BreakoutRoomsName) })
}

func (b *boInstance) forgetSession(full, bare string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.sessions, full)
	for k, v := range b.switching {
		if v == bare {
			delete(b.switching, k)
		}
	}
}

// setSwitchingLocked remembers that bare is switching rooms with nick key.
func (b *boInstance) setSwitchingLocked(key, bare string) {
	if _, ok := b.switching[key]; !ok {
		b.switchOrder = append(b.switchOrder, key)
	}
	b.switching[key] = bare
	for len(b.switching) > boSwitchingCap && len(b.switchOrder) > 0 {
		delete(b.switching, b.switchOrder[0])
		b.switchOrder = b.switchOrder[1:]
	}
	if len(b.switchOrder) > 2*boSwitchingCap {
		kept := b.switchOrder[:0]
		for _, k := range b.switchOrder {
			if _, ok := b.switching[k]; ok {
				kept = append(kept, k)
			}
		}
		b.switchOrder = kept
	}
}

type boMainKey struct{}

// BreakoutMainRoom returns the main room JID (internal form) of a
// breakout room created through muc_breakout_rooms; ok is false for any
// other room. It is set before the room's muc-room-pre-create handlers at
// priority 100 and below run (token_verification is at 99). Call it with
// the room held.
func BreakoutMainRoom(r *muc.Room) (main string, ok bool) {
	main, ok = r.Value(boMainKey{}).(string)
	return main, ok
}

func boDeny(typ, cond, text, by string) error {
	return &muc.Deny{Type: typ, Condition: cond, Text: text, By: by}
}

// attachMain hooks the main MUC.
func (b *boInstance) attachMain(svc *muc.Service) {
	b.mu.Lock()
	b.mainSvc = svc
	b.mu.Unlock()
	b.log.Info("hooked to the main MUC", "component", svc.Domain())
	e := &svc.Events
	e.OccupantJoined.On(0, BreakoutRoomsName, func(_ context.Context, ev *muc.OccupantEvent) error {
		b.joined(ev, true)
		return nil
	})
	e.OccupantLeft.On(0, BreakoutRoomsName, func(_ context.Context, ev *muc.OccupantEvent) error {
		b.left(ev)
		return nil
	})
	e.OccupantPreJoin.On(0, BreakoutRoomsName, func(_ context.Context, ev *muc.JoinEvent) error {
		return b.checkJoin(ev.Room, ev.From, ev.Occupant.Nick, true)
	})
	e.OccupantPreChange.On(0, BreakoutRoomsName, func(_ context.Context, ev *muc.ChangeEvent) error {
		return b.checkJoin(ev.Room, ev.From, ev.Dest.Nick, true)
	})
	e.OccupantPreLeave.On(0, BreakoutRoomsName, b.preLeave)
	e.SetAffiliation.On(0, BreakoutRoomsName, func(_ context.Context, ev *muc.AffiliationEvent) error {
		b.mu.Lock()
		defer b.mu.Unlock()
		if m := b.affs[ev.Room.JID()]; m != nil {
			boSetAff(m, ev.JID, ev.Affiliation)
		}
		return nil
	})
	// Prosody handles muc-room-destroyed at 0; Jitsi comes first.
	e.RoomDestroyed.On(1, BreakoutRoomsName, b.mainDestroyed)
	// Before room_destroy (-1).
	e.MaybeDestroyRoom.On(0, BreakoutRoomsName, b.keepMainAlive)
}

// attachBreakout hooks the breakout MUC and announces it on the host.
func (b *boInstance) attachBreakout(svc *muc.Service) {
	b.mu.Lock()
	b.boSvc = svc
	b.mu.Unlock()
	b.log.Info("hooked to the breakout rooms MUC", "component", svc.Domain())
	b.host.AddIdentity(ComponentIdentity(BreakoutRoomsType, b.domain))
	e := &svc.Events
	// Tag registered rooms before token_verification (99) looks at them.
	e.RoomPreCreate.On(100, BreakoutRoomsName, func(_ context.Context, ev *muc.RoomCreateEvent) error {
		b.mu.Lock()
		mainJID := b.parent[ev.Room.JID()]
		b.mu.Unlock()
		if mainJID != "" {
			ev.Room.SetValue(boMainKey{}, mainJID)
		}
		return nil
	})
	e.RoomPreCreate.On(0, BreakoutRoomsName, b.preCreate)
	e.OccupantPreJoin.On(0, BreakoutRoomsName, b.breakoutPreJoin)
	e.OccupantPreChange.On(0, BreakoutRoomsName, func(_ context.Context, ev *muc.ChangeEvent) error {
		return b.checkJoin(ev.Room, ev.From, ev.Dest.Nick, false)
	})
	e.OccupantPreLeave.On(0, BreakoutRoomsName, b.preLeave)
	e.OccupantJoined.On(0, BreakoutRoomsName, func(_ context.Context, ev *muc.OccupantEvent) error {
		b.joined(ev, false)
		return nil
	})
	e.OccupantLeft.On(0, BreakoutRoomsName, func(_ context.Context, ev *muc.OccupantEvent) error {
		b.left(ev)
		return nil
	})
	e.RoomDestroyed.On(0, BreakoutRoomsName, func(_ context.Context, ev *muc.DestroyEvent) error {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.rooms, ev.Room.JID())
		return nil
	})
	e.DiscoInfo.On(0, BreakoutRoomsName, func(_ context.Context, ev *muc.DiscoInfoEvent) error {
		if ev.Node == "" && ev.Form != nil {
			ev.Form.Add(b.infoFields(ev.Room)...)
		}
		return nil
	})
	e.ConfigForm.On(0, BreakoutRoomsName, func(_ context.Context, ev *muc.ConfigFormEvent) error {
		ev.Form.Add(b.infoFields(ev.Room)...)
		return nil
	})
}

// infoFields are the breakout room metadata fields.
func (b *boInstance) infoFields(r *muc.Room) []*muc.Field {
	b.mu.Lock()
	mainJID := b.parent[r.JID()]
	b.mu.Unlock()
	var main []string
	if mainJID != "" {
		main = []string{b.mapper.ToExternal(mainJID)}
	}
	return []*muc.Field{
		{Var: BreakoutIsBreakoutField, Type: "boolean", Label: "Is this a breakout room?", Values: []string{"1"}},
		{Var: BreakoutMainRoomField, Label: "The main room associated with this breakout room", Values: main},
	}
}

func boSetAff(m map[string]muc.Affiliation, bare string, a muc.Affiliation) {
	if a == muc.AffiliationNone || a == "" {
		delete(m, bare)
		return
	}
	m[bare] = a
}

// preCreate lets only registered breakout rooms be created; their subject
// is the name the moderator gave. (Jitsi destroys the room silently; here
// the join is refused with an error.)
func (b *boInstance) preCreate(_ context.Context, ev *muc.RoomCreateEvent) error {
	j := ev.Room.JID()
	b.mu.Lock()
	subject, ok := "", false
	if st := b.mains[b.parent[j]]; st != nil {
		subject, ok = st.breakouts[j]
	}
	b.mu.Unlock()
	if !ok {
		b.log.Debug("invalid breakout room will not be created", "room", j)
		return boDeny("cancel", "not-allowed", "Breakout room is invalid.", j)
	}
	if subject != "" {
		ev.Room.SetSubject("", subject)
	}
	return nil
}

// breakoutPreJoin checks a breakout room join and gives the occupant the
// role its main room affiliation grants (Jitsi takes breakout room
// affiliations from the main room).
func (b *boInstance) breakoutPreJoin(_ context.Context, ev *muc.JoinEvent) error {
	if err := b.checkJoin(ev.Room, ev.From, ev.Occupant.Nick, false); err != nil {
		return err
	}
	b.mu.Lock()
	aff := b.affs[b.parent[ev.Room.JID()]][ev.From.Bare().String()]
	b.mu.Unlock()
	if aff == muc.AffiliationOutcast {
		return boDeny("auth", "forbidden", "", ev.Room.JID())
	}
	if role := ev.Room.DefaultRole(aff); role.Rank() > ev.Occupant.Role.Rank() {
		ev.Occupant.Role = role
	}
	return nil
}

// checkJoin refuses a nick held by somebody else in the conference, or
// kept for somebody switching rooms; a breakout room also needs its main
// room, and (SECURITY-CASES 145) a session that joined that main room.
func (b *boInstance) checkJoin(r *muc.Room, from jid.JID, nick string, isMain bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	mainJID := r.JID()
	var st *boMain
	if isMain {
		st = b.mains[mainJID]
	} else {
		mainJID = b.parent[r.JID()]
		st = b.mains[mainJID]
		if st == nil {
			return boDeny("cancel", "service-unavailable", "", "")
		}
		if !r.Service().IsAdmin(from.String()) && b.sessions[from.String()] != mainJID {
			return boDeny("cancel", "not-allowed", "", r.JID())
		}
	}
	bare := from.Bare().String()
	if who, ok := b.switching[mainJID+"/"+nick]; ok && who != bare {
		return boDeny("cancel", "conflict", "", r.JID())
	}
	if st == nil {
		return nil
	}
	taken := func(room string) bool {
		o, ok := b.rooms[room][nick]
		return ok && o.bare != bare
	}
	if !isMain && taken(mainJID) {
		return boDeny("cancel", "conflict", "", r.JID())
	}
	for bj := range st.breakouts {
		if bj != r.JID() && taken(bj) {
			return boDeny("cancel", "conflict", "", r.JID())
		}
	}
	return nil
}

func (b *boInstance) preLeave(_ context.Context, ev *muc.LeaveEvent) error {
	if ev.Stanza == nil || ev.Stanza.ChildText(stanza.NSClient, "status") != BreakoutSwitchStatus {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if mainJID := b.mainRoomOfLocked(ev.Room.JID()); mainJID != "" {
		b.setSwitchingLocked(mainJID+"/"+ev.Occupant.Nick, ev.From.Bare().String())
	}
	return nil
}

// joined records an occupant of either MUC and updates the conference.
func (b *boInstance) joined(ev *muc.OccupantEvent, isMain bool) {
	r, o := ev.Room, ev.Occupant
	if IsHealthCheckRoom(r.Node()) {
		return
	}
	real := o.RealJID()
	if ev.Stanza != nil && ev.Stanza.Get("from") != "" {
		real = ev.Stanza.Get("from")
	}
	occ := boOcc{bare: o.BareJID, real: o.RealJID(), person: boPerson(r.Service(), real)}
	var aff muc.Affiliation
	if isMain {
		aff = r.Affiliation(o.BareJID)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	room := r.JID()
	if b.rooms[room] == nil {
		b.rooms[room] = map[string]boOcc{}
	}
	b.rooms[room][o.Nick] = occ
	if isMain {
		b.sessions[real] = room
		if b.affs[room] == nil {
			b.affs[room] = map[string]muc.Affiliation{}
		}
		boSetAff(b.affs[room], o.BareJID, aff)
	}
	mainJID := b.mainRoomOfLocked(room)
	st := b.mains[mainJID]
	if st == nil || !st.active {
		return
	}
	if occ.person {
		b.scheduleLocked(mainJID, st)
	}
	if st.close != nil {
		st.close.Stop()
		st.close = nil
	}
	delete(b.switching, mainJID+"/"+o.Nick)
}

// left forgets an occupant, updates the conference and closes it a while
// after the last person left.
func (b *boInstance) left(ev *muc.OccupantEvent) {
	r, o := ev.Room, ev.Occupant
	if IsHealthCheckRoom(r.Node()) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	room := r.JID()
	occ, had := b.rooms[room][o.Nick]
	if had && occ.bare == o.BareJID {
		delete(b.rooms[room], o.Nick)
	}
	mainJID := b.mainRoomOfLocked(room)
	st := b.mains[mainJID]
	if st == nil || !st.active {
		return
	}
	if !had || occ.person {
		b.scheduleLocked(mainJID, st)
	}
	if st.close == nil && !b.stopped && !b.existPeopleLocked(mainJID, st) {
		st.close = time.AfterFunc(b.opts.CloseDelay, func() {
			b.srv.Go(func() { b.closeConference(context.Background(), mainJID, st) })
		})
	}
}

// keepMainAlive stops other modules from ending a main room while one of
// its breakout rooms is occupied.
func (b *boInstance) keepMainAlive(_ context.Context, ev *muc.MaybeDestroyEvent) error {
	if ev.Caller == BreakoutRoomsName {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.mains[ev.Room.JID()]
	if st == nil {
		return nil
	}
	for bj := range st.breakouts {
		if len(b.rooms[bj]) > 0 {
			b.log.Info("suppressing room destroy: breakout room still occupied", "room", ev.Room.JID(), "breakout", bj)
			return hook.ErrStop
		}
	}
	return nil
}

// mainDestroyed closes the breakout rooms of a main room that ended. They
// are destroyed after the main room is released (never one room inside
// another).
func (b *boInstance) mainDestroyed(ctx context.Context, ev *muc.DestroyEvent) error {
	room := ev.Room.JID()
	b.mu.Lock()
	st := b.mains[room]
	delete(b.mains, room)
	delete(b.rooms, room)
	delete(b.affs, room)
	var list []string
	if st != nil {
		st.stopTimers()
		for bj := range st.breakouts {
			delete(b.parent, bj)
			list = append(list, bj)
		}
	}
	boSvc := b.boSvc
	b.mu.Unlock()
	if len(list) == 0 || boSvc == nil {
		return nil
	}
	reason := ev.Reason
	if reason == "" {
		reason = boRemovedText
	}
	ctx = context.WithoutCancel(ctx)
	b.srv.Go(func() {
		for _, bj := range list {
			_ = boSvc.Do(ctx, bj, func(r *muc.Room) {
				if err := r.Destroy(ctx, room, reason, ""); err != nil {
					b.log.Warn("breakout room destroy", "room", bj, "err", err)
				}
			})
		}
	})
	return nil
}
