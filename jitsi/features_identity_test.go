package jitsi_test

import (
	"context"
	"slices"
	"testing"

	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// paAnnouncer is a component that only announces itself, as Jitsi's
// *_component modules do with jitsi-add-identity.
type paAnnouncer struct{}

func (paAnnouncer) Deliver(context.Context, *stanza.Element) {}

func paAnnouncerFactory(typ string, added chan<- bool) server.ComponentFactory {
	return func(_ context.Context, ch *server.ComponentHost) (server.Component, error) {
		added <- jitsi.AnnounceComponent(ch.Server, ch.Config, typ, ch.Name)
		return paAnnouncer{}, nil
	}
}

// paIdentityModules registers features_identity and the deprecated stubs.
func paIdentityModules() server.Option {
	return server.WithModules(append(jitsi.DeprecatedIdentityModules(), jitsi.NewFeaturesIdentity())...)
}

// paDiscoIdentities asks host for disco#info as user@host and returns the
// identities as "category/type/name".
func paDiscoIdentities(t *testing.T, s *servertest.Server, user, host, target string) []string {
	t.Helper()
	c := s.Connect(t, user+"@"+host, "pw", servertest.ClientOptions{})
	resp := c.Request(stanza.New(stanza.NSClient, "iq").Set("type", "get").Set("to", target).
		Add(stanza.New(server.NSDiscoInfo, "query")))
	if resp.Get("type") != "result" {
		t.Fatalf("disco#info: %s", resp)
	}
	var out []string
	for _, e := range resp.Child(server.NSDiscoInfo, "query").Elements() {
		if e.Name.Local == "identity" {
			out = append(out, e.Get("category")+"/"+e.Get("type")+"/"+e.Get("name"))
		}
	}
	return out
}

// JITSI.md §2 P0 "Disco on D" and P1 "Component discovery": a component
// announces component/<type> with its address on the main host only when
// that host loads features_identity (or a deprecated stub depending on it)
// and muc_mapper_domain_base names it.
func TestFeaturesIdentity(t *testing.T) {
	const want = "component/speakerstats/speakerstats.meet.test"
	tests := []struct {
		name   string
		global string
		main   string
		other  string
		added  bool
	}{
		{"features_identity on the main host", `muc_mapper_domain_base = "meet.test"`, `modules_enabled = { "features_identity" }`, ``, true},
		{"deprecated speakerstats stub", `muc_mapper_domain_base = "meet.test"`, `modules_enabled = { "speakerstats" }`, ``, true},
		{"deprecated room_metadata stub", `muc_mapper_domain_base = "meet.test"`, `modules_enabled = { "room_metadata" }`, ``, true},
		{"global modules_enabled", `muc_mapper_domain_base = "meet.test"
modules_enabled = { "features_identity" }`, ``, ``, true},
		{"module not loaded", `muc_mapper_domain_base = "meet.test"`, `modules_enabled = { "ping" }`, ``, false},
		{"no muc_mapper_domain_base", ``, `modules_enabled = { "features_identity" }`, ``, false},
		{"loaded on another host", `muc_mapper_domain_base = "meet.test"`, ``, `modules_enabled = { "features_identity" }`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			added := make(chan bool, 1)
			s := servertest.Start(t, tc.global+`
allow_unencrypted_plain_auth = true
c2s_require_encryption = false
VirtualHost "meet.test"
    `+tc.main+`
VirtualHost "other.test"
    `+tc.other+`
Component "speakerstats.meet.test" "speakerstats_component"
    muc_component = "conference.meet.test"
`, servertest.WithServerOptions(paIdentityModules(),
				server.WithComponentType("speakerstats_component", paAnnouncerFactory("speakerstats", added))))
			if got := <-added; got != tc.added {
				t.Fatalf("AnnounceComponent = %v, want %v", got, tc.added)
			}
			s.CreateUser("alice", "meet.test", "pw")
			ids := paDiscoIdentities(t, s, "alice", "meet.test", "meet.test")
			if slices.Contains(ids, want) != tc.added {
				t.Fatalf("identities of meet.test = %v; want %s present: %v", ids, want, tc.added)
			}
			if !slices.Contains(ids, "server/im/parley") {
				t.Fatalf("server identity missing: %v", ids)
			}
			s.CreateUser("bob", "other.test", "pw")
			if ids := paDiscoIdentities(t, s, "bob", "other.test", "other.test"); slices.Contains(ids, want) {
				t.Fatalf("identity leaked to other.test: %v", ids)
			}
		})
	}
}

// The component's own section may name the main host.
func TestFeaturesIdentitySectionOption(t *testing.T) {
	added := make(chan bool, 1)
	s := servertest.Start(t, `
allow_unencrypted_plain_auth = true
c2s_require_encryption = false
VirtualHost "meet.test"
    modules_enabled = { "features_identity" }
Component "avmoderation.meet.test" "av_moderation_component"
    muc_mapper_domain_base = "meet.test"
`, servertest.WithServerOptions(paIdentityModules(),
		server.WithComponentType("av_moderation_component", paAnnouncerFactory("av_moderation", added))))
	if !<-added {
		t.Fatal("identity not added")
	}
	s.CreateUser("alice", "meet.test", "pw")
	if ids := paDiscoIdentities(t, s, "alice", "meet.test", "meet.test"); !slices.Contains(ids, "component/av_moderation/avmoderation.meet.test") {
		t.Fatalf("identities = %v", ids)
	}
}
