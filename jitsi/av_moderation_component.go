package jitsi

import (
	"context"
	"slices"
	"strings"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/stanza"
)

// AVModerationType is the component type of Jitsi's A/V moderation
// component, as in `Component "avmoderation.example.com"
// "av_moderation_component"`.
const AVModerationType = "av_moderation_component"

// AVModerationIdentity is the identity type the component announces on the
// main host and the "type" of its json-messages.
const AVModerationIdentity = "av_moderation"

// avmMediaTypes are the media types that can be moderated, in the order
// the Lua module walks them.
var avmMediaTypes = [...]string{"audio", "video", "desktop"}

func avmValidMedia(m string) bool { return slices.Contains(avmMediaTypes[:], m) }

// avmKey keys the per-room moderation state.
type avmKey struct{}

// avmState is room.av_moderation (whitelists by media type: a present
// key means moderation is on for that media), room.av_moderation_actors
// and room.av_moderation_startMuted_restore.
type avmState struct {
	lists   map[string][]string
	actors  map[string]string
	restore map[string]any
}

func avmOf(r *muc.Room) *avmState {
	st, _ := r.Value(avmKey{}).(*avmState)
	return st
}

// AVModerationEnabled reports whether A/V moderation is on for a media
// type in a room. Call it with the room held.
func AVModerationEnabled(r *muc.Room, media string) bool {
	st := avmOf(r)
	if st == nil {
		return false
	}
	_, ok := st.lists[media]
	return ok
}

// AVModeration is Jitsi's mod_av_moderation_component (JITSI.md §2 P1 "AV
// moderation"). Moderators of a room of the muc_component MUC send
// <message><av_moderation mediaType="audio|video|desktop" .../></message>
// to the component (the room comes from the room/prefix parameters of
// their BOSH/WebSocket session):
//
//   - enable="true"/"false" turns moderation of a media type on or off;
//     every occupant gets {"type":"av_moderation","enabled":b,"room":R,
//     "actor":A,"mediaType":M}. Turning it on whitelists the current
//     moderators, sets metadata startMuted[M]=true (restored when turned
//     off) and sends the whitelists to the moderators;
//   - jidToWhitelist=occupant JID approves an occupant: moderators get
//     {"whitelists":{...}}, the occupant {"approved":true}; with
//     moderation off the occupant only gets {"approved":true,"from":nick};
//   - jidToBlacklist removes an occupant from a whitelist ("removed":true).
//
// Joiners get the enabled media types (muc-occupant-joined -2) and joining
// moderators make every moderator get the whitelists; an occupant made
// owner (muc-set-affiliation -1) is added to the enabled whitelists.
// Requests from non-moderators, non-occupants or with a bad mediaType are
// logged and ignored, as in Lua. The av_can_unmute preset (set by no stock
// module) is not supported.
type AVModeration struct {
	*jcomp
	mucDomain string
}

var _ server.Component = (*AVModeration)(nil)

// AVModerationFactory returns the server.ComponentFactory for
// av_moderation_component sections.
func AVModerationFactory() server.ComponentFactory {
	return componentFactory(NewAVModeration)
}

// NewAVModeration builds the component of one section. Like the Lua
// module it only logs without muc_component or muc_mapper_domain_base.
func NewAVModeration(ch *server.ComponentHost) (*AVModeration, error) {
	m := &AVModeration{jcomp: newJcomp(ch, AVModerationType)}
	m.mucDomain = m.option(OptMUCComponent)
	switch {
	case m.mucDomain == "":
		m.log.Error("no muc_component specified, no MUC to operate on")
		return m, nil
	case m.base == "":
		m.log.Warn("no muc_mapper_domain_base option set, A/V moderation disabled")
		m.mucDomain = ""
		return m, nil
	}
	m.log.Info("starting av_moderation", "muc", m.mucDomain)
	WhenMUC(m.srv, m.mucDomain, AVModerationType, func(s *muc.Service) {
		s.Events.OccupantJoined.On(-2, AVModerationType, m.occupantJoined)
		s.Events.SetAffiliation.On(-1, AVModerationType, m.affiliationChanged)
	})
	AnnounceComponent(m.srv, m.sec, AVModerationIdentity, m.domain)
	return m, nil
}

