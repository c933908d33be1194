// Package metrics records latencies and server resource use for the load
// generator: a lock-free log-linear histogram, a tracker for fan-out
// events (the time until the last recipient got a stanza), and a sampler
// of a process's CPU time and memory from /proc.
package metrics

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// subBits is the number of mantissa bits kept per power of two: 64
// sub-buckets, so a recorded value is off by at most 1/64 (1.6 %).
const subBits = 6

const (
	subCount = 1 << subBits
	// nBuckets covers values up to 2^48 ns (about 78 hours).
	nBuckets = (48 - subBits + 1) * subCount
)

// Histogram counts durations in log-linear buckets. Record is safe for
// concurrent use and does not allocate.
type Histogram struct {
	counts [nBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Uint64 // nanoseconds
	max    atomic.Int64
	min    atomic.Int64 // stored as value+1 so that zero means unset
}

// bucket returns the index for v nanoseconds.
func bucket(v uint64) int {
	if v < subCount {
		return int(v)
	}
	exp := bits.Len64(v) - subBits // >= 1
	mant := v >> uint(exp-1)       // in [subCount, 2*subCount)
	i := exp*subCount + int(mant-subCount)
	if i >= nBuckets {
		return nBuckets - 1
	}
	return i
}

// bucketValue returns the midpoint of bucket i in nanoseconds.
func bucketValue(i int) uint64 {
	if i < subCount {
		return uint64(i)
	}
	exp := i / subCount
	mant := uint64(i%subCount + subCount)
	lo := mant << uint(exp-1)
	width := uint64(1) << uint(exp-1)
	return lo + width/2
}

// Record adds one observation. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[bucket(v)].Add(1)
	h.n.Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if int64(v) <= m || h.max.CompareAndSwap(m, int64(v)) {
			break
		}
	}
	for {
		m := h.min.Load()
		if (m != 0 && int64(v)+1 >= m) || h.min.CompareAndSwap(m, int64(v)+1) {
			break
		}
	}
}

// Count returns the number of observations.
func (h *Histogram) Count() uint64 { return h.n.Load() }

// Quantile returns the value at quantile q (0..1), accurate to the
// bucket width and clamped to the observed minimum and maximum.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			v := int64(bucketValue(i))
			v = min(v, h.max.Load())
			if m := h.min.Load(); m != 0 {
				v = max(v, m-1)
			}
			return time.Duration(v)
		}
	}
	return time.Duration(h.max.Load())
}

// Summary returns the count, mean, the usual percentiles and the maximum.
func (h *Histogram) Summary() Summary {
	n := h.n.Load()
	if n == 0 {
		return Summary{}
	}
	return Summary{
		Count: n,
		Mean:  Millis(time.Duration(h.sum.Load() / n)),
		P50:   Millis(h.Quantile(0.50)),
		P90:   Millis(h.Quantile(0.90)),
		P99:   Millis(h.Quantile(0.99)),
		Max:   Millis(time.Duration(h.max.Load())),
	}
}

// Summary is a histogram's digest; durations are in milliseconds so that
// the JSON output reads directly.
type Summary struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// Millis converts d to fractional milliseconds rounded to the microsecond.
func Millis(d time.Duration) float64 {
	return math.Round(float64(d)/1e3) / 1e3
}
