package jitsi

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/stanza"
)

// RoomMetadataType is the component type of Jitsi's room metadata
// component, as in `Component "metadata.example.com"
// "room_metadata_component"`; it is also the identity type it announces.
const RoomMetadataType = "room_metadata_component"

// Options and names of room_metadata_component.
const (
	// OptBreakoutRoomsComponent names the breakout rooms MUC.
	OptBreakoutRoomsComponent = "breakout_rooms_component"
	// RoomMetadataIdentity is the identity type announced on the main host
	// and the "type" of the json-messages the component sends.
	RoomMetadataIdentity = "room_metadata"
	// NSStartMuted is the namespace of the <startmuted/> presence element
	// old clients use for the start-muted policy.
	NSStartMuted = "http://jitsi.org/jitmeet/start-muted"
)

// rmetaKey keys the per-room metadata state.
type rmetaKey struct{}

// rmetaState is room.jitsiMetadata plus room.sent_initial_metadata.
type rmetaState struct {
	data map[string]any
	// sent records the bare JIDs the metadata went to before their first
	// self-presence; nil for rooms the component did not set up (health
	// checks, rooms of other MUCs).
	sent map[string]bool
	// comp is the component that set the room up, for broadcasts of
	// changes made by other modules.
	comp *RoomMetadataComponent
}

func rmetaOf(r *muc.Room) *rmetaState {
	if st, ok := r.Value(rmetaKey{}).(*rmetaState); ok {
		return st
	}
	st := &rmetaState{data: map[string]any{}}
	r.SetValue(rmetaKey{}, st)
	return st
}

// RoomMetadata returns the room's metadata (Prosody's room.jitsiMetadata:
// JSON values by key, as clients set them), creating it when absent.
// Other modules (av_moderation, polls) read and change it in place. Call
// it with the room held.
func RoomMetadata(r *muc.Room) map[string]any { return rmetaOf(r).data }

// RoomMetadataChanged is Prosody's room-metadata-changed event: call it
// (room held) after changing RoomMetadata from a module; the component
// that set the room up sends the new metadata to every occupant.
func RoomMetadataChanged(r *muc.Room) {
	st := rmetaOf(r)
	if st.comp != nil {
		st.comp.log.Info("metadata changed internally", "room", r.JID())
		st.comp.broadcast(r, st)
	}
}

// RoomMetadataComponent is Jitsi's mod_room_metadata_component (JITSI.md §2
// P1 "Room metadata"). It keeps a JSON metadata object per room of the
// muc_component MUC (and of the breakout_rooms_component MUC):
//
//   - a moderator sends <message><room_metadata xmlns="http://jitsi.org/jitmeet"
//     room="room JID">{"key":K,"data":V}</room_metadata></message> to the
//     component; when V differs from the stored value every occupant gets
//     {"type":"room_metadata","metadata":{...}} in a json-message from the
//     component (with a room attribute);
//   - admins (jicofo) get the metadata plus "moderators" (and
//     "participants" when some module recorded them);
//   - an occupant gets the metadata just before its first self-presence
//     in a room (the "stanzas/out" filter at -3 on every host);
//   - a moderator's presence carrying <startmuted audio video/> updates
//     metadata.startMuted (old clients);
//   - the identity component/room_metadata goes on the main host.
//
// Non-moderators are refused (the jitsi-metadata-allow-moderation event
// has no handler in the stock plugins); malformed JSON is logged and
// ignored. Unlike the Lua table_equals (which compares one level and so
// treats every nested object as changed, and fails on scalar values) the
// new value is compared deeply.
type RoomMetadataComponent struct {
	*jcomp
	mainMUC, breakoutMUC string
}

var _ server.Component = (*RoomMetadataComponent)(nil)

// RoomMetadataFactory returns the server.ComponentFactory for
// room_metadata_component sections.
func RoomMetadataFactory() server.ComponentFactory {
	return componentFactory(NewRoomMetadataComponent)
}

