// Package jitsi holds parley's ports of the Prosody plugins Jitsi Meet
// ships (jitsi-meet resources/prosody-plugins), each in a file named after
// the Prosody module.
package jitsi

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server/hook"
	"github.com/parley-xmpp/parley/server/stanza"
)

// MUCModules returns the muc.WithModule options for the Jitsi MUC
// modules, for cmd/parley to pass to muc.Factory. A component loads the
// ones its modules_enabled names.
func MUCModules() []muc.Option {
	// muc_meeting_id depends on jitsi_permissions, as in Jitsi.
	perms := JitsiPermissions()
	return []muc.Option{
		muc.WithModule("muc_meeting_id", func(s *muc.Service) error {
			if err := MUCMeetingID(s); err != nil {
				return err
			}
			return perms(s)
		}),
		muc.WithModule(JitsiPermissionsName, perms),
		muc.WithModule(MUCDomainMapperName, MUCDomainMapper()),
		muc.WithModule(MUCResourceValidateName, MUCResourceValidate),
		muc.WithModule(MUCFilterAccessName, MUCFilterAccess),
		muc.WithModule(PollsModule, MUCPolls),
		muc.WithModule("muc_rate_limit", MUCRateLimit()),
		muc.WithModule("muc_password_whitelist", MUCPasswordWhitelist),
		muc.WithModule("muc_max_occupants", MUCMaxOccupants),
		muc.WithModule("muc_hide_all", MUCHideAll),
		muc.WithModule(MUCLimitMessagesName, MUCLimitMessages),
		muc.WithModule(RateLimitName, MUCRateLimitModule()),
	}
}

// Field and prefixes of muc_meeting_id.
const (
	// MeetingIDField is the roominfo field carrying the meeting UUID.
	MeetingIDField = "muc#roominfo_meetingId"
	// HealthCheckPrefix starts the names of jicofo's health-check rooms.
	HealthCheckPrefix = "__jicofo-health-check"
	// JicofoQueueMax is how many joins the jicofo lock holds per room.
	JicofoQueueMax = 500
)

// IsHealthCheckRoom reports whether a room JID (or node) is one of
// jicofo's health-check rooms.
func IsHealthCheckRoom(room string) bool { return strings.HasPrefix(room, HealthCheckPrefix) }

type meetingKey struct{}

// meetingState is muc_meeting_id's per-room state.
type meetingState struct {
	id       string
	unlocked bool
	queue    []*stanza.Element
}

func meeting(r *muc.Room) *meetingState {
	if st, ok := r.Value(meetingKey{}).(*meetingState); ok {
		return st
	}
	st := &meetingState{}
	r.SetValue(meetingKey{}, st)
	return st
}

// MeetingID returns the meeting id of a room ("" when none was made).
// Call it with the room held.
func MeetingID(r *muc.Room) string { return meeting(r).id }

// MUCMeetingID is Jitsi's muc_meeting_id for the conference component:
//
//   - every room (except health checks) gets a UUID, shown as
//     muc#roominfo_meetingId in disco#info and the config form, and only
//     admins (jicofo) may change it;
//   - moderatedroom and presencebroadcast submissions are ignored;
//   - a kicked occupant loses its affiliation;
//   - the jicofo lock: joins of non-focus occupants are held (up to 500)
//     until an occupant whose nick is "focus" joins, and are then replayed
//     in order before the focus enters (SECURITY-CASES 124);
//   - health-check rooms are for admins (jicofo) only: others get
//     service-unavailable (SECURITY-CASES 125);
//   - a <nick/> in a groupchat message is removed (display-name forgery).
func MUCMeetingID(s *muc.Service) error {
	e := &s.Events
	e.RoomCreated.On(0, "muc_meeting_id", func(_ context.Context, ev *muc.RoomCreateEvent) error {
		if IsHealthCheckRoom(ev.Room.Node()) {
			return nil
		}
		id, err := uuid4()
		if err != nil {
			return fmt.Errorf("jitsi: meeting id: %w", err)
		}
		meeting(ev.Room).id = id
		return nil
	})
	e.DiscoInfo.On(0, "muc_meeting_id", func(_ context.Context, ev *muc.DiscoInfoEvent) error {
		if ev.Form != nil {
			ev.Form.Add(meetingIDField(ev.Room))
		}
		return nil
	})
	e.ConfigForm.On(90-3, "muc_meeting_id", func(_ context.Context, ev *muc.ConfigFormEvent) error {
		ev.Form.Add(meetingIDField(ev.Room))
		return nil
	})
	e.ConfigSubmitted.On(99, "muc_meeting_id", func(_ context.Context, ev *muc.ConfigSubmitEvent) error {
		sub := ev.Submission
		sub.Drop("muc#roomconfig_moderatedroom")
		sub.Drop("muc#roomconfig_presencebroadcast")
		if sub.Has(MeetingIDField) {
			if s.IsAdmin(ev.Actor.String()) {
				meeting(ev.Room).id = sub.String(MeetingIDField)
			}
			sub.Drop(MeetingIDField)
		}
		return nil
	})
	e.BroadcastPresence.On(0, "muc_meeting_id", func(ctx context.Context, ev *muc.PresenceEvent) error {
		if ev.HasStatus("307") && ev.Actor != "" {
			// Prosody refuses the change without an actor, too.
			if err := ev.Room.SetAffiliation(ctx, ev.Actor, ev.Occupant.BareJID, muc.AffiliationNone, ""); err != nil {
				s.Logger().Debug("kicked occupant keeps its affiliation", "room", ev.Room.JID(), "err", err)
			}
		}
		return nil
	})
	e.OccupantPreJoin.On(8, "muc_meeting_id", func(ctx context.Context, ev *muc.JoinEvent) error {
		return jicofoLock(ctx, s, ev)
	})
	e.Groupchat.On(45, "muc_meeting_id", func(_ context.Context, ev *muc.GroupchatEvent) error {
		ev.Stanza.RemoveChildren("http://jabber.org/protocol/nick", "nick")
		return nil
	})
	return nil
}

// jicofoLock holds joins until the focus is in (runs just after the rate
// limiter, at priority 8).
func jicofoLock(ctx context.Context, s *muc.Service, ev *muc.JoinEvent) error {
	r := ev.Room
	if IsHealthCheckRoom(r.Node()) {
		if !s.IsAdmin(ev.From.String()) {
			return &muc.Deny{Type: "cancel", Condition: "service-unavailable"}
		}
		return nil
	}
	st := meeting(r)
	if st.unlocked {
		return nil
	}
	if strings.HasSuffix(ev.Occupant.JID, "/focus") {
		st.unlocked = true
		held := st.queue
		st.queue = nil
		for _, el := range held {
			if s.SessionAlive(el.Get("from")) {
				r.HandlePresence(ctx, el)
			}
		}
		return nil
	}
	if len(st.queue) >= JicofoQueueMax {
		s.Logger().Error("jicofo lock queue full, join dropped", "room", r.JID(), "from", ev.From.String())
		return hook.ErrStop
	}
	st.queue = append(st.queue, ev.Stanza)
	return hook.ErrStop
}

// HeldJoins returns how many joins the jicofo lock holds for a room. Call
// it with the room held.
func HeldJoins(r *muc.Room) int { return len(meeting(r).queue) }

func meetingIDField(r *muc.Room) *muc.Field {
	return &muc.Field{Var: MeetingIDField, Type: "text-single", Label: "The meeting unique id.", Values: []string{MeetingID(r)}}
}

// uuid4 returns a random RFC 4122 version 4 UUID.
func uuid4() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}
