package jitsi

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/stanza"
)

// JitsiPermissionsName is the module's name; muc_meeting_id loads it too,
// as in Jitsi.
const JitsiPermissionsName = "jitsi_permissions"

// OptDefaultPermissions is jitsi_default_permissions, the features a
// moderator without token features gets.
const OptDefaultPermissions = "jitsi_default_permissions"

// permDefaults are Jitsi's default permissions.
var permDefaults = []string{
	"livestreaming", "recording", "transcription", "outbound-call", "create-polls",
	"send-groupchat", "send-private-message", "flip", "live-translation", "live-translation-subscribe",
}

// JitsiPermissions returns Jitsi's mod_jitsi_permissions for the main MUC
// (<muc_mapper_domain_prefix>.<muc_mapper_domain_base>; on any other MUC it
// does nothing). When an affiliation change makes someone a moderator, their
// self-presence (status 110) gets
// <permissions xmlns="http://jitsi.org/jitmeet"><p name="…" val="…"/>…</permissions>:
// the token's context.features when a moderator granted them theirs,
// otherwise jitsi_default_permissions. A token session with its own
// features gets none (the client reads the token). An owner grant by a
// token user copies the granter's features to the grantee's sessions in
// the room; a revoke puts back what they had. The presence goes through
// the host's "stanzas/out" filter at priority -2, after the domain mapper.
// One instance serves every MUC it is loaded on.
func JitsiPermissions() muc.LoadFunc {
	var once loadOnce[*muc.Service]
	return func(s *muc.Service) error {
		if !once.first(s, s) {
			return nil
		}
		m := NewTenantMapper(s.Server().Config(), s.ConfigSection())
		if m.Base == "" || m.prefix()+"."+m.Base != s.Domain() {
			return nil
		}
		p := &permissions{
			svc:      s,
			mapper:   m,
			defaults: permDefaultsFrom(s),
			pending:  map[string]map[string]bool{},
			sessions: map[string]*permSession{},
		}
		s.Events.PreSetAffiliation.On(0, JitsiPermissionsName, p.preSetAffiliation)
		s.Events.RoomDestroyed.On(0, JitsiPermissionsName, func(_ context.Context, ev *muc.DestroyEvent) error {
			p.mu.Lock()
			delete(p.pending, ev.Room.JID())
			p.mu.Unlock()
			return nil
		})
		for _, h := range s.Server().Hosts() {
			h.Events.StanzaOut.On(-2, JitsiPermissionsName, p.filter)
			h.Events.SessionClosed.On(0, JitsiPermissionsName, func(_ context.Context, ev *server.SessionEvent) error {
				p.mu.Lock()
				delete(p.sessions, ev.Session.JID().String())
				p.mu.Unlock()
				return nil
			})
		}
		return nil
	}
}

func permDefaultsFrom(s *muc.Service) map[string]any {
	if o, ok := s.Option(OptDefaultPermissions); ok {
		if m, ok := o.Value.(map[string]any); ok {
			return m
		}
		s.Logger().Warn("jitsi_default_permissions is not a table, using the defaults", "pos", o.Pos.String())
	}
	out := make(map[string]any, len(permDefaults))
	for _, k := range permDefaults {
		out[k] = true
	}
	return out
}

type permissions struct {
	svc      *muc.Service
	mapper   TenantMapper
	defaults map[string]any

	mu sync.Mutex
	// pending is Jitsi's room.send_default_permissions_to: room JID ->
	// bare JIDs whose next moderator self-presence carries permissions.
	pending  map[string]map[string]bool
	sessions map[string]*permSession // by full JID
}

// permSession is what Jitsi keeps on the session: features set by this
// module over the token's, and what to restore on revoke.
type permSession struct {
	override    bool
	features    map[string]any
	preGrantSet bool
	preGrant    map[string]any
	force       bool
}

func (p *permissions) state(full string) *permSession {
	st := p.sessions[full]
	if st == nil {
		st = &permSession{}
		p.sessions[full] = st
	}
	return st
}

