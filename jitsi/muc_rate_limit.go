package jitsi

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server/hook"
	"github.com/parley-xmpp/parley/server/stanza"
)

// Defaults of muc_rate_limit.
const (
	DefaultJoinRate  = 3    // muc_rate_joins: joins per second and room
	DefaultLeaveRate = 5    // muc_rate_leaves: leaves per second and room
	RateQueueMax     = 1000 // queued joins (or leaves) per room
)

// Clock is what muc_rate_limit needs of time; tests may replace it, and
// testing/synctest fakes the default one.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

type realClock struct{}

// Now implements Clock.
func (realClock) Now() time.Time { return time.Now() }

// AfterFunc implements Clock.
func (realClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// RateLimitOption adjusts MUCRateLimit.
type RateLimitOption func(*rateLimiter)

// WithRateClock replaces the clock.
func WithRateClock(c Clock) RateLimitOption { return func(l *rateLimiter) { l.clock = c } }

// MUCRateLimit returns Jitsi's muc_rate_limit: joins and leaves of each
// room go through token buckets of muc_rate_joins and muc_rate_leaves per
// second; what exceeds the rate waits in a per-room queue drained once a
// second, in order. Nothing is lost: a full queue lets the join through
// (it may overtake, SECURITY-CASES 149), and joins still queued when the
// room goes away are delivered again to the component (SECURITY-CASES
// 148). Unlike Prosody, a join let through a full queue still runs the
// lower-priority checks (password, bans).
func MUCRateLimit(opts ...RateLimitOption) muc.LoadFunc {
	return func(s *muc.Service) error {
		l := &rateLimiter{s: s, clock: realClock{}, timers: map[*rateState]func() bool{}}
		for _, o := range opts {
			o(l)
		}
		var err error
		if l.joinRate, err = rateOption(s, "muc_rate_joins", DefaultJoinRate); err != nil {
			return err
		}
		if l.leaveRate, err = rateOption(s, "muc_rate_leaves", DefaultLeaveRate); err != nil {
			return err
		}
		s.Events.OccupantPreJoin.On(9, "muc_rate_limit", l.preJoin)
		s.Events.OccupantPreLeave.On(0, "muc_rate_limit", l.preLeave)
		s.OnStop(l.stop)
		return nil
	}
}

func rateOption(s *muc.Service, key string, def int) (int, error) {
	o, ok := s.Option(key)
	if !ok {
		return def, nil
	}
	n, err := o.AsInt()
	if err != nil {
		return 0, err
	}
	if n < 1 {
		return 0, errors.New("jitsi: " + key + " must be at least 1")
	}
	return int(n), nil
}

type rateLimiter struct {
	s         *muc.Service
	clock     Clock
	joinRate  int
	leaveRate int

	mu      sync.Mutex
	stopped bool
	timers  map[*rateState]func() bool
}

type rateKey struct{}

// rateState is the per-room state, guarded by the room.
type rateState struct {
	roomJID    string
	joins      bucket
	leaves     bucket
	joinQueue  []*stanza.Element
	joinTimer  bool
	replaying  map[*stanza.Element]bool
	leaveQueue []heldLeave
	leaveTimer bool
}

type heldLeave struct {
	o    *muc.Occupant
	prev muc.Role
}

func (l *rateLimiter) state(r *muc.Room) *rateState {
	if st, ok := r.Value(rateKey{}).(*rateState); ok {
		return st
	}
	now := l.clock.Now()
	st := &rateState{
		roomJID:   r.JID(),
		joins:     newBucket(l.joinRate, now),
		leaves:    newBucket(l.leaveRate, now),
		replaying: map[*stanza.Element]bool{},
	}
	r.SetValue(rateKey{}, st)
	return st
}

// QueuedJoins returns how many joins wait in a room's queue. Call it with
// the room held.
func QueuedJoins(r *muc.Room) int {
	if st, ok := r.Value(rateKey{}).(*rateState); ok {
		return len(st.joinQueue)
	}
	return 0
}

func (l *rateLimiter) preJoin(_ context.Context, ev *muc.JoinEvent) error {
	st := l.state(ev.Room)
	if st.replaying[ev.Stanza] {
		delete(st.replaying, ev.Stanza)
		return nil
	}
	ok := st.joins.take(l.clock.Now())
	if ok && !st.joinTimer {
		return nil
	}
	if len(st.joinQueue) >= RateQueueMax {
		l.s.Logger().Warn("join rate queue full, letting a join through", "room", st.roomJID)
		return nil
	}
	st.joinQueue = append(st.joinQueue, ev.Stanza)
	if !st.joinTimer {
		st.joinTimer = true
		l.schedule(st, l.drainJoins)
	}
	return hook.ErrStop
}

func (l *rateLimiter) preLeave(_ context.Context, ev *muc.LeaveEvent) error {
	if !ev.IsLastSession {
		return nil
	}
	st := l.state(ev.Room)
	if st.leaves.take(l.clock.Now()) && !st.leaveTimer {
		return nil
	}
	if len(st.leaveQueue) >= RateQueueMax {
		return nil
	}
	prev := ev.Room.RemoveSilently(ev.Occupant)
	st.leaveQueue = append(st.leaveQueue, heldLeave{o: ev.Occupant, prev: prev})
	if !st.leaveTimer {
		st.leaveTimer = true
		l.schedule(st, l.drainLeaves)
	}
	return hook.ErrStop
}

// schedule runs f for the room in a second.
func (l *rateLimiter) schedule(st *rateState, f func(*rateState)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	var stop func() bool
	stop = l.clock.AfterFunc(time.Second, func() {
		l.mu.Lock()
		if l.stopped {
			l.mu.Unlock()
			return
		}
		delete(l.timers, st)
		l.mu.Unlock()
		f(st)
	})
	l.timers[st] = stop
}

func (l *rateLimiter) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped = true
	for st, stop := range l.timers {
		stop()
		delete(l.timers, st)
	}
}

