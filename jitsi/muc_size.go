package jitsi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/parley-xmpp/parley/auth/jwt"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
)

// MUCSizeName is the module name of Jitsi's mod_muc_size.
const MUCSizeName = "muc_size"

// Options of muc_size and muc_census (read on the host that loads them,
// inherited from global).
const (
	OptRoomSizeTokenVerification = "enable_roomsize_token_verification"
	OptMUCMapperDomainPrefix     = "muc_mapper_domain_prefix"
)

// defaultMUCPrefix is muc_mapper_domain_prefix's default.
const defaultMUCPrefix = "conference"

// MUCLookup finds the MUC service serving domain, or returns nil.
type MUCLookup func(srv *server.Server, domain string) *muc.Service

// componentTable is implemented by servers that expose their in-process
// components by domain.
type componentTable interface {
	Component(domain string) server.Component
}

// ServerMUCLookup finds a MUC service in the server's component table. It
// needs a server with a Component(domain) accessor and returns nil
// otherwise.
func ServerMUCLookup(srv *server.Server, domain string) *muc.Service {
	t, ok := any(srv).(componentTable)
	if !ok {
		return nil
	}
	svc, _ := t.Component(domain).(*muc.Service)
	return svc
}

// MUCSize is Jitsi's mod_muc_size: HTTP GET /room-size, /room and
// /sessions for operators. /room-size?room=R&domain=D[&subdomain=S]
// answers {"participants":N} for room R (or [S]R) on
// <muc_mapper_domain_prefix>.D, not counting jicofo when someone else is
// there; /room lists the occupants' sessions but jicofo's as
// [{"jid","email","display_name"}] (an empty list is "{}", as Lua's cjson
// writes it); /sessions counts the bound client sessions. With
// enable_roomsize_token_verification the request's token parameter must be
// a valid token for the room (403 otherwise). Routes are served for the
// first host that loads the module.
type MUCSize struct {
	lookup MUCLookup

	mu  sync.Mutex
	cfg *roomAPIConfig
}

// roomAPIConfig is what muc_size and muc_census read on their host.
type roomAPIConfig struct {
	host   *server.Host
	prefix string
	tokens *jwt.Verifier // nil: no token check
	// auth, when set, is the host's token provider: its verifier, which a
	// configuration reload replaces, is used instead of tokens.
	auth *TokenAuth
}

// verifier returns the token verifier to check requests with.
func (c *roomAPIConfig) verifier() *jwt.Verifier {
	if c.auth != nil {
		return c.auth.Verifier()
	}
	return c.tokens
}

var (
	_ server.Module       = (*MUCSize)(nil)
	_ server.ServerModule = (*MUCSize)(nil)
)

// NewMUCSize returns the muc_size module; lookup finds MUC services (nil:
// ServerMUCLookup).
func NewMUCSize(lookup MUCLookup) *MUCSize {
	if lookup == nil {
		lookup = ServerMUCLookup
	}
	return &MUCSize{lookup: lookup}
}

// Name implements server.Module.
func (*MUCSize) Name() string { return MUCSizeName }

// LoadServer implements server.ServerModule: it mounts the HTTP routes.
func (m *MUCSize) LoadServer(_ context.Context, srv *server.Server) error {
	srv.HandleHTTP("GET /room-size", http.HandlerFunc(m.roomSize))
	srv.HandleHTTP("GET /room", http.HandlerFunc(m.room))
	srv.HandleHTTP("GET /sessions", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, srv.Router().Count())
	}))
	return nil
}

// Load implements server.Module.
func (m *MUCSize) Load(_ context.Context, h *server.Host) error {
	cfg, err := readRoomAPIConfig(h, MUCSizeName, true)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cfg != nil {
		h.Server().Logger().Warn("module already serves its HTTP routes for another host", "module", MUCSizeName, "host", h.Name, "serving", m.cfg.host.Name)
		return nil
	}
	m.cfg = cfg
	return nil
}

func (m *MUCSize) config() *roomAPIConfig {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg
}

