package jitsi

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/hook"
	"github.com/parley-xmpp/parley/server/stanza"
)

// JiconopName is the module name of Jitsi's mod_jiconop.
const JiconopName = "jiconop"

// Options of jiconop (read on the host it is loaded on, inherited from
// global).
const (
	OptShardName     = "shard_name"
	OptRegionName    = "region_name"
	OptReleaseNumber = "release_number"
	OptLobbyMUC      = "lobby_muc"
	OptBreakoutMUC   = "breakout_rooms_muc"
)

// Disco nodes jiconop asks the lobby and breakout components about.
const (
	NodeLobbyRooms    = "lobbyrooms"
	NodeBreakoutRooms = "breakout_rooms"
)

// DiscoNodeFunc is a component's answer to jiconop's host-disco-info-node
// event: it may add <feature/> children to query (the disco#info pushed to
// session) for node.
type DiscoNodeFunc func(s *server.Session, node string, query *stanza.Element)

// Jiconop is Jitsi's mod_jiconop ("Jitsi connection optimisation"): right
// after a client binds its resource it pushes a <message/> holding the
// main VirtualHost's disco#info identities (one per category and type,
// features left out) and the XEP-0215 services with credentials, which
// saves lib-jitsi-meet four round trips. Like the Lua module it also loads
// external_services on its host, needs muc_mapper_domain_base (without it
// the module only warns), and announces shard_name, region_name and
// release_number as server/shard, server/region and server/release
// identities of its host.
//
// Components add node features (the lobby's displayname-required, the
// breakout rooms' rename) with OnDiscoNode.
type Jiconop struct {
	mu    sync.Mutex
	nodes map[string][]DiscoNodeFunc // component domain → handlers
	// probing holds the hosts whose IQResponse chain has captureProbe.
	probing map[*server.Host]bool

	probes  sync.Map // probe id → *stanza.Element reply
	probeID atomic.Uint64
}

var _ server.Module = (*Jiconop)(nil)

// NewJiconop returns the jiconop module.
func NewJiconop() *Jiconop {
	return &Jiconop{nodes: map[string][]DiscoNodeFunc{}, probing: map[*server.Host]bool{}}
}

// Name implements server.Module.
func (*Jiconop) Name() string { return JiconopName }

// OnDiscoNode registers f for the disco node questions jiconop sends to
// component (the host-disco-info-node event of the Lua modules).
func (j *Jiconop) OnDiscoNode(component string, f DiscoNodeFunc) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.nodes[component] = append(j.nodes[component], f)
}

func (j *Jiconop) nodeHandlers(component string) []DiscoNodeFunc {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]DiscoNodeFunc(nil), j.nodes[component]...)
}

// Load implements server.Module.
func (j *Jiconop) Load(_ context.Context, h *server.Host) error {
	srv := h.Server()
	cfg := srv.Config()
	str := func(key string) (string, error) {
		o, ok := cfg.Get(h.Config, key)
		if !ok {
			return "", nil
		}
		v, err := o.AsString()
		if err != nil {
			return "", fmt.Errorf("jitsi: %s on %s: %w", JiconopName, h.Name, err)
		}
		return v, nil
	}
	set, err := NewServiceSet(h)
	if err != nil {
		return err
	}
	set.Register(h)
	mainName, err := str(OptMUCMapperDomainBase)
	if err != nil {
		return err
	}
	if mainName == "" {
		srv.Logger().Warn("no muc_mapper_domain_base option set", "module", JiconopName, "host", h.Name)
		return nil
	}
	for _, id := range []struct{ key, typ string }{{OptShardName, "shard"}, {OptRegionName, "region"}, {OptReleaseNumber, "release"}} {
		v, err := str(id.key)
		if err != nil {
			return err
		}
		if v != "" {
			h.AddIdentity(server.Identity{Category: "server", Type: id.typ, Name: v})
		}
	}
	lobby, err := str(OptLobbyMUC)
	if err != nil {
		return err
	}
	breakout, err := str(OptBreakoutMUC)
	if err != nil {
		return err
	}
	p := &jiconopPush{j: j, host: h, mainName: mainName, services: set, lobby: lobby, breakout: breakout}
	if main := srv.Host(mainName); main != nil {
		j.watchProbes(main)
	}
	h.Events.ResourceBound.On(0, JiconopName, p.push)
	return nil
}

