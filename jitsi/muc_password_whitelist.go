package jitsi

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server/stanza"
)

// MUCPasswordWhitelist is Jitsi's muc_password_whitelist: users listed in
// muc_password_whitelist (bare JIDs or whole domains; jicofo, typically)
// join password-protected rooms without knowing the password, because
// their join gets the room's password (priority -7, before the password
// check at -20).
//
// The list is read again when the configuration is reloaded, as the Lua
// module does on "config-reloaded".
func MUCPasswordWhitelist(s *muc.Service) error {
	var cur atomic.Pointer[map[string]bool]
	read := func() error {
		list := map[string]bool{}
		if o, ok := s.Option("muc_password_whitelist"); ok {
			items, err := o.AsStrings()
			if err != nil {
				return fmt.Errorf("jitsi: muc_password_whitelist: %w", err)
			}
			for _, it := range items {
				list[strings.ToLower(it)] = true
			}
		}
		cur.Store(&list)
		return nil
	}
	if err := read(); err != nil {
		return err
	}
	s.OnReload(func(context.Context) error { return read() })
	s.Events.OccupantPreJoin.On(-7, "muc_password_whitelist", func(_ context.Context, ev *muc.JoinEvent) error {
		if !listed(*cur.Load(), ev.From) {
			return nil
		}
		x := ev.Stanza.Child(muc.NS, "x")
		if x == nil {
			x = stanza.New(muc.NS, "x")
			ev.Stanza.Add(x)
		}
		x.RemoveChildren(muc.NS, "password")
		x.Add(stanza.New(muc.NS, "password").AddText(ev.Room.Config().Password))
		return nil
	})
	return nil
}

// listed reports whether a user (not a bare domain) is in a list of bare
// JIDs and domains.
func listed(list map[string]bool, j jid.JID) bool {
	if j.Localpart() == "" || len(list) == 0 {
		return false
	}
	return list[j.Domainpart()] || list[j.Bare().String()]
}