// Deliver implements server.Component: moderation requests from clients.
func (m *AVModeration) Deliver(ctx context.Context, el *stanza.Element) {
	if m.unhandledIQ(ctx, el) || el.Name.Local != "message" || el.Get("type") == "error" || m.mucDomain == "" {
		return
	}
	from := el.Get("from")
	roomJID, ok := m.sessionRoom(m.session(from), m.mucDomain)
	if !ok {
		return
	}
	cmd := parentChild(el, "av_moderation")
	if cmd == nil {
		return
	}
	svc := m.muc(m.mucDomain)
	if svc == nil {
		return
	}
	if err := svc.Do(ctx, roomJID, func(r *muc.Room) { m.command(r, from, cmd) }); err != nil {
		m.log.Warn("no room found for a moderation request", "room", roomJID, "from", from, "err", err)
	}
}

// command runs one request on a held room.
func (m *AVModeration) command(r *muc.Room, from string, cmd *stanza.Element) {
	occ := r.OccupantByRealJID(from)
	switch {
	case occ == nil:
		m.log.Warn("moderation request from a non-occupant", "from", from, "room", r.JID())
		return
	case occ.Role != muc.RoleModerator:
		m.log.Warn("moderation request refused: not a moderator", "from", from, "room", r.JID())
		return
	}
	media := cmd.Get("mediaType")
	if !avmValidMedia(media) {
		m.log.Warn("moderation request with a bad mediaType", "mediaType", media, "room", r.JID())
		return
	}
	switch {
	case cmd.Has("enable"):
		m.enable(r, occ, media, cmd.Get("enable") == "true")
	case cmd.Has("jidToWhitelist"):
		m.whitelist(r, occ, media, cmd.Get("jidToWhitelist"))
	case cmd.Has("jidToBlacklist"):
		m.blacklist(r, media, cmd.Get("jidToBlacklist"))
	}
}

func (m *AVModeration) enable(r *muc.Room, occ *muc.Occupant, media string, on bool) {
	st := avmOf(r)
	if on {
		if st != nil {
			if _, ok := st.lists[media]; ok {
				m.log.Warn("concurrent moderator enable/disable request or out of sync", "room", r.JID())
				return
			}
		}
		m.start(r, media, occ)
	} else {
		if st == nil {
			m.log.Warn("concurrent moderator enable/disable request or out of sync", "room", r.JID())
			return
		}
		delete(st.lists, media)
		delete(st.actors, media)
		md := RoomMetadata(r)
		sm, _ := md["startMuted"].(map[string]any)
		if sm == nil {
			sm = map[string]any{}
		}
		if v, ok := st.restore[media]; ok && v != nil {
			sm[media] = v
		} else {
			delete(sm, media)
		}
		md["startMuted"] = sm
		if len(st.lists) == 0 {
			r.SetValue(avmKey{}, nil)
		}
	}
	m.notifyEnabled(r, "", on, occ.JID, media)
	if on {
		m.notifyWhitelist(r, "", true, media, false)
	}
}

// start is start_av_moderation: a new whitelist holding the current
// moderators (but jicofo) and startMuted[media] set in the metadata.
func (m *AVModeration) start(r *muc.Room, media string, occ *muc.Occupant) {
	st := avmOf(r)
	if st == nil {
		st = &avmState{lists: map[string][]string{}, actors: map[string]string{}, restore: map[string]any{}}
		r.SetValue(avmKey{}, st)
	}
	list := []string{}
	for _, o := range r.Occupants() {
		if o.Role == muc.RoleModerator && !strings.HasSuffix(o.JID, "/focus") {
			list = append(list, m.mapper.ToExternal(o.JID))
		}
	}
	st.lists[media] = list
	md := RoomMetadata(r)
	sm, _ := md["startMuted"].(map[string]any)
	if sm == nil {
		sm = map[string]any{}
	}
	st.restore[media] = sm[media]
	sm[media] = true
	md["startMuted"] = sm
	st.actors[media] = occ.JID
}

func (m *AVModeration) whitelist(r *muc.Room, occ *muc.Occupant, media, target string) {
	t := m.targetOccupant(r, target)
	if t == nil {
		return
	}
	st := avmOf(r)
	if st == nil {
		// A moderator asking someone to unmute without moderation on.
		m.sendJSON(r, t.RealJID(), map[string]any{
			"type": AVModerationIdentity, "room": m.mapper.ToExternal(r.JID()),
			"approved": true, "mediaType": media, "from": occ.JID,
		})
		return
	}
	st.lists[media] = append(st.lists[media], target)
	m.notifyWhitelist(r, t.RealJID(), true, media, false)
}

func (m *AVModeration) blacklist(r *muc.Room, media, target string) {
	t := m.targetOccupant(r, target)
	st := avmOf(r)
	if t == nil || st == nil {
		return
	}
	list, ok := st.lists[media]
	if !ok {
		return
	}
	i := slices.Index(list, target)
	if i < 0 {
		return
	}
	st.lists[media] = slices.Delete(list, i, i+1)
	m.notifyWhitelist(r, t.RealJID(), true, media, true)
}

