package jitsi

import (
	"context"

	"github.com/parley-xmpp/parley/muc"
)

// MUCHideAll is Jitsi's muc_hide_all: every room is created hidden (left
// out of the service's disco#items), and a room's disco#info answers only
// its occupants; others get auth/forbidden.
func MUCHideAll(s *muc.Service) error {
	s.Events.RoomPreCreate.On(-1, "muc_hide_all", func(_ context.Context, ev *muc.RoomCreateEvent) error {
		ev.Room.Config().Hidden = true
		return nil
	})
	s.Events.Stanza.On(1, "muc_hide_all", func(_ context.Context, ev *muc.StanzaEvent) error {
		el := ev.Stanza
		if el.Name.Local != "iq" || el.Get("type") != "get" || ev.To.Resourcepart() != "" {
			return nil
		}
		q := el.FirstElement()
		if q == nil || q.Name.Space != muc.NSDiscoInfo || q.Name.Local != "query" {
			return nil
		}
		if ev.Room.OccupantByRealJID(ev.From.String()) == nil {
			return &muc.Deny{Type: "auth", Condition: "forbidden"}
		}
		return nil
	})
	return nil
}
