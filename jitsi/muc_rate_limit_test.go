package jitsi_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/muc/muctest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// joinLog records when each nick entered, and signals after want joins.
type joinLog struct {
	mu    sync.Mutex
	start time.Time
	nicks []string
	at    []time.Duration
	want  int
	done  chan struct{}
}

func newJoinLog(want int) *joinLog {
	return &joinLog{start: time.Now(), want: want, done: make(chan struct{})}
}

func (l *joinLog) record(nick string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.nicks = append(l.nicks, nick)
	l.at = append(l.at, time.Since(l.start))
	if len(l.nicks) == l.want {
		close(l.done)
	}
}

// TestRateLimitedJoinsSpreadInOrder is SECURITY-CASES 146: five
// simultaneous joins at muc_rate_joins = 1 all succeed, one per second, in
// order.
func TestRateLimitedJoinsSpreadInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := harness(t, ``, `
    modules_enabled = { "muc_rate_limit" }
    muc_rate_joins = 1
    muc_room_locking = false
`)
		log := newJoinLog(5)
		h.Service.Events.OccupantJoined.On(0, "test", func(_ context.Context, ev *muc.OccupantEvent) error {
			log.record(ev.Occupant.Nick)
			return nil
		})
		r := muctest.Room("rate")
		for i := range 5 {
			h.Join(muctest.User(fmt.Sprint("u", i)), fmt.Sprintf("%s/u%d", r, i))
		}
		<-log.done
		synctest.Wait() // the last join's stanzas are routed after its hook ran
		if want := []string{"u0", "u1", "u2", "u3", "u4"}; !slices.Equal(log.nicks, want) {
			t.Fatalf("join order %v, want %v", log.nicks, want)
		}
		for i, at := range log.at {
			if want := time.Duration(i) * time.Second; at != want {
				t.Errorf("u%d joined at %v, want %v", i, at, want)
			}
		}
		for i := range 5 {
			got := h.Sink.Take(muctest.User(fmt.Sprint("u", i)))
			if !slices.ContainsFunc(got, func(e *stanza.Element) bool { return hasStatus(e, "110") }) {
				t.Errorf("u%d got no self-presence: %v", i, got)
			}
		}
	})
}

// TestRateLimitedLeaves is SECURITY-CASES 147: an observer gets all five
// unavailable presences of simultaneous leaves.
func TestRateLimitedLeaves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := harness(t, ``, `
    modules_enabled = { "muc_rate_limit" }
    muc_rate_joins = 100
    muc_rate_leaves = 1
    muc_room_locking = false
`)
		r := muctest.Room("leaves")
		observer := muctest.User("observer")
		h.Join(observer, r+"/observer")
		for i := range 5 {
			h.Join(muctest.User(fmt.Sprint("u", i)), fmt.Sprintf("%s/u%d", r, i))
		}
		left := newJoinLog(5)
		h.Service.Events.OccupantLeft.On(0, "test", func(_ context.Context, ev *muc.OccupantEvent) error {
			left.record(ev.Occupant.Nick)
			return nil
		})
		h.Sink.Reset()
		for i := range 5 {
			h.Leave(muctest.User(fmt.Sprint("u", i)), fmt.Sprintf("%s/u%d", r, i))
		}
		<-left.done
		synctest.Wait()
		var gone []string
		for _, p := range h.Sink.Take(observer) {
			if p.Get("type") == "unavailable" {
				gone = append(gone, p.Get("from"))
			}
		}
		want := []string{r + "/u0", r + "/u1", r + "/u2", r + "/u3", r + "/u4"}
		if !slices.Equal(gone, want) {
			t.Fatalf("observer saw %v leave, want %v", gone, want)
		}
		if left.at[4] != 4*time.Second {
			t.Errorf("last leave announced at %v, want 4s", left.at[4])
		}
		for i := range 5 {
			var own []*stanza.Element
			for _, p := range h.Sink.Take(muctest.User(fmt.Sprint("u", i))) {
				if p.Get("from") == fmt.Sprintf("%s/u%d", r, i) {
					own = append(own, p)
				}
			}
			if len(own) != 1 || own[0].Get("type") != "unavailable" || !hasStatus(own[0], "110") {
				t.Errorf("u%d's own leave: %v", i, own)
			}
		}
	})
}

