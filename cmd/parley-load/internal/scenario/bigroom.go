package scenario

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/cmd/parley-load/internal/metrics"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/xclient"
)

// runBigRoom is scenario (e): one room with Occupants (default 50) active
// participants and Listeners (default 5,000, scaled) passive listeners
// over Transport (default tcp). The first participant creates the room
// and makes it moderated with presence broadcast limited to participants
// and moderators (unless NoVisitors), grants the other participants
// membership so that they get voice, and the listeners join as visitors
// at JoinRate (default 200/s): each receives the participants' presence
// but its own is not broadcast, as with Jitsi's visitors. The
// participants then send groupchat messages at MsgRate (default 10/s)
// for Duration (default 20 s); the result is the message fan-out to every
// occupant.
func runBigRoom(ctx context.Context, r *Run) error {
	if r.Target.MUC == "" {
		r.Result.Skipped = "the target has no MUC component"
		return nil
	}
	actives := max(2, orInt(r.Params.Occupants, 50))
	listeners := orInt(r.Params.Listeners, r.Params.scaled(5000))
	rate := orFloat(r.Params.JoinRate, 200)
	msgRate := orFloat(r.Params.MsgRate, 10)
	dur := orDur(r.Params.Duration, 20*time.Second)
	transports := r.transports(xclient.TCP)
	conc := orInt(r.Params.Concurrency, 100)
	visitors := !r.Params.NoVisitors
	n := actives + listeners
	if budget := r.fdBudget(1); n > budget {
		listeners = budget - actives
		n = actives + listeners
		r.Note("listeners capped at %d by the open-file limit", listeners)
	}
	msgs := int(msgRate*dur.Seconds()) + 1
	r.Set("active", actives)
	r.Set("listeners", listeners)
	r.Set("listener_join_rate", rate)
	r.Set("msg_rate", msgRate)
	r.Set("duration", dur.String())
	r.Set("visitors", visitors)
	r.Set("transport", transports)
	r.Set("sm", r.Params.sm(true))

	m := newMeter(r, n, 0, msgs)
	room := r.roomName("e", 0)
	ms := make([]*member, n)
	for i := range ms {
		nick := "p" + strconv.Itoa(i)
		if i >= actives {
			nick = "v" + strconv.Itoa(i)
		}
		ms[i] = newMember(m, i, nick, room, i < actives)
	}
	var setup metrics.Histogram
	opened := r.openMembers(ctx, ms, transports, conc, &setup)
	r.Phase("open")
	r.Result.Sessions = opened
	r.Result.Setup = summary(&setup)
	defer r.closeMembers(ms)
	if opened < n {
		return fmt.Errorf("scenario: only %d of %d sessions opened", opened, n)
	}

	owner := ms[0]
	owner.join(r, r.Params.SmallPresence)
	if !waitFor(ctx, 10*time.Second, func() bool { return owner.state.Load() == stIn }) {
		return errors.New("scenario: the first participant could not create the room")
	}
	if visitors {
		if err := r.configureVisitors(ctx, owner, ms[1:actives]); err != nil {
			return err
		}
	}
	start := time.Now()
	pace(ctx, 50, actives-1, func(i int) { ms[1+i].join(r, r.Params.SmallPresence) })
	// Participants first: a join's audience is then exactly the occupant
	// list its joiner received (visitors are not in that list).
	if !waitFor(ctx, 60*time.Second, func() bool { return m.joined.Load()+m.failed.Load() >= int64(actives) }) {
		r.Note("only %d of %d participants joined", m.joined.Load(), actives)
	}
	pace(ctx, rate, listeners, func(i int) { ms[actives+i].join(r, r.Params.SmallPresence) })
	if !waitFor(ctx, 120*time.Second, func() bool { return m.joined.Load()+m.failed.Load() >= int64(n) }) {
		r.Note("only %d of %d joins completed", m.joined.Load(), n)
	}
	r.Result.FillSeconds = time.Since(start).Seconds()
	waitFor(ctx, 10*time.Second, func() bool { return fanDone(m.joinFan) })
	r.Phase("fill")
	in := int(m.joined.Load())

	start = time.Now()
	pace(ctx, msgRate, msgs, func(i int) { ms[i%actives].sendMessage(r, in, 100) })
	waitFor(ctx, 30*time.Second, func() bool { return fanDone(m.msgFan) })
	elapsed := time.Since(start)
	r.Phase("messages")
	r.fillMUC(m)
	if r.Result.Message != nil {
		r.Result.Throughput = float64(r.Result.Message.Delivered) / elapsed.Seconds()
	}
	return nil
}

// configureVisitors makes the room moderated with presence broadcast for
// participants and moderators only, and gives the active participants
// membership (hence voice).
func (r *Run) configureVisitors(ctx context.Context, owner *member, active []*member) error {
	form := "<iq type='set' id='cfg1' to='" + owner.room + "' xmlns='jabber:client'>" +
		"<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>" +
		"<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>" +
		"<field var='muc#roomconfig_moderatedroom'><value>1</value></field>" +
		"<field var='muc#roomconfig_presencebroadcast'><value>moderator</value><value>participant</value></field>" +
		"</x></query></iq>"
	if err := owner.request(ctx, "cfg1", []byte(form)); err != nil {
		return fmt.Errorf("scenario: configuring the room: %w", err)
	}
	for i, a := range active {
		bare, _, _ := strings.Cut(a.s.JID(), "/")
		id := "aff" + strconv.Itoa(i)
		iq := "<iq type='set' id='" + id + "' to='" + owner.room + "' xmlns='jabber:client'>" +
			"<query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='member' jid='" + bare + "'/></query></iq>"
		if err := owner.request(ctx, id, []byte(iq)); err != nil {
			return fmt.Errorf("scenario: granting membership: %w", err)
		}
	}
	return nil
}
