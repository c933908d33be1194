package config_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/config"
)

// TestJitsiExample asserts every expected result listed with the example
// configuration of JITSI.md §8.
func TestJitsiExample(t *testing.T) {
	const file = "testdata/jitsi-example.cfg.lua"
	c, err := config.Load(file, config.WithEnv(noEnv))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("three enabled VirtualHosts and one disabled", func(t *testing.T) {
		want := []hostWant{
			{"meet.example.test", true}, {"guest.meet.example.test", true},
			{"auth.meet.example.test", true}, {"jigasi.example.invalid", false},
		}
		if got := hostsOf(c); !slices.Equal(got, want) {
			t.Errorf("hosts = %v, want %v", got, want)
		}
		if p := c.Host("jigasi.example.invalid").Pos; p != (config.Pos{File: file, Line: 70}) {
			t.Errorf("jigasi host declared at %v", p)
		}
	})

	t.Run("nine components: 4 muc, 1 client_proxy, 4 plugin components", func(t *testing.T) {
		want := []compWant{
			{"conference.meet.example.test", "muc"},
			{"internal.auth.meet.example.test", "muc"},
			{"lobby.meet.example.test", "muc"},
			{"breakout.meet.example.test", "muc"},
			{"focus.meet.example.test", "client_proxy"},
			{"speakerstats.meet.example.test", "speakerstats_component"},
			{"avmoderation.meet.example.test", "av_moderation_component"},
			{"endconference.meet.example.test", "end_conference"},
			{"metadata.meet.example.test", "room_metadata_component"},
		}
		if got := compsOf(c); !slices.Equal(got, want) {
			t.Errorf("components = %v, want %v", got, want)
		}
		for _, co := range c.Components {
			if co.External() || !c.Enabled(co) {
				t.Errorf("%s: external=%v enabled=%v", co.Name, co.External(), c.Enabled(co))
			}
		}
	})

	t.Run("host c2s_require_encryption overrides the global true", func(t *testing.T) {
		for host, want := range map[string]bool{
			"meet.example.test": false, "guest.meet.example.test": false, "auth.meet.example.test": true,
		} {
			if got := c.Bool(c.Host(host), "c2s_require_encryption", !want); got != want {
				t.Errorf("%s: c2s_require_encryption = %v, want %v", host, got, want)
			}
		}
		o, _ := c.Get(c.Host("meet.example.test"), "c2s_require_encryption")
		if o.Pos != (config.Pos{File: file, Line: 57}) || o.Section != "meet.example.test" {
			t.Errorf("override at %v in %q", o.Pos, o.Section)
		}
		o, _ = c.Get(c.Host("auth.meet.example.test"), "c2s_require_encryption")
		if o.Pos != (config.Pos{File: file, Line: 11}) || o.Section != "" {
			t.Errorf("inherited value at %v in %q", o.Pos, o.Section)
		}
	})

	t.Run("component admins add to the global admins", func(t *testing.T) {
		conf := c.Component("conference.meet.example.test")
		if got := c.Strings(conf, "admins"); !slices.Equal(got, []string{"focus@auth.meet.example.test"}) {
			t.Errorf("own admins = %v", got)
		}
		want := []string{"focus@auth.meet.example.test", "jvb@auth.meet.example.test"}
		if got := c.Admins(conf); !slices.Equal(got, want) {
			t.Errorf("Admins(conference) = %v, want %v", got, want)
		}
		// Both quote styles in the global list.
		if got := c.Admins(nil); !slices.Equal(got, want) {
			t.Errorf("global admins = %v, want %v", got, want)
		}
	})

	t.Run("muc_filter_whitelist is a single string used as a set", func(t *testing.T) {
		internal := c.Component("internal.auth.meet.example.test")
		if got := c.Strings(internal, "muc_filter_whitelist"); !slices.Equal(got, []string{"auth.meet.example.test"}) {
			t.Errorf("muc_filter_whitelist = %v", got)
		}
		if v := internal.Options["muc_filter_whitelist"].Value; v != "auth.meet.example.test" {
			t.Errorf("raw value = %#v", v)
		}
	})

	t.Run("token options on the parent host of the token-checking MUC", func(t *testing.T) {
		conf := c.Component("conference.meet.example.test")
		if !slices.Contains(c.Modules(conf), "token_verification") {
			t.Fatalf("conference modules %v lack token_verification", c.Modules(conf))
		}
		_, parent, _ := strings.Cut(conf.Name, ".")
		h := c.Host(parent)
		if h == nil {
			t.Fatalf("no VirtualHost %q", parent)
		}
		if got := c.String(h, "authentication", ""); got != "token" {
			t.Errorf("authentication = %q", got)
		}
		if got := c.String(h, "app_id", ""); got != "example_app" {
			t.Errorf("app_id = %q", got)
		}
		if got := c.String(h, "app_secret", ""); got != "example_secret_for_hs256" {
			t.Errorf("app_secret = %q", got)
		}
		if got := c.Strings(h, "asap_accepted_issuers"); !slices.Equal(got, []string{"example_app", "other_issuer"}) {
			t.Errorf("asap_accepted_issuers = %v", got)
		}
		if got := c.Strings(h, "asap_accepted_audiences"); !slices.Equal(got, []string{"jitsi"}) {
			t.Errorf("asap_accepted_audiences = %v", got)
		}
		if c.Bool(h, "allow_empty_token", true) || !c.Bool(h, "enable_domain_verification", false) {
			t.Error("allow_empty_token/enable_domain_verification wrong")
		}
		if got := c.StringMap(h, "ssl"); got["key"] != "/etc/prosody/certs/meet.example.test.key" ||
			got["certificate"] != "/etc/prosody/certs/meet.example.test.crt" {
			t.Errorf("ssl = %v", got)
		}
		if got := c.String(h, "main_muc", ""); got != conf.Name {
			t.Errorf("main_muc = %q", got)
		}
	})

	t.Run("values: nested tables, numbers, booleans", func(t *testing.T) {
		o := c.Global["external_services"]
		list, ok := o.Value.([]any)
		if !ok || len(list) != 3 {
			t.Fatalf("external_services = %#v", o.Value)
		}
		turn, _ := list[1].(map[string]any)
		if turn["type"] != "turn" || turn["port"] != int64(3478) || turn["secret"] != true || turn["ttl"] != int64(86400) ||
			turn["transport"] != "udp" || turn["algorithm"] != "turn" {
			t.Errorf("turn entry = %#v", turn)
		}
		if o.Pos != (config.Pos{File: file, Line: 20}) {
			t.Errorf("external_services at %v", o.Pos)
		}
		if got := c.Ints(nil, "http_ports"); !slices.Equal(got, []int64{5280}) {
			t.Errorf("http_ports = %v", got)
		}
		if got := c.Duration(nil, "smacks_hibernation_time", 0); got != 60*time.Second {
			t.Errorf("global smacks_hibernation_time = %v", got)
		}
		if got := c.Duration(c.Host("auth.meet.example.test"), "smacks_hibernation_time", 0); got != 15*time.Second {
			t.Errorf("auth smacks_hibernation_time = %v", got)
		}
		if got := c.Int(c.Component("conference.meet.example.test"), "muc_max_occupants", 0); got != 100 {
			t.Errorf("muc_max_occupants = %d", got)
		}
		if got := c.StringMap(nil, "storage"); got["smacks_h"] != "memory" {
			t.Errorf("global storage = %v", got)
		}
		if got := c.String(c.Component("lobby.meet.example.test"), "storage", ""); got != "memory" {
			t.Errorf("lobby storage = %q", got)
		}
	})

	t.Run("modules", func(t *testing.T) {
		want := []string{"presence", "message", "iq", "c2s", "s2s_auth_certs", "roster", "saslauth", "tls", "disco",
			"ping", "limits", "external_services", "limits_exception", "smacks"}
		if got := c.Modules(c.Host("auth.meet.example.test")); !slices.Equal(got, want) {
			t.Errorf("auth modules = %v\nwant %v", got, want)
		}
		// Components keep only inheritable global modules: of the global
		// list, iq, saslauth and tls (s2s is disabled globally).
		want = []string{"client_proxy", "iq", "saslauth", "tls"}
		if got := c.Modules(c.Component("focus.meet.example.test")); !slices.Equal(got, want) {
			t.Errorf("focus modules = %v, want %v", got, want)
		}
	})

	if len(c.Warnings) != 0 {
		t.Errorf("warnings: %v", c.Warnings)
	}
}
