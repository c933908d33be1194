package jitsi

import (
	"context"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/muc"
)

// tokenModerationState is token_moderation's per-room state.
type tokenModerationState struct {
	created  bool // the room exists: owner grants are guarded from now on
	granting bool // the module itself is changing an affiliation
}

type tokenModerationKey struct{}

func tokenModeration(r *muc.Room) *tokenModerationState {
	if st, ok := r.Value(tokenModerationKey{}).(*tokenModerationState); ok {
		return st
	}
	st := &tokenModerationState{}
	r.SetValue(tokenModerationKey{}, st)
	return st
}

// TokenModeration is the community mod_token_moderation
// (nvonahsen/jitsi-token-moderation-plugin, JITSI.md §4.6): once a user with
// a token has joined, the room makes them owner when the token's top-level
// "moderator" claim is the JSON boolean true (or the user is an admin), and
// member otherwise; outcasts are left alone. Once the room exists nobody
// else may grant owner (modify/not-acceptable), which blocks jicofo's
// auto-owner; the room creator's initial ownership is not affected.
func TokenModeration(s *muc.Service) error {
	e := &s.Events
	e.RoomCreated.On(0, "token_moderation", func(_ context.Context, ev *muc.RoomCreateEvent) error {
		tokenModeration(ev.Room).created = true
		return nil
	})
	e.PreSetAffiliation.On(0, "token_moderation", func(_ context.Context, ev *muc.AffiliationEvent) error {
		st := tokenModeration(ev.Room)
		if st.created && !st.granting && ev.Affiliation == muc.AffiliationOwner {
			return &muc.Deny{Type: "modify", Condition: "not-acceptable"}
		}
		return nil
	})
	e.OccupantJoined.On(0, "token_moderation", func(ctx context.Context, ev *muc.OccupantEvent) error {
		r := ev.Room
		if r.Destroyed() {
			return nil
		}
		real := ev.Occupant.RealJID()
		if ev.Stanza != nil && ev.Stanza.Get("from") != "" {
			real = ev.Stanza.Get("from")
		}
		from, err := jid.Parse(real)
		if err != nil {
			return nil
		}
		claims := SessionClaims(sessionOf(s, from))
		if claims == nil {
			return nil
		}
		bare := from.Bare().String()
		cur := r.Affiliation(bare)
		if cur == muc.AffiliationOutcast {
			return nil
		}
		want := muc.AffiliationMember
		if claims.Moderator || s.IsAdmin(bare) {
			want = muc.AffiliationOwner
		}
		if cur == want {
			return nil
		}
		st := tokenModeration(r)
		st.granting = true
		err = r.SetAffiliation(ctx, "", bare, want, "")
		st.granting = false
		if err != nil {
			s.Logger().Warn("token_moderation: setting the affiliation failed", "room", r.JID(), "user", bare, "err", err)
		}
		return nil
	})
	return nil
}
