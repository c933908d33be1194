package jitsitest

import (
	"testing"

	"github.com/parley-xmpp/parley/server/stanza"
)

func TestParseProxyFrom(t *testing.T) {
	tests := []struct {
		name, from, want string
		ok               bool
	}{
		{"full JID", "focus.meet.jitsi/abc@meet.jitsi/res-1", "abc@meet.jitsi/res-1", true},
		{"resource with slash", "focus.meet.jitsi/abc@meet.jitsi/a/b", "abc@meet.jitsi/a/b", true},
		{"domain only", "focus.meet.jitsi/meet.jitsi", "meet.jitsi", true},
		{"no resource", "focus.meet.jitsi", "", false},
		{"empty resource", "focus.meet.jitsi/", "", false},
		{"empty domain", "focus.meet.jitsi/abc@", "", false},
		{"empty local", "focus.meet.jitsi/@meet.jitsi", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseProxyFrom(tc.from)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("ParseProxyFrom(%q) = %q, %v; want %q, %v", tc.from, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestParseStats(t *testing.T) {
	tests := []struct {
		name string
		xml  string
		want map[string]string
	}{
		{"bridge", `<stats xmlns='http://jitsi.org/protocol/colibri'><stat name='stress_level' value='0.1'/><stat name='drain' value='false'/></stats>`,
			map[string]string{"stress_level": "0.1", "drain": "false"}},
		{"duplicate wins last", `<stats xmlns='http://jitsi.org/protocol/colibri'><stat name='a' value='1'/><stat name='a' value='2'/></stats>`,
			map[string]string{"a": "2"}},
		{"nameless and foreign skipped", `<stats xmlns='http://jitsi.org/protocol/colibri'><stat value='1'/><other name='b' value='2'/></stats>`,
			map[string]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			el, err := stanza.Parse([]byte(tc.xml), stanza.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			got := ParseStats(el)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
	if n := len(ParseStats(nil)); n != 0 {
		t.Fatalf("nil stats: %d entries", n)
	}
	round := ParseStats(StatsElement([2]string{"x", "y"}))
	if round["x"] != "y" {
		t.Fatalf("StatsElement round trip: %v", round)
	}
}

func FuzzParseStats(f *testing.F) {
	f.Add(`<stats xmlns='http://jitsi.org/protocol/colibri'><stat name='stress_level' value='0.1'/></stats>`)
	f.Add(`<stats/>`)
	f.Fuzz(func(t *testing.T, s string) {
		el, err := stanza.Parse([]byte(s), stanza.Limits{})
		if err != nil {
			return
		}
		for k := range ParseStats(el) {
			if k == "" {
				t.Fatalf("empty stat name from %q", s)
			}
		}
	})
}

func FuzzParseProxyFrom(f *testing.F) {
	f.Add("focus.meet.jitsi/abc@meet.jitsi/res")
	f.Add("focus.meet.jitsi")
	f.Fuzz(func(t *testing.T, from string) {
		got, ok := ParseProxyFrom(from)
		if ok && (got == "" || len(got) >= len(from)) {
			t.Fatalf("ParseProxyFrom(%q) = %q", from, got)
		}
		if !ok && got != "" {
			t.Fatalf("ParseProxyFrom(%q) = %q with ok false", from, got)
		}
	})
}
