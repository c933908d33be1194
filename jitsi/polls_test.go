package jitsi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/server/stanza"
)

// Tests of the polls MUC module (JITSI.md §2 P1 "Polls", mod_polls as the
// Debian config loads it next to muc_meeting_id).

func pollsGC(room, id, text string) string {
	return `<message xmlns='jabber:client' type='groupchat' id='` + id + `' to='` + room + `'><json-message xmlns='` +
		jitsi.NSJitMeet + `'>` + text + `</json-message></message>`
}

// pollsSeen reports whether c received the groupchat message with id that
// from sent (from's barrier makes sure the server handled it first).
func pollsSeen(from, c *jcClient, id string) bool {
	from.barrier()
	c.barrier()
	for _, el := range c.log {
		if el.Name.Local == "message" && el.Get("type") == "groupchat" && el.Get("id") == id {
			return true
		}
	}
	return false
}

// pollsStart runs the conference MUC with muc_meeting_id and polls, with
// jicofo (the creator, so a moderator), alice and bob in room.
func pollsStart(t *testing.T, node string) (room string, focus, alice, bob *jcClient, srv func(string) *jcClient) {
	t.Helper()
	s := jcStart(t, `"muc_meeting_id", "polls"`)
	room = node + "@" + jcConf
	mk := func(user string) *jcClient { return jcUser(t, s, user, node) }
	focus = mk(jcFocus)
	focus.join(room)
	alice, bob = mk("alice"), mk("bob")
	alice.join(room)
	bob.join(room)
	return room, focus, alice, bob, mk
}

// TestPollsFlow: old-polls carries the sender and voters the server saw
// (occupant nick and presence name; SECURITY-CASES 142, JSA-2022-0004).
func TestPollsFlow(t *testing.T) {
	room, _, alice, bob, mk := pollsStart(t, "p1")
	alice.sendRaw(pollsGC(room, "n1", `{"type":"new-poll","pollId":"q1","question":"Lunch?","answers":["Pizza","Soup"]}`))
	if !pollsSeen(alice, bob, "n1") {
		t.Fatal("the new poll was not broadcast")
	}
	bob.sendRaw(pollsGC(room, "a1", `{"type":"answer-poll","pollId":"q1","answers":[true,false]}`))
	alice.sendRaw(pollsGC(room, "a2", `{"type":"answer-poll","pollId":"q1","answers":[true,true]}`))
	alice.sendRaw(pollsGC(room, "a3", `{"type":"answer-poll","pollId":"q1","answers":[false,true]}`))
	if !pollsSeen(alice, bob, "a3") {
		t.Fatal("answers were not broadcast")
	}

	carol := mk("carol")
	carol.join(room)
	old := carol.expectJSON(room, func(m map[string]any) bool { return m["type"] == "old-polls" })
	want := `{"polls":[{"answers":[{"name":"Pizza","voters":{"bob":"Bob"}},{"name":"Soup","voters":{"alice":"Alice"}}],` +
		`"id":"q1","question":"Lunch?","senderId":"alice","senderName":"Alice"}],"type":"old-polls"}`
	if got := jcJSON(t, old); got != want {
		t.Fatalf("old-polls\n got %s\nwant %s", got, want)
	}
}

// TestPollsRefused covers what mod_polls (and muc_meeting_id before it)
// drops or refuses; dropped messages never reach the other occupants.
func TestPollsRefused(t *testing.T) {
	room, focus, alice, bob, _ := pollsStart(t, "p2")
	alice.sendRaw(pollsGC(room, "n1", `{"type":"new-poll","pollId":"q1","question":"Q","answers":["A"]}`))
	if !pollsSeen(alice, bob, "n1") {
		t.Fatal("the first poll was not broadcast")
	}
	big := `{"type":"new-poll","pollId":"big","question":"` + strings.Repeat("x", jitsi.PollPayloadLimit) + `","answers":["A"]}`
	tests := []struct {
		name      string
		text      string
		delivered bool
		errText   string // expected error reply text ("" for none)
	}{
		{"duplicate poll id", `{"type":"new-poll","pollId":"q1","question":"Q","answers":["A"]}`, false, "Poll already exists"},
		{"invalid JSON", `{"type":"new-poll",`, false, ""},
		{"payload too large", big, false, ""},
		{"answers not a list", `{"type":"new-poll","pollId":"q2","question":"Q","answers":"A"}`, false, ""},
		{"no poll id", `{"type":"new-poll","question":"Q","answers":["A"]}`, false, ""},
		{"too many votes", `{"type":"answer-poll","pollId":"q1","answers":[true,true]}`, false, ""},
		{"answer to unknown poll", `{"type":"answer-poll","pollId":"zz","answers":[true]}`, true, ""},
		{"other endpoint message", `{"type":"e2e-ping","id":1}`, true, ""},
		{"interim transcript", `{"transcript":[{"text":"hi"}],"is_interim":true}`, true, ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jcBind(t, alice, bob)
			id := fmt.Sprintf("m%d", i)
			alice.sendRaw(pollsGC(room, id, tc.text))
			if got := pollsSeen(alice, bob, id); got != tc.delivered {
				t.Fatalf("delivered = %v, want %v", got, tc.delivered)
			}
			if tc.errText != "" {
				e := alice.expect("error reply", func(e *stanza.Element) bool { return e.Get("id") == id && e.Get("type") == "error" })
				if errCond(e) != "not-allowed" || e.Child("", "error").ChildText(stanza.NSStanzas, "text") != tc.errText {
					t.Fatalf("error reply %s", e)
				}
			}
		})
	}

	// With metadata permissions.pollCreationRestricted only users whose
	// token grants create-polls may create polls.
	focus.sendRaw(rmetaCmd(room, `{"key":"permissions","data":{"pollCreationRestricted":true}}`))
	alice.expectJSON(jcMeta, rmetaIsMetadata)
	alice.sendRaw(pollsGC(room, "r1", `{"type":"new-poll","pollId":"q9","question":"Q","answers":["A"]}`))
	e := alice.expect("error reply", func(e *stanza.Element) bool { return e.Get("id") == "r1" && e.Get("type") == "error" })
	if e.Child("", "error").ChildText(stanza.NSStanzas, "text") != "Creation of polls not allowed for user" {
		t.Fatalf("restricted creation reply %s", e)
	}
	if pollsSeen(alice, bob, "r1") {
		t.Fatal("a refused poll was broadcast")
	}
}

// TestPollsLimit: a room keeps at most PollsLimit polls; more are dropped.
func TestPollsLimit(t *testing.T) {
	room, _, alice, bob, _ := pollsStart(t, "p3")
	for i := range jitsi.PollsLimit + 1 {
		alice.sendRaw(pollsGC(room, fmt.Sprintf("l%d", i), fmt.Sprintf(`{"type":"new-poll","pollId":"q%d","question":"Q","answers":["A"]}`, i)))
	}
	if !pollsSeen(alice, bob, fmt.Sprintf("l%d", jitsi.PollsLimit-1)) {
		t.Fatal("the last allowed poll was not broadcast")
	}
	if pollsSeen(alice, bob, fmt.Sprintf("l%d", jitsi.PollsLimit)) {
		t.Fatal("a poll over the limit was broadcast")
	}
}
