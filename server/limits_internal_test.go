package server

import (
	"testing"
	"time"
)

func TestParseLimits(t *testing.T) {
	tests := []struct {
		name, rate, burst   string
		wantRate, wantBurst float64
		bad                 bool
	}{
		{"prosody form", "10kb/s", "2s", 10000, 20000, false},
		{"bytes burst", "3000b/s", "25kb", 3000, 25000, false},
		{"megabytes", "1mb/s", "1s", 1e6, 1e6, false},
		{"no unit", "500/s", "3s", 500, 1500, false},
		{"bad rate", "fast", "2s", 0, 0, true},
		{"bad burst", "1kb/s", "soon", 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseRate(tc.rate)
			if err == nil {
				var b float64
				b, err = parseBurst(tc.burst, r)
				if err == nil && (r != tc.wantRate || b != tc.wantBurst) {
					t.Fatalf("rate %v burst %v, want %v %v", r, b, tc.wantRate, tc.wantBurst)
				}
			}
			if (err != nil) != tc.bad {
				t.Fatalf("err = %v, bad = %v", err, tc.bad)
			}
		})
	}
}

// SECURITY-CASES 151: the throttle pauses reads by exactly the deficit and
// refills at the configured rate, up to the burst.
func TestThrottleReserve(t *testing.T) {
	now := time.Unix(0, 0)
	th := newThrottle(rateLimit{rate: 1000, burst: 2000}, func() time.Time { return now })
	steps := []struct {
		advance time.Duration
		n       int
		want    time.Duration
	}{
		{0, 2000, 0},                                     // the burst is free
		{0, 500, 500 * time.Millisecond},                 // then the rate applies
		{500 * time.Millisecond, 0, 0},                   // refilled to zero
		{10 * time.Second, 2500, 500 * time.Millisecond}, // refill caps at the burst
	}
	for i, st := range steps {
		now = now.Add(st.advance)
		if got := th.reserve(st.n); got != st.want {
			t.Fatalf("step %d: wait %v, want %v", i, got, st.want)
		}
	}
}
