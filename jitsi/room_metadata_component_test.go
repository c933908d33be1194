package jitsi_test

import (
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server/stanza"
)

// Tests of room_metadata_component (JITSI.md §2 P1 "Room metadata").

func rmetaCmd(room, text string) string {
	return `<message xmlns='jabber:client' to='` + jcMeta + `'><room_metadata xmlns='` + jitsi.NSJitMeet +
		`' room='` + room + `'>` + text + `</room_metadata></message>`
}

func rmetaIsMetadata(m map[string]any) bool { return m["type"] == "room_metadata" }

// rmetaInitial checks that the first metadata message reached c before
// its self-presence in room and returns its payload.
func rmetaInitial(t *testing.T, c *jcClient, room string) map[string]any {
	t.Helper()
	meta, self := -1, -1
	var payload map[string]any
	for i, el := range c.log {
		switch {
		case meta < 0 && el.Name.Local == "message" && el.Get("from") == jcMeta &&
			el.Child(jitsi.NSJitMeet, "json-message").Get("room") == room:
			meta = i
			p, _ := jitsi.JSONPayload(el)
			payload = jcDecode(t, p)
		case self < 0 && el.Name.Local == "presence" && hasStatus(el, "110") && strings.HasPrefix(el.Get("from"), room+"/"):
			self = i
		}
	}
	if meta < 0 || self < 0 || meta > self {
		t.Fatalf("%s: metadata at %d, self-presence at %d; want metadata first", c.nick, meta, self)
	}
	return payload
}

func TestRoomMetadataUpdates(t *testing.T) {
	srv := jcStart(t, "")
	room := "r3@" + jcConf
	alice := jcUser(t, srv, "alice", "r3")
	bob := jcUser(t, srv, "bob", "r3")
	alice.join(room)
	bob.join(room)
	for _, c := range []*jcClient{alice, bob} {
		if got := rmetaInitial(t, c, room); jcJSON(t, got) != `{"metadata":{},"type":"room_metadata"}` {
			t.Fatalf("%s: initial metadata %v", c.nick, got)
		}
	}

	upd := `{"key":"recording","data":{"isTranscribingEnabled":true}}`
	alice.sendRaw(rmetaCmd(room, upd))
	for _, c := range []*jcClient{alice, bob} {
		got := c.expectJSON(jcMeta, rmetaIsMetadata)
		if jcJSON(t, got["metadata"]) != `{"recording":{"isTranscribingEnabled":true}}` {
			t.Fatalf("%s: metadata %v", c.nick, got)
		}
	}
	// The same value again changes nothing.
	alice.sendRaw(rmetaCmd(room, upd))
	alice.barrier()
	bob.expectNone(jcMeta)

	// jicofo (an admin) gets the moderators list besides the metadata.
	focus := jcUser(t, srv, jcFocus, "r3")
	focus.join(room)
	if got := rmetaInitial(t, focus, room); jcJSON(t, got["metadata"]) != `{"moderators":[],"recording":{"isTranscribingEnabled":true}}` {
		t.Fatalf("jicofo's metadata %v", got)
	}

	// An old client's <startmuted/> from a moderator becomes startMuted.
	alice.sendRaw(`<presence xmlns='jabber:client' to='` + room + `/alice'><startmuted xmlns='` + jitsi.NSStartMuted + `' audio='true' video='false'/></presence>`)
	got := bob.expectJSON(jcMeta, rmetaIsMetadata)
	if jcJSON(t, got["metadata"].(map[string]any)["startMuted"]) != `{"audio":true,"video":false}` {
		t.Fatalf("startMuted from presence: %v", got)
	}
	// ... and a participant's is ignored.
	bob.sendRaw(`<presence xmlns='jabber:client' to='` + room + `/bob'><startmuted xmlns='` + jitsi.NSStartMuted + `' audio='false' video='true'/></presence>`)
	bob.barrier()
	alice.barrier()
	if got := alice.jsonFrom(jcMeta); len(got) != 1 { // only alice's own startmuted change
		t.Fatalf("alice got %d metadata messages: %v", len(got), got)
	}
	bob.expectNone(jcMeta)
}

