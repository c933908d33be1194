package jitsi_test

import (
	"testing"

	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/server/stanza"
)

// Tests of polls_component (JITSI.md §2 P1 "Polls", the newer polls.D
// component of the Docker config).

func pcMsg(attrs, text string) string {
	return `<message xmlns='jabber:client' to='` + jcPolls + `'` + attrs + `><json-message xmlns='` + jitsi.NSJitMeet + `'>` +
		text + `</json-message></message>`
}

// TestPollsComponentFlow: sender and voter identities come from the
// occupant, never from the payload (SECURITY-CASES 142, JSA-2022-0004).
func TestPollsComponentFlow(t *testing.T) {
	srv := jcStart(t, "")
	room := "pc1@" + jcConf
	alice := jcUser(t, srv, "alice", "pc1")
	bob := jcUser(t, srv, "bob", "pc1")
	alice.join(room)
	bob.join(room)

	// senderId comes from the occupant; other client fields pass through.
	alice.sendRaw(pcMsg(``, `{"type":"polls","command":"new-poll","pollId":"q1","question":"Q?","answers":[{"name":"A"},{"name":"B"}],"x":1}`))
	for _, c := range []*jcClient{alice, bob} {
		got := c.expectJSON(jcPolls, nil)
		want := `{"answers":[{"name":"A"},{"name":"B"}],"command":"new-poll","pollId":"q1","question":"Q?","senderId":"alice","type":"polls","x":1}`
		if jcJSON(t, got) != want {
			t.Fatalf("%s: new-poll\n got %s\nwant %s", c.nick, jcJSON(t, got), want)
		}
	}
	bob.sendRaw(pcMsg(``, `{"type":"polls","command":"answer-poll","pollId":"q1","answers":[false,true],"senderName":"Mallory"}`))
	got := alice.expectJSON(jcPolls, nil)
	if jcJSON(t, got) != `{"answers":[false,true],"command":"answer-poll","pollId":"q1","senderId":"bob","senderName":"Bob","type":"polls"}` {
		t.Fatalf("answer-poll %s", jcJSON(t, got))
	}
	bob.expectJSON(jcPolls, nil) // bob's own answer comes back to him too

	carol := jcUser(t, srv, "carol", "pc1")
	carol.join(room)
	old := carol.expectJSON(jcPolls, func(m map[string]any) bool { return m["command"] == "old-polls" })
	want := `{"command":"old-polls","polls":[{"answers":[{"name":"A"},{"name":"B","voters":[{"id":"bob","name":"Bob"}]}],` +
		`"pollId":"q1","question":"Q?","senderId":"alice","senderName":"Alice"}],"type":"polls"}`
	if jcJSON(t, old) != want {
		t.Fatalf("old-polls\n got %s\nwant %s", jcJSON(t, old), want)
	}

	// A second poll with the same id is refused with an error.
	alice.sendRaw(pcMsg(` id='dup'`, `{"type":"polls","command":"new-poll","pollId":"q1","question":"Q?","answers":[{"name":"A"}]}`))
	e := alice.expect("error reply", func(e *stanza.Element) bool { return e.Get("id") == "dup" })
	if errCond(e) != "not-allowed" || e.Get("from") != jcPolls {
		t.Fatalf("duplicate poll reply %s", e)
	}
	bob.expectNone(jcPolls)
}

// TestPollsComponentRefused: malformed or misdirected messages reach no one.
func TestPollsComponentRefused(t *testing.T) {
	srv := jcStart(t, "")
	room := "pc2@" + jcConf
	alice := jcUser(t, srv, "alice", "pc2")
	bob := jcUser(t, srv, "bob", "pc2")
	alice.join(room)
	bob.join(room)
	alice.sendRaw(pcMsg(``, `{"type":"polls","command":"new-poll","pollId":"q1","question":"Q","answers":[{"name":"A"}]}`))
	bob.expectJSON(jcPolls, nil)
	alice.expectJSON(jcPolls, nil)
	dave := jcUser(t, srv, "dave", "pc2")
	long := make([]byte, jitsi.PollPayloadLimit)
	for i := range long {
		long[i] = 'x'
	}
	tests := []struct {
		name string
		from *jcClient
		xml  string
	}{
		{"invalid JSON", alice, pcMsg(``, `{"type":"polls",`)},
		{"too large", alice, pcMsg(``, `{"type":"polls","command":"new-poll","pollId":"q2","question":"`+string(long)+`","answers":[{"name":"A"}]}`)},
		{"wrong type", alice, pcMsg(``, `{"type":"poll","command":"new-poll","pollId":"q2","question":"Q","answers":[{"name":"A"}]}`)},
		{"numeric poll id", alice, pcMsg(``, `{"type":"polls","command":"new-poll","pollId":2,"question":"Q","answers":[{"name":"A"}]}`)},
		{"no answers", alice, pcMsg(``, `{"type":"polls","command":"new-poll","pollId":"q2","question":"Q","answers":[]}`)},
		{"answer without name", alice, pcMsg(``, `{"type":"polls","command":"new-poll","pollId":"q2","question":"Q","answers":["A"]}`)},
		{"question not a string", alice, pcMsg(``, `{"type":"polls","command":"new-poll","pollId":"q2","question":1,"answers":[{"name":"A"}]}`)},
		{"vote not a boolean", alice, pcMsg(``, `{"type":"polls","command":"answer-poll","pollId":"q1","answers":[1]}`)},
		{"too many votes", alice, pcMsg(``, `{"type":"polls","command":"answer-poll","pollId":"q1","answers":[true,true]}`)},
		{"unknown poll", alice, pcMsg(``, `{"type":"polls","command":"answer-poll","pollId":"zz","answers":[true]}`)},
		{"unknown command", alice, pcMsg(``, `{"type":"polls","command":"close-poll","pollId":"q1","answers":[true]}`)},
		{"groupchat type", alice, pcMsg(` type='groupchat'`, `{"type":"polls","command":"new-poll","pollId":"q3","question":"Q","answers":[{"name":"A"}]}`)},
		{"with a body", alice, `<message xmlns='jabber:client' to='` + jcPolls + `'><body>hi</body><json-message xmlns='` + jitsi.NSJitMeet + `'>{"type":"polls","command":"new-poll","pollId":"q3","question":"Q","answers":[{"name":"A"}]}</json-message></message>`},
		{"non-occupant", dave, pcMsg(``, `{"type":"polls","command":"new-poll","pollId":"q3","question":"Q","answers":[{"name":"A"}]}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jcBind(t, tc.from, alice, bob)
			tc.from.sendRaw(tc.xml)
			tc.from.barrier()
			alice.expectNone(jcPolls)
			bob.expectNone(jcPolls)
		})
	}
}
