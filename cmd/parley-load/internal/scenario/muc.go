package scenario

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-xmpp/parley/cmd/parley-load/internal/metrics"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/xclient"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/xscan"
)

// nsLoad marks the element that carries a stanza's sequence number and
// send time; servers pass unknown extensions through, so recipients can
// time deliveries without any shared state but the clock.
const nsLoad = "urn:parley:load"

// Occupant states.
const (
	stOut int32 = iota
	stJoining
	stIn
	stLeaving
)

// meter holds what MUC recipients report into.
type meter struct {
	sh       *xclient.Shared
	join     metrics.Histogram // join sent -> own 110 presence
	leave    metrics.Histogram // unavailable sent -> own unavailable
	joinFan  *metrics.Fanout
	presFan  *metrics.Fanout
	msgFan   *metrics.Fanout
	joined   atomic.Int64 // completed joins
	left     atomic.Int64 // completed leaves
	failed   atomic.Int64 // joins answered with an error
	errorRun *Run
}

func newMeter(r *Run, joins, updates, messages int) *meter {
	return &meter{
		sh:       r.Shared,
		joinFan:  metrics.NewFanout(joins),
		presFan:  metrics.NewFanout(updates),
		msgFan:   metrics.NewFanout(messages),
		errorRun: r,
	}
}

// member is one session's MUC state. The driver moves state out of
// stOut and stIn with compare-and-swap; the reader moves it on.
type member struct {
	mp       atomic.Pointer[meter]
	s        *xclient.Session
	idx      int
	nick     string
	room     string // bare room JID
	state    atomic.Int32
	joinSeq  atomic.Int64
	joinSent atomic.Int64
	leftSent atomic.Int64
	listed   atomic.Int32 // occupant presences received while joining
	iqWait   sync.Map     // iq id -> chan []byte
	track    bool         // report this member's join into the join fan-out
}

func newMember(m *meter, idx int, nick, room string, track bool) *member {
	o := &member{idx: idx, nick: nick, room: room, track: track}
	o.mp.Store(m)
	return o
}

// setMeter makes o report into m from now on.
func (o *member) setMeter(m *meter) { o.mp.Store(m) }

// occupantJID is room/nick.
func (o *member) occupantJID() string { return o.room + "/" + o.nick }

// handle is the session's stanza callback.
func (o *member) handle(_ *xclient.Session, el []byte) {
	m := o.mp.Load()
	now := m.sh.Nanotime()
	switch string(xscan.Name(el)) {
	case "presence":
		o.presence(m, el, now)
	case "message":
		if t, _ := xscan.Attr(el, "type"); string(t) == "error" {
			m.errorRun.Error(fmt.Errorf("%s: message error: %.300s", o.nick, el))
			return
		}
		if seq, ts, kind := marker(el); kind == 'm' {
			m.msgFan.Observe(seq, time.Duration(now-ts))
		}
	case "iq":
		if id, ok := xscan.Attr(el, "id"); ok {
			if ch, ok := o.iqWait.LoadAndDelete(string(id)); ok {
				ch.(chan []byte) <- bytes.Clone(el)
				return
			}
		}
		if t, _ := xscan.Attr(el, "type"); string(t) == "error" {
			m.errorRun.Error(fmt.Errorf("%s: iq error: %.300s", o.nick, el))
		}
	}
}

func (o *member) presence(m *meter, el []byte, now int64) {
	typ, _ := xscan.Attr(el, "type")
	if string(typ) == "error" {
		if o.state.CompareAndSwap(stJoining, stOut) {
			m.failed.Add(1)
		}
		m.errorRun.Error(fmt.Errorf("%s: presence error: %.300s", o.nick, el))
		return
	}
	unavailable := string(typ) == "unavailable"
	self := isSelf(el)
	if self {
		switch {
		case unavailable && o.state.Load() == stLeaving:
			m.leave.Record(time.Duration(now - o.leftSent.Load()))
			o.state.Store(stOut)
			m.left.Add(1)
			return
		case !unavailable && o.state.Load() == stJoining:
			m.join.Record(time.Duration(now - o.joinSent.Load()))
			if o.track {
				m.joinFan.SetExpected(o.joinSeq.Load(), int(o.listed.Load()))
			}
			o.state.Store(stIn)
			m.joined.Add(1)
			return
		}
	}
	if o.state.Load() == stJoining {
		if !unavailable {
			o.listed.Add(1)
		}
		return
	}
	seq, ts, kind := marker(el)
	switch kind {
	case 'j':
		if !unavailable {
			m.joinFan.Observe(seq, time.Duration(now-ts))
		}
	case 'u':
		m.presFan.Observe(seq, time.Duration(now-ts))
	}
}

