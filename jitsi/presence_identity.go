package jitsi

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/parley-xmpp/parley/auth/jwt"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/stanza"
)

// maxIdentityFields bounds how many context.user fields go into a presence.
const maxIdentityFields = 32

// maxIdentityValue bounds the length of one field's text.
const maxIdentityValue = 1024

// PresenceIdentity is Jitsi's mod_presence_identity, a VirtualHost module:
// every presence a client of the host sends to a user or room (Prosody's
// pre-presence/bare and pre-presence/full) loses any <identity/> child the
// client put there, and a session with a verified token gets
// <identity><user><id>…</id><name>…</name>…</user><group>…</group></identity>
// built from the token's context.user (or user_id) and context.group, so
// other participants can trust it. Unlike Jitsi, which stringifies whatever
// the token holds, only string, number and boolean fields whose names are
// valid XML names are copied (SECURITY-CASES 113), in sorted order.
type PresenceIdentity struct{}

var _ server.Module = (*PresenceIdentity)(nil)

// NewPresenceIdentity returns the module, for server.WithModules.
func NewPresenceIdentity() *PresenceIdentity { return &PresenceIdentity{} }

// Name implements server.Module.
func (*PresenceIdentity) Name() string { return "presence_identity" }

// Load implements server.Module.
func (*PresenceIdentity) Load(_ context.Context, h *server.Host) error {
	h.Events.PreStanza.On(0, "presence_identity", func(_ context.Context, ev *server.StanzaEvent) error {
		el := ev.Stanza
		if el.Name.Local != "presence" || el.Get("type") == "error" || toHost(el.Get("to")) {
			return nil
		}
		UpdatePresenceIdentity(el, SessionClaims(ev.Session))
		return nil
	})
	return nil
}

// toHost reports whether a JID string is a bare domain (pre-presence/host).
func toHost(to string) bool {
	if to == "" {
		return false
	}
	at := strings.IndexByte(to, '@')
	slash := strings.IndexByte(to, '/')
	return at < 0 || (slash >= 0 && slash < at)
}

// UpdatePresenceIdentity is Jitsi's update_presence_identity: it removes
// every <identity/> child of a presence and, when claims name a user, adds
// the identity built from them.
func UpdatePresenceIdentity(pres *stanza.Element, claims *jwt.Claims) {
	pres.RemoveChildren("", "identity")
	if claims == nil || claims.User == nil {
		return
	}
	fields := claims.User.Raw
	if fields == nil {
		fields = map[string]any{"id": claims.User.ID}
	}
	user := stanza.New(stanza.NSClient, "user")
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	n := 0
	for _, k := range keys {
		v, ok := identityValue(fields[k])
		if !ok || !validXMLName(k) {
			continue
		}
		if n++; n > maxIdentityFields {
			break
		}
		user.Add(stanza.New(stanza.NSClient, k).AddText(v))
	}
	id := stanza.New(stanza.NSClient, "identity").Add(user)
	if claims.Context != nil && claims.Context.Group != "" {
		id.Add(stanza.New(stanza.NSClient, "group").AddText(claims.Context.Group))
	}
	pres.Add(id)
}

// identityValue renders a scalar claim as Lua's tostring would.
func identityValue(v any) (string, bool) {
	var s string
	switch t := v.(type) {
	case string:
		s = t
	case json.Number:
		s = t.String()
	case bool:
		s = strconv.FormatBool(t)
	case float64:
		s = strconv.FormatFloat(t, 'g', -1, 64)
	default:
		return "", false
	}
	if len(s) > maxIdentityValue {
		return "", false
	}
	return s, true
}

// validXMLName reports whether s can be an element name without a prefix.
// Only ASCII names are accepted: a letter or underscore, then letters,
// digits, '-', '_' or '.'; names starting with "xml" are reserved.
func validXMLName(s string) bool {
	if s == "" || len(s) > 64 || strings.HasPrefix(strings.ToLower(s), "xml") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		case i > 0 && ('0' <= c && c <= '9' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}
