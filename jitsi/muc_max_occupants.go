package jitsi

import (
	"context"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/muc"
)

// MUCMaxOccupants is Jitsi's muc_max_occupants: with muc_max_occupants > 0
// a room refuses joins (cancel/service-unavailable, SECURITY-CASES 133)
// once that many occupants are in it. Users in muc_access_whitelist (bare
// JIDs or domains: focus, recorders) always get in and are not counted;
// health-check rooms are not limited.
func MUCMaxOccupants(s *muc.Service) error {
	limit := -1
	if o, ok := s.Option("muc_max_occupants"); ok {
		n, err := o.AsInt()
		if err != nil {
			return err
		}
		limit = int(n)
	}
	if limit <= 0 {
		return nil
	}
	allow := map[string]bool{}
	if o, ok := s.Option("muc_access_whitelist"); ok {
		items, err := o.AsStrings()
		if err != nil {
			return err
		}
		for _, it := range items {
			allow[strings.ToLower(it)] = true
		}
	}
	s.Events.OccupantPreJoin.On(10, "muc_max_occupants", func(_ context.Context, ev *muc.JoinEvent) error {
		r := ev.Room
		if IsHealthCheckRoom(r.Node()) || ev.From.Localpart() == "" || listed(allow, ev.From) {
			return nil
		}
		if r.OccupantByRealJID(ev.From.String()) != nil {
			return nil
		}
		counted := 0
		for _, o := range r.Occupants() {
			b, err := jid.Parse(o.BareJID)
			if err != nil || !listed(allow, b) {
				counted++
			}
		}
		if counted >= limit {
			s.Logger().Info("attempt to enter a full room", "room", r.JID(), "from", ev.From.String())
			return &muc.Deny{Type: "cancel", Condition: "service-unavailable"}
		}
		return nil
	})
	return nil
}
