package jitsi

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/stanza"
)

// TURNCredentialsName is the module name of Jitsi's older
// mod_turncredentials (XEP-0215 v0.6 only).
const TURNCredentialsName = "turncredentials"

// Options of turncredentials (read on the host, inherited from global).
const (
	OptTURNCredentialsSecret = "turncredentials_secret"
	OptTURNCredentialsTTL    = "turncredentials_ttl"
	OptTURNCredentials       = "turncredentials"
)

// TURNCredentialsModule is Jitsi's mod_turncredentials: urn:xmpp:extdisco:1
// services with TURN REST credentials whose username is the expiry alone.
// Without turncredentials_secret it logs an error and does nothing, as
// the Lua module does. Like the Lua module on "config-reloaded", it
// re-reads its options when the configuration is reloaded
// (turncredentials_reload.go).
type TURNCredentialsModule struct {
	mu    sync.Mutex
	hosts map[string]*turnSettings // by VirtualHost
}

var _ server.Module = (*TURNCredentialsModule)(nil)

// NewTURNCredentials returns the turncredentials module.
func NewTURNCredentials() *TURNCredentialsModule { return &TURNCredentialsModule{} }

// Name implements server.Module.
func (*TURNCredentialsModule) Name() string { return TURNCredentialsName }

// turnSettings is the module on one host.
type turnSettings struct {
	srv     *server.Server
	host    *server.Host
	vals    atomic.Pointer[turnValues]
	handled bool // the IQ handler is registered; guarded by the module's mu
}

// turnValues are the options of one host.
type turnValues struct {
	secret string
	ttl    int64
	items  []any
}

// readTURNValues reads the options of the VirtualHost sec of cfg.
func readTURNValues(cfg *config.Config, sec *config.Host) (*turnValues, error) {
	wrap := func(err error) error { return fmt.Errorf("jitsi: %s on %s: %w", TURNCredentialsName, sec.Name, err) }
	v := &turnValues{ttl: 86400}
	if o, ok := cfg.Get(sec, OptTURNCredentialsSecret); ok {
		s, err := o.AsString()
		if err != nil {
			return nil, wrap(err)
		}
		v.secret = s
	}
	if o, ok := cfg.Get(sec, OptTURNCredentialsTTL); ok {
		n, err := o.AsInt()
		if err != nil {
			return nil, wrap(err)
		}
		v.ttl = n
	}
	if o, ok := cfg.Get(sec, OptTURNCredentials); ok {
		v.items = o.AsList()
	}
	return v, nil
}

// Load implements server.Module.
func (m *TURNCredentialsModule) Load(_ context.Context, h *server.Host) error {
	srv := h.Server()
	v, err := readTURNValues(srv.Config(), h.Config)
	if err != nil {
		return err
	}
	st := &turnSettings{srv: srv, host: h}
	st.vals.Store(v)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.hosts == nil {
		m.hosts = map[string]*turnSettings{}
	}
	m.hosts[h.Name] = st
	st.enable()
	return nil
}

// enable serves the services IQ once a secret is configured, or logs
// that there is none. The module's mu is held.
func (st *turnSettings) enable() {
	if st.vals.Load().secret == "" {
		st.srv.Logger().Error("turncredentials not configured", "host", st.host.Name)
		return
	}
	if st.handled {
		return
	}
	st.handled = true
	st.host.AddFeature(NSExtDisco1)
	st.host.HandleIQ("get", NSExtDisco1, "services", st.handle)
}

func (st *turnSettings) handle(_ context.Context, iq *server.IQ) (*stanza.Element, error) {
	v := st.vals.Load()
	if v.secret == "" {
		// Reloaded without a secret: as if the module did nothing.
		return nil, &server.StanzaError{Type: "cancel", Condition: "service-unavailable"}
	}
	from, err := jid.Parse(iq.Stanza.Get("from"))
	if err != nil || from.Localpart() == "" || st.srv.Host(from.Domainpart()) == nil {
		// The Lua handler ignores non-client origins; the request then
		// gets Prosody's default answer.
		return nil, &server.StanzaError{Type: "cancel", Condition: "service-unavailable"}
	}
	expires := st.srv.Clock()().Unix() + v.ttl
	username := strconv.FormatInt(expires, 10)
	password := turnPassword(v.secret, username)
	services := stanza.New(NSExtDisco1, "services")
	for _, it := range v.items {
		item, ok := it.(map[string]any)
		if !ok {
			continue
		}
		typ, _ := item["type"].(string)
		switch typ {
		case "stun", "stuns":
			port := "3478"
			if p, ok := portString(item["port"]); ok {
				port = p
			}
			host, _ := item["host"].(string)
			services.Add(stanza.New(NSExtDisco1, "service").Set("type", typ).Set("host", host).Set("port", port))
		case "turn", "turns":
			e := stanza.New(NSExtDisco1, "service").Set("type", typ)
			if p, ok := portString(item["port"]); ok {
				e.Set("port", p)
			}
			if t, ok := item["transport"].(string); ok {
				e.Set("transport", t)
			}
			e.Set("username", username).Set("password", password).Set("ttl", strconv.FormatInt(v.ttl, 10))
			host, _ := item["host"].(string)
			if hosts, ok := item["hosts"].([]any); ok && len(hosts) > 0 {
				if h, ok := hosts[rand.IntN(len(hosts))].(string); ok {
					host = h
				}
			}
			e.Set("host", host)
			services.Add(e)
		}
	}
	return iq.Result().Add(services), nil
}

// portString formats a port given as a number or a string.
func portString(v any) (string, bool) {
	if s, ok := v.(string); ok && s != "" {
		return s, true
	}
	if n, ok := luaNumber(v); ok {
		return strconv.FormatInt(int64(n), 10), true
	}
	return "", false
}
