package jitsi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/stanza"
)

// PollsComponentType is the component type of Jitsi's newer polls
// component, as in `Component "polls.example.com" "polls_component"`.
const PollsComponentType = "polls_component"

// PollsIdentity is the identity type the polls component announces on the
// main host.
const PollsIdentity = "polls"

// pcKey keys polls_component's per-room state.
type pcKey struct{}

type pcVoter struct {
	ID   string  `json:"id"`
	Name *string `json:"name,omitempty"`
}

type pcAnswer struct {
	Name   string    `json:"name"`
	Voters []pcVoter `json:"voters,omitempty"`
}

type pcPoll struct {
	PollID     string      `json:"pollId"`
	SenderID   string      `json:"senderId"`
	SenderName *string     `json:"senderName,omitempty"`
	Question   string      `json:"question"`
	Answers    []*pcAnswer `json:"answers"`
}

type pcState struct {
	byID  map[string]*pcPoll
	order []*pcPoll
}

// errPollsIgnored marks a message the component leaves alone (not a poll
// command); other errors from parsePollsCommand mean "drop".
var errPollsIgnored = errors.New("jitsi: not a poll command")

// PollsComponent is Jitsi's mod_polls_component (JITSI.md §2 P1 "Polls",
// the newer polls.D component). Clients send body-less, non-groupchat
// messages with a json-message {"type":"polls","command":"new-poll"|
// "answer-poll","pollId":...} to the component; the room is their
// session's room on <muc_mapper_domain_prefix>.<muc_mapper_domain_base>.
// The component keeps the polls (at most PollsLimit per room), sends each
// command (with senderId, and senderName for answers, taken from the
// occupant) to every occupant, and sends {"type":"polls","command":
// "old-polls","polls":[...]} to joiners of the main and breakout.<base>
// MUCs. Payloads of PollPayloadLimit bytes or more, invalid JSON and
// malformed commands are logged and dropped; a duplicate poll id and a
// restricted poll creation get a not-allowed error. The visitor-node and
// breakout-room sender lookups of the Lua module are not ported.
type PollsComponent struct {
	*jcomp
	mainMUC string
}

var _ server.Component = (*PollsComponent)(nil)

// PollsComponentFactory returns the server.ComponentFactory for
// polls_component sections.
func PollsComponentFactory() server.ComponentFactory {
	return componentFactory(NewPollsComponent)
}

// NewPollsComponent builds the component of one section; without
// muc_mapper_domain_base it only logs, like the Lua module.
func NewPollsComponent(ch *server.ComponentHost) (*PollsComponent, error) {
	p := &PollsComponent{jcomp: newJcomp(ch, PollsComponentType)}
	if p.base == "" {
		p.log.Warn("no muc_mapper_domain_base option set, polls disabled")
		return p, nil
	}
	p.mainMUC = p.mapper.MUCDomain()
	for _, d := range []string{p.mainMUC, "breakout." + p.base} {
		WhenMUC(p.srv, d, PollsComponentType, p.hookMUC)
	}
	AnnounceComponent(p.srv, p.sec, PollsIdentity, p.domain)
	return p, nil
}

func (p *PollsComponent) hookMUC(s *muc.Service) {
	s.Events.RoomCreated.On(0, PollsComponentType, func(_ context.Context, ev *muc.RoomCreateEvent) error {
		if !IsHealthCheckRoom(ev.Room.Node()) {
			ev.Room.SetValue(pcKey{}, &pcState{byID: map[string]*pcPoll{}})
		}
		return nil
	})
	s.Events.OccupantJoined.On(0, PollsComponentType, func(_ context.Context, ev *muc.OccupantEvent) error {
		st, _ := ev.Room.Value(pcKey{}).(*pcState)
		if IsHealthCheckRoom(ev.Room.Node()) || st == nil || len(st.order) == 0 {
			return nil
		}
		p.sendJSON(ev.Room, ev.Occupant.RealJID(), map[string]any{"command": "old-polls", "polls": st.order, "type": "polls"})
		return nil
	})
}

// pcCommand is a validated poll command: the decoded object (sent on as
// it is, with the sender filled in) and its typed fields.
type pcCommand struct {
	data     map[string]any
	command  string
	pollID   string
	question string
	names    []string
	votes    []bool
}

// parsePollsCommand decodes and validates a json-message text the way the
// Lua module does (validate_polls). It returns errPollsIgnored for JSON
// that is not a poll command.
func parsePollsCommand(text string) (*pcCommand, error) {
	if len(text) >= PollPayloadLimit {
		return nil, fmt.Errorf("jitsi: poll payload of %d bytes is too large", len(text))
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("jitsi: decoding poll: %w", err)
	}
	if dec.More() {
		return nil, errors.New("jitsi: decoding poll: trailing data")
	}
	data, _ := v.(map[string]any)
	cmd, _ := data["command"].(string)
	if data == nil || (cmd != "new-poll" && cmd != "answer-poll") {
		return nil, errPollsIgnored
	}
	c := &pcCommand{data: data, command: cmd}
	var ok bool
	if typ, _ := data["type"].(string); typ != "polls" {
		return nil, errors.New("jitsi: poll: type is not polls")
	}
	if c.pollID, ok = data["pollId"].(string); !ok {
		return nil, errors.New("jitsi: poll: pollId is not a string")
	}
	answers, _ := data["answers"].([]any)
	if len(answers) == 0 {
		return nil, errors.New("jitsi: poll: no answers")
	}
	if cmd == "new-poll" {
		if c.question, ok = data["question"].(string); !ok {
			return nil, errors.New("jitsi: poll: question is not a string")
		}
		for _, a := range answers {
			obj, _ := a.(map[string]any)
			name, ok := obj["name"].(string)
			if !ok {
				return nil, errors.New("jitsi: poll: answer without a name")
			}
			c.names = append(c.names, name)
		}
		return c, nil
	}
	for _, a := range answers {
		b, ok := a.(bool)
		if !ok {
			return nil, errors.New("jitsi: poll: vote is not a boolean")
		}
		c.votes = append(c.votes, b)
	}
	return c, nil
}