// readRoomAPIConfig reads muc_mapper_domain_prefix and, when tokens is
// set, the token verification settings of h.
func readRoomAPIConfig(h *server.Host, module string, tokens bool) (*roomAPIConfig, error) {
	srv := h.Server()
	cfg := &roomAPIConfig{host: h, prefix: defaultMUCPrefix}
	wrap := func(err error) error { return fmt.Errorf("jitsi: %s on %s: %w", module, h.Name, err) }
	if o, ok := srv.Config().Get(h.Config, OptMUCMapperDomainPrefix); ok {
		v, err := o.AsString()
		if err != nil {
			return nil, wrap(err)
		}
		cfg.prefix = v
	}
	if !tokens {
		return cfg, nil
	}
	on := false
	if o, ok := srv.Config().Get(h.Config, OptRoomSizeTokenVerification); ok {
		v, err := o.AsBool()
		if err != nil {
			return nil, wrap(err)
		}
		on = v
	}
	if !on {
		return cfg, nil
	}
	if p, ok := h.Auth.(*TokenAuth); ok {
		cfg.tokens, cfg.auth = p.Verifier(), p
		return cfg, nil
	}
	v, err := VerifierForHost(srv, h.Name)
	if err != nil {
		// Jitsi's module disables itself here; refusing to start keeps the
		// API from being served unprotected by mistake.
		return nil, wrap(fmt.Errorf("%s needs the host's token settings: %w", OptRoomSizeTokenVerification, err))
	}
	cfg.tokens = v
	return cfg, nil
}

// roomAddress builds the room of a request: node (room, or [subdomain]room)
// and MUC domain (<prefix>.<domain>). ok is false without a query.
func (c *roomAPIConfig) roomAddress(r *http.Request) (node, domain string, status int) {
	if r.URL.RawQuery == "" {
		return "", "", http.StatusBadRequest
	}
	q := r.URL.Query()
	room, d := q.Get("room"), q.Get("domain")
	if room == "" || d == "" {
		return "", "", http.StatusBadRequest
	}
	node = room
	if sub := q.Get("subdomain"); sub != "" {
		node = "[" + sub + "]" + room
	}
	domain = c.prefix + "." + d
	if c.tokens != nil {
		if err := c.verify(r.Context(), q.Get("token"), node, domain); err != nil {
			c.host.Server().Logger().Warn("room API request refused", "room", node+"@"+domain, "err", err)
			return "", "", http.StatusForbidden
		}
	}
	return node, domain, 0
}

func (c *roomAPIConfig) verify(ctx context.Context, token, node, domain string) error {
	if token == "" {
		return errors.New("no token provided")
	}
	v := c.verifier()
	claims, err := v.Verify(ctx, token)
	if err != nil {
		return err
	}
	return v.VerifyRoom(claims, node, domain)
}

// withRoom runs f with the room held; it reports false when there is no
// such room.
func (m *MUCSize) withRoom(ctx context.Context, srv *server.Server, node, domain string, f func(r *muc.Room)) bool {
	svc := m.lookup(srv, domain)
	if svc == nil {
		return false
	}
	return svc.Do(ctx, node+"@"+domain, f) == nil
}

func (m *MUCSize) roomSize(w http.ResponseWriter, r *http.Request) {
	cfg := m.config()
	if cfg == nil {
		http.NotFound(w, r)
		return
	}
	node, domain, status := cfg.roomAddress(r)
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	count := 0
	if !m.withRoom(r.Context(), cfg.host.Server(), node, domain, func(room *muc.Room) { count = room.Count() }) {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if count > 1 {
		count-- // jicofo
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"participants":%d}`, count)
}

// roomOccupant is one entry of /room.
type roomOccupant struct {
	JID         string `json:"jid"`
	Email       string `json:"email"`
	DisplayName string `json:"display_name"`
}

func (m *MUCSize) room(w http.ResponseWriter, r *http.Request) {
	cfg := m.config()
	if cfg == nil {
		http.NotFound(w, r)
		return
	}
	node, domain, status := cfg.roomAddress(r)
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	var list []roomOccupant
	found := m.withRoom(r.Context(), cfg.host.Server(), node, domain, func(room *muc.Room) {
		for _, o := range room.Occupants() {
			if strings.HasSuffix(o.JID, "/focus") {
				continue
			}
			for _, real := range o.Sessions() {
				p := o.SessionPresence(real)
				if p == nil {
					continue
				}
				list = append(list, roomOccupant{
					JID:         o.JID,
					Email:       p.ChildText(p.Name.Space, "email"),
					DisplayName: p.ChildText(nsNick, "nick"),
				})
			}
		}
	})
	if !found {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if len(list) == 0 {
		fmt.Fprint(w, "{}") // cjson's encoding of an empty table
		return
	}
	body, err := json.Marshal(list)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// nsNick is XEP-0172's namespace, where clients put their display name.
const nsNick = "http://jabber.org/protocol/nick"
