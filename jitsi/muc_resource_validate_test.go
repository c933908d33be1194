package jitsi_test

import (
	"strconv"
	"testing"

	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server/stanza"
)

// rvError returns type, condition and text of a stanza error, and whether
// the error has a by attribute.
func rvError(e *stanza.Element) (typ, cond, text string, by bool) {
	er := e.Child("", "error")
	if er == nil {
		return "", "", "", false
	}
	return er.Get("type"), errCond(e), er.ChildText(stanza.NSStanzas, "text"), er.Has("by")
}

// TestMUCResourceValidateJoin: nicks must match ^[a-zA-Z0-9][a-zA-Z0-9_]*$
// (JITSI.md §2 P1 "resource validation"; SECURITY-CASES 134: `_x`, `a-b`
// and, in TestMUCResourceValidateAnonymousStrict, the UUID prefix);
// health-check rooms are exempt.
func TestMUCResourceValidateJoin(t *testing.T) {
	e := newSCEnv(t, "", `    modules_enabled = { "muc_resource_validate" }`)
	alice := e.user("alice")
	cases := []struct {
		name, room, nick string
		ok               bool
	}{
		{"letters", "rv", "alice", true},
		{"digits and underscore", "rv", "a1_b2", true},
		{"jitsi endpoint id", "rv", "2f0e7c1a", true},
		{"leading underscore", "rv", "_alice", false},
		{"dash", "rv", "al-ice", false},
		{"space", "rv", "al ice", false},
		{"dot", "rv", "al.ice", false},
		{"non-ASCII", "rv", "ålice", false},
		{"health-check room exempt", jitsi.HealthCheckPrefix + "-1", "_x", true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			occ := tc.room + strconv.Itoa(i) + "@" + conf + "/" + tc.nick
			p := scJoin(alice, occ)
			if tc.ok {
				if p.Get("type") == "error" {
					t.Fatalf("refused: %s", p)
				}
				return
			}
			typ, cond, text, by := rvError(p)
			if typ != "cancel" || cond != "not-allowed" || text != jitsi.ResourceValidateInvalidText || by {
				t.Fatalf("got %s/%s %q by=%v, want cancel/not-allowed %q without by: %s", typ, cond, text, by, jitsi.ResourceValidateInvalidText, p)
			}
		})
	}
}

// TestMUCResourceValidateNickChange: a nick change is refused, a presence
// update under the same nick is not.
func TestMUCResourceValidateNickChange(t *testing.T) {
	e := newSCEnv(t, "", `    modules_enabled = { "muc_resource_validate" }`)
	alice := e.user("alice")
	room := "nc@" + conf
	scJoin(alice, room+"/alice")
	alice.Send(el(stanza.NSClient, "presence", "to", room+"/alice2"))
	p := alice.NextMatch(func(s *stanza.Element) bool { return s.Name.Local == "presence" })
	typ, cond, text, _ := rvError(p)
	if p.Get("from") != room+"/alice2" || typ != "cancel" || cond != "not-allowed" || text != jitsi.ResourceValidateNickChangeText {
		t.Fatalf("nick change: %s", p)
	}
	alice.Send(el(stanza.NSClient, "presence", "to", room+"/alice").Add(el(stanza.NSClient, "status").AddText("away")))
	p = alice.NextMatch(func(s *stanza.Element) bool { return s.Name.Local == "presence" })
	if p.Get("type") == "error" || p.Get("from") != room+"/alice" || p.ChildText(stanza.NSClient, "status") != "away" {
		t.Fatalf("presence update: %s", p)
	}
}

// TestMUCResourceValidateAnonymousStrict: with anonymous_strict users of
// an anonymous host must join as the first 8 characters of their username.
func TestMUCResourceValidateAnonymousStrict(t *testing.T) {
	e := newSCEnv(t, "", `    modules_enabled = { "muc_resource_validate" }
    anonymous_strict = true
    anonymous_auth_methods = { "internal_hashed", "internal_plain" }`)
	u := e.user("abcdef1234")
	cases := []struct {
		name, nick string
		ok         bool
	}{
		{"uuid prefix", "abcdef12", true},
		{"whole username", "abcdef1234", false},
		{"other nick", "bob", false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := scJoin(u, "an"+strconv.Itoa(i)+"@"+conf+"/"+tc.nick)
			if tc.ok != (p.Get("type") != "error") {
				t.Fatalf("ok=%v: %s", tc.ok, p)
			}
			if !tc.ok {
				if typ, cond, text, _ := rvError(p); typ != "cancel" || cond != "not-allowed" || text != jitsi.ResourceValidateAnonymousText {
					t.Fatalf("got %s/%s %q", typ, cond, text)
				}
			}
		})
	}
	_ = muc.NS
}

func FuzzValidMUCResource(f *testing.F) {
	for _, s := range []string{"", "a", "_a", "a_", "a-b", "Ω", "abc123_XYZ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := jitsi.ValidMUCResource(s)
		want := len(s) > 0 && s[0] != '_'
		for _, c := range []byte(s) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
				want = false
			}
		}
		if got != want {
			t.Fatalf("ValidMUCResource(%q) = %v", s, got)
		}
	})
}

func BenchmarkValidMUCResource(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if !jitsi.ValidMUCResource("2f0e7c1a_endpoint") {
			b.Fatal("invalid")
		}
	}
}
