package scenario

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/parley-xmpp/parley/cmd/parley-load/internal/metrics"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/xclient"
)

// roomName returns a room JID unique to this run.
func (r *Run) roomName(kind string, i int) string {
	return fmt.Sprintf("load-%s-%s-%d@%s", kind, strconv.FormatInt(r.Result.Started.UnixNano()%1e9, 36), i, r.Target.MUC)
}

// openMembers opens one anonymous session per member (the transport is
// picked round-robin from transports) and starts its reader. Members that
// failed to open are left with a nil session.
func (r *Run) openMembers(ctx context.Context, ms []*member, transports []string, conc int, setup *metrics.Histogram) int {
	sessions := r.openSessions(ctx, len(ms), conc, func(i int) xclient.Config {
		return r.config(i, transports[i%len(transports)], "anon")
	}, func(i int, s *xclient.Session) {
		ms[i].s = s
		s.Run(ms[i].handle)
	}, setup)
	return count(sessions)
}

func (r *Run) closeMembers(ms []*member) {
	sessions := make([]*xclient.Session, 0, len(ms))
	for _, m := range ms {
		if m.s != nil {
			sessions = append(sessions, m.s)
		}
	}
	r.reap(sessions)
	closeAll(sessions, 100)
}

// runRooms is scenario (a): Rooms (default 10, scaled) rooms of
// Occupants (default 20) anonymous occupants over Transport (default ws;
// "ws,bosh" mixes). Occupants join at JoinRate (default 50/s) with
// Jitsi-sized presence, then each sends one presence update (at 100/s)
// and Messages (default 5) groupchat messages at MsgRate (default
// 100/s), then all leave.
func runRooms(ctx context.Context, r *Run) error {
	if r.Target.MUC == "" {
		r.Result.Skipped = "the target has no MUC component"
		return nil
	}
	rooms := orInt(r.Params.Rooms, r.Params.scaled(10))
	per := orInt(r.Params.Occupants, 20)
	joinRate := orFloat(r.Params.JoinRate, 50)
	msgRate := orFloat(r.Params.MsgRate, 100)
	msgs := orInt(r.Params.Messages, 5)
	transports := r.transports(xclient.WebSocket)
	conc := orInt(r.Params.Concurrency, 50)
	n := rooms * per
	r.Set("rooms", rooms)
	r.Set("occupants", per)
	r.Set("transport", transports)
	r.Set("join_rate", joinRate)
	r.Set("msg_rate", msgRate)
	r.Set("messages_each", msgs)
	r.Set("sm", r.Params.sm(true))

	m := newMeter(r, n, n, n*msgs)
	ms := make([]*member, n)
	for i := range ms {
		ms[i] = newMember(m, i, "n"+strconv.Itoa(i), r.roomName("a", i%rooms), true)
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

	start := time.Now()
	pace(ctx, joinRate, n, func(i int) { ms[i].join(r, r.Params.SmallPresence) })
	if !waitFor(ctx, 30*time.Second, func() bool { return m.joined.Load()+m.failed.Load() >= int64(n) }) {
		r.Note("only %d of %d joins completed", m.joined.Load(), n)
	}
	r.Result.FillSeconds = time.Since(start).Seconds()
	// Join fan-out observations may trail the last self-presence.
	waitFor(ctx, 5*time.Second, func() bool { return fanDone(m.joinFan) })
	r.Phase("join")
	if m.joined.Load() == 0 {
		return errors.New("scenario: no join succeeded")
	}

	pace(ctx, 100, n, func(i int) { ms[i].sendUpdate(r, per, i%2 == 0) })
	waitFor(ctx, 30*time.Second, func() bool { return fanDone(m.presFan) })
	r.Phase("presence")

	pace(ctx, msgRate, n*msgs, func(i int) { ms[i%n].sendMessage(r, per, 100) })
	waitFor(ctx, 30*time.Second, func() bool { return fanDone(m.msgFan) })
	r.Phase("messages")

	for _, o := range ms {
		o.leave(r)
	}
	waitFor(ctx, 30*time.Second, func() bool { return m.left.Load() >= m.joined.Load() })
	r.Phase("leave")
	r.fillMUC(m)
	return nil
}

// fanDone reports whether every begun event reached its audience.
func fanDone(f *metrics.Fanout) bool { return f.Outstanding() == 0 }

// fillMUC copies a meter's digests into the result.
func (r *Run) fillMUC(m *meter) {
	r.Result.Join = summary(&m.join)
	r.Result.Leave = summary(&m.leave)
	if j := m.joinFan.Finish(); j.Events > 0 {
		r.Result.JoinFanout = &j
	}
	if p := m.presFan.Finish(); p.Events > 0 {
		r.Result.Presence = &p
	}
	if msg := m.msgFan.Finish(); msg.Events > 0 {
		r.Result.Message = &msg
	}
	if f := m.failed.Load(); f > 0 {
		r.Note("%d joins were refused", f)
	}
}
