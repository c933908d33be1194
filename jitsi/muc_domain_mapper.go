package jitsi

import (
	"context"
	"sync"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/stanza"
)

// MUCDomainMapperName is the module's name in modules_enabled.
const MUCDomainMapperName = "muc_domain_mapper"

// dmRoomlessMax bounds how many tenant-domain IQs without a room (disco of
// conference.<tenant>.<base>) wait for their answer to be mapped back.
const dmRoomlessMax = 4096

// MUCDomainMapper returns Jitsi's mod_muc_domain_mapper, named in the
// modules_enabled of a MUC component: clients of multi-tenant deployments
// address rooms as room@conference.<tenant>.<base>, which the MUC serves as
// [tenant]room@conference.<base>. Every stanza a client of any VirtualHost
// sends has its `to` (and the room attribute of a focus <conference/>
// request) mapped to the MUC's form, and every stanza delivered to a
// client has its `from` mapped back, so clients only ever see their
// tenant's addresses. It needs muc_mapper_domain_base (and reads
// muc_mapper_domain_prefix and muc_mapper_domain); without a base it stays
// off, as in Jitsi. Loaded on several MUCs, it still maps once per server.
//
// Unlike Jitsi, the tenant must be the whole label between the prefix and
// the base (the Lua pattern is not anchored at the end), and an answer to a
// room-less IQ is mapped back only for the client that asked (Jitsi keys
// them by stanza id alone, without a bound).
func MUCDomainMapper() muc.LoadFunc {
	var once loadOnce[*server.Server]
	return func(s *muc.Service) error {
		srv := s.Server()
		if !once.first(srv, s) {
			return nil
		}
		m := NewTenantMapper(srv.Config(), s.ConfigSection())
		if m.Base == "" {
			s.Logger().Warn("no muc_mapper_domain_base option set, module inactive", "module", MUCDomainMapperName)
			return nil
		}
		dm := &domainMapper{m: m, roomless: map[string]string{}}
		for _, h := range srv.Hosts() {
			h.Events.PreStanza.On(0, MUCDomainMapperName, dm.inbound)
			h.Events.StanzaOut.On(0, MUCDomainMapperName, dm.outbound)
		}
		return nil
	}
}

type domainMapper struct {
	m TenantMapper

	mu       sync.Mutex
	roomless map[string]string // client full JID + id -> the tenant domain it asked
	order    []string          // roomless keys, oldest first
}

// inbound maps what a client sends to the MUC's form.
func (dm *domainMapper) inbound(_ context.Context, ev *server.StanzaEvent) error {
	el := ev.Stanza
	if conf := el.Child(NSFocus, "conference"); conf != nil && el.Name.Local == "iq" {
		if room := conf.Get("room"); room != "" {
			conf.Set("room", dm.m.ToInternal(room))
		}
	}
	to := el.Get("to")
	if to == "" {
		return nil
	}
	mapped := dm.m.ToInternal(to)
	if mapped == to {
		mapped = dm.hostOnly(to)
		if mapped == to {
			return nil
		}
		if el.Name.Local == "iq" && el.Get("id") != "" {
			dm.remember(el.Get("from")+"\x00"+el.Get("id"), to)
		}
	}
	el.Set("to", mapped)
	return nil
}

// hostOnly maps conference.<tenant>.<base>[/res] (no room) to the MUC
// domain.
func (dm *domainMapper) hostOnly(to string) string {
	node, domain, res := splitJID(to)
	if node != "" {
		return to
	}
	probe := dm.m.ToInternal("x@" + domain)
	if probe == "x@"+domain {
		return to
	}
	return joinJID("", dm.m.MUCDomain(), res)
}

func (dm *domainMapper) remember(key, to string) {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	if _, ok := dm.roomless[key]; !ok {
		dm.order = append(dm.order, key)
	}
	dm.roomless[key] = to
	for len(dm.order) > dmRoomlessMax {
		delete(dm.roomless, dm.order[0])
		dm.order = dm.order[1:]
	}
}

func (dm *domainMapper) recall(key string) (string, bool) {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	to, ok := dm.roomless[key]
	if ok {
		delete(dm.roomless, key)
	}
	return to, ok
}

// outbound maps what a client receives back to its tenant's form (the
// "stanzas/out" filter at Jitsi's default priority 0).
func (dm *domainMapper) outbound(_ context.Context, ev *server.OutStanzaEvent) error {
	el := ev.Stanza
	switch el.Name.Local {
	case "message", "presence", "iq":
	default:
		return nil
	}
	from, to := el.Get("from"), el.Get("to")
	newFrom := dm.m.ToExternal(from)
	if newFrom == from && el.Name.Local == "iq" && from == dm.m.MUCDomain() {
		if t := el.Get("type"); t == "result" || t == "error" {
			if orig, ok := dm.recall(to + "\x00" + el.Get("id")); ok {
				newFrom = orig
			}
		}
	}
	newTo := dm.m.ToInternal(to)
	var room, newRoom string
	conf := el.Child(NSFocus, "conference")
	if conf != nil && el.Name.Local == "iq" {
		room = conf.Get("room")
		newRoom = dm.m.ToInternal(room)
	}
	if newFrom == from && newTo == to && newRoom == room {
		return nil
	}
	// Only the routing attributes change, except for the rare conference
	// request, so the children stay shared with the other recipients.
	c := el.ShallowCopy()
	if newRoom != room {
		c = el.Copy()
	}
	setIf(c, "from", newFrom)
	setIf(c, "to", newTo)
	if newRoom != room {
		c.Child(NSFocus, "conference").Set("room", newRoom)
	}
	ev.Stanza = c
	return nil
}

func setIf(el *stanza.Element, name, v string) {
	if v != "" {
		el.Set(name, v)
	}
}
