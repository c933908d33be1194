package jitsi

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server/hook"
)

// PollsModule is the MUC module name of Jitsi's mod_polls.
const PollsModule = "polls"

// Limits of the polls modules.
const (
	// PollsLimit is how many polls a room keeps.
	PollsLimit = 128
	// PollPayloadLimit bounds the JSON text of a poll message (bytes).
	PollPayloadLimit = 1024
	// pollsDefaultName is the voter name when the presence carries none.
	pollsDefaultName = "Fellow Jitster"
	nsNickPolls      = "http://jabber.org/protocol/nick"
)

// pollsKey keys mod_polls' per-room state.
type pollsKey struct{}

// pollsAnswer is one answer of a mod_polls poll; voters maps occupant ids
// to names.
type pollsAnswer struct {
	Name   json.RawMessage   `json:"name"`
	Voters map[string]string `json:"voters"`
}

// pollsPoll is one poll as old-polls reports it.
type pollsPoll struct {
	ID         json.RawMessage `json:"id"`
	SenderID   string          `json:"senderId"`
	SenderName string          `json:"senderName"`
	Question   json.RawMessage `json:"question"`
	Answers    []*pollsAnswer  `json:"answers"`
}

// pollsState is room.polls.
type pollsState struct {
	byID  map[string]*pollsPoll
	order []*pollsPoll
}

// pollsMessage is the part of an endpoint message mod_polls reads.
type pollsMessage struct {
	Type     string            `json:"type"`
	PollID   json.RawMessage   `json:"pollId"`
	Question json.RawMessage   `json:"question"`
	Answers  []json.RawMessage `json:"answers"`
}

// MUCPolls is Jitsi's mod_polls, a MUC module (JITSI.md §2 P1 "Polls"). It
// follows the polls clients exchange in body-less groupchat json-messages
// (muc_meeting_id's jitsi-endpoint-message-received, so it only acts where
// muc_meeting_id is loaded too): "new-poll" {pollId, question, answers:
// [names]} and "answer-poll" {pollId, answers:[bools]}, and sends
// {"type":"old-polls","polls":[...]} from the room to each joiner. A room
// keeps at most PollsLimit polls; payloads of PollPayloadLimit bytes or
// more, invalid JSON and malformed polls are logged and dropped; a second
// poll with a known id and, when metadata permissions.pollCreationRestricted
// is set, a poll from a user without the create-polls token feature get a
// not-allowed error. Everything else is broadcast as usual.
func MUCPolls(s *muc.Service) error {
	// Whether muc_meeting_id is loaded is only known once every module of
	// the component has loaded.
	withMeetingID := sync.OnceValue(func() bool {
		ok := slices.Contains(s.Modules(), "muc_meeting_id")
		if !ok {
			s.Logger().Info("polls: muc_meeting_id is not loaded, endpoint messages are not followed", "muc", s.Domain())
		}
		return ok
	})
	s.Events.RoomCreated.On(0, PollsModule, func(_ context.Context, ev *muc.RoomCreateEvent) error {
		if !IsHealthCheckRoom(ev.Room.Node()) {
			ev.Room.SetValue(pollsKey{}, &pollsState{byID: map[string]*pollsPoll{}})
		}
		return nil
	})
	s.Events.Stanza.On(0, PollsModule, func(_ context.Context, ev *muc.StanzaEvent) error {
		if ev.Stanza.Name.Local != "message" || !withMeetingID() {
			return nil
		}
		return pollsEndpointMessage(s, ev)
	})
	s.Events.OccupantJoined.On(0, PollsModule, func(_ context.Context, ev *muc.OccupantEvent) error {
		pollsSendOld(s, ev.Room, ev.Occupant)
		return nil
	})
	return nil
}

// pollsEndpointMessage looks at a body-less groupchat json-message from an
// occupant (the Lua muc_meeting_id filter) and hands polls to pollsHandle.
func pollsEndpointMessage(s *muc.Service, ev *muc.StanzaEvent) error {
	el := ev.Stanza
	if el.Name.Local != "message" || el.Get("type") != "groupchat" || ev.To.Resourcepart() != "" ||
		el.Child("", "body") != nil {
		return nil
	}
	occ := ev.Room.OccupantByRealJID(ev.From.String())
	if occ == nil {
		return nil
	}
	j := jsonMessageChild(el)
	if j == nil {
		return nil
	}
	raw := j.Text()
	if strings.Contains(raw, `"is_interim":true`) {
		return nil
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &probe); err != nil {
		// muc_meeting_id drops endpoint messages it cannot decode.
		s.Logger().Error("polls: invalid endpoint message dropped", "from", ev.From.String(), "room", ev.Room.JID(), "err", err)
		return hook.ErrStop
	}
	if _, ok := probe["transcript"]; ok {
		return nil
	}
	return pollsHandle(s, ev, occ, raw)
}