// features is the session's jitsi_meet_context_features. Call with p.mu.
func (p *permissions) features(s *server.Session) map[string]any {
	if st := p.sessions[s.JID().String()]; st != nil && st.override {
		return st.features
	}
	if c := SessionClaims(s); c != nil && c.Context != nil {
		return c.Context.Features
	}
	return nil
}

func (p *permissions) preSetAffiliation(_ context.Context, ev *muc.AffiliationEvent) error {
	room := ev.Room.JID()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending[room] == nil {
		p.pending[room] = map[string]bool{}
	}
	p.pending[room][ev.JID] = true

	if p.svc.IsAdmin(ev.JID) || IsHealthCheckRoom(ev.Room.Node()) || ev.Actor == "" || ev.Previous == muc.AffiliationNone {
		return nil
	}
	router := p.svc.Server().Router()
	actor := router.Session(ev.Actor)
	if actor == nil {
		return nil
	}
	actorFeatures := p.features(actor)
	if actorFeatures == nil {
		return nil
	}
	granting := ev.Affiliation == muc.AffiliationOwner && ev.Previous != muc.AffiliationOwner
	revoking := ev.Previous == muc.AffiliationOwner && ev.Affiliation != muc.AffiliationOwner
	for _, sess := range router.Sessions(ev.JID) {
		full := sess.JID().String()
		if ev.Room.OccupantByRealJID(full) == nil {
			continue
		}
		st := p.state(full)
		switch {
		case granting:
			if !st.preGrantSet {
				st.preGrantSet, st.preGrant = true, p.features(sess)
			}
			st.override, st.features = true, maps.Clone(actorFeatures)
			st.force = true
		case revoking:
			if st.preGrantSet {
				st.override, st.features = true, st.preGrant
				st.preGrantSet, st.preGrant = false, nil
			} else if SessionClaims(sess) == nil {
				st.override, st.features = true, nil
			}
		}
	}
	return nil
}

// filter adds <permissions/> to a moderator's self-presence.
func (p *permissions) filter(_ context.Context, ev *server.OutStanzaEvent) error {
	el := ev.Stanza
	from, to := el.Get("from"), el.Get("to")
	if el.Name.Local != "presence" || to == "" || el.Get("type") == "unavailable" || strings.HasSuffix(from, "/focus") {
		return nil
	}
	// Cheap tests first: this runs for every stanza to every client, and
	// only self-presences from this MUC concern it.
	x := el.Child(muc.NSUser, "x")
	if x == nil || !muc.HasStatus(x, "110") {
		return nil
	}
	roomJID, _, _ := strings.Cut(p.mapper.ToInternal(from), "/")
	node, domain, _ := splitJID(roomJID)
	if domain != p.svc.Domain() || IsHealthCheckRoom(node) {
		return nil
	}
	bareTo, _, _ := strings.Cut(to, "/")
	if p.svc.IsAdmin(bareTo) {
		return nil
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	full := ev.Session.JID().String()
	st := p.sessions[full]
	if st == nil || !st.force {
		if SessionClaims(ev.Session) != nil && p.features(ev.Session) != nil {
			delete(p.pending[roomJID], bareTo)
			return nil
		}
		if !permIsModerator(x) || !p.pending[roomJID][bareTo] {
			return nil
		}
	}
	st = p.state(full)
	st.force = false
	if p.features(ev.Session) == nil {
		st.override, st.features = true, maps.Clone(p.defaults)
	}
	delete(p.pending[roomJID], bareTo)

	perms := stanza.New(NSJitMeet, "permissions")
	f := p.features(ev.Session)
	for _, k := range slices.Sorted(maps.Keys(f)) {
		perms.Add(stanza.New(NSJitMeet, "p").Set("name", k).Set("val", permValue(f[k])))
	}
	ev.Stanza = el.ShallowCopy().Add(perms)
	return nil
}

func permIsModerator(x *stanza.Element) bool {
	for _, c := range x.Elements() {
		if c.Name.Local == "item" && c.Get("role") == string(muc.RoleModerator) {
			return true
		}
	}
	return false
}

// permValue renders a feature value as Lua's tostring would.
func permValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'g', 14, 64)
	case json.Number:
		return v.String()
	case nil:
		return "nil"
	}
	return fmt.Sprint(v)
}
