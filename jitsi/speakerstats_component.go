package jitsi

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/stanza"
)

// SpeakerStatsType is the component type of Jitsi's speaker statistics, as
// in `Component "speakerstats.example.com" "speakerstats_component"`.
const SpeakerStatsType = "speakerstats_component"

// SpeakerStatsIdentity is the disco identity type the component announces
// on the main VirtualHost (lib-jitsi-meet's speakerStatsComponentAddress).
const SpeakerStatsIdentity = "speakerstats"

// Limits of what one occupant can make the component keep.
const (
	// SpeakerStatsMaxFaceLandmarks caps the face-landmark records kept per
	// occupant (the Lua module keeps them all).
	SpeakerStatsMaxFaceLandmarks = 1000
)

// ssKey is the room value key of the per-room speaker statistics.
type ssKey struct{}

// ssRoom is the speaker statistics of one room, held with the room.
type ssRoom struct {
	// dominant is the real JID of the last reported dominant speaker.
	dominant string
	// users maps a real full JID (Prosody's occupant.jid) to its stats;
	// order keeps insertion order for a deterministic report.
	users map[string]*ssUser
	order []string
}

// ssUser is one occupant session's statistics (Lua's SpeakerStats).
type ssUser struct {
	nick        string
	displayName *string
	total       int64 // ms
	start       int64 // ms, start of the current speaking period
	isDominant  bool
	isSilent    bool
	faces       []SpeakerStatsFaceLandmark
}

// SpeakerStatsFaceLandmark is one <faceLandmarks/> report as kept and sent
// back to joiners; absent or non-numeric attributes are left out.
type SpeakerStatsFaceLandmark struct {
	FaceExpression *string  `json:"faceExpression,omitempty"`
	Timestamp      *float64 `json:"timestamp,omitempty"`
	Duration       *float64 `json:"duration,omitempty"`
}

// setDominant is Lua's SpeakerStats:setDominantSpeaker(isNow, silence):
// speaking time accumulates while the occupant is dominant and not silent.
func (u *ssUser) setDominant(now int64, isNow, silence bool) {
	switch {
	case !u.isDominant && isNow && !silence:
		u.start = now
	case u.isDominant && !isNow:
		if !u.isSilent {
			u.total += now - u.start
			u.start = 0
		}
	case u.isDominant && u.isSilent && !silence:
		u.start = now
	case u.isDominant && !u.isSilent && silence:
		u.total += now - u.start
		u.start = 0
	}
	u.isDominant = isNow
	u.isSilent = silence
}

// ssUserReport is one entry of the "speakerstats" json-message.
type ssUserReport struct {
	DisplayName              *string                    `json:"displayName,omitempty"`
	TotalDominantSpeakerTime int64                      `json:"totalDominantSpeakerTime"`
	FaceLandmarks            []SpeakerStatsFaceLandmark `json:"faceLandmarks"`
}

// ssReport is the json-message sent to a joiner.
type ssReport struct {
	Type  string                  `json:"type"`
	Users map[string]ssUserReport `json:"users"`
}

// SpeakerStats is Jitsi's mod_speakerstats_component. Occupants send it
// <message><speakerstats xmlns="http://jitsi.org/jitmeet" room="R"
// [silence="true"]/></message> when they become the dominant speaker and
// <faceLandmarks room="R" faceExpression=".." timestamp=".." duration=".."/>
// reports; R may be a tenant JID (room@conference.tenant.D). The
// component keeps per-occupant speaking time in every room of the
// muc_component MUC (and of breakout.<muc_mapper_domain_base> when there
// is such a MUC) and, when someone joins, sends them
// {"type":"speakerstats","users":{nick:{displayName,
// totalDominantSpeakerTime,faceLandmarks}}} as a json-message from the
// component. Admins (jicofo) and health-check rooms are not tracked.
// Nothing is ever answered to the messages, as in Lua.
//
// Differences from the Lua module: face landmarks are capped at
// SpeakerStatsMaxFaceLandmarks per occupant, and room state is also
// created at the first join (parley fires muc-room-created after the
// creator joined, Prosody before).
type SpeakerStats struct {
	srv    *server.Server
	domain string
	log    *slog.Logger
	now    func() int64
	admins map[string]bool
	mapper TenantMapper
	muc    string

	mu     sync.Mutex
	hooked map[string]bool
}

var _ server.Component = (*SpeakerStats)(nil)

// SpeakerStatsFactory returns the server.ComponentFactory for
// speakerstats_component sections; register it with
// server.WithComponentType(SpeakerStatsType, ...).
func SpeakerStatsFactory() server.ComponentFactory {
	return componentFactory(NewSpeakerStats)
}