// Deliver implements server.Component: poll commands from clients.
func (p *PollsComponent) Deliver(ctx context.Context, el *stanza.Element) {
	if p.unhandledIQ(ctx, el) || el.Name.Local != "message" || p.mainMUC == "" {
		return
	}
	if t := el.Get("type"); t == "groupchat" || t == "error" || parentChild(el, "body") != nil {
		return
	}
	j := jsonMessageChild(el)
	if j == nil {
		return
	}
	from := el.Get("from")
	roomJID, ok := p.sessionRoom(p.session(from), p.mainMUC)
	svc := p.muc(p.mainMUC)
	if !ok || svc == nil {
		p.log.Warn("no room found for a poll message", "from", from)
		return
	}
	var deny *muc.Deny
	err := svc.Do(ctx, roomJID, func(r *muc.Room) { deny = p.command(r, from, j.Text()) })
	if err != nil {
		p.log.Warn("no room found for a poll message", "room", roomJID, "from", from, "err", err)
		return
	}
	if deny != nil {
		p.reply(ctx, el, deny.Type, deny.Condition, deny.Text)
	}
}

// command handles one poll message on a held room; a non-nil Deny is the
// error to send back.
func (p *PollsComponent) command(r *muc.Room, from, text string) *muc.Deny {
	occ := r.OccupantByRealJID(from)
	if occ == nil {
		p.log.Error("occupant sending a poll message is not in the room", "from", from, "room", r.JID())
		return nil
	}
	c, err := parsePollsCommand(text)
	switch {
	case errors.Is(err, errPollsIgnored):
		return nil
	case err != nil:
		p.log.Error("invalid poll message dropped", "from", from, "room", r.JID(), "err", err)
		return nil
	}
	st, _ := r.Value(pcKey{}).(*pcState)
	if st == nil {
		p.log.Warn("no polls data in room", "room", r.JID())
		return nil
	}
	id, name := occupantResource(occ.JID), (*string)(nil)
	if pres := occ.Presence(); pres != nil {
		if n := pres.Child(nsNickPolls, "nick"); n != nil {
			s := n.Text()
			name = &s
		}
	}
	if c.command == "new-poll" {
		return p.newPoll(r, st, c, id, name, from)
	}
	p.answer(r, st, c, id, name)
	return nil
}

func (p *PollsComponent) newPoll(r *muc.Room, st *pcState, c *pcCommand, id string, name *string, from string) *muc.Deny {
	if len(st.order) >= PollsLimit {
		p.log.Error("too many polls", "room", r.JID())
		return nil
	}
	if _, ok := st.byID[c.pollID]; ok {
		p.log.Error("poll already exists", "poll", c.pollID, "room", r.JID())
		return &muc.Deny{Type: "cancel", Condition: "not-allowed", Text: "Poll already exists"}
	}
	if PollCreationRestricted(r) && !SessionClaims(p.session(from)).Feature("create-polls") {
		return &muc.Deny{Type: "cancel", Condition: "not-allowed", Text: "Creation of polls not allowed for user"}
	}
	poll := &pcPoll{PollID: c.pollID, SenderID: id, SenderName: name, Question: c.question}
	for _, n := range c.names {
		poll.Answers = append(poll.Answers, &pcAnswer{Name: n})
	}
	st.byID[c.pollID] = poll
	st.order = append(st.order, poll)
	c.data["senderId"] = id
	c.data["type"] = "polls"
	p.toAll(r, c.data)
	return nil
}

func (p *PollsComponent) answer(r *muc.Room, st *pcState, c *pcCommand, id string, name *string) {
	poll := st.byID[c.pollID]
	if poll == nil {
		p.log.Warn("answering a poll that does not exist", "poll", c.pollID, "room", r.JID())
		return
	}
	if len(c.votes) > len(poll.Answers) {
		p.log.Error("more votes than the poll has answers, dropped", "poll", c.pollID, "room", r.JID())
		return
	}
	for i, v := range c.votes {
		if v {
			poll.Answers[i].Voters = append(poll.Answers[i].Voters, pcVoter{ID: id, Name: name})
		}
	}
	c.data["senderId"] = id
	if name != nil {
		c.data["senderName"] = *name
	} else {
		delete(c.data, "senderName")
	}
	c.data["type"] = "polls"
	p.toAll(r, c.data)
}

// toAll sends a poll command to every occupant.
func (p *PollsComponent) toAll(r *muc.Room, data map[string]any) {
	for _, o := range r.Occupants() {
		p.sendJSON(r, o.RealJID(), data)
	}
}