// NewRoomMetadataComponent builds the component of one section. Like the
// Lua module it does nothing (but logs) without muc_component or
// muc_mapper_domain_base.
func NewRoomMetadataComponent(ch *server.ComponentHost) (*RoomMetadataComponent, error) {
	c := &RoomMetadataComponent{jcomp: newJcomp(ch, RoomMetadataType)}
	c.mainMUC = c.option(OptMUCComponent)
	c.breakoutMUC = c.option(OptBreakoutRoomsComponent)
	switch {
	case c.mainMUC == "":
		c.log.Error("no muc_component specified, no MUC to operate on")
		return c, nil
	case c.base == "":
		c.log.Warn("no muc_mapper_domain_base option set, room metadata disabled")
		c.mainMUC = ""
		return c, nil
	}
	c.log.Info("starting room metadata", "muc", c.mainMUC)
	WhenMUC(c.srv, c.mainMUC, RoomMetadataType, c.hookMain)
	if c.breakoutMUC != "" {
		WhenMUC(c.srv, c.breakoutMUC, RoomMetadataType, func(s *muc.Service) {
			s.Events.RoomCreated.On(-1, RoomMetadataType, c.roomCreated)
		})
	}
	for _, h := range c.srv.Hosts() {
		h.Events.StanzaOut.On(-3, RoomMetadataType, c.filterOut)
	}
	AnnounceComponent(c.srv, c.sec, RoomMetadataIdentity, c.domain)
	return c, nil
}

func (c *RoomMetadataComponent) hookMain(s *muc.Service) {
	e := &s.Events
	e.RoomCreated.On(-1, RoomMetadataType, c.roomCreated)
	e.BroadcastPresence.On(0, RoomMetadataType, c.startMutedPresence)
	e.OccupantLeft.On(0, RoomMetadataType, func(_ context.Context, ev *muc.OccupantEvent) error {
		if st, ok := ev.Room.Value(rmetaKey{}).(*rmetaState); ok && st.sent != nil {
			delete(st.sent, ev.Occupant.BareJID)
		}
		return nil
	})
}

func (c *RoomMetadataComponent) roomCreated(_ context.Context, ev *muc.RoomCreateEvent) error {
	if IsHealthCheckRoom(ev.Room.Node()) {
		return nil
	}
	st := rmetaOf(ev.Room)
	st.sent = map[string]bool{}
	st.comp = c
	return nil
}

// startMutedPresence converts an old client's <startmuted/> (sent by a
// moderator) into metadata.startMuted.
func (c *RoomMetadataComponent) startMutedPresence(_ context.Context, ev *muc.PresenceEvent) error {
	if IsHealthCheckRoom(ev.Room.Node()) || ev.Occupant.Role != muc.RoleModerator {
		return nil
	}
	sm := ev.Stanza.Child(NSStartMuted, "startmuted")
	if sm == nil {
		return nil
	}
	md := RoomMetadata(ev.Room)
	cur, _ := md["startMuted"].(map[string]any)
	if cur == nil {
		cur = map[string]any{}
	}
	audio, video := sm.Get("audio") == "true", sm.Get("video") == "true"
	changed := false
	if v, ok := cur["audio"].(bool); !ok || v != audio {
		cur["audio"], changed = audio, true
	}
	if v, ok := cur["video"].(bool); !ok || v != video {
		cur["video"], changed = video, true
	}
	if changed {
		md["startMuted"] = cur
		RoomMetadataChanged(ev.Room)
	}
	return nil
}

// rmetaUpdate is the JSON a client sends.
type rmetaUpdate struct {
	Key  *string `json:"key"`
	Data any     `json:"data"`
}

// parseRoomMetadataUpdate decodes {"key":K,"data":V}; key must be a string
// and data present and not null (Lua's nil checks).
func parseRoomMetadataUpdate(text string) (string, any, error) {
	var u rmetaUpdate
	if err := json.Unmarshal([]byte(text), &u); err != nil {
		return "", nil, fmt.Errorf("jitsi: room metadata: %w", err)
	}
	if u.Key == nil || u.Data == nil {
		return "", nil, fmt.Errorf("jitsi: room metadata: key or data missing")
	}
	return *u.Key, u.Data, nil
}

// Deliver implements server.Component: metadata updates from clients.
func (c *RoomMetadataComponent) Deliver(ctx context.Context, el *stanza.Element) {
	if c.unhandledIQ(ctx, el) || el.Name.Local != "message" || el.Get("type") == "error" || c.mainMUC == "" {
		return
	}
	from := el.Get("from")
	if _, ok := c.sessionRoom(c.session(from), c.mainMUC); !ok {
		return
	}
	msg := el.Child(NSJitMeet, RoomMetadataIdentity)
	if msg == nil || msg.Text() == "" {
		return
	}
	roomJID, err := jid.Parse(c.mapper.ToInternal(msg.Get("room")))
	if err != nil || roomJID.Localpart() == "" {
		c.log.Warn("metadata update for a bad room JID", "room", msg.Get("room"), "from", from)
		return
	}
	svc := c.muc(roomJID.Domainpart())
	if svc == nil {
		c.log.Warn("metadata update for a room of no MUC", "room", roomJID.String(), "from", from)
		return
	}
	err = svc.Do(ctx, roomJID.Bare().String(), func(r *muc.Room) { c.update(r, from, msg.Text()) })
	if err != nil {
		c.log.Warn("no room found for a metadata update", "room", roomJID.String(), "from", from, "err", err)
	}
}