// pollsHandle is the jitsi-endpoint-message-received handler of mod_polls.
func pollsHandle(s *muc.Service, ev *muc.StanzaEvent, occ *muc.Occupant, raw string) error {
	var msg pollsMessage
	if err := json.Unmarshal([]byte(raw), &msg); err != nil {
		var typ struct {
			Type any `json:"type"`
		}
		if json.Unmarshal([]byte(raw), &typ) == nil && typ.Type != "new-poll" && typ.Type != "answer-poll" {
			return nil
		}
		s.Logger().Error("polls: malformed poll dropped", "from", ev.From.String(), "room", ev.Room.JID(), "err", err)
		return hook.ErrStop
	}
	if msg.Type != "new-poll" && msg.Type != "answer-poll" {
		return nil
	}
	r := ev.Room
	if len(raw) >= PollPayloadLimit {
		s.Logger().Error("polls: payload too large, discarding", "from", ev.From.String(), "room", r.JID())
		return hook.ErrStop
	}
	st, _ := r.Value(pollsKey{}).(*pollsState)
	if st == nil {
		s.Logger().Warn("polls: no polls data in room", "room", r.JID())
		return nil
	}
	id, name := pollsOccupant(occ)
	if msg.Type == "new-poll" {
		return pollsNew(s, r, st, &msg, id, name, ev)
	}
	return pollsAnswerPoll(s, r, st, &msg, id, name)
}

func pollsNew(s *muc.Service, r *muc.Room, st *pollsState, msg *pollsMessage, id, name string, ev *muc.StanzaEvent) error {
	if len(msg.PollID) == 0 || string(msg.PollID) == "null" || msg.Answers == nil {
		s.Logger().Error("polls: poll without id or answers dropped", "room", r.JID())
		return hook.ErrStop
	}
	if len(st.order) >= PollsLimit {
		s.Logger().Error("polls: too many polls", "room", r.JID())
		return hook.ErrStop
	}
	key := pollsIDKey(msg.PollID)
	if _, ok := st.byID[key]; ok {
		s.Logger().Error("polls: poll already exists", "poll", key, "room", r.JID())
		return &muc.Deny{Type: "cancel", Condition: "not-allowed", Text: "Poll already exists"}
	}
	if PollCreationRestricted(r) && !SessionClaims(s.Server().Router().Session(ev.From.String())).Feature("create-polls") {
		return &muc.Deny{Type: "cancel", Condition: "not-allowed", Text: "Creation of polls not allowed for user"}
	}
	p := &pollsPoll{ID: pollsRaw(msg.PollID), SenderID: id, SenderName: name, Question: pollsRaw(msg.Question), Answers: []*pollsAnswer{}}
	for _, a := range msg.Answers {
		p.Answers = append(p.Answers, &pollsAnswer{Name: a, Voters: map[string]string{}})
	}
	st.byID[key] = p
	st.order = append(st.order, p)
	return nil
}

func pollsAnswerPoll(s *muc.Service, r *muc.Room, st *pollsState, msg *pollsMessage, id, name string) error {
	p := st.byID[pollsIDKey(msg.PollID)]
	if p == nil {
		s.Logger().Warn("polls: answering a poll that does not exist", "room", r.JID())
		return nil
	}
	if len(msg.Answers) > len(p.Answers) {
		s.Logger().Error("polls: more answers than the poll has, dropped", "room", r.JID())
		return hook.ErrStop
	}
	for i, v := range msg.Answers {
		if pollsTruthy(v) {
			p.Answers[i].Voters[id] = name
		} else {
			delete(p.Answers[i].Voters, id)
		}
	}
	return nil
}

// pollsSendOld sends the room's polls to a joiner.
func pollsSendOld(s *muc.Service, r *muc.Room, o *muc.Occupant) {
	st, _ := r.Value(pollsKey{}).(*pollsState)
	if IsHealthCheckRoom(r.Node()) || st == nil || len(st.order) == 0 {
		return
	}
	m, err := JSONMessage(r.JID(), o.RealJID(), map[string]any{"type": "old-polls", "polls": st.order})
	if err != nil {
		s.Logger().Error("polls: encoding old-polls", "room", r.JID(), "err", err)
		return
	}
	r.Send(m)
}

// PollCreationRestricted reports whether the room metadata restricts poll
// creation (permissions.pollCreationRestricted). Call it with the room
// held.
func PollCreationRestricted(r *muc.Room) bool {
	perm, _ := RoomMetadata(r)["permissions"].(map[string]any)
	return perm != nil && luaTruthy(perm["pollCreationRestricted"])
}

// pollsOccupant returns an occupant's id (its nick) and display name.
func pollsOccupant(o *muc.Occupant) (id, name string) {
	name = pollsDefaultName
	if p := o.Presence(); p != nil {
		if n := p.Child(nsNickPolls, "nick"); n != nil {
			name = n.Text()
		}
	}
	return occupantResource(o.JID), name
}

// pollsIDKey makes a map key of a JSON poll id.
func pollsIDKey(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return "s:" + s
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) == nil {
		return "j:" + b.String()
	}
	return "j:null"
}

// pollsRaw turns an absent JSON value into null.
func pollsRaw(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

// pollsTruthy is Lua truthiness of a decoded JSON value: only false is
// false (cjson decodes null to a truthy userdata).
func pollsTruthy(raw json.RawMessage) bool {
	return strings.TrimSpace(string(raw)) != "false"
}

// luaTruthy is Lua truthiness of a value from encoding/json.
func luaTruthy(v any) bool {
	b, isBool := v.(bool)
	return v != nil && (!isBool || b)
}