// drainJoins replays up to joinRate held joins, oldest first.
func (l *rateLimiter) drainJoins(st *rateState) {
	ctx := l.s.Server().Context()
	var orphans []*stanza.Element
	err := l.s.Do(ctx, st.roomJID, func(r *muc.Room) {
		if r.Value(rateKey{}) != st {
			orphans, st.joinQueue = st.joinQueue, nil
			return
		}
		for i := 0; i < l.joinRate && len(st.joinQueue) > 0; i++ {
			el := st.joinQueue[0]
			st.joinQueue = st.joinQueue[1:]
			if !l.s.SessionAlive(el.Get("from")) {
				continue
			}
			st.replaying[el] = true
			r.HandlePresence(ctx, el)
			delete(st.replaying, el)
		}
		if len(st.joinQueue) > 0 {
			l.schedule(st, l.drainJoins)
		} else {
			st.joinTimer = false
		}
	})
	if err != nil {
		orphans, st.joinQueue = st.joinQueue, nil
	}
	// The room went away while the joins waited: hand them to the
	// component again, which creates the room or answers as it would.
	for _, el := range orphans {
		if l.s.SessionAlive(el.Get("from")) {
			l.s.Deliver(ctx, el)
		}
	}
}

// drainLeaves announces up to leaveRate held leaves, oldest first.
func (l *rateLimiter) drainLeaves(st *rateState) {
	ctx := l.s.Server().Context()
	err := l.s.Do(ctx, st.roomJID, func(r *muc.Room) {
		if r.Value(rateKey{}) != st {
			st.leaveQueue = nil
			return
		}
		for i := 0; i < l.leaveRate && len(st.leaveQueue) > 0; i++ {
			h := st.leaveQueue[0]
			st.leaveQueue = st.leaveQueue[1:]
			if r.Occupant(h.o.JID) != nil {
				// Back in the room already: do not announce a
				// departure over the new presence.
				continue
			}
			r.AnnounceLeft(ctx, h.o, h.prev)
		}
		if len(st.leaveQueue) > 0 {
			l.schedule(st, l.drainLeaves)
		} else {
			st.leaveTimer = false
		}
	})
	if err != nil {
		st.leaveQueue = nil
	}
}

// bucket is a token bucket holding at most rate tokens, refilled at rate
// per second (Prosody's util.throttle).
type bucket struct {
	rate    float64
	balance float64
	last    time.Time
}

func newBucket(rate int, now time.Time) bucket {
	return bucket{rate: float64(rate), balance: float64(rate), last: now}
}

func (b *bucket) take(now time.Time) bool {
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.balance = min(b.rate, b.balance+el*b.rate)
	}
	b.last = now
	if b.balance >= 1 {
		b.balance--
		return true
	}
	return false
}