// targetOccupant finds the occupant a client names by its (external)
// occupant JID.
func (m *AVModeration) targetOccupant(r *muc.Room, target string) *muc.Occupant {
	oj, err := normalOccupantJID(m.mapper.ToInternal(target))
	var t *muc.Occupant
	if err == nil {
		t = r.Occupant(oj)
	}
	if t == nil {
		m.log.Warn("no occupant found", "occupant", target, "room", r.JID())
	}
	return t
}

// notifyEnabled tells one real JID (or, when to is "", every occupant)
// that moderation of media was turned on or off by actor (an occupant
// JID, "" when unknown).
func (m *AVModeration) notifyEnabled(r *muc.Room, to string, on bool, actor, media string) {
	msg := map[string]any{
		"type": AVModerationIdentity, "enabled": on, "room": m.mapper.ToExternal(r.JID()), "mediaType": media,
	}
	if actor != "" {
		msg["actor"] = m.mapper.ToExternal(actor)
	}
	if to != "" {
		m.sendJSON(r, to, msg)
		return
	}
	for _, o := range r.Occupants() {
		m.sendJSON(r, o.RealJID(), msg)
	}
}

// notifyWhitelist is notify_whitelist_change: moderators (all of them when
// moderators is set, else only the occupant at real JID jid) get the
// whitelists; a non-moderator at jid gets approved (or removed).
func (m *AVModeration) notifyWhitelist(r *muc.Room, jid string, moderators bool, media string, removed bool) {
	lists := map[string][]string{}
	if st := avmOf(r); st != nil {
		for k, v := range st.lists {
			if len(v) > 0 { // Lua's cjson would write an empty list as {}
				lists[k] = slices.Clone(v)
			}
		}
	}
	room := m.mapper.ToExternal(r.JID())
	forMods := map[string]any{"type": AVModerationIdentity, "room": room, "whitelists": lists}
	forUser := map[string]any{"type": AVModerationIdentity, "room": room}
	if media != "" {
		forMods["mediaType"], forUser["mediaType"] = media, media
	}
	if removed {
		forMods["removed"], forUser["removed"] = true, true
	} else {
		forUser["approved"] = true
	}
	for _, o := range r.Occupants() {
		switch {
		case moderators && o.Role == muc.RoleModerator:
			m.sendJSON(r, o.RealJID(), forMods)
		case o.RealJID() == jid && o.Role == muc.RoleModerator:
			m.sendJSON(r, o.RealJID(), forMods)
		case o.RealJID() == jid:
			m.sendJSON(r, o.RealJID(), forUser)
		}
	}
}

// occupantJoined tells a joiner which media are moderated; a joining
// moderator makes every moderator get the whitelists.
func (m *AVModeration) occupantJoined(_ context.Context, ev *muc.OccupantEvent) error {
	r, o := ev.Room, ev.Occupant
	if IsHealthCheckRoom(r.Node()) || m.isAdmin(o.BareJID) {
		return nil
	}
	st := avmOf(r)
	if st == nil {
		return nil
	}
	for _, media := range avmMediaTypes {
		if _, ok := st.lists[media]; ok {
			m.notifyEnabled(r, o.RealJID(), true, st.actors[media], media)
		}
	}
	if o.Role == muc.RoleModerator {
		for _, media := range avmMediaTypes {
			if _, ok := st.lists[media]; ok {
				m.notifyWhitelist(r, "", true, media, false)
			}
		}
	}
	return nil
}

// affiliationChanged adds a new owner to the enabled whitelists and, when
// someone granted it, sends the whitelists to every moderator.
func (m *AVModeration) affiliationChanged(_ context.Context, ev *muc.AffiliationEvent) error {
	r := ev.Room
	st := avmOf(r)
	if st == nil || IsHealthCheckRoom(r.Node()) || m.isAdmin(ev.JID) || ev.Affiliation != muc.AffiliationOwner {
		return nil
	}
	for _, o := range r.Occupants() {
		if o.BareJID != ev.JID {
			continue
		}
		for _, media := range avmMediaTypes {
			if list, ok := st.lists[media]; ok {
				st.lists[media] = append(list, m.mapper.ToExternal(o.JID))
			}
		}
	}
	if ev.Actor != "" {
		for _, media := range avmMediaTypes {
			if _, ok := st.lists[media]; ok {
				m.notifyWhitelist(r, "", true, media, false)
			}
		}
	}
	return nil
}
