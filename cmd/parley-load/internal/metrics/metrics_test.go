package metrics

import (
	"math"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

func TestBucketRoundTrip(t *testing.T) {
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 123456, 1e9, 1e12, 1 << 47} {
		b := bucket(v)
		got := bucketValue(b)
		if v < subCount && got != v {
			t.Errorf("small value %d came back as %d", v, got)
		}
		if rel := math.Abs(float64(got)-float64(v)) / math.Max(float64(v), 1); rel > 1.0/subCount {
			t.Errorf("value %d -> bucket %d -> %d: error %.3f", v, b, got, rel)
		}
		if b > 0 && bucket(v) < bucket(v-1) {
			t.Errorf("buckets not monotonic at %d", v)
		}
	}
	if b := bucket(math.MaxUint64); b != nBuckets-1 {
		t.Errorf("huge value bucket = %d, want the last", b)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	tests := []struct {
		name                string
		values              []time.Duration
		p50, p90, p99, maxv time.Duration
	}{
		{"empty", nil, 0, 0, 0, 0},
		{"single", []time.Duration{3 * time.Millisecond}, 3 * time.Millisecond, 3 * time.Millisecond, 3 * time.Millisecond, 3 * time.Millisecond},
		{"uniform 1..100 ms", uniform(100, time.Millisecond), 50 * time.Millisecond, 90 * time.Millisecond, 99 * time.Millisecond, 100 * time.Millisecond},
		{"negative clamps to zero", []time.Duration{-time.Second}, 0, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h Histogram
			for _, v := range tc.values {
				h.Record(v)
			}
			check := func(what string, got, want time.Duration) {
				t.Helper()
				if math.Abs(float64(got-want)) > float64(want)/subCount+1 {
					t.Errorf("%s = %v, want %v", what, got, want)
				}
			}
			check("p50", h.Quantile(0.5), tc.p50)
			check("p90", h.Quantile(0.9), tc.p90)
			check("p99", h.Quantile(0.99), tc.p99)
			s := h.Summary()
			if s.Count != uint64(len(tc.values)) {
				t.Errorf("count = %d", s.Count)
			}
			if got := time.Duration(s.Max * 1e6); len(tc.values) > 0 && got != tc.maxv {
				t.Errorf("max = %v, want %v", got, tc.maxv)
			}
		})
	}
}

func uniform(n int, unit time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(i+1) * unit
	}
	return out
}

func TestHistogramConcurrent(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				h.Record(time.Duration(g*1000+i) * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	if h.Count() != 8000 {
		t.Fatalf("count = %d", h.Count())
	}
	if got := h.Summary().Max; got != 7.999 {
		t.Errorf("max = %v ms, want 7.999", got)
	}
	if p := h.Quantile(0.5); p < 3900*time.Microsecond || p > 4100*time.Microsecond {
		t.Errorf("p50 = %v, want about 4 ms", p)
	}
}

func TestFanout(t *testing.T) {
	f := NewFanout(3)
	a := f.Begin(2)
	b := f.Begin(0)
	if a != 0 || b != 1 {
		t.Fatalf("sequence numbers %d %d", a, b)
	}
	f.SetExpected(b, 3)
	f.Observe(a, 5*time.Millisecond)
	f.Observe(a, 9*time.Millisecond)
	f.Observe(b, 2*time.Millisecond)
	f.Observe(2, time.Millisecond)  // not begun yet
	f.Observe(-1, time.Millisecond) // untracked
	if got := f.Outstanding(); got != 2 {
		t.Errorf("outstanding = %d, want 2", got)
	}
	if c := f.Begin(1); c != 2 {
		t.Errorf("third seq = %d", c)
	}
	if d := f.Begin(1); d != -1 {
		t.Errorf("seq beyond capacity = %d, want -1", d)
	}
	r := f.Finish()
	want := FanoutResult{Events: 3, Complete: 1, Expected: 6, Delivered: 3, Unknown: 2}
	if r.Events != want.Events || r.Complete != want.Complete || r.Expected != want.Expected || r.Delivered != want.Delivered || r.Unknown != want.Unknown {
		t.Errorf("result = %+v, want %+v", r, want)
	}
	if r.Last.Count != 2 || r.Last.Max != 9 {
		t.Errorf("last recipient = %+v, want 2 events, max 9 ms", r.Last)
	}
	if r.Each.Count != 3 {
		t.Errorf("each delivery count = %d", r.Each.Count)
	}
}

func TestFanoutUnresolved(t *testing.T) {
	f := NewFanout(4)
	known := f.Begin(-1)
	f.SetExpected(known, 2)
	unknown := f.Begin(-1)
	f.Observe(known, time.Millisecond)
	f.Observe(unknown, time.Millisecond)
	if got := f.Outstanding(); got != 1 {
		t.Errorf("outstanding = %d, want 1", got)
	}
	r := f.Finish()
	if r.Events != 2 || r.Unresolved != 1 || r.Expected != 2 || r.Delivered != 1 || r.Complete != 0 {
		t.Errorf("result %+v", r)
	}
}

func TestReadProcSelf(t *testing.T) {
	st, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.RSS <= 0 || st.PeakRSS < st.RSS || st.Threads < 1 {
		t.Errorf("implausible reading %+v", st)
	}
	if _, err := ReadProc(-5); err == nil {
		t.Error("reading a missing process succeeded")
	}
	if SelfCPU() < 0 {
		t.Error("negative CPU time")
	}
}

func TestSampler(t *testing.T) {
	s, err := StartSampler(os.Getpid(), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// Burn a little CPU so that something is measured.
	x := 0
	deadline := time.Now().Add(30 * time.Millisecond)
	for time.Now().Before(deadline) {
		x++
	}
	now := s.Now()
	u, err := s.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if u.PID != os.Getpid() || u.RSSPeak < u.RSSStart || u.RSSEnd <= 0 || u.CPUSeconds < now.CPUSeconds {
		t.Errorf("usage %+v (mid-run %+v)", u, now)
	}
	if x == 0 {
		t.Fatal("unreachable")
	}
}

func TestListenerPID(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	pid, err := ListenerPID(port)
	if err != nil {
		t.Skipf("cannot map sockets to processes here: %v", err)
	}
	if pid != os.Getpid() {
		t.Errorf("ListenerPID = %d, want %d", pid, os.Getpid())
	}
	ln.Close()
	if _, err := ListenerPID(port); err == nil {
		t.Error("found a listener on a closed port")
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	b.RunParallel(func(pb *testing.PB) {
		d := time.Duration(1)
		for pb.Next() {
			d = d*7 + 13
			h.Record(d % time.Second)
		}
	})
}

func BenchmarkFanoutObserve(b *testing.B) {
	f := NewFanout(1024)
	for range 1024 {
		f.Begin(100)
	}
	b.RunParallel(func(pb *testing.PB) {
		i := int64(0)
		for pb.Next() {
			i++
			f.Observe(i%1024, time.Duration(i)*time.Microsecond)
		}
	})
}
