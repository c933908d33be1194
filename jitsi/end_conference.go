package jitsi

import (
	"context"
	"fmt"
	"log/slog"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/stanza"
)

// EndConferenceType is the component type of Jitsi's end_conference, as in
// `Component "endconference.example.com" "end_conference"`; it is also
// the disco identity type announced on the main VirtualHost.
const EndConferenceType = "end_conference"

// EndConferenceReason is the reason in the <destroy/> the occupants get.
const EndConferenceReason = "The meeting has been terminated"

// EndConference is Jitsi's mod_end_conference as a component: a moderator
// sends <message to="endconference.D"><end_conference/></message> (the
// element in the stanza's own namespace, as lib-jitsi-meet's Strophe
// builder makes it) and the room of its web session, found from the
// session's "room" and "prefix" URL parameters ([prefix]room on
// <muc_mapper_domain_prefix>.<muc_mapper_domain_base> unless prefix is
// empty or the base domain), is destroyed with EndConferenceReason.
// Messages from sessions without a room parameter, from non-occupants and
// from occupants that are not moderators are dropped and logged; nothing
// is ever answered, as in Lua.
//
// Difference from the Lua module: the room goes through
// muc.Room.MaybeDestroy (maybe-destroy-room) instead of being destroyed
// directly, so a module that keeps rooms alive is asked first.
type EndConference struct {
	srv    *server.Server
	domain string
	log    *slog.Logger
	mapper TenantMapper
}

var _ server.Component = (*EndConference)(nil)

// EndConferenceFactory returns the server.ComponentFactory for
// end_conference sections; register it with
// server.WithComponentType(EndConferenceType, ...).
func EndConferenceFactory() server.ComponentFactory {
	return componentFactory(NewEndConference)
}

// NewEndConference builds the component of one section. muc_component is
// required as in Lua; without muc_mapper_domain_base the component loads
// but ends nothing (Lua disables itself with a warning).
func NewEndConference(ch *server.ComponentHost) (*EndConference, error) {
	srv := ch.Server
	cfg := srv.Config()
	mucDomain := cfg.String(ch.Config, OptMUCComponent, "")
	if mucDomain == "" {
		return nil, fmt.Errorf("jitsi: %s %s: %s is not set", EndConferenceType, ch.Name, OptMUCComponent)
	}
	c := &EndConference{
		srv:    srv,
		domain: ch.Name,
		log:    srv.Logger().With("component", EndConferenceType, "host", ch.Name),
		mapper: NewTenantMapper(cfg, ch.Config),
	}
	if c.mapper.Base == "" {
		c.log.Warn("no " + OptMUCMapperDomainBase + " option set, end conference disabled")
		return c, nil
	}
	c.log.Info("starting end_conference", "muc", mucDomain)
	AnnounceComponent(srv, ch.Config, EndConferenceType, ch.Name)
	return c, nil
}

// Deliver implements server.Component.
func (c *EndConference) Deliver(ctx context.Context, el *stanza.Element) {
	typ := el.Get("type")
	switch el.Name.Local {
	case "message":
		if typ == "error" || !ssToDomain(el, c.domain) || c.mapper.Base == "" {
			return
		}
		c.onMessage(ctx, el)
	case "iq":
		if typ == "get" || typ == "set" {
			c.srv.Route(ctx, server.ErrorReply(el, "cancel", "service-unavailable", ""))
		}
	}
}

func (c *EndConference) onMessage(ctx context.Context, el *stanza.Element) {
	from := el.Get("from")
	sess := c.srv.Router().Session(from)
	if sess == nil {
		return
	}
	params := sess.Params()
	room := params[ParamRoom]
	if room == "" {
		return
	}
	if el.Child(el.Name.Space, "end_conference") == nil {
		return
	}
	prefix := params[ParamPrefix]
	roomJID := RoomJIDFromQuery(room, prefix, c.mapper.Base, c.mapper.MUCDomain())
	j, err := jid.Parse(roomJID)
	svc := ServerMUCLookup(c.srv, c.mapper.MUCDomain())
	if err != nil || svc == nil {
		c.log.Warn("no room found", "prefix", prefix, "room", room)
		return
	}
	err = svc.Do(ctx, j.String(), func(r *muc.Room) {
		o := r.OccupantByRealJID(from)
		switch {
		case o == nil:
			c.log.Warn("no occupant found", "from", from, "room", r.JID())
		case o.Role != muc.RoleModerator:
			c.log.Warn("occupant is not a moderator and may not end the conference", "from", from, "room", r.JID())
		default:
			if r.MaybeDestroy(ctx, EndConferenceReason, EndConferenceType) {
				c.log.Info("room destroyed by occupant", "room", r.JID(), "from", from)
			}
		}
	})
	if err != nil {
		c.log.Warn("no room found", "prefix", prefix, "room", room)
	}
}
