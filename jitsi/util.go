package jitsi

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/stanza"
)

// NSJitMeet is the namespace of Jitsi's own extensions: json-message,
// permissions, the lobby's displayname-required and more.
const NSJitMeet = "http://jitsi.org/jitmeet"

// OptMUCComponent names the MUC a Jitsi component (speakerstats,
// end_conference, av_moderation, room_metadata, polls) works on.
const OptMUCComponent = "muc_component"

// OptMUCMapperDomain is muc_mapper_domain, the MUC tenant rooms map to.
const OptMUCMapperDomain = "muc_mapper_domain"

// JSONMessage builds Jitsi's json-message: a <message> whose
// <json-message xmlns="http://jitsi.org/jitmeet"> child holds payload as
// JSON text. from and to may be empty.
func JSONMessage(from, to string, payload any) (*stanza.Element, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("jitsi: encoding json-message: %w", err)
	}
	m := stanza.New(stanza.NSClient, "message")
	if from != "" {
		m.Set("from", from)
	}
	if to != "" {
		m.Set("to", to)
	}
	return m.Add(stanza.New(NSJitMeet, "json-message").AddText(string(b))), nil
}

// JSONPayload returns the text of el's <json-message> child and whether
// there is one.
func JSONPayload(el *stanza.Element) (string, bool) {
	j := el.Child(NSJitMeet, "json-message")
	if j == nil {
		return "", false
	}
	return j.Text(), true
}

// RoomJIDFromQuery is Jitsi's get_room_by_name_and_subdomain for the room
// and prefix parameters of a web session (jitsi_web_query_room and
// jitsi_web_query_prefix): room@mucDomain, or [prefix]room@mucDomain when
// the prefix names a tenant rather than the base domain.
func RoomJIDFromQuery(room, prefix, base, mucDomain string) string {
	if prefix != "" && prefix != base {
		room = "[" + prefix + "]" + room
	}
	return room + "@" + mucDomain
}

// loadOnce lets a MUC module that may be named more than once (on several
// MUCs, or through another module that depends on it) set itself up once
// per key: the server for server-wide modules, the service otherwise.
type loadOnce[K comparable] struct {
	mu   sync.Mutex
	done map[K]bool
}

// first reports whether k is seen for the first time; the key is
// forgotten when s stops.
func (l *loadOnce[K]) first(k K, s *muc.Service) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done[k] {
		return false
	}
	if l.done == nil {
		l.done = map[K]bool{}
	}
	l.done[k] = true
	s.OnStop(func() {
		l.mu.Lock()
		delete(l.done, k)
		l.mu.Unlock()
	})
	return true
}

// WhenMUC calls f with the MUC service at domain once it exists (Prosody's
// process_host_module for a MUC). It logs and does nothing when domain is
// served by something other than a MUC.
func WhenMUC(srv *server.Server, domain, module string, f func(*muc.Service)) {
	srv.WhenComponent(domain, func(c server.Component) {
		svc, ok := c.(*muc.Service)
		if !ok {
			srv.Logger().Warn("component is not a MUC", "module", module, "component", domain)
			return
		}
		f(svc)
	})
}

// TenantMapper converts between the room JIDs clients of multi-tenant
// deployments use, room@<prefix>.<tenant>.<base>, and the JIDs the MUC
// serves, [tenant]room@<prefix>.<base> (Jitsi's
// room_jid_match_rewrite and internal_room_jid_match_rewrite).
type TenantMapper struct {
	// Base is muc_mapper_domain_base; Prefix is muc_mapper_domain_prefix
	// (default "conference"). An empty Base maps nothing.
	Base, Prefix string
	// Domain is muc_mapper_domain, the MUC that serves the rooms; empty
	// means <Prefix>.<Base>.
	Domain string
}

// NewTenantMapper reads muc_mapper_domain_base and muc_mapper_domain_prefix
// from sec (with global inheritance; nil is the global section).
func NewTenantMapper(cfg *config.Config, sec config.Section) TenantMapper {
	return TenantMapper{
		Base:   cfg.String(sec, OptMUCMapperDomainBase, ""),
		Prefix: cfg.String(sec, OptMUCMapperDomainPrefix, defaultMUCPrefix),
		Domain: cfg.String(sec, OptMUCMapperDomain, ""),
	}
}

// MUCDomain is the MUC domain rooms live on, muc_mapper_domain or
// <prefix>.<base>.
func (m TenantMapper) MUCDomain() string {
	switch {
	case m.Base == "":
		return ""
	case m.Domain != "":
		return m.Domain
	}
	return m.prefix() + "." + m.Base
}

func (m TenantMapper) prefix() string {
	if m.Prefix == "" {
		return defaultMUCPrefix
	}
	return m.Prefix
}

// ToInternal maps room@<prefix>.<tenant>.<base>[/res] to
// [tenant]room@<prefix>.<base>[/res]; anything else comes back unchanged.
func (m TenantMapper) ToInternal(j string) string {
	node, domain, res := splitJID(j)
	if m.Base == "" || node == "" || domain == m.MUCDomain() || strings.HasSuffix(j, "/") {
		return j
	}
	head := m.prefix() + "."
	tail := "." + m.Base
	if !strings.HasPrefix(domain, head) || !strings.HasSuffix(domain, tail) || len(domain) <= len(head)+len(tail) {
		return j
	}
	tenant := domain[len(head) : len(domain)-len(tail)]
	if strings.ContainsAny(tenant, ".[]@/") {
		// Brackets, @ or / in the tenant would make [tenant]room ambiguous.
		return j
	}
	return joinJID("["+tenant+"]"+node, m.MUCDomain(), res)
}

// ToExternal maps [tenant]room@<prefix>.<base>[/res] back to
// room@<prefix>.<tenant>.<base>[/res]; anything else comes back unchanged.
func (m TenantMapper) ToExternal(j string) string {
	node, domain, res := splitJID(j)
	if m.Base == "" || domain != m.MUCDomain() || !strings.HasPrefix(node, "[") || strings.HasSuffix(j, "/") {
		return j
	}
	end := strings.IndexByte(node, ']')
	if end < 2 || end == len(node)-1 {
		return j
	}
	tenant, room := node[1:end], node[end+1:]
	return joinJID(room, m.prefix()+"."+tenant+"."+m.Base, res)
}

// splitJID splits a JID string without preparing it.
func splitJID(j string) (node, domain, res string) {
	if i := strings.IndexByte(j, '/'); i >= 0 {
		j, res = j[:i], j[i+1:]
	}
	if i := strings.IndexByte(j, '@'); i >= 0 {
		node, j = j[:i], j[i+1:]
	}
	return node, j, res
}

func joinJID(node, domain, res string) string {
	s := domain
	if node != "" {
		s = node + "@" + s
	}
	if res != "" {
		s += "/" + res
	}
	return s
}

// componentFactory adapts the constructor of a Jitsi component type to
// server.ComponentFactory.
func componentFactory[C server.Component](build func(*server.ComponentHost) (C, error)) server.ComponentFactory {
	return func(_ context.Context, ch *server.ComponentHost) (server.Component, error) {
		return build(ch)
	}
}