// update applies one client update to a held room.
func (c *RoomMetadataComponent) update(r *muc.Room, from, text string) {
	occ := r.OccupantByRealJID(from)
	if occ == nil {
		c.log.Warn("metadata update from a non-occupant", "room", r.JID(), "from", from)
		return
	}
	key, data, err := parseRoomMetadataUpdate(text)
	if err != nil {
		c.log.Error("invalid metadata update", "room", r.JID(), "from", from, "err", err)
		return
	}
	if occ.Role != muc.RoleModerator {
		c.log.Warn("metadata update refused: not a moderator", "room", r.JID(), "from", from)
		return
	}
	st := rmetaOf(r)
	if old, ok := st.data[key]; ok && reflect.DeepEqual(old, data) {
		return
	}
	st.data[key] = data
	c.log.Info("metadata key updated", "key", key, "room", r.JID(), "by", from, "meeting_id", MeetingID(r))
	c.broadcast(r, st)
}

// broadcast sends the metadata to every occupant.
func (c *RoomMetadataComponent) broadcast(r *muc.Room, st *rmetaState) {
	for _, o := range r.Occupants() {
		c.send(r, st, o)
	}
}

// send queues the room's metadata to one occupant.
func (c *RoomMetadataComponent) send(r *muc.Room, st *rmetaState, o *muc.Occupant) {
	if m := c.message(r, st, o); m != nil {
		r.Send(m)
	}
}

// filterOut sends the metadata to an occupant just before its first
// self-presence in a room reaches it.
func (c *RoomMetadataComponent) filterOut(ctx context.Context, ev *server.OutStanzaEvent) error {
	p := ev.Stanza
	if p.Name.Local != "presence" || p.Get("type") == "unavailable" || p.Get("to") == "" {
		return nil
	}
	if x := p.Child(muc.NSUser, "x"); x == nil || !muc.HasStatus(x, "110") {
		return nil
	}
	to, err := jid.Parse(p.Get("to"))
	if err != nil {
		return nil
	}
	roomJID, err := jid.Parse(c.mapper.ToInternal(p.Get("from")))
	if err != nil || roomJID.Localpart() == "" || IsHealthCheckRoom(roomJID.Localpart()) {
		return nil
	}
	svc := c.muc(roomJID.Domainpart())
	if svc == nil {
		return nil
	}
	bare := to.Bare().String()
	var msg *stanza.Element
	_ = svc.Do(ctx, roomJID.Bare().String(), func(r *muc.Room) {
		st, ok := r.Value(rmetaKey{}).(*rmetaState)
		if !ok || st.sent == nil || st.sent[bare] {
			return
		}
		var occ *muc.Occupant
		for _, o := range r.Occupants() {
			if o.BareJID == bare {
				occ = o
			}
		}
		if occ == nil {
			c.log.Warn("no occupant for a self-presence", "to", bare, "room", r.JID())
			return
		}
		st.sent[bare] = true
		msg = c.message(r, st, occ)
	})
	switch {
	case msg == nil:
	case msg.Get("to") == ev.Session.JID().String():
		// The metadata reaches this session ahead of the presence, as the
		// Lua filter sends it from inside the session's filter chain.
		ev.Session.Send(msg)
	default:
		c.srv.Route(ctx, msg)
	}
	return nil
}

// message builds the metadata json-message for an occupant, addressed to
// its primary session like the Lua module; admins (jicofo) also get the
// moderators list.
func (c *RoomMetadataComponent) message(r *muc.Room, st *rmetaState, o *muc.Occupant) *stanza.Element {
	md := st.data
	if c.isAdmin(o.BareJID) {
		md = make(map[string]any, len(st.data)+1)
		for k, v := range st.data {
			md[k] = v
		}
		md["moderators"] = []string{}
		c.log.Info("sending metadata to jicofo", "room", r.JID(), "meeting_id", MeetingID(r))
	}
	m, err := JSONMessage(c.domain, o.RealJID(), map[string]any{"type": RoomMetadataIdentity, "metadata": md})
	if err != nil {
		c.log.Error("metadata not sent", "room", r.JID(), "err", err)
		return nil
	}
	m.Child(NSJitMeet, "json-message").Set("room", c.mapper.ToExternal(r.JID()))
	return m
}
