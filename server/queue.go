package server

import "sync"

// outQueue is a session's bounded outbound queue. Any goroutine may push;
// only the transport's writer pops. A push that would exceed the bound fails,
// and the caller closes the session as a slow consumer: nothing is dropped
// silently.
type outQueue struct {
	mu       sync.Mutex
	frames   [][]byte
	bytes    int
	maxCount int
	maxBytes int
	closed   bool
	final    []byte // written after the queue drains, then the writer ends
	discard  bool   // drop pending frames before writing final
	signal   chan struct{}
}

func newOutQueue(maxCount, maxBytes int) *outQueue {
	return &outQueue{maxCount: maxCount, maxBytes: maxBytes, signal: make(chan struct{}, 1)}
}

// push queues a frame. It reports false when the queue is closed or full.
func (q *outQueue) push(frame []byte) (ok, full bool) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false, false
	}
	if len(q.frames) >= q.maxCount || q.bytes+len(frame) > q.maxBytes {
		q.mu.Unlock()
		return false, true
	}
	q.frames = append(q.frames, frame)
	q.bytes += len(frame)
	q.mu.Unlock()
	q.wake()
	return true, false
}

func (q *outQueue) wake() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// close stops further pushes. final is written after the pending frames
// (or instead of them when discard is set). Only the first close counts.
func (q *outQueue) close(final []byte, discard bool) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.closed = true
	q.final = final
	q.discard = discard
	if discard {
		q.frames = nil
		q.bytes = 0
	}
	q.mu.Unlock()
	q.wake()
	return true
}

// take moves every pending frame into dst. done reports that the queue is
// closed; final is then the last thing to write.
func (q *outQueue) take(dst [][]byte) (frames [][]byte, final []byte, done bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	frames = append(dst[:0], q.frames...)
	clear(q.frames)
	q.frames = q.frames[:0]
	q.bytes = 0
	if q.closed {
		final, q.final = q.final, nil
		return frames, final, true
	}
	return frames, nil, false
}

// isClosed reports whether close was called.
func (q *outQueue) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// discarded reports whether the queue was closed with discard (the peer
// stopped reading).
func (q *outQueue) discarded() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed && q.discard
}
