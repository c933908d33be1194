package jitsi

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
)

// MUCCensusName is the module name of Jitsi's mod_muc_census.
const MUCCensusName = "muc_census"

// MUCCensus is Jitsi's mod_muc_census: GET /room-census lists the rooms of
// the MUC <muc_mapper_domain_prefix>.<host> (health-check rooms left out) as
// {"room_census":[{"room_name","participants","created_time","leaked"}]}:
// participants does not count jicofo, created_time is the room's
// created_timestamp when one is known, and a room is leaked when it has
// participants and none of their sessions is still connected. Without that
// MUC the answer is 400. Like Jitsi's module it has no protection: serve it
// to operators only.
type MUCCensus struct {
	lookup  MUCLookup
	created func(r *muc.Room) (string, bool)

	mu  sync.Mutex
	cfg *roomAPIConfig
}

var (
	_ server.Module       = (*MUCCensus)(nil)
	_ server.ServerModule = (*MUCCensus)(nil)
)

// NewMUCCensus returns the muc_census module. lookup finds MUC services
// (nil: ServerMUCLookup); created returns a room's created_timestamp (in
// Jitsi, set by conference_duration when the second occupant joins), nil
// for none.
func NewMUCCensus(lookup MUCLookup, created func(r *muc.Room) (string, bool)) *MUCCensus {
	if lookup == nil {
		lookup = ServerMUCLookup
	}
	return &MUCCensus{lookup: lookup, created: created}
}

// Name implements server.Module.
func (*MUCCensus) Name() string { return MUCCensusName }

// LoadServer implements server.ServerModule.
func (m *MUCCensus) LoadServer(_ context.Context, srv *server.Server) error {
	srv.HandleHTTP("GET /room-census", http.HandlerFunc(m.census))
	return nil
}

// Load implements server.Module.
func (m *MUCCensus) Load(_ context.Context, h *server.Host) error {
	cfg, err := readRoomAPIConfig(h, MUCCensusName, false)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cfg != nil {
		h.Server().Logger().Warn("module already serves its HTTP route for another host", "module", MUCCensusName, "host", h.Name, "serving", m.cfg.host.Name)
		return nil
	}
	m.cfg = cfg
	return nil
}

// censusRoom is one entry of the census.
type censusRoom struct {
	RoomName     string  `json:"room_name"`
	Participants int     `json:"participants"`
	CreatedTime  *string `json:"created_time,omitempty"`
	Leaked       bool    `json:"leaked"`
}

func (m *MUCCensus) census(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	cfg := m.cfg
	m.mu.Unlock()
	if cfg == nil {
		http.NotFound(w, r)
		return
	}
	srv := cfg.host.Server()
	svc := m.lookup(srv, cfg.prefix+"."+cfg.host.Name)
	if svc == nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rooms := []censusRoom{}
	for _, jid := range svc.Rooms() {
		if IsHealthCheckRoom(jid) {
			continue
		}
		_ = svc.Do(r.Context(), jid, func(room *muc.Room) {
			entry := censusRoom{RoomName: room.JID()}
			missing := 0
			for _, o := range room.Occupants() {
				entry.Participants++
				if srv.Router().Session(o.RealJID()) == nil {
					missing++
				}
			}
			entry.Participants-- // jicofo
			entry.Leaked = entry.Participants > 0 && missing == entry.Participants
			if m.created != nil {
				if ts, ok := m.created(room); ok {
					entry.CreatedTime = &ts
				}
			}
			rooms = append(rooms, entry)
		})
	}
	w.Header().Set("Content-Type", "application/json")
	if len(rooms) == 0 {
		// Lua's cjson writes an empty table as an object.
		_, _ = w.Write([]byte(`{"room_census":{}}`))
		return
	}
	body, err := json.Marshal(map[string]any{"room_census": rooms})
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(body)
}
