package stanza_test

import (
	"encoding/xml"
	"slices"
	"testing"

	"github.com/parley-xmpp/parley/server/stanza"
)

func sample() *stanza.Element {
	return stanza.New(stanza.NSClient, "presence").Set("to", "r@c/n").Set("type", "unavailable").
		Add(stanza.New("http://jabber.org/protocol/muc#user", "x").
			Add(stanza.New("", "item").Set("role", "none"), stanza.New("", "status").Set("code", "110"))).
		AddText("t1").
		Add(stanza.New("http://jitsi.org/identity", "identity")).
		AddText("t2").
		Add(stanza.New("urn:other", "x"))
}

func TestAttributes(t *testing.T) {
	e := &stanza.Element{Attr: []xml.Attr{
		nsAttr("urn:x", "to", "namespaced"), attr("to", "a@b"), attr("empty", ""), nsAttr(stanza.NSXML, "lang", "en"),
	}}
	tests := []struct {
		name  string
		local string
		get   string
		has   bool
	}{
		{name: "plain attribute behind a namespaced one", local: "to", get: "a@b", has: true},
		{name: "present but empty", local: "empty", get: "", has: true},
		{name: "absent", local: "from", get: "", has: false},
		{name: "xml:lang is not un-namespaced", local: "lang", get: "", has: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := e.Get(tc.local); got != tc.get {
				t.Errorf("Get(%q) = %q, want %q", tc.local, got, tc.get)
			}
			if got := e.Has(tc.local); got != tc.has {
				t.Errorf("Has(%q) = %v, want %v", tc.local, got, tc.has)
			}
		})
	}
	if got := e.Lang(); got != "en" {
		t.Fatalf("Lang = %q", got)
	}
	if got := (&stanza.Element{Attr: []xml.Attr{nsAttr("xml", "lang", "de")}}).Lang(); got != "de" {
		t.Fatalf("Lang with the xml prefix = %q", got)
	}
}

func TestSet(t *testing.T) {
	tests := []struct {
		name  string
		start []xml.Attr
		local string
		value string
		want  []xml.Attr
	}{
		{name: "add", local: "to", value: "a", want: []xml.Attr{attr("to", "a")}},
		{name: "replace in place", start: []xml.Attr{attr("id", "1"), attr("to", "a")}, local: "to", value: "b",
			want: []xml.Attr{attr("id", "1"), attr("to", "b")}},
		{name: "empty removes", start: []xml.Attr{attr("to", "a"), attr("id", "1")}, local: "to", value: "",
			want: []xml.Attr{attr("id", "1")}},
		{name: "empty on absent is a no-op", start: []xml.Attr{attr("id", "1")}, local: "to", value: "",
			want: []xml.Attr{attr("id", "1")}},
		{name: "namespaced attribute is left alone", start: []xml.Attr{nsAttr("urn:x", "to", "n")}, local: "to", value: "p",
			want: []xml.Attr{nsAttr("urn:x", "to", "n"), attr("to", "p")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &stanza.Element{Attr: slices.Clone(tc.start)}
			if got := e.Set(tc.local, tc.value); got != e {
				t.Fatal("Set does not return its receiver")
			}
			if !slices.Equal(e.Attr, tc.want) {
				t.Fatalf("Attr = %v, want %v", e.Attr, tc.want)
			}
		})
	}
}

func TestChildren(t *testing.T) {
	e := sample()
	tests := []struct {
		name         string
		space, local string
		wantNS       string // namespace of the child found, "" for none
	}{
		{name: "by namespace and name", space: "urn:other", local: "x", wantNS: "urn:other"},
		{name: "any namespace takes the first", space: "", local: "x", wantNS: "http://jabber.org/protocol/muc#user"},
		{name: "absent", space: "urn:none", local: "x"},
		{name: "text is not a child", space: "", local: "t1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := e.Child(tc.space, tc.local)
			if tc.wantNS == "" {
				if got != nil {
					t.Fatalf("Child = %s, want nil", got)
				}
				return
			}
			if got == nil || got.Name != (xml.Name{Space: tc.wantNS, Local: tc.local}) {
				t.Fatalf("Child = %v, want {%s}%s", got, tc.wantNS, tc.local)
			}
		})
	}
	if c := e.ChildNS("http://jitsi.org/identity"); c == nil || c.Name.Local != "identity" {
		t.Fatalf("ChildNS = %v", c)
	}
	if c := e.ChildNS("urn:none"); c != nil {
		t.Fatalf("ChildNS(absent) = %v", c)
	}
	names := []string{}
	for _, c := range e.Elements() {
		names = append(names, c.Name.Local)
	}
	if !slices.Equal(names, []string{"x", "identity", "x"}) {
		t.Fatalf("Elements = %v", names)
	}
	if f := e.FirstElement(); f == nil || f.Name.Space != "http://jabber.org/protocol/muc#user" {
		t.Fatalf("FirstElement = %v", f)
	}
	if f := stanza.New("", "a").AddText("only text").FirstElement(); f != nil {
		t.Fatalf("FirstElement of a text-only element = %v", f)
	}
	if got := e.Text(); got != "t1t2" {
		t.Fatalf("Text = %q", got)
	}
	x := e.Child("http://jabber.org/protocol/muc#user", "x")
	x.Add(stanza.New("", "reason").AddText("bye"))
	if got := x.ChildText("", "reason"); got != "bye" {
		t.Fatalf("ChildText = %q", got)
	}
	if got := x.ChildText("", "absent"); got != "" {
		t.Fatalf("ChildText(absent) = %q", got)
	}
}

