package jitsi

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"

	"mellium.im/xmpp/jid"

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
// the Lua module does.
type TURNCredentialsModule struct{}

var _ server.Module = (*TURNCredentialsModule)(nil)

// NewTURNCredentials returns the turncredentials module.
func NewTURNCredentials() *TURNCredentialsModule { return &TURNCredentialsModule{} }

// Name implements server.Module.
func (*TURNCredentialsModule) Name() string { return TURNCredentialsName }

// turnSettings are the options of one host.
type turnSettings struct {
	secret string
	ttl    int64
	items  []any
	srv    *server.Server
}

// Load implements server.Module.
func (*TURNCredentialsModule) Load(_ context.Context, h *server.Host) error {
	srv := h.Server()
	cfg := srv.Config()
	wrap := func(err error) error { return fmt.Errorf("jitsi: %s on %s: %w", TURNCredentialsName, h.Name, err) }
	st := &turnSettings{ttl: 86400, srv: srv}
	if o, ok := cfg.Get(h.Config, OptTURNCredentialsSecret); ok {
		v, err := o.AsString()
		if err != nil {
			return wrap(err)
		}
		st.secret = v
	}
	if st.secret == "" {
		srv.Logger().Error("turncredentials not configured", "host", h.Name)
		return nil
	}
	if o, ok := cfg.Get(h.Config, OptTURNCredentialsTTL); ok {
		v, err := o.AsInt()
		if err != nil {
			return wrap(err)
		}
		st.ttl = v
	}
	if o, ok := cfg.Get(h.Config, OptTURNCredentials); ok {
		st.items = o.AsList()
	}
	h.AddFeature(NSExtDisco1)
	h.HandleIQ("get", NSExtDisco1, "services", st.handle)
	return nil
}

func (st *turnSettings) handle(_ context.Context, iq *server.IQ) (*stanza.Element, error) {
	from, err := jid.Parse(iq.Stanza.Get("from"))
	if err != nil || from.Localpart() == "" || st.srv.Host(from.Domainpart()) == nil {
		// The Lua handler ignores non-client origins; the request then
		// gets Prosody's default answer.
		return nil, &server.StanzaError{Type: "cancel", Condition: "service-unavailable"}
	}
	expires := st.srv.Clock()().Unix() + st.ttl
	username := strconv.FormatInt(expires, 10)
	password := turnPassword(st.secret, username)
	services := stanza.New(NSExtDisco1, "services")
	for _, v := range st.items {
		item, ok := v.(map[string]any)
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
			e.Set("username", username).Set("password", password).Set("ttl", strconv.FormatInt(st.ttl, 10))
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
