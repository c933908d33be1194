// Package hook provides typed, ordered event chains with Prosody's
// semantics: handlers run from the highest priority to the lowest, handlers
// of equal priority run in registration order, and any handler can stop the
// event by returning an error.
package hook

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ErrStop stops an event quietly: the handler has dealt with it (for example
// it already replied), so the caller must do nothing more.
var ErrStop = errors.New("hook: event handled")

// Handler handles one event. Returning nil passes the event on to the next
// handler; returning an error stops the chain and is returned by Fire.
type Handler[E any] func(ctx context.Context, ev *E) error

type entry[E any] struct {
	id       uint64
	priority int
	owner    string
	fn       Handler[E]
}

// Chain is an ordered list of handlers for one event type. The zero value
// is not usable; use NewChain. Fire takes no lock, so a handler may add or
// remove handlers, which affect the next Fire.
type Chain[E any] struct {
	name    string
	mu      sync.Mutex // serializes writers
	nextID  uint64
	entries atomic.Pointer[[]entry[E]]
	// observe, when set, is told how long each Fire with handlers took.
	observe atomic.Pointer[func(name string, d time.Duration)]
}

// NewChain returns an empty chain named after its Prosody event.
func NewChain[E any](name string) *Chain[E] {
	c := &Chain[E]{name: name}
	c.entries.Store(new([]entry[E]))
	return c
}

// Name returns the Prosody event name of the chain.
func (c *Chain[E]) Name() string { return c.name }

// On registers h at priority prio on behalf of owner (a module name, for
// listings) and returns a function that removes it again.
func (c *Chain[E]) On(prio int, owner string, h Handler[E]) (off func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	id := c.nextID
	old := *c.entries.Load()
	next := make([]entry[E], 0, len(old)+1)
	next = append(next, old...)
	next = append(next, entry[E]{id: id, priority: prio, owner: owner, fn: h})
	slices.SortStableFunc(next, func(a, b entry[E]) int { return b.priority - a.priority })
	c.entries.Store(&next)
	return func() { c.remove(id) }
}

func (c *Chain[E]) remove(id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.entries.Load()
	next := make([]entry[E], 0, len(old))
	for _, e := range old {
		if e.id != id {
			next = append(next, e)
		}
	}
	c.entries.Store(&next)
}

// Fire runs the handlers in order until one returns an error, which Fire
// returns. A nil result means every handler let the event pass.
func (c *Chain[E]) Fire(ctx context.Context, ev *E) error {
	entries := *c.entries.Load()
	if len(entries) == 0 {
		return nil
	}
	if obs := c.observe.Load(); obs != nil {
		start := time.Now()
		defer func() { (*obs)(c.name, time.Since(start)) }()
	}
	for _, e := range entries {
		if err := e.fn(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}

// Observe makes every later Fire that has handlers report its duration
// to f (for a hook-latency histogram); nil stops it.
func (c *Chain[E]) Observe(f func(name string, d time.Duration)) {
	if f == nil {
		c.observe.Store(nil)
		return
	}
	c.observe.Store(&f)
}

// Len returns the number of registered handlers.
func (c *Chain[E]) Len() int { return len(*c.entries.Load()) }

// Registration describes one registered handler, for debug listings.
type Registration struct {
	Priority int
	Owner    string
}

// Handlers lists the registered handlers in the order they run.
func (c *Chain[E]) Handlers() []Registration {
	es := *c.entries.Load()
	out := make([]Registration, len(es))
	for i, e := range es {
		out[i] = Registration{Priority: e.priority, Owner: e.owner}
	}
	return out
}