// jiconopPush is the module's state on one host.
type jiconopPush struct {
	j        *Jiconop
	host     *server.Host
	mainName string
	services *ServiceSet
	lobby    string
	breakout string
}

func (p *jiconopPush) push(ctx context.Context, ev *server.SessionEvent) error {
	s := ev.Session
	query := stanza.New(server.NSDiscoInfo, "query")
	seen := map[string]bool{}
	for _, id := range p.j.identities(ctx, p.host.Server(), p.mainName) {
		key := id.Category + "\x00" + id.Type
		if seen[key] {
			continue
		}
		seen[key] = true
		query.Add(stanza.New(server.NSDiscoInfo, "identity").
			Set("category", id.Category).Set("type", id.Type).Set("name", id.Name))
	}
	for _, n := range []struct{ component, node string }{{p.lobby, NodeLobbyRooms}, {p.breakout, NodeBreakoutRooms}} {
		if n.component == "" {
			continue
		}
		for _, f := range p.j.nodeHandlers(n.component) {
			f(s, n.node, query)
		}
	}
	msg := stanza.New(stanza.NSClient, "message").Set("from", p.host.Name).Set("to", s.JID().String())
	msg.Add(query)
	msg.Add(ServicesElement(p.services.Services(), "", ""))
	s.Send(msg)
	return nil
}

// identityLister is implemented by hosts that expose their disco#info
// identities directly.
type identityLister interface {
	Identities() []server.Identity
}

// identities returns the disco#info identities of the VirtualHost named
// host, the server's own first.
func (j *Jiconop) identities(ctx context.Context, srv *server.Server, host string) []server.Identity {
	h := srv.Host(host)
	if h == nil {
		return nil
	}
	if l, ok := any(h).(identityLister); ok {
		return l.Identities()
	}
	return j.probeIdentities(ctx, srv, h)
}

// probeIDPrefix marks jiconop's internal disco#info requests.
const probeIDPrefix = "jiconop-disco-"

// probeIdentities asks host h for its disco#info with a request from the
// host to itself; the reply comes back through h's IQResponse hook, which
// captureProbe answers, before Route returns.
func (j *Jiconop) probeIdentities(ctx context.Context, srv *server.Server, h *server.Host) []server.Identity {
	id := probeIDPrefix + strconv.FormatUint(j.probeID.Add(1), 10)
	iq := stanza.New(stanza.NSClient, "iq").Set("type", "get").Set("id", id).Set("from", h.Name).Set("to", h.Name)
	iq.Add(stanza.New(server.NSDiscoInfo, "query"))
	j.probes.Store(id, (*stanza.Element)(nil)) // pending
	srv.Route(ctx, iq)
	v, _ := j.probes.LoadAndDelete(id)
	reply, _ := v.(*stanza.Element)
	if reply == nil {
		return nil
	}
	var out []server.Identity
	if q := reply.Child(server.NSDiscoInfo, "query"); q != nil {
		for _, e := range q.Elements() {
			if e.Name.Local == "identity" {
				out = append(out, server.Identity{Category: e.Get("category"), Type: e.Get("type"), Name: e.Get("name")})
			}
		}
	}
	return out
}

// watchProbes hooks captureProbe into h once, unless h lists its
// identities itself.
func (j *Jiconop) watchProbes(h *server.Host) {
	if _, ok := any(h).(identityLister); ok {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.probing[h] {
		return
	}
	j.probing[h] = true
	h.Events.IQResponse.On(1000, JiconopName, j.captureProbe)
}

// captureProbe keeps the replies to probeIdentities' requests.
// Only replies from the host to itself to a pending request are taken, so
// nobody else can fill the table.
func (j *Jiconop) captureProbe(_ context.Context, ev *server.StanzaEvent) error {
	el := ev.Stanza
	id := el.Get("id")
	if !strings.HasPrefix(id, probeIDPrefix) || el.Get("from") == "" || el.Get("from") != el.Get("to") {
		return nil
	}
	if el.Get("type") == "result" && j.probes.CompareAndSwap(id, (*stanza.Element)(nil), el) {
		return hook.ErrStop
	}
	return nil
}
