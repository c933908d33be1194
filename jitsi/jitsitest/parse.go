package jitsitest

import (
	"strings"

	"github.com/parley-xmpp/parley/server/stanza"
)

// ParseStats reads a colibri <stats> element into name → value. Later
// duplicates win; stats without a name are skipped.
func ParseStats(st *stanza.Element) map[string]string {
	out := map[string]string{}
	if st == nil {
		return out
	}
	for _, s := range st.Elements() {
		if s.Name.Local != "stat" {
			continue
		}
		if n := s.Get("name"); n != "" {
			out[n] = s.Get("value")
		}
	}
	return out
}

// StatsElement builds a colibri <stats> element from name/value pairs in
// order.
func StatsElement(pairs ...[2]string) *stanza.Element {
	st := stanza.New(NSColibri, "stats")
	for _, p := range pairs {
		st.Add(stanza.New(NSColibri, "stat").Set("name", p[0]).Set("value", p[1]))
	}
	return st
}

// ParseProxyFrom splits the from of a stanza client_proxy forwarded
// (focus.D/<original full JID>) into the original sender and the proxy
// domain, as Jicofo's parseJidFromClientProxyJid does. ok is false when
// from has no resource or the resource is not a JID with a domain.
func ParseProxyFrom(from string) (original string, ok bool) {
	_, res, found := strings.Cut(from, "/")
	if !found || res == "" {
		return "", false
	}
	bare, _, _ := strings.Cut(res, "/")
	if bare == "" || strings.HasPrefix(bare, "@") || strings.HasSuffix(bare, "@") {
		return "", false
	}
	return res, true
}