// TestRoomMetadataRefused: participants, non-occupants, malformed JSON and
// unknown rooms change nothing.
func TestRoomMetadataRefused(t *testing.T) {
	srv := jcStart(t, "")
	room := "r4@" + jcConf
	alice := jcUser(t, srv, "alice", "r4")
	bob := jcUser(t, srv, "bob", "r4")
	alice.join(room)
	bob.join(room)
	dave := jcUser(t, srv, "dave", "r4")
	noRoom := jcUser(t, srv, "erin", "")
	noRoom.join(room)
	tests := []struct {
		name string
		from *jcClient
		xml  string
	}{
		{"participant", bob, rmetaCmd(room, `{"key":"k","data":1}`)},
		{"non-occupant", dave, rmetaCmd(room, `{"key":"k","data":1}`)},
		{"no session room", noRoom, rmetaCmd(room, `{"key":"k","data":1}`)},
		{"malformed JSON", alice, rmetaCmd(room, `{"key":`)},
		{"not an object", alice, rmetaCmd(room, `[1,2]`)},
		{"missing data", alice, rmetaCmd(room, `{"key":"k"}`)},
		{"null data", alice, rmetaCmd(room, `{"key":"k","data":null}`)},
		{"key not a string", alice, rmetaCmd(room, `{"key":5,"data":1}`)},
		{"empty", alice, rmetaCmd(room, ``)},
		{"unknown room", alice, rmetaCmd("nope@"+jcConf, `{"key":"k","data":1}`)},
		{"room of no MUC", alice, rmetaCmd("r4@"+jcDomain, `{"key":"k","data":1}`)},
		{"bad room JID", alice, rmetaCmd("@@", `{"key":"k","data":1}`)},
		{"error type", alice, `<message xmlns='jabber:client' type='error' to='` + jcMeta + `'><room_metadata xmlns='` + jitsi.NSJitMeet + `' room='` + room + `'>{"key":"k","data":1}</room_metadata></message>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jcBind(t, tc.from, alice, bob)
			tc.from.sendRaw(tc.xml)
			tc.from.barrier()
			alice.expectNone(jcMeta)
			bob.expectNone(jcMeta)
		})
	}
	// An IQ to the component is answered, not dropped.
	alice.sendRaw(`<iq xmlns='jabber:client' type='get' id='q1' to='` + jcMeta + `'><query xmlns='` + muc.NSDiscoInfo + `'/></iq>`)
	r := alice.expect("iq reply", func(e *stanza.Element) bool { return e.Get("id") == "q1" })
	if errCond(r) != "service-unavailable" {
		t.Fatalf("iq reply %s", r)
	}
}

// TestRoomMetadataBreakoutAndAVModeration: rooms of the breakout MUC have
// metadata too, and enabling A/V moderation sets startMuted for joiners.
func TestRoomMetadataBreakoutAndAVModeration(t *testing.T) {
	srv := jcStart(t, "")
	bo := "sub@" + jcBO
	alice := jcUser(t, srv, "alice", "r5")
	alice.join(bo)
	rmetaInitial(t, alice, bo)
	alice.sendRaw(rmetaCmd(bo, `{"key":"topic","data":"hello"}`))
	if got := alice.expectJSON(jcMeta, rmetaIsMetadata); jcJSON(t, got["metadata"]) != `{"topic":"hello"}` {
		t.Fatalf("breakout metadata %v", got)
	}
	// A scalar value can be replaced (the Lua table_equals cannot).
	alice.sendRaw(rmetaCmd(bo, `{"key":"topic","data":"bye"}`))
	if got := alice.expectJSON(jcMeta, rmetaIsMetadata); jcJSON(t, got["metadata"]) != `{"topic":"bye"}` {
		t.Fatalf("breakout metadata %v", got)
	}

	room := "r5@" + jcConf
	alice.join(room)
	alice.sendRaw(avmCmd(`enable='true' mediaType='video'`))
	alice.expectJSON(jcAVM, avmIs("video", true))
	carol := jcUser(t, srv, "carol", "r5")
	carol.join(room)
	got := rmetaInitial(t, carol, room)
	if jcJSON(t, got["metadata"]) != `{"startMuted":{"video":true}}` {
		t.Fatalf("metadata after enabling video moderation: %v", got)
	}
	alice.sendRaw(avmCmd(`enable='false' mediaType='video'`))
	carol.expectJSON(jcAVM, avmIs("video", false))
	dan := jcUser(t, srv, "dan", "r5")
	dan.join(room)
	if got := rmetaInitial(t, dan, room); jcJSON(t, got["metadata"]) != `{"startMuted":{}}` {
		t.Fatalf("metadata after disabling video moderation: %v", got)
	}
}
