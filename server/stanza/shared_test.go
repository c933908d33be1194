package stanza_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/parley-xmpp/parley/server/stanza"
)

// fresh serializes a deep copy of el, which shares no cache with anything:
// the reference a shallow copy's serialization must equal.
func fresh(el *stanza.Element, parentNS string) string {
	return string(stanza.AppendIn(nil, el.Copy(), parentNS))
}

func sharedPresence() *stanza.Element {
	return stanza.New(stanza.NSClient, "presence").Set("from", "room@muc/nick").
		Add(stanza.New("", "stats-id").AddText("Wilma & <Fred>")).
		Add(stanza.New("http://jabber.org/protocol/caps", "c").Set("ver", "a'b")).
		Add(stanza.New("http://jabber.org/protocol/muc#user", "x").
			Add(stanza.New("", "item").Set("affiliation", "none").Set("role", "participant")))
}

// TestShallowCopiesShareSerialization: every copy of a broadcast
// serializes as a fresh element would, with its own routing attributes,
// whether its children come from the cache or not.
func TestShallowCopiesShareSerialization(t *testing.T) {
	tests := []struct {
		name   string
		parent string
	}{
		{name: "c2s stream", parent: stanza.NSClient},
		{name: "component stream", parent: stanza.NSComponent},
		{name: "standalone", parent: ""},
		{name: "foreign parent", parent: "urn:other"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := sharedPresence()
			for i := range 5 {
				c := base.ShallowCopy()
				c.Set("to", fmt.Sprintf("user%d@host/res", i))
				got := string(stanza.AppendIn(nil, c, tc.parent))
				if want := fresh(c, tc.parent); got != want {
					t.Fatalf("copy %d:\n got %s\nwant %s", i, got, want)
				}
			}
			// The original still serializes as itself.
			if got, want := string(stanza.AppendIn(nil, base, tc.parent)), fresh(base, tc.parent); got != want {
				t.Fatalf("original:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestSharedSerializationNamespaces: copies whose children inherit
// different namespaces (an element without Name.Space written into two
// kinds of stream) never get each other's bytes.
func TestSharedSerializationNamespaces(t *testing.T) {
	base := stanza.New("", "message").Add(stanza.New("", "body").AddText("hi"))
	for i, parent := range []string{stanza.NSClient, "urn:a", stanza.NSClient, "urn:a", "urn:b"} {
		c := base.ShallowCopy()
		got := string(stanza.AppendIn(nil, c, parent))
		if want := fresh(c, parent); got != want {
			t.Fatalf("serialization %d in %q:\n got %s\nwant %s", i, parent, got, want)
		}
	}
}

// TestSharedSerializationAfterChanges: a copy whose children change (Add,
// AddText, RemoveChildren, Nodes replaced) is written with its own
// children, and the other copies keep theirs.
func TestSharedSerializationAfterChanges(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *stanza.Element)
	}{
		{name: "Add", change: func(c *stanza.Element) { c.Add(stanza.New("urn:x", "extra")) }},
		{name: "AddText", change: func(c *stanza.Element) { c.AddText("tail") }},
		{name: "RemoveChildren", change: func(c *stanza.Element) { c.RemoveChildren("", "stats-id") }},
		{name: "Nodes assigned", change: func(c *stanza.Element) { c.Nodes = c.Nodes[1:] }},
		{name: "Nodes replaced", change: func(c *stanza.Element) { c.Nodes = []stanza.Node{{Text: "only"}} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := sharedPresence()
			want := fresh(base, stanza.NSClient)
			// Warm the cache: two copies serialized.
			for range 2 {
				_ = stanza.AppendIn(nil, base.ShallowCopy(), stanza.NSClient)
			}
			c := base.ShallowCopy()
			tc.change(c)
			for i := range 3 {
				if got, cw := string(stanza.AppendIn(nil, c, stanza.NSClient)), fresh(c, stanza.NSClient); got != cw {
					t.Fatalf("changed copy, pass %d:\n got %s\nwant %s", i, got, cw)
				}
				// Copies of the changed copy share its new children.
				cc := c.ShallowCopy().Set("to", "x@y")
				if got, cw := string(stanza.AppendIn(nil, cc, stanza.NSClient)), fresh(cc, stanza.NSClient); got != cw {
					t.Fatalf("copy of the changed copy, pass %d:\n got %s\nwant %s", i, got, cw)
				}
			}
			if got := string(stanza.AppendIn(nil, base.ShallowCopy(), stanza.NSClient)); got != want {
				t.Fatalf("an unchanged copy:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestSharedSerializationConcurrent: copies of one element serialized on
// many goroutines (as session writers would) all come out right; run with
// -race.
func TestSharedSerializationConcurrent(t *testing.T) {
	base := sharedPresence()
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for g := range n {
		wg.Go(func() {
			for i := range 50 {
				c := base.ShallowCopy().Set("to", fmt.Sprintf("u%d-%d@host", g, i))
				if got, want := string(stanza.AppendIn(nil, c, stanza.NSClient)), fresh(c, stanza.NSClient); got != want {
					errs <- fmt.Sprintf("goroutine %d copy %d:\n got %s\nwant %s", g, i, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}
