package jitsi_test

import (
	"testing"

	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

func permStart(t *testing.T, extra string) *servertest.Server {
	t.Helper()
	return servertest.Start(t, `
allow_unencrypted_plain_auth = true
muc_mapper_domain_base = "meet.example.com"
admins = { "focus@auth.meet.example.com" }
VirtualHost "meet.example.com"
    authentication = "anonymous"
VirtualHost "auth.meet.example.com"
    authentication = "internal_plain"
Component "conference.meet.example.com" "muc"
    modules_enabled = { "jitsi_permissions", "muc_domain_mapper" }
    muc_room_locking = false
    muc_room_default_public_jids = true
`+extra, servertest.WithServerOptions(server.WithComponentType("muc", muc.Factory(jitsi.MUCModules()...))))
}

// permsOf returns name -> val of a presence's <permissions/>, nil without.
func permsOf(p *stanza.Element) map[string]string {
	perms := p.Child(jitsi.NSJitMeet, "permissions")
	if perms == nil {
		return nil
	}
	out := map[string]string{}
	for _, c := range perms.Elements() {
		out[c.Get("name")] = c.Get("val")
	}
	return out
}

// TestJitsiPermissions covers JITSI.md §2 P1 "Permissions": a participant
// made moderator by jicofo's owner grant gets <permissions/> with the
// defaults on its self-presence (status 110); other participants and
// other presences get none; tenant rooms work through the domain mapper.
func TestJitsiPermissions(t *testing.T) {
	for _, tc := range []struct{ name, room string }{
		{"plain room", "room@conference.meet.example.com"},
		{"tenant room", "room@conference.acme.meet.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := permStart(t, "")
			focus := dfLogin(t, s, "auth.meet.example.com", "focus", "secret")
			alice := dfLogin(t, s, "meet.example.com", "", "")
			bob := dfLogin(t, s, "meet.example.com", "", "")
			if p := focus.join(tc.room, "focus"); permsOf(p) != nil {
				t.Fatalf("the focus got permissions: %s", p)
			}
			if p := alice.join(tc.room, "alice"); permsOf(p) != nil {
				t.Fatalf("a participant got permissions on join: %s", p)
			}
			bob.join(tc.room, "bob")

			bare := alice.jid[:len(alice.jid)-len(resourceOf(alice.jid))-1]
			res := focus.request("set", tc.room, stanza.New(muc.NSAdmin, "query").Add(
				stanza.New(muc.NSAdmin, "item").Set("jid", bare).Set("affiliation", "owner")))
			if res.Get("type") != "result" {
				t.Fatalf("owner grant: %s", res)
			}
			self := alice.next(func(e *stanza.Element) bool {
				return e.Name.Local == "presence" && e.Get("from") == tc.room+"/alice" && hasStatus(e, "110") && dfItem(e).Get("role") == "moderator"
			})
			got := permsOf(self)
			for _, k := range []string{"livestreaming", "recording", "transcription", "outbound-call", "create-polls",
				"send-groupchat", "send-private-message", "flip", "live-translation", "live-translation-subscribe"} {
				if got[k] != "true" {
					t.Fatalf("permission %s = %q in %s", k, got[k], self)
				}
			}
			// Bob sees alice become moderator, without permissions.
			seen := bob.next(func(e *stanza.Element) bool {
				return e.Name.Local == "presence" && e.Get("from") == tc.room+"/alice" && dfItem(e).Get("role") == "moderator"
			})
			if permsOf(seen) != nil {
				t.Fatalf("permissions leaked to another occupant: %s", seen)
			}
			// A later presence update of alice carries no permissions.
			alice.send(stanza.New(stanza.NSClient, "presence").Set("to", tc.room+"/alice").Add(stanza.New(stanza.NSClient, "status").AddText("away")))
			upd := alice.next(func(e *stanza.Element) bool {
				return e.Name.Local == "presence" && e.Get("from") == tc.room+"/alice" && e.ChildText("", "status") == "away"
			})
			if permsOf(upd) != nil {
				t.Fatalf("permissions sent again without a grant: %s", upd)
			}
		})
	}
}

// TestJitsiPermissionsConfigured: jitsi_default_permissions replaces the
// defaults.
func TestJitsiPermissionsConfigured(t *testing.T) {
	s := permStart(t, `    jitsi_default_permissions = { recording = false, ["send-groupchat"] = true, limit = 3 }
`)
	room := "cfg@conference.meet.example.com"
	focus := dfLogin(t, s, "auth.meet.example.com", "focus", "secret")
	alice := dfLogin(t, s, "meet.example.com", "", "")
	focus.join(room, "focus")
	alice.join(room, "alice")
	bare := alice.jid[:len(alice.jid)-len(resourceOf(alice.jid))-1]
	focus.request("set", room, stanza.New(muc.NSAdmin, "query").Add(
		stanza.New(muc.NSAdmin, "item").Set("jid", bare).Set("affiliation", "owner")))
	self := alice.next(func(e *stanza.Element) bool {
		return e.Name.Local == "presence" && hasStatus(e, "110") && dfItem(e).Get("role") == "moderator"
	})
	got := permsOf(self)
	if len(got) != 3 || got["recording"] != "false" || got["send-groupchat"] != "true" || got["limit"] != "3" {
		t.Fatalf("permissions %v in %s", got, self)
	}
}

func resourceOf(full string) string {
	for i := 0; i < len(full); i++ {
		if full[i] == '/' {
			return full[i+1:]
		}
	}
	return ""
}
