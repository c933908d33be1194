package jitsi

import (
	"context"

	"github.com/parley-xmpp/parley/auth/jwt"
	"github.com/parley-xmpp/parley/muc"
)

// tokenAffiliationPriority stands for Jitsi's -3.5 on muc-occupant-pre-join:
// after the checks at -3 and above, before the lobby (-4) and the
// members-only check (-5).
const tokenAffiliationPriority = -3

// TokenAffiliation is Jitsi's mod_token_affiliation (JITSI.md §4.6): when a
// user with a verified token joins (admins and jicofo's health-check rooms
// excepted), the room makes them owner if context.user.affiliation is owner,
// moderator or teacher or context.user.moderator is true or "true", and
// member otherwise, and gives them the matching role at once. In a
// members-only room it only acts for users who are already affiliated or
// give the right password, so it never opens such a room by itself; an
// outcast stays banned. Users without a token are left alone. Jicofo's
// enable-auto-owner should be off with it.
func TokenAffiliation(s *muc.Service) error {
	s.Events.OccupantPreJoin.On(tokenAffiliationPriority, "token_affiliation", func(ctx context.Context, ev *muc.JoinEvent) error {
		r := ev.Room
		if IsHealthCheckRoom(r.Node()) || s.IsAdmin(ev.From.String()) {
			return nil
		}
		claims := SessionClaims(sessionOf(s, ev.From))
		if claims == nil {
			return nil
		}
		bare := ev.From.Bare().String()
		cur := r.Affiliation(bare)
		if cur == muc.AffiliationOutcast {
			return nil
		}
		if r.Config().MembersOnly && cur.Rank() < muc.AffiliationMember.Rank() && !joinPasswordOK(r, ev) {
			return nil
		}
		want := tokenAffiliation(claims)
		if cur != want {
			if err := r.SetAffiliation(ctx, "", bare, want, ""); err != nil {
				s.Logger().Warn("token_affiliation: setting the affiliation failed", "room", r.JID(), "user", bare, "err", err)
				return nil
			}
		}
		ev.Occupant.Role = r.DefaultRole(want)
		return nil
	})
	return nil
}

// tokenAffiliation is owner for a moderator token, else member.
func tokenAffiliation(c *jwt.Claims) muc.Affiliation {
	if c.IsOwner() {
		return muc.AffiliationOwner
	}
	return muc.AffiliationMember
}

// joinPasswordOK reports whether the join presence carries the room's
// (non-empty) password.
func joinPasswordOK(r *muc.Room, ev *muc.JoinEvent) bool {
	pw := r.Config().Password
	if pw == "" {
		return false
	}
	x := ev.Stanza.Child(muc.NS, "x")
	return x != nil && x.ChildText(muc.NS, "password") == pw
}