func TestAddSkipsEmpty(t *testing.T) {
	e := stanza.New("", "a").Add(nil).AddText("").Add(nil, stanza.New("", "b"), nil)
	if len(e.Nodes) != 1 || e.Nodes[0].El.Name.Local != "b" {
		t.Fatalf("Nodes = %v", e.Nodes)
	}
}

func TestRemoveChildren(t *testing.T) {
	tests := []struct {
		name         string
		space, local string
		want         string
	}{
		{name: "SECURITY-CASES #28 strip the client's identity", space: "http://jitsi.org/identity", local: "identity",
			want: "<presence xmlns='jabber:client' to='r@c/n' type='unavailable'><x xmlns='http://jabber.org/protocol/muc#user'>" +
				"<item role='none'/><status code='110'/></x>t1t2<x xmlns='urn:other'/></presence>"},
		{name: "any namespace", space: "", local: "x",
			want: "<presence xmlns='jabber:client' to='r@c/n' type='unavailable'>t1<identity xmlns='http://jitsi.org/identity'/>t2</presence>"},
		{name: "namespace must match", space: "urn:none", local: "x",
			want: sample().String()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := sample()
			e.RemoveChildren(tc.space, tc.local)
			if got := e.String(); got != tc.want {
				t.Fatalf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestCopy(t *testing.T) {
	orig := sample()
	want := orig.String()
	c := orig.Copy()
	if d := diff(orig, c); d != "" {
		t.Fatalf("copy differs: %s", d)
	}
	c.Set("to", "other").Add(stanza.New("", "new"))
	c.FirstElement().Set("k", "v").AddText("x")
	c.FirstElement().FirstElement().Set("role", "moderator")
	c.RemoveChildren("", "identity")
	if got := orig.String(); got != want {
		t.Fatalf("original changed through a deep copy:\n%s", got)
	}
	if (*stanza.Element)(nil).Copy() != nil {
		t.Fatal("nil.Copy() != nil")
	}
}

// TestShallowCopyIsolation checks the routing pattern: shallow copies per
// recipient with their own attributes, children added or stripped, and the
// broadcast original unchanged (SECURITY-CASES #28).
func TestShallowCopyIsolation(t *testing.T) {
	orig := sample()
	orig.Nodes = slices.Grow(orig.Nodes, 8) // spare capacity invites aliasing
	want := orig.String()

	a := orig.ShallowCopy()
	b := orig.ShallowCopy()
	a.Set("to", "a@x").Add(stanza.New("urn:a", "only-a"))
	b.Set("to", "b@x").Add(stanza.New("urn:b", "only-b"))
	a.RemoveChildren("http://jitsi.org/identity", "identity")
	b.Set("type", "")

	if got := orig.String(); got != want {
		t.Fatalf("original changed:\n got %s\nwant %s", got, want)
	}
	if a.Child("urn:b", "only-b") != nil || b.Child("urn:a", "only-a") != nil {
		t.Fatalf("copies see each other's children:\n%s\n%s", a, b)
	}
	if a.Child("urn:a", "only-a") == nil || b.Child("urn:b", "only-b") == nil {
		t.Fatal("added child missing")
	}
	if a.ChildNS("http://jitsi.org/identity") != nil || b.ChildNS("http://jitsi.org/identity") == nil {
		t.Fatal("RemoveChildren on one copy affected the other")
	}
	if a.Get("to") != "a@x" || b.Get("to") != "b@x" || orig.Get("to") != "r@c/n" || b.Has("type") || !orig.Has("type") {
		t.Fatalf("attributes leaked: %v %v %v", orig.Attr, a.Attr, b.Attr)
	}
	// Children are shared by design.
	if a.FirstElement() != orig.FirstElement() {
		t.Fatal("ShallowCopy copied children")
	}
}

func TestIsStanza(t *testing.T) {
	tests := []struct {
		name string
		el   *stanza.Element
		want bool
	}{
		{name: "client message", el: stanza.New(stanza.NSClient, "message"), want: true},
		{name: "server presence", el: stanza.New(stanza.NSServer, "presence"), want: true},
		{name: "component iq", el: stanza.New(stanza.NSComponent, "iq"), want: true},
		{name: "other local name", el: stanza.New(stanza.NSClient, "enable"), want: false},
		{name: "no namespace", el: stanza.New("", "message"), want: false},
		{name: "other namespace", el: stanza.New("urn:xmpp:sm:3", "iq"), want: false},
		{name: "stream namespace", el: stanza.New(stanza.NSStream, "message"), want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.el.IsStanza(); got != tc.want {
				t.Fatalf("IsStanza = %v, want %v", got, tc.want)
			}
		})
	}
}
