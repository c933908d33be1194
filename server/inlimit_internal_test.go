package server

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// The address buckets are shared while sessions use them and dropped with
// the last one.
func TestIPRatesRefcount(t *testing.T) {
	var r ipRates
	key := netip.MustParseAddr("203.0.113.9")
	rl := rateLimit{rate: 1000, burst: 2000}
	a := r.acquire(key, rl, time.Now)
	b := r.acquire(key, rl, time.Now)
	if a != b || r.tracked() != 1 {
		t.Fatalf("two sessions from one address: buckets %p %p, tracked %d", a, b, r.tracked())
	}
	r.release(a)
	if r.tracked() != 1 {
		t.Fatalf("tracked %d after one release, want 1", r.tracked())
	}
	r.release(b)
	if r.tracked() != 0 {
		t.Fatalf("tracked %d after the last release, want 0", r.tracked())
	}
}

// A module's LimitRate expires after its duration, and a repeated call
// only moves the deadline.
func TestLimitRateExpires(t *testing.T) {
	now := time.Unix(0, 0)
	srv := &Server{opts: options{clock: func() time.Time { return now }}}
	s := &Session{srv: srv}
	s.LimitRate(1000, time.Minute)
	first := s.in.imposed.Load()
	if !s.RateLimited() {
		t.Fatal("not limited after LimitRate")
	}
	now = now.Add(30 * time.Second)
	s.LimitRate(1000, time.Minute)
	if got := s.in.imposed.Load(); got.t != first.t || !got.until.Equal(now.Add(time.Minute)) {
		t.Fatalf("repeated LimitRate: bucket kept %v, until %v", got.t == first.t, got.until)
	}
	now = now.Add(61 * time.Second)
	if s.RateLimited() {
		t.Fatal("still limited after the duration")
	}
	s.LimitRate(0, time.Minute)
	if s.in.imposed.Load() != nil {
		t.Fatal("LimitRate(0) did not lift the limit")
	}
}

// BenchmarkThrottleIn is the cost the rate buckets add to every client
// read: a session rate and a shared address rate, neither exhausted.
func BenchmarkThrottleIn(b *testing.B) {
	srv := &Server{opts: options{clock: time.Now}}
	s := &Session{srv: srv}
	s.in.session = newThrottle(rateLimit{rate: 1e12, burst: 1e12}, time.Now)
	var r ipRates
	s.in.ip = r.acquire(netip.MustParseAddr("203.0.113.9"), rateLimit{rate: 1e12, burst: 1e12}, time.Now)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.ThrottleIn(ctx, 512); err != nil {
			b.Fatal(err)
		}
	}
}
