// Package stanza holds parley's XML element tree, the incremental stream
// reader that enforces RFC 6120's restricted XML and size limits, and the
// hand-written serializer used for everything parley puts on the wire.
//
// encoding/xml is used only as a tokenizer; its encoder is never used because
// it rewrites namespaces and prefixes (see docs/ARCHITECTURE.md).
package stanza

import (
	"encoding/xml"
	"strings"
	"sync/atomic"
)

// Namespaces used throughout the server.
const (
	NSClient    = "jabber:client"
	NSServer    = "jabber:server"
	NSComponent = "jabber:component:accept"
	NSStream    = "http://etherx.jabber.org/streams"
	NSStreams   = "urn:ietf:params:xml:ns:xmpp-streams"
	NSStanzas   = "urn:ietf:params:xml:ns:xmpp-stanzas"
	NSXML       = "http://www.w3.org/XML/1998/namespace"
	NSFraming   = "urn:ietf:params:xml:ns:xmpp-framing"
)

// Node is one child of an Element: either a nested element or character
// data. Exactly one of El and Text is meaningful; El wins when set.
type Node struct {
	El   *Element
	Text string
}

// Element is a parsed XML element. Name.Space is the resolved namespace URI.
// Attr never contains namespace declarations; the serializer derives them.
// An attribute in the XML namespace (xml:lang) has Name.Space == NSXML.
//
// Elements are used through pointers: an Element value must not be copied
// (use Copy or ShallowCopy).
type Element struct {
	Name  xml.Name
	Attr  []xml.Attr
	Nodes []Node

	// body is the serialized form of Nodes shared by shallow copies
	// (shared.go); nil until ShallowCopy is first called.
	body atomic.Pointer[bodyCache]
}

// New returns an element with the given namespace and local name.
func New(space, local string) *Element {
	return &Element{Name: xml.Name{Space: space, Local: local}}
}

// Get returns the value of the un-namespaced attribute local, or "".
func (e *Element) Get(local string) string {
	for _, a := range e.Attr {
		if a.Name.Local == local && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

// Has reports whether the un-namespaced attribute local is present.
func (e *Element) Has(local string) bool {
	for _, a := range e.Attr {
		if a.Name.Local == local && a.Name.Space == "" {
			return true
		}
	}
	return false
}

// Set sets (or replaces) the un-namespaced attribute local and returns e.
// An empty value removes the attribute.
func (e *Element) Set(local, value string) *Element {
	for i, a := range e.Attr {
		if a.Name.Local == local && a.Name.Space == "" {
			if value == "" {
				e.Attr = append(e.Attr[:i], e.Attr[i+1:]...)
			} else {
				e.Attr[i].Value = value
			}
			return e
		}
	}
	if value != "" {
		e.Attr = append(e.Attr, xml.Attr{Name: xml.Name{Local: local}, Value: value})
	}
	return e
}

// Lang returns the xml:lang attribute of e, or "".
func (e *Element) Lang() string {
	for _, a := range e.Attr {
		if a.Name.Local == "lang" && (a.Name.Space == NSXML || a.Name.Space == "xml") {
			return a.Value
		}
	}
	return ""
}

// Add appends child elements and returns e.
func (e *Element) Add(children ...*Element) *Element {
	e.dropShared()
	for _, c := range children {
		if c != nil {
			e.Nodes = append(e.Nodes, Node{El: c})
		}
	}
	return e
}

// AddText appends character data and returns e.
func (e *Element) AddText(text string) *Element {
	if text != "" {
		e.dropShared()
		e.Nodes = append(e.Nodes, Node{Text: text})
	}
	return e
}

// Child returns the first child element with the given name. An empty space
// matches any namespace.
func (e *Element) Child(space, local string) *Element {
	for _, n := range e.Nodes {
		if n.El != nil && n.El.Name.Local == local && (space == "" || n.El.Name.Space == space) {
			return n.El
		}
	}
	return nil
}

// ChildNS returns the first child element in namespace space, whatever its
// local name.
func (e *Element) ChildNS(space string) *Element {
	for _, n := range e.Nodes {
		if n.El != nil && n.El.Name.Space == space {
			return n.El
		}
	}
	return nil
}

// Elements returns the child elements of e, in order.
func (e *Element) Elements() []*Element {
	var out []*Element
	for _, n := range e.Nodes {
		if n.El != nil {
			out = append(out, n.El)
		}
	}
	return out
}

// FirstElement returns the first child element, or nil.
func (e *Element) FirstElement() *Element {
	for _, n := range e.Nodes {
		if n.El != nil {
			return n.El
		}
	}
	return nil
}

// RemoveChildren removes every child element with the given name (any
// namespace when space is empty). It never writes into the old Nodes array,
// so copies made with ShallowCopy keep their children.
func (e *Element) RemoveChildren(space, local string) {
	match := func(n Node) bool {
		return n.El != nil && n.El.Name.Local == local && (space == "" || n.El.Name.Space == space)
	}
	first := -1
	for i, n := range e.Nodes {
		if match(n) {
			first = i
			break
		}
	}
	if first < 0 {
		return
	}
	e.dropShared()
	out := make([]Node, first, len(e.Nodes)-1)
	copy(out, e.Nodes[:first])
	for _, n := range e.Nodes[first+1:] {
		if !match(n) {
			out = append(out, n)
		}
	}
	e.Nodes = out
}

// Text returns the concatenated character data directly inside e.
func (e *Element) Text() string {
	var b strings.Builder
	for _, n := range e.Nodes {
		if n.El == nil {
			b.WriteString(n.Text)
		}
	}
	return b.String()
}

// ChildText returns the text of the first child named local in space, or "".
func (e *Element) ChildText(space, local string) string {
	if c := e.Child(space, local); c != nil {
		return c.Text()
	}
	return ""
}

// Copy returns a deep copy of e.
func (e *Element) Copy() *Element {
	if e == nil {
		return nil
	}
	c := &Element{Name: e.Name}
	if len(e.Attr) > 0 {
		c.Attr = append([]xml.Attr(nil), e.Attr...)
	}
	if len(e.Nodes) > 0 {
		c.Nodes = make([]Node, len(e.Nodes))
		for i, n := range e.Nodes {
			c.Nodes[i] = Node{El: n.El.Copy(), Text: n.Text}
		}
	}
	return c
}

// ShallowCopy returns a copy of e that shares its children but owns its
// attribute slice, so the routing attributes can be changed safely. Add,
// AddText and RemoveChildren on the copy do not affect e (its Nodes slice is
// capped so that appends reallocate), but the shared children themselves
// must not be modified, in the copy or in e, for as long as either is
// used: e and its copies also share the serialized form of the children
// (see shared.go), so a broadcast is serialized once. ShallowCopy is safe
// to call from several goroutines on an element nobody modifies.
func (e *Element) ShallowCopy() *Element {
	c := &Element{Name: e.Name, Nodes: e.Nodes[:len(e.Nodes):len(e.Nodes)]}
	if len(e.Attr) > 0 {
		c.Attr = append([]xml.Attr(nil), e.Attr...)
	}
	if len(e.Nodes) > 0 {
		c.body.Store(e.shared())
	}
	return c
}

// IsStanza reports whether e is a message, presence or iq in one of the
// stanza namespaces.
func (e *Element) IsStanza() bool {
	switch e.Name.Space {
	case NSClient, NSServer, NSComponent:
	default:
		return false
	}
	switch e.Name.Local {
	case "message", "presence", "iq":
		return true
	}
	return false
}

// String serializes e, for logs and tests.
func (e *Element) String() string {
	return string(Append(nil, e))
}