// NewSpeakerStats builds the component of one section: it hooks the MUC
// named by muc_component (required) once it exists and announces the
// "speakerstats" identity on the main VirtualHost.
func NewSpeakerStats(ch *server.ComponentHost) (*SpeakerStats, error) {
	srv := ch.Server
	cfg := srv.Config()
	mucDomain := cfg.String(ch.Config, OptMUCComponent, "")
	if mucDomain == "" {
		return nil, fmt.Errorf("jitsi: %s %s: %s is not set", SpeakerStatsType, ch.Name, OptMUCComponent)
	}
	clock := srv.Clock()
	c := &SpeakerStats{
		srv:    srv,
		domain: ch.Name,
		log:    srv.Logger().With("component", SpeakerStatsType, "host", ch.Name),
		now:    func() int64 { return clock().UnixMilli() },
		admins: map[string]bool{},
		mapper: NewTenantMapper(cfg, ch.Config),
		muc:    mucDomain,
		hooked: map[string]bool{},
	}
	for _, a := range cfg.Admins(ch.Config) {
		if j, err := jid.Parse(a); err == nil {
			c.admins[j.Bare().String()] = true
		}
	}
	c.log.Info("starting speakerstats", "muc", mucDomain)
	WhenMUC(srv, mucDomain, SpeakerStatsType, c.hook)
	if c.mapper.Base != "" {
		if b := "breakout." + c.mapper.Base; b != mucDomain && cfg.Component(b) != nil {
			WhenMUC(srv, b, SpeakerStatsType, c.hook)
		}
	}
	AnnounceComponent(srv, ch.Config, SpeakerStatsIdentity, ch.Name)
	return c, nil
}

// hook registers the MUC handlers at the Lua module's priorities.
func (c *SpeakerStats) hook(svc *muc.Service) {
	c.mu.Lock()
	done := c.hooked[svc.Domain()]
	c.hooked[svc.Domain()] = true
	c.mu.Unlock()
	if done {
		return
	}
	c.log.Info("hooked to muc events", "muc", svc.Domain())
	e := svc.Events
	e.RoomCreated.On(-1, SpeakerStatsType, func(_ context.Context, ev *muc.RoomCreateEvent) error {
		ssEnsure(ev.Room)
		return nil
	})
	e.OccupantJoined.On(-1, SpeakerStatsType, func(_ context.Context, ev *muc.OccupantEvent) error {
		c.joined(ev.Room, ev.Occupant)
		return nil
	})
	e.OccupantPreLeave.On(-1, SpeakerStatsType, func(_ context.Context, ev *muc.LeaveEvent) error {
		c.leaving(ev.Room, ev.Occupant)
		return nil
	})
}

// ssEnsure returns the room's stats, creating them unless it is a
// health-check room (nil then).
func ssEnsure(r *muc.Room) *ssRoom {
	if IsHealthCheckRoom(r.Node()) {
		return nil
	}
	if st, ok := r.Value(ssKey{}).(*ssRoom); ok {
		return st
	}
	st := &ssRoom{users: map[string]*ssUser{}}
	r.SetValue(ssKey{}, st)
	return st
}

func ssState(r *muc.Room) *ssRoom {
	st, _ := r.Value(ssKey{}).(*ssRoom)
	return st
}

func (c *SpeakerStats) isAdmin(bare string) bool { return c.admins[bare] }

// joined sends the current statistics to the joiner and starts tracking
// it (muc-occupant-joined, -1).
func (c *SpeakerStats) joined(r *muc.Room, o *muc.Occupant) {
	if IsHealthCheckRoom(r.Node()) || c.isAdmin(o.BareJID) {
		return
	}
	st := ssEnsure(r)
	real := o.RealJID()
	if rep := c.report(r, st); rep != nil {
		msg, err := JSONMessage(c.domain, real, rep)
		if err != nil {
			c.log.Error("speakerstats report", "room", r.JID(), "err", err)
		} else {
			r.Send(msg)
		}
	}
	if _, ok := st.users[real]; !ok {
		st.order = append(st.order, real)
	}
	st.users[real] = &ssUser{nick: o.Nick}
}

// report builds the statistics a joiner gets, nil when there is nothing
// to tell: occupants who spoke, are speaking, left or sent face landmarks.
func (c *SpeakerStats) report(r *muc.Room, st *ssRoom) *ssReport {
	now := c.now()
	users := map[string]ssUserReport{}
	for _, real := range st.order {
		u := st.users[real]
		if u.nick == "" || u.nick == "focus" {
			continue
		}
		left := r.OccupantJID(real) == ""
		if u.total <= 0 && !left && !u.isDominant && len(u.faces) == 0 {
			continue
		}
		total := u.total
		if u.isDominant && !u.isSilent {
			total += now - u.start
		}
		faces := u.faces
		if faces == nil {
			faces = []SpeakerStatsFaceLandmark{}
		}
		users[u.nick] = ssUserReport{DisplayName: u.displayName, TotalDominantSpeakerTime: total, FaceLandmarks: faces}
	}
	if len(users) == 0 {
		return nil
	}
	return &ssReport{Type: "speakerstats", Users: users}
}