// isSelf reports a status code 110 (the occupant's own presence).
func isSelf(el []byte) bool {
	return bytes.Contains(el, []byte("code='110'")) || bytes.Contains(el, []byte(`code="110"`))
}

// marker reads the load element: its kind (the attribute naming the
// sequence: 'j' join, 'u' update, 'm' message, 'l' leave), sequence
// number and send time.
func marker(el []byte) (seq, ts int64, kind byte) {
	tag := xscan.TagWith(el, []byte(nsLoad))
	if tag == nil {
		return 0, 0, 0
	}
	t, ok := xscan.Attr(tag, "t")
	if !ok {
		return 0, 0, 0
	}
	ts, err := strconv.ParseInt(string(t), 10, 64)
	if err != nil {
		return 0, 0, 0
	}
	for _, k := range []byte{'j', 'u', 'm', 'l'} {
		if v, ok := xscan.Attr(tag, string(k)); ok {
			seq, err = strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return 0, 0, 0
			}
			return seq, ts, k
		}
	}
	return 0, 0, 0
}

func appendMarker(b []byte, kind byte, seq, ts int64) []byte {
	b = append(b, "<load xmlns='"+nsLoad+"' "...)
	b = append(b, kind, '=', '\'')
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, "' t='"...)
	b = strconv.AppendInt(b, ts, 10)
	return append(b, "'/>"...)
}

// jitsiPayload appends the extensions a Jitsi Meet client puts in its MUC
// presence (about 1 KB with the MUC wrapper), varied by nick and a
// toggle so that updates differ.
func jitsiPayload(b []byte, nick string, muted bool) []byte {
	b = append(b, "<stats-id>Load-"...)
	b = append(b, nick...)
	b = append(b, "</stats-id><region id='eu-central-1' xmlns='http://jitsi.org/jitsi-meet'/>"+
		"<c hash='sha-1' node='https://jitsi.org/jitsi-meet' ver='cvjWXufsg4xT62Ec2mlATkFZ9lk=' xmlns='http://jabber.org/protocol/caps'/>"+
		"<features><feature var='https://jitsi.org/meet/e2ee'/><feature var='http://jitsi.org/visitors-1'/></features><SourceInfo>{&quot;"...)
	b = append(b, nick...)
	b = append(b, "-a0&quot;:{&quot;muted&quot;:"...)
	b = strconv.AppendBool(b, muted)
	b = append(b, "},&quot;"...)
	b = append(b, nick...)
	b = append(b, "-v0&quot;:{&quot;muted&quot;:true,&quot;videoType&quot;:&quot;camera&quot;}}</SourceInfo>"+
		"<jitsi_participant_codecList>av1,vp9,vp8,h264</jitsi_participant_codecList>"+
		"<audiomuted xmlns='http://jitsi.org/jitmeet/audio'>"...)
	b = strconv.AppendBool(b, muted)
	b = append(b, "</audiomuted><videomuted xmlns='http://jitsi.org/jitmeet/video'>true</videomuted>"+
		"<nick xmlns='http://jabber.org/protocol/nick'>Load participant "...)
	b = append(b, nick...)
	b = append(b, "</nick><identity><user><id>"...)
	b = append(b, nick...)
	b = append(b, "-1a2b-4c3d-9e8f-0a1b2c3d4e5f</id><name>Load participant</name>"+
		"<avatar>https://avatars.example.com/u/load.png</avatar><email>load@example.com</email></user>"+
		"<group>acme-corp-eu</group></identity>"...)
	return b
}

// joinStanza is the MUC join presence with a Jitsi payload (or a bare
// one when small) and the join marker.
func (o *member) joinStanza(seq, ts int64, small bool) []byte {
	b := make([]byte, 0, 1400)
	b = append(b, "<presence to='"...)
	b = append(b, o.occupantJID()...)
	b = append(b, "' xmlns='jabber:client'><x xmlns='http://jabber.org/protocol/muc'/>"...)
	if !small {
		b = jitsiPayload(b, o.nick, true)
	}
	b = appendMarker(b, 'j', seq, ts)
	return append(b, "</presence>"...)
}

