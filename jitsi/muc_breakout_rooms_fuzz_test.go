package jitsi

import (
	"testing"

	"mellium.im/xmpp/jid"
)

// FuzzBreakoutRoomFromSession feeds the session parameters clients control
// (room, prefix) and breakout room JIDs from commands to the module's
// parsers: a main room JID, when one comes out, is a valid bare JID on the
// main MUC.
func FuzzBreakoutRoomFromSession(f *testing.F) {
	f.Add("meeting", "", "x@breakout.example.com")
	f.Add("meeting", "acme", "00000000-0000-0000-0000-000000000000@breakout.example.com/r")
	f.Add("a@b", "[x]", "@@")
	f.Add("Room%20Name", "example.com", "")
	b := &boInstance{mainDomain: "conference.example.com", mapper: TenantMapper{Base: "example.com"}}
	f.Fuzz(func(t *testing.T, room, prefix, cmdJID string) {
		j, ok := b.roomJIDFromSession(map[string]string{ParamRoom: room, ParamPrefix: prefix})
		if ok {
			pj, err := jid.Parse(j)
			if err != nil || pj.Domainpart() != b.mainDomain || pj.Resourcepart() != "" || pj.Localpart() == "" {
				t.Fatalf("room %q prefix %q gave %q (%v)", room, prefix, j, err)
			}
		} else if room != "" && prefix == "" {
			if _, err := jid.New(room, b.mainDomain, ""); err == nil {
				t.Fatalf("valid room %q refused", room)
			}
		}
		if n := normRoom(cmdJID); n != "" {
			if pj, err := jid.Parse(n); err != nil || pj.Resourcepart() != "" {
				t.Fatalf("normRoom(%q) = %q", cmdJID, n)
			}
		}
	})
}
