package jitsi

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/stanza"
)

// jcomp is the plumbing shared by Jitsi's message-driven components
// (av_moderation_component, room_metadata_component, polls_component,
// filesharing_component): the parts of Jitsi's util.lib.lua they use.
type jcomp struct {
	srv    *server.Server
	domain string
	sec    *config.Component
	log    *slog.Logger
	mapper TenantMapper
	// base is muc_mapper_domain_base, "" when unset.
	base string
	// admins is util.lib's is_admin set: the global admins and the
	// component's own.
	admins map[string]bool
}

func newJcomp(ch *server.ComponentHost, typ string) *jcomp {
	cfg := ch.Server.Config()
	c := &jcomp{
		srv:    ch.Server,
		domain: ch.Name,
		sec:    ch.Config,
		log:    ch.Server.Logger().With("component", typ, "host", ch.Name),
		mapper: NewTenantMapper(cfg, ch.Config),
		base:   cfg.String(ch.Config, OptMUCMapperDomainBase, ""),
		admins: map[string]bool{},
	}
	for _, a := range cfg.Admins(ch.Config) {
		if j, err := jid.Parse(a); err == nil {
			c.admins[j.Bare().String()] = true
		}
	}
	return c
}

// option returns a string option of the component (inherited from the
// global section), "" when unset.
func (c *jcomp) option(key string) string {
	return c.srv.Config().String(c.sec, key, "")
}

// isAdmin is util.lib's is_admin for a JID of any form.
func (c *jcomp) isAdmin(j string) bool {
	p, err := jid.Parse(j)
	return err == nil && c.admins[p.Bare().String()]
}

// session returns the client session of a full JID, nil when none.
func (c *jcomp) session(full string) *server.Session {
	return c.srv.Router().Session(full)
}

// sessionRoom is util.lib's get_room_by_name_and_subdomain applied to
// the room and prefix parameters of the sender's BOSH/WebSocket session
// (jitsi_web_query_room, jitsi_web_query_prefix): the JID of the room on
// mucDomain, or false when the sender has no session or no room
// parameter.
func (c *jcomp) sessionRoom(s *server.Session, mucDomain string) (string, bool) {
	if s == nil {
		return "", false
	}
	p := s.Params()
	if p[ParamRoom] == "" {
		return "", false
	}
	return RoomJIDFromQuery(p[ParamRoom], p[ParamPrefix], c.base, mucDomain), true
}

// sendJSON queues a json-message from the component to one real JID.
func (c *jcomp) sendJSON(r *muc.Room, to string, payload any) {
	m, err := JSONMessage(c.domain, to, payload)
	if err != nil {
		c.log.Error("json-message not sent", "room", r.JID(), "err", err)
		return
	}
	r.Send(m)
}

// reply routes an error reply to el from the component (Prosody's
// origin.send(st.error_reply(...))). Errors and results get none.
func (c *jcomp) reply(ctx context.Context, el *stanza.Element, typ, cond, text string) {
	switch el.Get("type") {
	case "error", "result":
		return
	}
	c.srv.Route(ctx, server.ErrorReply(el, typ, cond, text))
}

// unhandledIQ answers IQ requests the component has no handler for with
// service-unavailable, as Prosody does for a stanza nobody handled.
func (c *jcomp) unhandledIQ(ctx context.Context, el *stanza.Element) bool {
	if el.Name.Local != "iq" {
		return false
	}
	if t := el.Get("type"); t == "get" || t == "set" {
		c.reply(ctx, el, "cancel", "service-unavailable", "")
	}
	return true
}

// muc returns the MUC service at domain, nil when there is none.
func (c *jcomp) muc(domain string) *muc.Service {
	return ServerMUCLookup(c.srv, domain)
}

// parentChild is Prosody's stanza:get_child(name) without a namespace: a
// child in the parent's namespace.
func parentChild(el *stanza.Element, local string) *stanza.Element {
	return el.Child(el.Name.Space, local)
}

// jsonMessageChild is get_child('json-message', jitmeet) or
// get_child('json-message').
func jsonMessageChild(el *stanza.Element) *stanza.Element {
	if j := el.Child(NSJitMeet, "json-message"); j != nil {
		return j
	}
	return parentChild(el, "json-message")
}

// occupantResource is the resource (nick) of an occupant JID.
func occupantResource(occupantJID string) string {
	_, res, _ := strings.Cut(occupantJID, "/")
	return res
}

// normalOccupantJID prepares an occupant JID for a room lookup.
func normalOccupantJID(s string) (string, error) {
	j, err := jid.Parse(s)
	if err != nil {
		return "", fmt.Errorf("jitsi: occupant JID %q: %w", s, err)
	}
	return j.String(), nil
}