// updateStanza is a presence update (a Jitsi mute toggle).
func (o *member) updateStanza(seq, ts int64, muted bool) []byte {
	b := make([]byte, 0, 1400)
	b = append(b, "<presence to='"...)
	b = append(b, o.occupantJID()...)
	b = append(b, "' xmlns='jabber:client'>"...)
	b = jitsiPayload(b, o.nick, muted)
	b = appendMarker(b, 'u', seq, ts)
	return append(b, "</presence>"...)
}

// leaveStanza is the unavailable presence that leaves the room.
func (o *member) leaveStanza(seq, ts int64) []byte {
	b := make([]byte, 0, 160)
	b = append(b, "<presence to='"...)
	b = append(b, o.occupantJID()...)
	b = append(b, "' type='unavailable' xmlns='jabber:client'>"...)
	b = appendMarker(b, 'l', seq, ts)
	return append(b, "</presence>"...)
}

// groupchat is a room message with a body of about size bytes.
func groupchat(room string, seq, ts int64, size int) []byte {
	b := make([]byte, 0, 200+size)
	b = append(b, "<message to='"...)
	b = append(b, room...)
	b = append(b, "' type='groupchat' xmlns='jabber:client'><body>"...)
	b = appendBody(b, size)
	b = append(b, "</body>"...)
	b = appendMarker(b, 'm', seq, ts)
	return append(b, "</message>"...)
}

const lorem = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. "

func appendBody(b []byte, size int) []byte {
	for size > 0 {
		n := min(size, len(lorem))
		b = append(b, lorem[:n]...)
		size -= n
	}
	return b
}

// join sends o's join presence and marks it joining.
func (o *member) join(r *Run, small bool) {
	if !o.state.CompareAndSwap(stOut, stJoining) {
		return
	}
	m := o.mp.Load()
	o.listed.Store(0)
	seq := int64(-1)
	if o.track {
		seq = m.joinFan.Begin(-1)
	}
	o.joinSeq.Store(seq)
	now := m.sh.Nanotime()
	o.joinSent.Store(now)
	if err := o.s.Send(o.joinStanza(seq, now, small)); err != nil {
		o.state.Store(stOut)
		r.Error(fmt.Errorf("%s: sending join: %w", o.nick, err))
	}
}

// leave sends o's unavailable presence and marks it leaving.
func (o *member) leave(r *Run) {
	if !o.state.CompareAndSwap(stIn, stLeaving) {
		return
	}
	now := o.mp.Load().sh.Nanotime()
	o.leftSent.Store(now)
	if err := o.s.Send(o.leaveStanza(0, now)); err != nil {
		r.Error(fmt.Errorf("%s: sending leave: %w", o.nick, err))
	}
}

// sendUpdate sends a presence update counted in the presence fan-out,
// expected to reach every occupant of a room of size n.
func (o *member) sendUpdate(r *Run, n int, muted bool) {
	m := o.mp.Load()
	seq := m.presFan.Begin(n)
	if err := o.s.Send(o.updateStanza(seq, m.sh.Nanotime(), muted)); err != nil {
		r.Error(fmt.Errorf("%s: sending presence: %w", o.nick, err))
	}
}

// sendMessage sends a groupchat message expected to reach n occupants.
func (o *member) sendMessage(r *Run, n, size int) {
	m := o.mp.Load()
	seq := m.msgFan.Begin(n)
	if err := o.s.Send(groupchat(o.room, seq, m.sh.Nanotime(), size)); err != nil {
		r.Error(fmt.Errorf("%s: sending message: %w", o.nick, err))
	}
}

// request sends an iq with the given id and waits for its result.
func (o *member) request(ctx context.Context, id string, iq []byte) error {
	ch := make(chan []byte, 1)
	o.iqWait.Store(id, ch)
	if err := o.s.Send(iq); err != nil {
		o.iqWait.Delete(id)
		return err
	}
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case el := <-ch:
		if typ, _ := xscan.Attr(el, "type"); string(typ) != "result" {
			return fmt.Errorf("scenario: iq %s refused: %.300s", id, el)
		}
		return nil
	case <-t.C:
		o.iqWait.Delete(id)
		return fmt.Errorf("scenario: iq %s: no answer in 30 s", id)
	case <-ctx.Done():
		o.iqWait.Delete(id)
		return ctx.Err()
	}
}
