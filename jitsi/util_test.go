package jitsi

import (
	"testing"

	"github.com/parley-xmpp/parley/server/stanza"
)

func TestTenantMapper(t *testing.T) {
	m := TenantMapper{Base: "meet.example.com", Prefix: "conference"}
	tests := []struct {
		name, external, internal string
	}{
		{"tenant room", "room@conference.acme.meet.example.com", "[acme]room@conference.meet.example.com"},
		{"tenant occupant", "room@conference.acme.meet.example.com/nick", "[acme]room@conference.meet.example.com/nick"},
		{"no tenant", "room@conference.meet.example.com/n", "room@conference.meet.example.com/n"},
		{"other domain", "room@muc.other.org", "room@muc.other.org"},
		{"host only", "conference.acme.meet.example.com", "conference.acme.meet.example.com"},
		{"user", "alice@meet.example.com/r", "alice@meet.example.com/r"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := m.ToInternal(tc.external); got != tc.internal {
				t.Errorf("ToInternal(%q) = %q, want %q", tc.external, got, tc.internal)
			}
			if got := m.ToExternal(tc.internal); got != tc.external {
				t.Errorf("ToExternal(%q) = %q, want %q", tc.internal, got, tc.external)
			}
		})
	}
	for _, odd := range []string{"room@conference.a.b.meet.example.com", "0@conference.].meet.example.com", "[]room@conference.meet.example.com", "[acme]@conference.meet.example.com"} {
		if got := m.ToInternal(odd); got != odd {
			t.Errorf("ToInternal(%q) = %q, want it unchanged", odd, got)
		}
		if got := m.ToExternal(odd); got != odd {
			t.Errorf("ToExternal(%q) = %q, want it unchanged", odd, got)
		}
	}
	if got := (TenantMapper{}).ToInternal("room@conference.acme.x"); got != "room@conference.acme.x" {
		t.Errorf("a mapper without a base rewrote %q", got)
	}
}

func TestJSONMessage(t *testing.T) {
	m, err := JSONMessage("c.example", "u@example/r", map[string]any{"type": "x", "n": 1})
	if err != nil {
		t.Fatal(err)
	}
	got, ok := JSONPayload(m)
	if !ok || got != `{"n":1,"type":"x"}` || m.Get("to") != "u@example/r" || m.Name.Space != stanza.NSClient {
		t.Fatalf("json-message %s", m)
	}
}

func FuzzTenantMapper(f *testing.F) {
	for _, s := range []string{"room@conference.acme.meet.example.com/x", "[acme]room@conference.meet.example.com", "[a]]@conference.meet.example.com/"} {
		f.Add(s)
	}
	m := TenantMapper{Base: "meet.example.com"}
	f.Fuzz(func(t *testing.T, j string) {
		in := m.ToInternal(j)
		if in != j && m.ToExternal(in) != j {
			t.Fatalf("round trip %q -> %q -> %q", j, in, m.ToExternal(in))
		}
	})
}

// TestRoomJIDFromQuery checks Jitsi's get_room_by_name_and_subdomain.
func TestRoomJIDFromQuery(t *testing.T) {
	cases := []struct{ name, room, prefix, want string }{
		{"no prefix", "r", "", "r@conference.meet.example.com"},
		{"tenant", "r", "acme", "[acme]r@conference.meet.example.com"},
		{"prefix is the base", "r", "meet.example.com", "r@conference.meet.example.com"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := RoomJIDFromQuery(tc.room, tc.prefix, "meet.example.com", "conference.meet.example.com"); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
