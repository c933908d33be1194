package metrics

import (
	"sync/atomic"
	"time"
)

// Fanout tracks events that the server delivers to many recipients (a
// MUC join, a groupchat message). Each event has a sequence number from
// Begin; recipients report their latency with Observe; Finish gives, per
// event, the latency of the last recipient. All methods are safe for
// concurrent use; the number of events is fixed up front so that Observe
// is a couple of atomic operations.
type Fanout struct {
	next     atomic.Int64
	expected []atomic.Int32
	got      []atomic.Int32
	last     []atomic.Int64 // nanoseconds
	// Delivery holds every recipient's latency.
	Delivery Histogram
	dropped  atomic.Int64 // Observe for an unknown sequence number
}

// NewFanout returns a tracker for up to n events.
func NewFanout(n int) *Fanout {
	return &Fanout{
		expected: make([]atomic.Int32, n),
		got:      make([]atomic.Int32, n),
		last:     make([]atomic.Int64, n),
	}
}

// Begin allocates the next sequence number for an event that should
// reach expected recipients; a negative expected means the audience is
// not known yet (see SetExpected). It returns -1 when the tracker is
// full.
func (f *Fanout) Begin(expected int) int64 {
	seq := f.next.Add(1) - 1
	if seq >= int64(len(f.expected)) {
		return -1
	}
	f.expected[seq].Store(int32(expected))
	return seq
}

// SetExpected changes how many recipients event seq should reach, for
// events whose audience is only known after they began.
func (f *Fanout) SetExpected(seq int64, expected int) {
	if seq >= 0 && seq < int64(len(f.expected)) {
		f.expected[seq].Store(int32(expected))
	}
}

// Observe records that one recipient got event seq after d.
func (f *Fanout) Observe(seq int64, d time.Duration) {
	if seq < 0 || seq >= int64(len(f.expected)) || seq >= f.next.Load() {
		f.dropped.Add(1)
		return
	}
	f.Delivery.Record(d)
	f.got[seq].Add(1)
	v := int64(d)
	for {
		m := f.last[seq].Load()
		if v <= m || f.last[seq].CompareAndSwap(m, v) {
			return
		}
	}
}

// Outstanding returns how many expected deliveries have not been
// observed yet (deliveries beyond an event's audience do not offset
// another event's missing ones).
func (f *Fanout) Outstanding() int64 {
	n := min(f.next.Load(), int64(len(f.expected)))
	var missing int64
	for i := range n {
		if d := int64(f.expected[i].Load()) - int64(f.got[i].Load()); d > 0 {
			missing += d
		}
	}
	return missing
}

// FanoutResult digests a Fanout.
type FanoutResult struct {
	// Events is how many events began.
	Events int64 `json:"events"`
	// Complete is how many events reached every expected recipient.
	Complete int64 `json:"complete"`
	// Unresolved counts events whose audience never became known (a
	// join that was never confirmed); they are left out of Expected,
	// Delivered and Complete.
	Unresolved int64 `json:"unresolved,omitempty"`
	// Expected and Delivered count recipient deliveries.
	Expected  int64 `json:"expected_deliveries"`
	Delivered int64 `json:"delivered"`
	// Unknown counts observations for sequence numbers never begun.
	Unknown int64 `json:"unknown,omitempty"`
	// Last is, per event with at least one delivery, the latency of its
	// last recipient.
	Last Summary `json:"last_recipient"`
	// Each is the latency of every delivery.
	Each Summary `json:"each_delivery"`
}

// Finish summarises the events so far.
func (f *Fanout) Finish() FanoutResult {
	n := min(f.next.Load(), int64(len(f.expected)))
	r := FanoutResult{Events: n, Unknown: f.dropped.Load(), Each: f.Delivery.Summary()}
	var last Histogram
	for i := range n {
		exp, got := int64(f.expected[i].Load()), int64(f.got[i].Load())
		if exp < 0 {
			r.Unresolved++
			continue
		}
		r.Expected += exp
		r.Delivered += got
		if got >= exp {
			r.Complete++
		}
		if got > 0 {
			last.Record(time.Duration(f.last[i].Load()))
		}
	}
	r.Last = last.Summary()
	return r
}
