package jitsi

import (
	"testing"

	"github.com/parley-xmpp/parley/server/stanza"
)

// SECURITY-CASES 150: which messages count towards muc_limit_messages_count
// (as Jitsi's on_message decides).
func TestLimitMessagesCounts(t *testing.T) {
	msg := func(typ string, children ...*stanza.Element) *stanza.Element {
		m := stanza.New(stanza.NSClient, "message")
		if typ != "" {
			m.Set("type", typ)
		}
		return m.Add(children...)
	}
	body := func() *stanza.Element { return stanza.New(stanza.NSClient, "body").AddText("hi") }
	jsonMsg := func(s string) *stanza.Element { return stanza.New(NSJitMeet, "json-message").AddText(s) }
	tests := []struct {
		name string
		el   *stanza.Element
		want bool
	}{
		{name: "groupchat with body", el: msg("groupchat", body()), want: true},
		{name: "private chat with body", el: msg("chat", body()), want: true},
		{name: "normal message with body", el: msg("", body()), want: true},
		{name: "poll answer", el: msg("groupchat", jsonMsg(`{"type":"answer-poll"}`)), want: false},
		{name: "other json-message in groupchat", el: msg("groupchat", jsonMsg(`{"type":"new-poll"}`)), want: true},
		{name: "empty groupchat", el: msg("groupchat"), want: true},
		{name: "chat state to an occupant", el: msg("chat", stanza.New("http://jabber.org/protocol/chatstates", "active")), want: false},
		{name: "lobby invite without body", el: msg("", stanza.New("http://jabber.org/protocol/muc#user", "x")), want: false},
		{name: "error bounce with body", el: msg("error", body()), want: false},
		{name: "presence", el: stanza.New(stanza.NSClient, "presence"), want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := lmCounts(tc.el); got != tc.want {
				t.Fatalf("lmCounts(%s) = %v, want %v", tc.el, got, tc.want)
			}
		})
	}
}

func BenchmarkLimitMessagesCounts(b *testing.B) {
	m := stanza.New(stanza.NSClient, "message").Set("type", "groupchat").
		Add(stanza.New(NSJitMeet, "json-message").AddText(`{"type":"answer-poll","pollId":"abc","answers":[true,false]}`))
	b.ReportAllocs()
	for b.Loop() {
		if lmCounts(m) {
			b.Fatal("a poll answer counted")
		}
	}
}
