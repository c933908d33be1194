package jitsi_test

import (
	"testing"

	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/server/stanza"
)

// Tests of filesharing_component (JITSI.md §3 filesharing_component, P2).

func fsMsg(id, attrs, text string) string {
	return `<message xmlns='jabber:client' id='` + id + `' to='` + jcFiles + `'><file-sharing xmlns='` + jitsi.NSJitMeet + `' ` +
		attrs + `>` + text + `</file-sharing></message>`
}

func TestFileSharingFlow(t *testing.T) {
	srv := jcStart(t, "")
	room := "fs1@" + jcConf
	alice := jcUser(t, srv, "alice", "fs1") // creator: owner, may upload without token features
	bob := jcUser(t, srv, "bob", "fs1")
	alice.join(room)
	bob.join(room)
	focus := jcUser(t, srv, jcFocus, "fs1")
	focus.join(room)

	// The author fields are the server's, whatever the client claims
	// (as SECURITY-CASES JSA-2022-0004 asks for polls).
	alice.sendRaw(fsMsg("f1", `type='add'`, `{"fileId":"file-1","fileName":"a.pdf","authorParticipantName":"Mallory"}`))
	got := bob.expectJSON(jcFiles, nil)
	want := `{"event":"add","file":{"authorParticipantId":"alice","authorParticipantJid":"` + alice.JID +
		`","authorParticipantName":"Alice","conferenceFullName":"` + room + `","fileId":"file-1","fileName":"a.pdf"},"type":"file-sharing"}`
	if jcJSON(t, got) != want {
		t.Fatalf("add\n got %s\nwant %s", jcJSON(t, got), want)
	}
	alice.expectNone(jcFiles) // not echoed to the sender
	focus.expectNone(jcFiles) // nor to jicofo

	carol := jcUser(t, srv, "carol", "fs1")
	carol.join(room)
	list := carol.expectJSON(jcFiles, nil)
	if list["event"] != "list" || jcJSON(t, list["files"].(map[string]any)["file-1"].(map[string]any)["fileName"]) != `"a.pdf"` {
		t.Fatalf("list %v", list)
	}

	alice.sendRaw(fsMsg("f2", `type='remove' fileId='file-1'`, ``))
	if rm := bob.expectJSON(jcFiles, nil); jcJSON(t, rm) != `{"event":"remove","fileId":"file-1","type":"file-sharing"}` {
		t.Fatalf("remove %v", rm)
	}
	dan := jcUser(t, srv, "dan", "fs1")
	dan.join(room)
	dan.expectNone(jcFiles) // nothing left to list
}

func TestFileSharingRefused(t *testing.T) {
	srv := jcStart(t, "")
	room := "fs2@" + jcConf
	alice := jcUser(t, srv, "alice", "fs2")
	bob := jcUser(t, srv, "bob", "fs2")
	alice.join(room)
	bob.join(room)

	// A participant without token features may not share: auth/forbidden.
	bob.sendRaw(fsMsg("x1", `type='add'`, `{"fileId":"f"}`))
	e := bob.expect("error reply", func(e *stanza.Element) bool { return e.Get("id") == "x1" })
	if errCond(e) != "forbidden" || e.Get("from") != jcFiles {
		t.Fatalf("reply %s", e)
	}
	tests := []struct {
		name, attrs, text string
	}{
		{"malformed JSON", `type='add'`, `{"fileId":`},
		{"no fileId", `type='add'`, `{"fileName":"x"}`},
		{"null fileId", `type='add'`, `{"fileId":null}`},
		{"not an object", `type='add'`, `["f"]`},
		{"remove without fileId", `type='remove'`, ``},
		{"unknown type", `type='rename'`, `{"fileId":"f"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jcBind(t, alice, bob)
			alice.sendRaw(fsMsg("y", tc.attrs, tc.text))
			alice.barrier()
			bob.expectNone(jcFiles)
		})
	}
}