// TestRateLimitRoomDestroyedWhileQueued is SECURITY-CASES 148: the joins
// still queued when the room goes away are not lost; they create the room
// again.
func TestRateLimitRoomDestroyedWhileQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := harness(t, ``, `
    modules_enabled = { "muc_rate_limit" }
    muc_rate_joins = 1
    muc_room_locking = false
`)
		log := newJoinLog(3)
		h.Service.Events.OccupantJoined.On(0, "test", func(_ context.Context, ev *muc.OccupantEvent) error {
			log.record(ev.Occupant.Nick)
			return nil
		})
		r := muctest.Room("doomed")
		for i := range 3 {
			h.Join(muctest.User(fmt.Sprint("u", i)), fmt.Sprintf("%s/u%d", r, i))
		}
		err := h.Service.Do(context.Background(), r, func(rm *muc.Room) {
			if n := jitsi.QueuedJoins(rm); n != 2 {
				t.Errorf("queued %d, want 2", n)
			}
			if err := rm.Destroy(context.Background(), "", "gone", ""); err != nil {
				t.Error(err)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		<-log.done // u0, then u1 and u2 into the new room
		synctest.Wait()
		if log.nicks[0] != "u0" || !slices.Contains(log.nicks[1:], "u1") || !slices.Contains(log.nicks[1:], "u2") {
			t.Fatalf("joins %v", log.nicks)
		}
	})
}

// TestRateLimitOverflowIsNotDropped is SECURITY-CASES 149: past 1000
// queued joins, joins go through at once (they may overtake) but none is
// lost.
func TestRateLimitOverflowIsNotDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := harness(t, ``, `
    modules_enabled = { "muc_rate_limit" }
    muc_rate_joins = 100
    muc_room_locking = false
    muc_room_default_presence_broadcast = { }
`)
		h.Sink.CountOnly = true
		const n = 100 + jitsi.RateQueueMax + 20
		log := newJoinLog(n)
		h.Service.Events.OccupantJoined.On(0, "test", func(_ context.Context, ev *muc.OccupantEvent) error {
			log.record(ev.Occupant.Nick)
			return nil
		})
		r := muctest.Room("flood")
		for i := range n {
			h.Join(muctest.User(fmt.Sprint("u", i)), fmt.Sprintf("%s/u%d", r, i))
		}
		<-log.done
		synctest.Wait() // the last join's stanzas are routed after its hook ran
		seen := map[string]bool{}
		for _, nick := range log.nicks {
			seen[nick] = true
		}
		if len(seen) != n {
			t.Fatalf("%d distinct joins, want %d", len(seen), n)
		}
		// The overflow went in right away, before the queue drained.
		if log.nicks[100] != fmt.Sprint("u", 100+jitsi.RateQueueMax) {
			t.Errorf("first join after the bucket: %s, want the first overflow", log.nicks[100])
		}
		if last := log.at[n-1]; last != 10*time.Second {
			t.Errorf("queue drained at %v, want 10s (1000 joins at 100/s)", last)
		}
	})
}

// TestRateLimitZeroLostJoins runs concurrent joins over real sockets at a
// low rate: every client gets its self-presence.
func TestRateLimitZeroLostJoins(t *testing.T) {
	e := newJitsiEnv(t, ``, `
    modules_enabled = { "muc_rate_limit" }
    muc_rate_joins = 20
    muc_room_locking = false
`)
	r := "zero@" + conf
	const n = 40
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = e.user(fmt.Sprint("user", i))
	}
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() { c.join(fmt.Sprintf("%s/user%d", r, i)) })
	}
	wg.Wait()
	for i, c := range clients {
		if p := c.self(fmt.Sprintf("%s/user%d", r, i)); p.Get("type") == "error" {
			t.Fatalf("user%d: %s", i, p)
		}
	}
}

func TestRateLimitBadOption(t *testing.T) {
	_, err := muctest.Open(``, `
    modules_enabled = { "muc_rate_limit" }
    muc_rate_joins = 0
`, jitsi.MUCModules()...)
	if err == nil {
		t.Fatal("muc_rate_joins = 0 must be refused")
	}
}
