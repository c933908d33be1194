package jwt_test

import (
	"context"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/auth/jwt"
)

const (
	base = "meet.example.com"
	muc  = "conference.meet.example.com"
)

// tok builds the claims VerifyRoom sees for a session (as Verify returns them).
func tok(room, sub string) *jwt.Claims { return &jwt.Claims{Room: room, Subject: sub} }

func regexTok(room, sub string) *jwt.Claims {
	c := tok(room, sub)
	c.Context = &jwt.Context{RoomRegex: true}
	return c
}

func TestVerifyRoom(t *testing.T) {
	off := func(c *jwt.Config) { c.DisableDomainVerification = true }
	on := func(c *jwt.Config) { c.MUCDomainBase = base }
	onNoBase := func(c *jwt.Config) {}
	with := func(mods ...func(*jwt.Config)) func(*jwt.Config) {
		return func(c *jwt.Config) {
			for _, m := range mods {
				m(c)
			}
		}
	}
	optionalRoom := func(c *jwt.Config) { c.AllowMissingRoomClaim = true }
	emptyOK := func(c *jwt.Config) { c.AllowEmptyToken = true }

	tests := []struct {
		name   string
		cfg    func(*jwt.Config)
		claims *jwt.Claims
		node   string
		domain string
		reason jwt.Reason // "" = allowed
	}{
		// Domain verification off (docker-jitsi-meet default).
		{name: "off: no token", cfg: off, claims: nil, node: "room1", domain: muc},
		{name: "off: token without room claim", cfg: off, claims: tok("", ""), node: "room1", domain: muc},
		{name: "off: #96 same room", cfg: off, claims: tok("room1", ""), node: "room1", domain: muc},
		{name: "off: #96 other room", cfg: off, claims: tok("room1", ""), node: "room2", domain: muc, reason: jwt.ReasonRoomMismatch},
		{name: "off: #97 wildcard", cfg: off, claims: tok("*", ""), node: "anything", domain: "x"},
		{name: "off: #98 claim case", cfg: off, claims: tok("MyRoom", ""), node: "myroom", domain: muc},
		{name: "off: #101 tenant ignored", cfg: off, claims: tok("room1", "tenantb"), node: "[tenanta]room1", domain: muc},
		{name: "off: tenant room, other name", cfg: off, claims: tok("room1", ""), node: "[tenanta]room2", domain: muc, reason: jwt.ReasonRoomMismatch},
		{name: "off: legacy [tenant]room claim", cfg: off, claims: tok("[TenantX]RoomName", ""), node: "[tenantx]roomname", domain: muc},
		{name: "off: name must not merely end with ]claim", cfg: off, claims: tok("abc", ""), node: "x]abc", domain: muc, reason: jwt.ReasonRoomMismatch},
		{name: "off: #99 Cyrillic claim vs percent-encoded node", cfg: off, claims: tok("Тест", ""), node: "%d1%82%d0%b5%d1%81%d1%82", domain: muc},
		{name: "off: #99 percent-encoded upper-case claim", cfg: off, claims: tok("%D0%A2%D0%B5%D1%81%D1%82", ""), node: "%d1%82%d0%b5%d1%81%d1%82", domain: muc},
		{name: "off: #99 different Cyrillic room", cfg: off, claims: tok("Тост", ""), node: "%d1%82%d0%b5%d1%81%d1%82", domain: muc, reason: jwt.ReasonRoomMismatch},
		{name: "off: patterns are compared literally", cfg: off, claims: regexTok("room%d+", ""), node: "room12", domain: muc, reason: jwt.ReasonRoomMismatch},
		{name: "off: empty room node", cfg: off, claims: tok("*", ""), node: "", domain: muc, reason: jwt.ReasonRoomAddress},

		// Domain verification on (plugin default).
		{name: "on: no token refused (guests)", cfg: on, claims: nil, node: "room1", domain: muc, reason: jwt.ReasonRoomNameMismatch},
		{name: "on: no token, room claim optional", cfg: with(on, optionalRoom), claims: nil, node: "room1", domain: muc},
		{name: "on: no token, empty tokens allowed", cfg: with(on, emptyOK), claims: nil, node: "room1", domain: muc},
		{name: "on: token without room, room claim optional", cfg: with(on, optionalRoom), claims: tok("", "whatever"), node: "room1", domain: muc},
		{name: "on: token without room, room required", cfg: on, claims: tok("", base), node: "room1", domain: muc, reason: jwt.ReasonRoomNameMismatch},
		{name: "on: sub is the base domain", cfg: on, claims: tok("room1", base), node: "room1", domain: muc},
		{name: "on: sub upper-case", cfg: on, claims: tok("Room1", "MEET.example.com"), node: "room1", domain: muc},
		{name: "on: sub works without muc_mapper_domain_base", cfg: onNoBase, claims: tok("room1", base), node: "room1", domain: muc},
		{name: "on: sub other domain", cfg: on, claims: tok("room1", "evil.com"), node: "room1", domain: muc, reason: jwt.ReasonRoomMismatch},
		{name: "on: #96 other room", cfg: on, claims: tok("room1", base), node: "room2", domain: muc, reason: jwt.ReasonRoomMismatch},
		{name: "on: sub * main MUC", cfg: on, claims: tok("room1", "*"), node: "room1", domain: muc},
		{name: "on: sub * other MUC", cfg: on, claims: tok("room1", "*"), node: "room1", domain: "conference.other.org", reason: jwt.ReasonRoomMismatch},
		{name: "on: sub * without base", cfg: onNoBase, claims: tok("room1", "*"), node: "room1", domain: muc, reason: jwt.ReasonServerConfig},
		{name: "on: #97 room * any room", cfg: on, claims: tok("*", base), node: "whatever", domain: muc},
		{name: "on: §4.7 no sub is a clean refusal", cfg: on, claims: tok("room1", ""), node: "room1", domain: muc, reason: jwt.ReasonSubjectMissing},
		{name: "on: §4.7 no sub, wildcard room", cfg: on, claims: tok("*", ""), node: "[t]room1", domain: muc, reason: jwt.ReasonSubjectMissing},
		{name: "on: tenant matches sub", cfg: on, claims: tok("room1", "tenanta"), node: "[tenanta]room1", domain: muc},
		{name: "on: tenant matches upper-case sub", cfg: on, claims: tok("ROOM1", "TenantA"), node: "[tenanta]room1", domain: muc},
		{name: "on: #100 other tenant", cfg: on, claims: tok("room1", "tenantb"), node: "[tenanta]room1", domain: muc, reason: jwt.ReasonRoomMismatch},
		{name: "on: #100 sub * any tenant", cfg: on, claims: tok("room1", "*"), node: "[tenanta]room1", domain: muc},
		{name: "on: tenant room, wildcard room and sub", cfg: on, claims: tok("*", "*"), node: "[tenanta]x", domain: muc},
		{name: "on: tenant room, base domain as sub", cfg: on, claims: tok("room1", base), node: "[tenanta]room1", domain: muc, reason: jwt.ReasonRoomMismatch},
		{name: "on: tenant room on another MUC", cfg: on, claims: tok("room1", "tenanta"), node: "[tenanta]room1", domain: "conference.other.org", reason: jwt.ReasonRoomMismatch},
		{name: "on: #102 tenant room without muc_mapper_domain_base", cfg: onNoBase, claims: tok("room1", "tenanta"), node: "[tenanta]room1", domain: muc, reason: jwt.ReasonServerConfig},
		{name: "on: #103 virtual address, right tenant", cfg: on, claims: tok("room1", "tenanta"), node: "room1", domain: "conference.tenanta." + base},
		{name: "on: #103 virtual address, other tenant", cfg: on, claims: tok("room1", "tenantb"), node: "room1", domain: "conference.tenanta." + base, reason: jwt.ReasonRoomMismatch},
		{name: "on: #103 virtual address, sub *", cfg: on, claims: tok("room1", "*"), node: "room1", domain: "conference.tenanta." + base},
		{name: "on: #103 multi-label virtual tenant is not mapped", cfg: on, claims: tok("room1", "a.b"), node: "room1", domain: "conference.a.b." + base, reason: jwt.ReasonRoomMismatch},
		{name: "on: #99 Cyrillic", cfg: on, claims: tok("ТЕСТ", "Тенант"), node: "[%d1%82%d0%b5%d0%bd%d0%b0%d0%bd%d1%82]%d1%82%d0%b5%d1%81%d1%82", domain: muc},
		{name: "on: malformed tenant node is a plain room", cfg: on, claims: tok("[]x", base), node: "[]x", domain: muc},

		// #104 room patterns (Lua patterns, context.room.regex).
		{name: "#104 pattern matches", cfg: on, claims: regexTok("room%d+", base), node: "room12", domain: muc},
		{name: "#104 pattern matches tenant room name", cfg: on, claims: regexTok("team%-[a-z]+", "tenanta"), node: "[tenanta]team-blue", domain: muc},
		{name: "#104 pattern must cover the whole name", cfg: on, claims: regexTok("room%d", base), node: "room12", domain: muc, reason: jwt.ReasonRoomNameMismatch},
		{name: "#104 pattern anchored at start", cfg: on, claims: regexTok("room", base), node: "myroom", domain: muc, reason: jwt.ReasonRoomNameMismatch},
		{name: "#104 pattern does not match", cfg: on, claims: regexTok("room%d+", base), node: "roomx", domain: muc, reason: jwt.ReasonRoomNameMismatch},
		{name: "#104 non-match refused even with optional room claim", cfg: with(on, optionalRoom), claims: regexTok("room%d+", base), node: "roomx", domain: muc, reason: jwt.ReasonRoomNameMismatch},
		{name: "#104 pattern is not lower-cased (%D)", cfg: on, claims: regexTok("room%D", base), node: "roomx", domain: muc},
		{name: "#104 %D still excludes digits", cfg: on, claims: regexTok("room%D", base), node: "room1", domain: muc, reason: jwt.ReasonRoomNameMismatch},
		{name: "#104 class quantifiers counted once", cfg: on, claims: regexTok("[a-z0-9%-]+%-%d+", base), node: "a-b-12", domain: muc},
		{name: "#104 four quantifiers", cfg: on, claims: regexTok("a*b*c*d*", base), node: "abcd", domain: muc, reason: jwt.ReasonInvalidPattern},
		{name: "#104 quantifier limit raised", cfg: with(on, func(c *jwt.Config) { c.RoomPatternMaxQuantifiers = 4 }), claims: regexTok("a*b*c*d*", base), node: "abcd", domain: muc},
		{name: "#104 room name over 128", cfg: on, claims: regexTok(".*", base), node: strings.Repeat("a", 129), domain: muc, reason: jwt.ReasonInvalidPattern},
		{name: "#104 room name of 128", cfg: on, claims: regexTok(".*", base), node: strings.Repeat("a", 128), domain: muc},
		{name: "#104 bad pattern", cfg: on, claims: regexTok("room(", base), node: "room", domain: muc, reason: jwt.ReasonInvalidPattern},
		{name: "#104 bad pattern: trailing %", cfg: on, claims: regexTok("room%", base), node: "room", domain: muc, reason: jwt.ReasonInvalidPattern},
		{name: "#104 patterns disabled", cfg: with(on, func(c *jwt.Config) { c.DisableRoomPatterns = true }), claims: regexTok("room%d+", base), node: "room1", domain: muc, reason: jwt.ReasonInvalidPattern},
		{name: "#104 pattern still needs the right sub", cfg: on, claims: regexTok("room%d+", "evil.com"), node: "room1", domain: muc, reason: jwt.ReasonRoomMismatch},
		{name: "#104 wildcard wins over regex flag", cfg: on, claims: regexTok("*", base), node: "x", domain: muc},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := hsVerifier(t, tc.cfg)
			err := v.VerifyRoom(tc.claims, tc.node, tc.domain)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("VerifyRoom = %v, want allowed", err)
				}
				return
			}
			wantErr(t, err, tc.reason, "Room and token mismatched")
		})
	}
}

// TestVerifyRoomFromToken runs Verify then VerifyRoom, as the server will.
func TestVerifyRoomFromToken(t *testing.T) {
	v, _ := hsVerifier(t, func(c *jwt.Config) { c.MUCDomainBase = base })
	c, err := v.Verify(context.Background(), mintHS(t, claims(map[string]any{
		"room": "Team-%d+", "sub": "TenantA",
		"context": map[string]any{"room": map[string]any{"regex": "true"}},
	})))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.VerifyRoom(c, "[tenanta]Team-42", muc); err == nil {
		t.Error("pattern with upper-case literal matched a lower-case node")
	}
	c.Room = "team%-%d+"
	if err := v.VerifyRoom(c, "[tenanta]team-42", muc); err != nil {
		t.Errorf("VerifyRoom = %v", err)
	}
	if err := v.VerifyRoom(c, "[tenantb]team-42", muc); err == nil {
		t.Error("other tenant accepted")
	}
}
