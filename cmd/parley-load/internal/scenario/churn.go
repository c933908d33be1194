package scenario

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/parley-xmpp/parley/cmd/parley-load/internal/metrics"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/xclient"
)

// runChurn is scenario (b): one room filled from empty to Occupants
// (default 500, scaled) at JoinRate (default 50/s), then for Duration
// (default 30 s) one occupant leaves and one spare session joins
// JoinRate times a second, all with Jitsi-sized presence over Transport
// (default tcp). It reports the fill time and, for the churn phase, join
// latency and join fan-out (join sent -> last occupant notified).
func runChurn(ctx context.Context, r *Run) error {
	if r.Target.MUC == "" {
		r.Result.Skipped = "the target has no MUC component"
		return nil
	}
	size := orInt(r.Params.Occupants, r.Params.scaled(500))
	rate := orFloat(r.Params.JoinRate, 50)
	dur := orDur(r.Params.Duration, 30*time.Second)
	transports := r.transports(xclient.TCP)
	conc := orInt(r.Params.Concurrency, 50)
	spares := max(20, int(2*rate))
	n := size + spares
	churnJoins := int(rate*dur.Seconds()) + 1
	r.Set("occupants", size)
	r.Set("spares", spares)
	r.Set("join_rate", rate)
	r.Set("leave_rate", rate)
	r.Set("duration", dur.String())
	r.Set("transport", transports)
	r.Set("sm", r.Params.sm(true))

	fill := newMeter(r, size, 0, 0)
	room := r.roomName("b", 0)
	ms := make([]*member, n)
	for i := range ms {
		ms[i] = newMember(fill, i, "c"+strconv.Itoa(i), room, true)
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
	pace(ctx, rate, size, func(i int) { ms[i].join(r, r.Params.SmallPresence) })
	if !waitFor(ctx, 60*time.Second, func() bool { return fill.joined.Load()+fill.failed.Load() >= int64(size) }) {
		r.Note("fill: only %d of %d joins completed", fill.joined.Load(), size)
	}
	r.Result.FillSeconds = time.Since(start).Seconds()
	waitFor(ctx, 10*time.Second, func() bool { return fanDone(fill.joinFan) })
	r.Phase("fill")
	if fill.joined.Load() == 0 {
		return errors.New("scenario: no join succeeded")
	}
	r.Result.FillJoin = summary(&fill.join)
	if j := fill.joinFan.Finish(); j.Events > 0 {
		r.Result.FillJoinFanout = &j
	}

	// Churn: swap every member to a fresh meter (nothing is in flight).
	churn := newMeter(r, churnJoins, 0, 0)
	for _, o := range ms {
		o.setMeter(churn)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	skipped := 0
	pace(ctx, rate, churnJoins, func(int) {
		if o := pick(rng, ms, stIn); o != nil {
			o.leave(r)
		}
		if o := pick(rng, ms, stOut); o != nil {
			o.join(r, r.Params.SmallPresence)
		} else {
			skipped++
		}
	})
	waitFor(ctx, 10*time.Second, func() bool { return fanDone(churn.joinFan) && !anyIn(ms, stJoining, stLeaving) })
	r.Phase("churn")
	if skipped > 0 {
		r.Note("%d churn joins skipped: no spare session was out of the room", skipped)
	}
	r.fillMUC(churn)
	// Leave at the churn rate too: a burst of 500 leaves would send every
	// remaining occupant 500 unavailable presences at once, past the
	// default XEP-0198 queue limit (500 unacked), and the server would
	// rightly end those sessions.
	pace(ctx, rate, len(ms), func(i int) { ms[i].leave(r) })
	waitFor(ctx, 30*time.Second, func() bool { return !anyIn(ms, stIn, stLeaving) })
	r.Phase("leave")
	return nil
}

// pick returns a random member in state st, or nil.
func pick(rng *rand.Rand, ms []*member, st int32) *member {
	start := rng.IntN(len(ms))
	for k := range ms {
		o := ms[(start+k)%len(ms)]
		if o.s != nil && o.state.Load() == st {
			return o
		}
	}
	return nil
}

// anyIn reports whether some member is in one of the states.
func anyIn(ms []*member, states ...int32) bool {
	for _, o := range ms {
		st := o.state.Load()
		for _, want := range states {
			if st == want {
				return true
			}
		}
	}
	return false
}
