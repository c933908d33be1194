package stanza

import "sync"

// Broadcasts (a MUC presence to every occupant, a groupchat message) are
// sent as many shallow copies of one element that differ only in their
// routing attributes. Serializing each copy from scratch was the largest
// CPU cost of a busy room, so copies made with ShallowCopy share a
// bodyCache: the serialized children, computed when the second copy is
// serialized and reused for every later one. Only the start tag (with the
// copy's own attributes) is written per copy.
//
// The cache is keyed by the identity of the shared Nodes array and its
// length, and by the namespace the children inherit. An element whose
// Nodes were replaced (Add reallocates a copy's capped slice; code may
// assign Nodes directly) no longer matches and is serialized in full.
// What the key cannot see is a shared child modified in place, which
// ShallowCopy already forbids.

// bodyCache holds the serialized children of a set of elements that share
// one Nodes array.
type bodyCache struct {
	nodes []Node // the shared array (kept alive, so its address is not reused)
	mu    sync.Mutex
	ns    string // the default namespace the children were written in
	body  []byte // nil until the second serialization
	uses  int
}

// matches reports whether c describes nodes.
func (c *bodyCache) matches(nodes []Node) bool {
	return len(c.nodes) == len(nodes) && len(nodes) > 0 && &c.nodes[0] == &nodes[0]
}

// shared returns the cache for e's current children, creating it when e
// has none or has one for other children. Safe for concurrent use on an
// element nobody is modifying.
func (e *Element) shared() *bodyCache {
	for {
		old := e.body.Load()
		if old != nil && old.matches(e.Nodes) {
			return old
		}
		c := &bodyCache{nodes: e.Nodes}
		if e.body.CompareAndSwap(old, c) {
			return c
		}
	}
}

// dropShared forgets the cache of an element whose children change.
func (e *Element) dropShared() {
	if e.body.Load() != nil {
		e.body.Store(nil)
	}
}

// appendBody appends the serialized children of e (in default namespace
// ns), from the shared cache when e has one that matches.
func appendBody(buf []byte, e *Element, ns string) []byte {
	c := e.body.Load()
	if c == nil || !c.matches(e.Nodes) {
		return appendNodes(buf, e.Nodes, ns)
	}
	c.mu.Lock()
	switch {
	case c.body != nil && c.ns == ns:
		body := c.body
		c.mu.Unlock()
		return append(buf, body...)
	case c.body != nil || c.uses == 0:
		// First use (a copy that may never be shared further), or children
		// written in another namespace than the cached ones.
		c.uses++
		c.mu.Unlock()
		return appendNodes(buf, e.Nodes, ns)
	}
	start := len(buf)
	buf = appendNodes(buf, e.Nodes, ns)
	c.body, c.ns = append([]byte(nil), buf[start:]...), ns
	c.uses++
	c.mu.Unlock()
	return buf
}

// cachedBodyLen is the length of e's cached serialized children, or 0.
func cachedBodyLen(e *Element) int {
	c := e.body.Load()
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.body)
}
