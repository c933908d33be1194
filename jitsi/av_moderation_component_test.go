package jitsi_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server/stanza"
)

// Tests of av_moderation_component (JITSI.md §2 P1 "AV moderation").

func avmCmd(attrs string) string {
	return `<message xmlns='jabber:client' to='` + jcAVM + `'><av_moderation ` + attrs + `/></message>`
}

func avmIs(media string, enabled bool) func(map[string]any) bool {
	return func(m map[string]any) bool {
		return m["type"] == "av_moderation" && m["mediaType"] == media && m["enabled"] == enabled
	}
}

func avmWhitelist(m map[string]any, media string) []string {
	wl, _ := m["whitelists"].(map[string]any)
	var out []string
	list, _ := wl[media].([]any)
	for _, v := range list {
		out = append(out, fmt.Sprint(v))
	}
	return out
}

func avmHasWhitelists(m map[string]any) bool { _, ok := m["whitelists"]; return ok }

// TestAVModerationFlow walks the Lua module's message flow: enable,
// whitelist, blacklist, disable, joiner state and owner grants.
func TestAVModerationFlow(t *testing.T) {
	srv := jcStart(t, "")
	room := "r1@" + jcConf
	alice := jcUser(t, srv, "alice", "r1")
	bob := jcUser(t, srv, "bob", "r1")
	alice.join(room)
	bob.join(room)
	aliceOcc, bobOcc := room+"/alice", room+"/bob"

	alice.sendRaw(avmCmd(`enable='true' mediaType='audio'`))
	for _, c := range []*jcClient{alice, bob} {
		got := c.expectJSON(jcAVM, avmIs("audio", true))
		if got["actor"] != aliceOcc || got["room"] != room {
			t.Fatalf("%s: enable notification %v", c.nick, got)
		}
	}
	wl := alice.expectJSON(jcAVM, avmHasWhitelists)
	if got := avmWhitelist(wl, "audio"); !slices.Equal(got, []string{aliceOcc}) || wl["mediaType"] != "audio" {
		t.Fatalf("whitelists after enable: %v", wl)
	}
	bob.expectNone(jcAVM) // the participant gets no whitelist

	// Approve bob: moderators get the lists, bob the approval.
	alice.sendRaw(avmCmd(`mediaType='audio' jidToWhitelist='` + bobOcc + `'`))
	wl = alice.expectJSON(jcAVM, avmHasWhitelists)
	if got := avmWhitelist(wl, "audio"); !slices.Equal(got, []string{aliceOcc, bobOcc}) {
		t.Fatalf("whitelist after approval: %v", wl)
	}
	ok := bob.expectJSON(jcAVM, nil)
	if ok["approved"] != true || ok["mediaType"] != "audio" || avmHasWhitelists(ok) {
		t.Fatalf("approval to bob: %v", ok)
	}

	// A joiner learns that audio is moderated and gets no whitelist.
	carol := jcUser(t, srv, "carol", "r1")
	carol.join(room)
	got := carol.expectJSON(jcAVM, avmIs("audio", true))
	if got["actor"] != aliceOcc {
		t.Fatalf("joiner state: %v", got)
	}
	carol.expectNone(jcAVM)

	// Remove bob again.
	alice.sendRaw(avmCmd(`mediaType='audio' jidToBlacklist='` + bobOcc + `'`))
	wl = alice.expectJSON(jcAVM, avmHasWhitelists)
	if got := avmWhitelist(wl, "audio"); !slices.Equal(got, []string{aliceOcc}) || wl["removed"] != true {
		t.Fatalf("whitelist after removal: %v", wl)
	}
	rm := bob.expectJSON(jcAVM, nil)
	if rm["removed"] != true || rm["approved"] != nil {
		t.Fatalf("removal to bob: %v", rm)
	}

	// Owner grant with moderation on: bob is added and every moderator
	// (bob included now) gets the lists.
	alice.sendRaw(`<iq xmlns='jabber:client' type='set' id='own' to='` + room + `'><query xmlns='` + muc.NSAdmin + `'><item affiliation='owner' jid='bob@` + jcDomain + `'/></query></iq>`)
	alice.expect("owner grant result", func(e *stanza.Element) bool { return e.Get("id") == "own" && e.Get("type") == "result" })
	wl = bob.expectJSON(jcAVM, avmHasWhitelists)
	if got := avmWhitelist(wl, "audio"); !slices.Equal(got, []string{aliceOcc, bobOcc}) {
		t.Fatalf("whitelist after owner grant: %v", wl)
	}

	// Disable: everyone is told.
	alice.sendRaw(avmCmd(`enable='false' mediaType='audio'`))
	for _, c := range []*jcClient{alice, bob, carol} {
		c.expectJSON(jcAVM, avmIs("audio", false))
	}

	// With moderation off, "whitelisting" only asks the occupant to unmute.
	alice.sendRaw(avmCmd(`mediaType='video' jidToWhitelist='` + room + `/carol'`))
	ask := carol.expectJSON(jcAVM, nil)
	if ask["approved"] != true || ask["from"] != aliceOcc || ask["mediaType"] != "video" {
		t.Fatalf("unmute request: %v", ask)
	}
}

// TestAVModerationRefused covers the requests the Lua module ignores:
// from a participant, with a bad or missing mediaType, for an unknown
// occupant, without a session room, from a non-occupant.
func TestAVModerationRefused(t *testing.T) {
	srv := jcStart(t, "")
	room := "r2@" + jcConf
	alice := jcUser(t, srv, "alice", "r2")
	bob := jcUser(t, srv, "bob", "r2")
	alice.join(room)
	bob.join(room)
	stranger := jcUser(t, srv, "dave", "r2") // not in the room
	noRoom := jcUser(t, srv, "erin", "")     // session without ?room=
	noRoom.join(room)

	tests := []struct {
		name string
		from *jcClient
		cmd  string
	}{
		{"participant enables", bob, `enable='true' mediaType='audio'`},
		{"participant approves", bob, `mediaType='audio' jidToWhitelist='` + room + `/bob'`},
		{"bad mediaType", alice, `enable='true' mediaType='screen'`},
		{"missing mediaType", alice, `enable='true'`},
		{"unknown occupant", alice, `mediaType='audio' jidToWhitelist='` + room + `/nobody'`},
		{"malformed occupant JID", alice, `mediaType='audio' jidToWhitelist='@@/'`},
		{"non-occupant", stranger, `enable='true' mediaType='audio'`},
		{"no session room", noRoom, `enable='true' mediaType='audio'`},
		{"wrong namespace", alice, `xmlns='urn:example' enable='true' mediaType='audio'`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jcBind(t, tc.from, alice, bob)
			tc.from.sendRaw(avmCmd(tc.cmd))
			tc.from.barrier()
			alice.expectNone(jcAVM)
			bob.expectNone(jcAVM)
		})
	}
	// Disabling what was never enabled is ignored too.
	alice.sendRaw(avmCmd(`enable='false' mediaType='video'`))
	bob.expectNone(jcAVM)
}
