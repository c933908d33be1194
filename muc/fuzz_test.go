package muc

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/stanza"
)

var fuzzLimits = stanza.Limits{MaxStanza: 1 << 16}

// FuzzParseForm checks that any parsable form renders and parses back to
// the same fields.
func FuzzParseForm(f *testing.F) {
	f.Add(`<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field><field var='muc#roomconfig_roomname'><value>Room</value></field></x>`)
	f.Add(`<x xmlns='jabber:x:data' type='form'><title>t</title><field type='list-single' var='w' label='L'><desc>d</desc><option label='a'><value>1</value></option><value>1</value><required/></field></x>`)
	f.Add(`<x xmlns='jabber:x:data' type='cancel'/>`)
	f.Add(`<x xmlns='jabber:x:data' type='result'><field var='a'><value/><value>&lt;&amp;</value></field><field type='fixed'><value>label</value></field></x>`)
	f.Fuzz(func(t *testing.T, doc string) {
		el, err := stanza.Parse([]byte(doc), fuzzLimits)
		if err != nil {
			return
		}
		form, err := ParseForm(el)
		if err != nil {
			return
		}
		again, err := ParseForm(form.Element())
		if err != nil {
			t.Fatalf("rendered form does not parse: %v", err)
		}
		if form.Type == "cancel" {
			return
		}
		if len(again.Fields) != len(form.Fields) {
			t.Fatalf("%d fields became %d", len(form.Fields), len(again.Fields))
		}
		for i, fl := range form.Fields {
			g := again.Fields[i]
			if g.Var != fl.Var || !slices.Equal(normText(g.Values), normText(fl.Values)) {
				t.Fatalf("field %d: %+v became %+v", i, fl, g)
			}
		}
		sub := NewSubmission(form, form)
		for _, v := range sub.Fields() {
			_, _ = sub.Int(v)
			_ = sub.Bool(v)
		}
	})
}

// normText maps values as the serializer does (it writes "\r" as a
// character reference, so they survive; nothing else changes).
func normText(v []string) []string {
	out := make([]string, len(v))
	for i, s := range v {
		out[i] = strings.ReplaceAll(s, "\r\n", "\n")
	}
	return out
}

// FuzzIQID checks that routing ids decode to what was encoded, and that
// decoding any string does not panic.
func FuzzIQID(f *testing.F) {
	f.Add("alice@example.com/res", "id-1", []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add("a@b", "", []byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, target, id string, hash []byte) {
		_, _, _, _ = decodeIQID(target)
		if target == "" || strings.IndexByte(target, 0) >= 0 || strings.IndexByte(id, 0) >= 0 || len(hash) == 0 {
			return
		}
		gt, gid, gh, ok := decodeIQID(encodeIQID(target, id, hash))
		if !ok || gt != target || gid != id || !bytes.Equal(gh, hash) {
			t.Fatalf("round trip of (%q, %q, %x) gave (%q, %q, %x, %v)", target, id, hash, gt, gid, gh, ok)
		}
	})
}

// FuzzHistoryRequest checks the <history/> parser on any join.
func FuzzHistoryRequest(f *testing.F) {
	f.Add(`<presence xmlns='jabber:client'><x xmlns='http://jabber.org/protocol/muc'><history maxchars='65000' maxstanzas='20' seconds='180' since='1970-01-01T00:00:00Z'/></x></presence>`)
	f.Add(`<presence xmlns='jabber:client'><x xmlns='http://jabber.org/protocol/muc'><history seconds='-5' maxstanzas='x'/></x></presence>`)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, doc string) {
		el, err := stanza.Parse([]byte(doc), fuzzLimits)
		if err != nil {
			return
		}
		h := ParseHistoryRequest(el, now)
		if h.MaxStanzas != nil && el.Child(NS, "x") == nil {
			t.Fatal("history read outside the MUC <x/>")
		}
	})
}