// leaving stops the occupant's speaking period and keeps its display name
// (muc-occupant-pre-leave, -1).
func (c *SpeakerStats) leaving(r *muc.Room, o *muc.Occupant) {
	st := ssState(r)
	if st == nil || IsHealthCheckRoom(r.Node()) {
		return
	}
	u := st.users[o.RealJID()]
	if u == nil {
		return
	}
	u.setDominant(c.now(), false, false)
	if p := o.Presence(); p != nil {
		if n := p.Child(nsNick, "nick"); n != nil {
			name := n.Text()
			u.displayName = &name
		}
	}
}

// Deliver implements server.Component: it handles the occupants'
// messages to the component domain and drops or refuses the rest.
func (c *SpeakerStats) Deliver(ctx context.Context, el *stanza.Element) {
	typ := el.Get("type")
	switch el.Name.Local {
	case "message":
		if typ == "error" || !ssToDomain(el, c.domain) {
			return
		}
		c.onMessage(ctx, el)
	case "iq":
		if typ == "get" || typ == "set" {
			c.srv.Route(ctx, server.ErrorReply(el, "cancel", "service-unavailable", ""))
		}
	}
}

// ssToDomain reports whether el is addressed to the bare domain (Prosody's
// message/host).
func ssToDomain(el *stanza.Element, domain string) bool {
	return strings.EqualFold(el.Get("to"), domain)
}

// onMessage applies <speakerstats/> and <faceLandmarks/> reports.
func (c *SpeakerStats) onMessage(ctx context.Context, el *stanza.Element) {
	from := el.Get("from")
	if s := el.Child(NSJitMeet, "speakerstats"); s != nil {
		silence := s.Get("silence") == "true"
		ok := c.withRoom(ctx, s.Get("room"), func(r *muc.Room, st *ssRoom) bool {
			o := r.OccupantByRealJID(from)
			if o == nil {
				c.log.Warn("no occupant found", "from", from, "room", r.JID())
				return false
			}
			id := o.RealJID()
			now := c.now()
			if st.dominant != "" && st.dominant != id {
				if old := st.users[st.dominant]; old != nil {
					old.setDominant(now, false, false)
				}
			}
			if u := st.users[id]; u != nil {
				u.setDominant(now, true, silence)
			}
			st.dominant = id
			return true
		})
		if !ok {
			return
		}
	}
	if f := el.Child(NSJitMeet, "faceLandmarks"); f != nil {
		c.withRoom(ctx, f.Get("room"), func(r *muc.Room, st *ssRoom) bool {
			o := r.OccupantByRealJID(from)
			var u *ssUser
			if o != nil {
				u = st.users[o.RealJID()]
			}
			if u == nil {
				c.log.Warn("no occupant found", "from", from, "room", r.JID())
				return false
			}
			if len(u.faces) >= SpeakerStatsMaxFaceLandmarks {
				c.log.Debug("face landmarks limit reached", "from", from, "room", r.JID())
				return false
			}
			u.faces = append(u.faces, ssFace(f))
			return true
		})
	}
}

// ssFace reads a <faceLandmarks/> report; numbers are parsed as Lua's
// tonumber does for decimal text.
func ssFace(f *stanza.Element) SpeakerStatsFaceLandmark {
	var lm SpeakerStatsFaceLandmark
	if f.Has("faceExpression") {
		v := f.Get("faceExpression")
		lm.FaceExpression = &v
	}
	num := func(name string) *float64 {
		n, err := strconv.ParseFloat(strings.TrimSpace(f.Get(name)), 64)
		if err != nil {
			return nil
		}
		return &n
	}
	lm.Timestamp = num("timestamp")
	lm.Duration = num("duration")
	return lm
}

// withRoom runs f with the room named by a room attribute (tenant JIDs
// mapped to the MUC's) held and its stats; false when there is no such
// room or it has no stats.
func (c *SpeakerStats) withRoom(ctx context.Context, address string, f func(*muc.Room, *ssRoom) bool) bool {
	internal := c.mapper.ToInternal(address)
	j, err := jid.Parse(internal)
	if err != nil || j.Localpart() == "" {
		c.log.Warn("no room found", "room", address)
		return false
	}
	svc := ServerMUCLookup(c.srv, j.Domainpart())
	if svc == nil {
		c.log.Warn("no room found", "room", address)
		return false
	}
	ok := false
	err = svc.Do(ctx, j.Bare().String(), func(r *muc.Room) {
		st := ssState(r)
		if st == nil {
			c.log.Warn("no speakerstats found", "room", address)
			return
		}
		ok = f(r, st)
	})
	if err != nil {
		c.log.Warn("no room found", "room", address)
		return false
	}
	return ok
}
