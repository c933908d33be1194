package jitsi

import (
	"context"
	"strconv"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
)

// Names and options of conference_duration.
const (
	// ConferenceDurationName is the host module's name.
	ConferenceDurationName = "conference_duration"
	// CreatedTimestampField is the muc#roominfo field with the time (ms
	// since the epoch, as a string) the second occupant joined.
	CreatedTimestampField = "muc#roominfo_created_timestamp"
	// OptConferenceDurationComponent is the address announced with the
	// deprecated conference_duration identity (default
	// conferenceduration.<host>).
	OptConferenceDurationComponent = "conference_duration_component"
)

// cdurOptMainMUC names the host's main MUC (the lobby module exports the
// same option as OptMainMUC).
const cdurOptMainMUC = "main_muc"

// cdurKey is the room value key of the created timestamp.
type cdurKey struct{}

// ConferenceDuration is Jitsi's mod_conference_duration, loaded on the main
// VirtualHost. On the MUC named by the host's main_muc option it stamps a
// room with the current time, in whole seconds written as milliseconds,
// when an occupant joins a room that then has more than one occupant and
// no stamp yet (muc-occupant-joined, -1), and adds the stamp as
// muc#roominfo_created_timestamp (empty before) to the room's disco#info
// form, where lib-jitsi-meet reads the conference start. It also adds the
// deprecated identity component/conference_duration (name:
// conference_duration_component, default conferenceduration.<host>) to the
// host's own disco#info. Without main_muc it logs an error and does
// nothing else, as in Lua.
type ConferenceDuration struct{}

var _ server.Module = ConferenceDuration{}

// NewConferenceDuration returns the conference_duration module.
func NewConferenceDuration() ConferenceDuration { return ConferenceDuration{} }

// Name implements server.Module.
func (ConferenceDuration) Name() string { return ConferenceDurationName }

// Load implements server.Module.
func (ConferenceDuration) Load(_ context.Context, h *server.Host) error {
	srv := h.Server()
	cfg := srv.Config()
	log := srv.Logger().With("module", ConferenceDurationName, "host", h.Name)
	mainMUC := cfg.String(h.Config, cdurOptMainMUC, "")
	if mainMUC == "" {
		log.Error("conference_duration not enabled: missing " + cdurOptMainMUC + " config")
		return nil
	}
	WhenMUC(srv, mainMUC, ConferenceDurationName, func(svc *muc.Service) {
		svc.Events.DiscoInfo.On(0, ConferenceDurationName, func(_ context.Context, ev *muc.DiscoInfoEvent) error {
			if ev.Form != nil {
				ev.Form.Add(CreatedTimestampFormField(ev.Room))
			}
			return nil
		})
		svc.Events.OccupantJoined.On(-1, ConferenceDurationName, func(_ context.Context, ev *muc.OccupantEvent) error {
			cdurStamp(ev.Room, svc)
			return nil
		})
	})
	addr := cfg.String(h.Config, OptConferenceDurationComponent, "conferenceduration."+h.Name)
	if addr != "" {
		h.AddIdentity(ComponentIdentity(ConferenceDurationName, addr))
	}
	return nil
}

// cdurStamp sets the room's created timestamp once it has two occupants.
func cdurStamp(r *muc.Room, svc *muc.Service) {
	if r.Count() <= 1 || r.Value(cdurKey{}) != nil {
		return
	}
	ms := svc.Now().Unix() * 1000
	r.SetValue(cdurKey{}, strconv.FormatInt(ms, 10))
}

// CreatedTimestamp returns the room's created timestamp (ms since the
// epoch as a decimal string), "" before a second occupant joined. The room
// must be held.
func CreatedTimestamp(r *muc.Room) string {
	s, _ := r.Value(cdurKey{}).(string)
	return s
}

// CreatedTimestampFormField is the muc#roominfo field conference_duration
// adds to a room's disco#info form (no value before the stamp is set).
func CreatedTimestampFormField(r *muc.Room) *muc.Field {
	f := &muc.Field{Var: CreatedTimestampField, Type: "text-single", Label: "The meeting created_timestamp."}
	if ts := CreatedTimestamp(r); ts != "" {
		f.Values = []string{ts}
	}
	return f
}
