package jitsi

import (
	"context"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server/hook"
	"github.com/parley-xmpp/parley/server/stanza"
)

// Name and option of muc_filter_access.
const (
	// MUCFilterAccessName is the MUC module's name.
	MUCFilterAccessName = "muc_filter_access"
	// OptMUCFilterWhitelist lists the domains whose users may send
	// presence to the MUC (a single string is a one-item list).
	OptMUCFilterWhitelist = "muc_filter_whitelist"
	// faPriority is the Lua module's presence/* priority.
	faPriority = 2000
)

// MUCFilterAccess is Jitsi's muc_filter_access, a MUC module used on the
// internal (brewery) MUC so that only jicofo and the bridges (users of
// auth.D) can enter. Every presence to the MUC whose sender's domain is
// not in muc_filter_whitelist is dropped without a reply: presence to an
// existing room or occupant at the muc-stanza chain (priority 2000, as
// the Lua presence/* handlers), and a join that would create a room at
// muc-room-pre-create (2000, so the room is never made). Presence to the
// MUC domain itself is never answered by the MUC anyway. Without the
// option the module logs a warning and does nothing, as in Lua. Other
// stanzas (IQs, messages) are not filtered.
func MUCFilterAccess(s *muc.Service) error {
	o, ok := s.Option(OptMUCFilterWhitelist)
	if !ok {
		s.Logger().Warn("no " + OptMUCFilterWhitelist + " option set, " + MUCFilterAccessName + " inactive")
		return nil
	}
	list, err := o.AsStrings()
	if err != nil {
		return err
	}
	allow := make(map[string]bool, len(list))
	for _, d := range list {
		allow[strings.ToLower(d)] = true
	}
	filtered := func(el *stanza.Element, from jid.JID) bool {
		if el.Name.Local != "presence" {
			return false
		}
		if el.Get("from") != "" && allow[from.Domainpart()] {
			return false
		}
		s.Logger().Error("filtering unauthorized presence", "from", el.Get("from"), "to", el.Get("to"), "type", el.Get("type"))
		return true
	}
	s.Events.Stanza.On(faPriority, MUCFilterAccessName, func(_ context.Context, ev *muc.StanzaEvent) error {
		if filtered(ev.Stanza, ev.From) {
			return hook.ErrStop
		}
		return nil
	})
	s.Events.RoomPreCreate.On(faPriority, MUCFilterAccessName, func(_ context.Context, ev *muc.RoomCreateEvent) error {
		if filtered(ev.Stanza, ev.From) {
			return hook.ErrStop
		}
		return nil
	})
	return nil
}
