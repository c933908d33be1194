package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/auth"
	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// envOf is an environment lookup over a map.
func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// stockEnv is a stock `docker compose up`: env.example plus
// gen-passwords.sh (every password set, nothing else).
func stockEnv() map[string]string {
	return map[string]string{
		"TZ":                          "UTC",
		"JICOFO_AUTH_PASSWORD":        "jicofo-pw",
		"JVB_AUTH_PASSWORD":           "jvb-pw",
		"JIGASI_XMPP_PASSWORD":        "jigasi-pw",
		"JIGASI_TRANSCRIBER_PASSWORD": "transcriber-pw",
		"JIBRI_RECORDER_PASSWORD":     "recorder-pw",
		"JIBRI_XMPP_PASSWORD":         "jibri-pw",
	}
}

func with(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// render renders env and parses the result.
func render(t *testing.T, env map[string]string) (dockerSetup, *config.Config) {
	t.Helper()
	setup, ok, err := dockerEnvConfig(envOf(env))
	if err != nil || !ok {
		t.Fatalf("dockerEnvConfig: ok %v, err %v", ok, err)
	}
	cfg, err := config.Parse("(docker environment)", []byte(setup.Config), config.WithEnv(noEnv))
	if err != nil {
		t.Fatalf("rendered config does not parse: %v\n%s", err, setup.Config)
	}
	return setup, cfg
}

// Options of the image's templates parley leaves out (Lua Prosody tuning)
// and the one it adds (the certificates directory Prosody finds next to
// its config file).
var (
	luaOnlyOptions = map[string]bool{
		"gc": true, "pidfile": true, "network_backend": true, "network_settings": true,
		"unbound": true, "s2s_secure_auth": true, "plugin_paths": true,
	}
	parleyOptions = map[string]bool{"certificates": true}
)

// diffOptions lists the differences between two option sets.
func diffOptions(where string, got, want config.Options) []string {
	var diffs []string
	names := map[string]bool{}
	for k := range got {
		names[k] = true
	}
	for k := range want {
		names[k] = true
	}
	sorted := make([]string, 0, len(names))
	for k := range names {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		g, gok := got[k]
		w, wok := want[k]
		switch {
		case !gok && wok && !luaOnlyOptions[k]:
			diffs = append(diffs, where+": missing "+k)
		case gok && !wok && !parleyOptions[k]:
			diffs = append(diffs, where+": extra "+k)
		case gok && wok && !reflect.DeepEqual(g.Value, w.Value):
			diffs = append(diffs, where+": "+k+" = "+fmt.Sprintf("%#v, want %#v", g.Value, w.Value))
		}
	}
	return diffs
}

// The golden test of the docker environment: with env.example's defaults
// the rendering is the configuration config/testdata/docker/ holds (the
// image's templates rendered by another hand): same hosts and components
// in the same order, same types, same option values.
func TestDockerEnvGolden(t *testing.T) {
	setup, got := render(t, stockEnv())
	want, err := config.Load(filepath.Join("..", "..", "config", "testdata", "docker", "prosody.cfg.lua"), config.WithEnv(noEnv))
	if err != nil {
		t.Fatal(err)
	}
	diffs := diffOptions("global", got.Global, want.Global)
	var gotHosts, wantHosts []string
	for _, h := range got.Hosts {
		gotHosts = append(gotHosts, h.Name)
	}
	for _, h := range want.Hosts {
		wantHosts = append(wantHosts, h.Name)
		if gh := got.Host(h.Name); gh != nil {
			diffs = append(diffs, diffOptions("VirtualHost "+h.Name, gh.Options, h.Options)...)
		}
	}
	if !slices.Equal(gotHosts, wantHosts) {
		diffs = append(diffs, "hosts "+strings.Join(gotHosts, ",")+", want "+strings.Join(wantHosts, ","))
	}
	var gotComps, wantComps []string
	for _, c := range got.Components {
		gotComps = append(gotComps, c.Name+" "+c.Type)
	}
	for _, c := range want.Components {
		wantComps = append(wantComps, c.Name+" "+c.Type)
		if gc := got.Component(c.Name); gc != nil {
			diffs = append(diffs, diffOptions("Component "+c.Name, gc.Options, c.Options)...)
		}
	}
	if !slices.Equal(gotComps, wantComps) {
		diffs = append(diffs, "components "+strings.Join(gotComps, ",")+", want "+strings.Join(wantComps, ","))
	}
	for _, d := range diffs {
		t.Error(d)
	}
	if t.Failed() {
		t.Logf("rendered:\n%s", setup.Config)
	}

	wantAccounts := []dockerAccount{
		{"focus", "auth.meet.jitsi", "jicofo-pw"},
		{"jvb", "auth.meet.jitsi", "jvb-pw"},
		{"jibri", "auth.meet.jitsi", "jibri-pw"},
		{"jigasi", "auth.meet.jitsi", "jigasi-pw"},
	}
	if !slices.Equal(setup.Accounts, wantAccounts) {
		t.Errorf("accounts = %v, want %v", setup.Accounts, wantAccounts)
	}
	wantCerts := []dockerCert{
		{"meet.jitsi", dockerCertsDir + "/meet.jitsi.crt", dockerCertsDir + "/meet.jitsi.key"},
		{"auth.meet.jitsi", dockerCertsDir + "/auth.meet.jitsi.crt", dockerCertsDir + "/auth.meet.jitsi.key"},
	}
	if !slices.Equal(setup.Certificates, wantCerts) {
		t.Errorf("certificates = %v, want %v", setup.Certificates, wantCerts)
	}
	if len(setup.Warnings) != 0 {
		t.Errorf("warnings %v", setup.Warnings)
	}
}

// opt returns the value of key in a section (nil: global), or nil.
func opt(cfg *config.Config, section, key string) any {
	var sec config.Section
	if section != "" {
		sec = cfg.Section(section)
		if sec == nil {
			return nil
		}
		if o, ok := cfg.Get(sec, key); ok {
			return o.Value
		}
		return nil
	}
	if o, ok := cfg.Global[key]; ok {
		return o.Value
	}
	return nil
}

func strs(v ...string) []any {
	out := make([]any, len(v))
	for i, s := range v {
		out[i] = s
	}
	return out
}

// Each docker-jitsi-meet variable lands where the image's templates put it.
func TestDockerEnvVariables(t *testing.T) {
	type want struct {
		section, key string
		value        any // nil: the option must be absent
	}
	tests := []struct {
		name  string
		env   map[string]string
		wants []want
		hosts []string // when set, the VirtualHosts in order
		comps []string // when set, components that must exist ("" prefix "!" = absent)
		check func(t *testing.T, s dockerSetup, cfg *config.Config)
	}{
		{
			name: "domains",
			env: with(stockEnv(), "XMPP_DOMAIN", "example.com", "XMPP_AUTH_DOMAIN", "auth.example.com",
				"XMPP_MUC_DOMAIN", "conference.example.com", "XMPP_INTERNAL_MUC_DOMAIN", "internal.auth.example.com"),
			wants: []want{
				{"", "muc_mapper_domain_base", "example.com"},
				{"", "muc_mapper_domain_prefix", "conference"},
				{"", "http_default_host", "example.com"},
				{"", "unlimited_jids", strs("focus@auth.example.com", "jvb@auth.example.com")},
				{"example.com", "main_muc", "conference.example.com"},
				{"example.com", "lobby_muc", "lobby.example.com"},
				{"focus.example.com", "target_address", "focus@auth.example.com"},
				{"internal.auth.example.com", "muc_filter_whitelist", "auth.example.com"},
				{"speakerstats.example.com", "muc_component", "conference.example.com"},
			},
			hosts: []string{"example.com", "auth.example.com"},
			check: func(t *testing.T, s dockerSetup, _ *config.Config) {
				if s.Accounts[0] != (dockerAccount{"focus", "auth.example.com", "jicofo-pw"}) {
					t.Errorf("accounts %v", s.Accounts)
				}
			},
		},
		{
			name: "jwt",
			env: with(stockEnv(), "ENABLE_AUTH", "1", "AUTH_TYPE", "jwt", "JWT_APP_ID", "my_app", "JWT_APP_SECRET", `se"cr\et`,
				"JWT_ACCEPTED_ISSUERS", "web,app", "JWT_ACCEPTED_AUDIENCES", "aud1", "JWT_ASAP_KEYSERVER", "https://keys.test/",
				"JWT_ALLOW_EMPTY", "true", "JWT_SIGN_TYPE", "HS512"),
			wants: []want{
				{"meet.jitsi", "authentication", "token"},
				{"meet.jitsi", "app_id", "my_app"},
				{"meet.jitsi", "app_secret", `se"cr\et`},
				{"meet.jitsi", "allow_empty_token", true},
				{"meet.jitsi", "enable_domain_verification", false},
				{"meet.jitsi", "asap_key_server", "https://keys.test/"},
				{"meet.jitsi", "signature_algorithm", "HS512"},
				{"", "asap_accepted_issuers", strs("web", "app")},
				{"", "asap_accepted_audiences", strs("aud1")},
				{"muc.meet.jitsi", "modules_enabled", strs("muc_hide_all", "muc_meeting_id", "token_verification", "muc_domain_mapper", "muc_password_whitelist", "muc_resource_validate")},
			},
		},
		{
			name: "jwt without secret, custom module",
			env:  with(stockEnv(), "ENABLE_AUTH", "true", "AUTH_TYPE", "jwt", "JWT_APP_ID", "a", "JWT_TOKEN_AUTH_MODULE", "token_affiliation", "JWT_AUTH_TYPE", "token"),
			wants: []want{
				{"meet.jitsi", "app_secret", nil},
				{"meet.jitsi", "allow_empty_token", false},
				{"muc.meet.jitsi", "modules_enabled", strs("muc_hide_all", "muc_meeting_id", "token_affiliation", "muc_domain_mapper", "muc_password_whitelist", "muc_resource_validate")},
			},
		},
		{
			name: "internal auth with guests",
			env:  with(stockEnv(), "ENABLE_AUTH", "1", "ENABLE_GUESTS", "1", "XMPP_GUEST_DOMAIN", "guest.example.com", "XMPP_MODULES", "mod_a,mod_b"),
			wants: []want{
				{"meet.jitsi", "authentication", "internal_hashed"},
				{"meet.jitsi", "disable_sasl_mechanisms", strs("DIGEST-MD5", "OAUTHBEARER")},
				{"guest.example.com", "authentication", "jitsi-anonymous"},
				{"guest.example.com", "modules_enabled", strs("smacks", "mod_a", "mod_b")},
				{"guest.example.com", "main_muc", "muc.meet.jitsi"},
				{"meet.jitsi", "modules_enabled", strs("bosh", "features_identity", "websocket", "smacks", "conference_duration", "muc_lobby_rooms", "muc_breakout_rooms", "mod_a", "mod_b")},
			},
			hosts: []string{"meet.jitsi", "guest.example.com", "auth.meet.jitsi"},
		},
		{
			name:  "guests need auth",
			env:   with(stockEnv(), "ENABLE_GUESTS", "1"),
			hosts: []string{"meet.jitsi", "auth.meet.jitsi"},
		},
		{
			name: "TURN",
			env: with(stockEnv(), "STUN_HOST", "stun.test", "TURN_HOST", "t1.test,t2.test", "TURN_TRANSPORT", "udp,tcp",
				"TURNS_HOST", "ts.test", "TURN_CREDENTIALS", "turn-secret", "TURN_PORT", "3478", "TURN_TTL", "600"),
			wants: []want{
				{"", "external_service_secret", "turn-secret"},
			},
			check: func(t *testing.T, _ dockerSetup, cfg *config.Config) {
				if !slices.Contains(cfg.Modules(nil), "external_services") {
					t.Errorf("global modules %v lack external_services", cfg.Modules(nil))
				}
				list, _ := opt(cfg, "", "external_services").([]any)
				var got []string
				for _, it := range list {
					m := it.(map[string]any)
					got = append(got, fmt.Sprint(m["type"], " ", m["host"], ":", m["port"], "/", m["transport"], " ttl=", m["ttl"], " secret=", m["secret"], " alg=", m["algorithm"]))
				}
				want := []string{
					"stun stun.test:443/udp ttl=<nil> secret=<nil> alg=<nil>",
					"turn t1.test:3478/udp ttl=600 secret=true alg=turn",
					"turn t1.test:3478/tcp ttl=600 secret=true alg=turn",
					"turn t2.test:3478/udp ttl=600 secret=true alg=turn",
					"turn t2.test:3478/tcp ttl=600 secret=true alg=turn",
					"turns ts.test:443/tcp ttl=600 secret=true alg=turn",
				}
				if !slices.Equal(got, want) {
					t.Errorf("external_services:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			},
		},
		{
			name: "static TURN credentials",
			env:  with(stockEnv(), "TURNS_HOST", "ts.test", "TURN_USERNAME", "u", "TURN_PASSWORD", "p"),
			check: func(t *testing.T, _ dockerSetup, cfg *config.Config) {
				list, _ := opt(cfg, "", "external_services").([]any)
				if len(list) != 1 {
					t.Fatalf("external_services %v", list)
				}
				m := list[0].(map[string]any)
				if m["username"] != "u" || m["password"] != "p" || m["secret"] != nil || m["type"] != "turns" {
					t.Errorf("service %v", m)
				}
			},
		},
		{
			name: "ports, proxies, encryption, log level",
			env: with(stockEnv(), "XMPP_PORT", "15222", "PROSODY_HTTP_PORT", "15280", "PROSODY_TRUSTED_PROXIES", "10.0.0.1,10.0.0.2",
				"PROSODY_C2S_REQUIRE_ENCRYPTION", "false", "LOG_LEVEL", "debug", "ENABLE_IPV6", "0"),
			wants: []want{
				{"", "c2s_ports", []any{int64(15222)}},
				{"", "http_ports", []any{int64(15280)}},
				{"", "c2s_interfaces", strs("*")},
				{"", "trusted_proxies", strs("10.0.0.1", "10.0.0.2")},
				{"", "c2s_require_encryption", false},
				{"meet.jitsi", "c2s_require_encryption", false},
			},
			check: func(t *testing.T, _ dockerSetup, cfg *config.Config) {
				sinks, err := cfg.Log()
				if err != nil || len(sinks) != 1 || sinks[0].Min != "debug" || sinks[0].To != "console" {
					t.Errorf("log sinks %+v, %v", sinks, err)
				}
			},
		},
		{
			name: "features off",
			env: with(stockEnv(), "ENABLE_LOBBY", "0", "ENABLE_BREAKOUT_ROOMS", "false", "ENABLE_AV_MODERATION", "0",
				"ENABLE_END_CONFERENCE", "false", "DISABLE_POLLS", "true", "ENABLE_XMPP_WEBSOCKET", "0", "ENABLE_SUBDOMAINS", "0",
				"PROSODY_ENABLE_MUC_RESOURCE_VALIDATE", "0"),
			wants: []want{
				{"meet.jitsi", "lobby_muc", nil},
				{"meet.jitsi", "breakout_rooms_muc", nil},
				{"meet.jitsi", "modules_enabled", strs("bosh", "features_identity", "conference_duration")},
				{"", "smacks_hibernation_time", nil},
				{"muc.meet.jitsi", "modules_enabled", strs("muc_hide_all", "muc_meeting_id", "muc_password_whitelist")},
				{"muc.meet.jitsi", "anonymous_strict", nil},
			},
			comps: []string{"!lobby.meet.jitsi", "!breakout.meet.jitsi", "!avmoderation.meet.jitsi", "!endconference.meet.jitsi", "!polls.meet.jitsi", "focus.meet.jitsi", "metadata.meet.jitsi"},
		},
		{
			name: "recording and transcription",
			env: with(stockEnv(), "ENABLE_RECORDING", "1", "ENABLE_TRANSCRIPTIONS", "true", "XMPP_RECORDER_DOMAIN", "recorder.meet.jitsi",
				"MAX_PARTICIPANTS", "25"),
			wants: []want{
				{"meet.jitsi", "muc_lobby_whitelist", strs("recorder.meet.jitsi")},
				{"recorder.meet.jitsi", "authentication", "internal_hashed"},
				{"", "recorder_prefixes", strs("recorder@recorder.meet.jitsi")},
				{"muc.meet.jitsi", "muc_password_whitelist", strs("focus@auth.meet.jitsi", "recorder@recorder.meet.jitsi", "transcriber@recorder.meet.jitsi")},
				{"muc.meet.jitsi", "muc_access_whitelist", strs("focus@auth.meet.jitsi", "recorder@recorder.meet.jitsi", "transcriber@recorder.meet.jitsi")},
				{"muc.meet.jitsi", "muc_max_occupants", "25"},
				{"lobby.meet.jitsi", "muc_max_occupants", "25"},
				{"lobby.meet.jitsi", "modules_enabled", strs("muc_hide_all", "muc_max_occupants")},
			},
			hosts: []string{"meet.jitsi", "auth.meet.jitsi", "recorder.meet.jitsi"},
			check: func(t *testing.T, s dockerSetup, _ *config.Config) {
				want := []dockerAccount{
					{"focus", "auth.meet.jitsi", "jicofo-pw"}, {"jvb", "auth.meet.jitsi", "jvb-pw"},
					{"jibri", "auth.meet.jitsi", "jibri-pw"}, {"recorder", "recorder.meet.jitsi", "recorder-pw"},
					{"transcriber", "recorder.meet.jitsi", "transcriber-pw"}, {"jigasi", "auth.meet.jitsi", "jigasi-pw"},
				}
				if !slices.Equal(s.Accounts, want) {
					t.Errorf("accounts %v, want %v", s.Accounts, want)
				}
			},
		},
		{
			name: "jibri session with jwt recording",
			env:  with(stockEnv(), "ENABLE_AUTH", "1", "AUTH_TYPE", "jwt", "ENABLE_RECORDING", "1"),
			wants: []want{
				{"auth.meet.jitsi", "modules_enabled", strs("limits_exception", "jibri_session", "smacks")},
			},
		},
		{
			name: "module and raw config variables",
			env: with(stockEnv(), "XMPP_MUC_MODULES", "muc_x", "XMPP_INTERNAL_MUC_MODULES", "int_x", "XMPP_LOBBY_MUC_MODULES", "lob_x",
				"XMPP_BREAKOUT_MUC_MODULES", "brk_x", "XMPP_SPEAKERSTATS_MODULES", "spk_x", "GLOBAL_MODULES", "glob_x",
				"GLOBAL_CONFIG", `global_a = 1\nglobal_b = "two"`, "XMPP_CONFIGURATION", `host_a = true,host_b = "b"`,
				"XMPP_MUC_CONFIGURATION", "muc_a = 3", "PROSODY_ENABLE_RATE_LIMITS", "1"),
			wants: []want{
				{"", "global_a", int64(1)},
				{"", "global_b", "two"},
				{"meet.jitsi", "host_a", true},
				{"meet.jitsi", "host_b", "b"},
				{"muc.meet.jitsi", "muc_a", int64(3)},
				{"internal-muc.meet.jitsi", "modules_enabled", strs("muc_hide_all", "muc_filter_access", "int_x")},
				{"lobby.meet.jitsi", "modules_enabled", strs("muc_hide_all", "muc_rate_limit", "lob_x")},
				{"breakout.meet.jitsi", "modules_enabled", strs("muc_hide_all", "muc_meeting_id", "muc_rate_limit", "brk_x")},
				{"speakerstats.meet.jitsi", "modules_enabled", strs("spk_x")},
				{"muc.meet.jitsi", "modules_enabled", strs("muc_hide_all", "muc_meeting_id", "muc_x", "muc_domain_mapper", "muc_rate_limit", "rate_limit", "muc_password_whitelist", "muc_resource_validate")},
				{"muc.meet.jitsi", "rate_limit_login_rate", int64(3)},
				{"muc.meet.jitsi", "rate_limit_whitelist", strs("127.0.0.1", "::1", "10.0.0.0/8")},
			},
			check: func(t *testing.T, _ dockerSetup, cfg *config.Config) {
				if !slices.Contains(cfg.Modules(nil), "glob_x") {
					t.Errorf("global modules %v", cfg.Modules(nil))
				}
			},
		},
		{
			name: "brewery mode",
			env:  with(stockEnv(), "PROSODY_MODE", "brewery", "JVB_XMPP_AUTH_DOMAIN", "auth.jvb.example.com"),
			wants: []want{
				{"", "admins", strs("focus@auth.jvb.example.com", "jvb@auth.jvb.example.com")},
				{"", "c2s_require_encryption", true},
				{"", "limits", nil},
				{"muc.jvb.meet.jitsi", "muc_filter_whitelist", "auth.jvb.example.com"},
			},
			hosts: []string{"auth.jvb.example.com"},
			comps: []string{"muc.jvb.meet.jitsi", "!focus.meet.jitsi"},
			check: func(t *testing.T, s dockerSetup, _ *config.Config) {
				if len(s.Accounts) != 4 || s.Accounts[0].Host != "auth.jvb.example.com" || len(s.Certificates) != 1 {
					t.Errorf("accounts %v certificates %v", s.Accounts, s.Certificates)
				}
			},
		},
		{
			name: "missing passwords",
			env:  map[string]string{"XMPP_DOMAIN": "example.com"},
			check: func(t *testing.T, s dockerSetup, _ *config.Config) {
				if len(s.Accounts) != 0 || len(s.Warnings) != 2 {
					t.Errorf("accounts %v warnings %v", s.Accounts, s.Warnings)
				}
			},
		},
		{
			name: "parley paths",
			env:  with(stockEnv(), "PARLEY_DATA_PATH", "/tmp/d", "PARLEY_CERTS_DIR", "/tmp/c"),
			wants: []want{
				{"", "data_path", "/tmp/d"},
				{"", "certificates", "/tmp/c"},
				{"meet.jitsi", "ssl", map[string]any{"key": "/tmp/c/meet.jitsi.key", "certificate": "/tmp/c/meet.jitsi.crt"}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			setup, cfg := render(t, tc.env)
			for _, w := range tc.wants {
				if got := opt(cfg, w.section, w.key); !reflect.DeepEqual(got, w.value) {
					t.Errorf("[%s] %s = %#v, want %#v", w.section, w.key, got, w.value)
				}
			}
			if tc.hosts != nil {
				var got []string
				for _, h := range cfg.Hosts {
					got = append(got, h.Name)
				}
				if !slices.Equal(got, tc.hosts) {
					t.Errorf("hosts %v, want %v", got, tc.hosts)
				}
			}
			for _, c := range tc.comps {
				name, absent := strings.CutPrefix(c, "!")
				if (cfg.Component(name) == nil) != absent {
					t.Errorf("component %s present: %v", name, !absent)
				}
			}
			if tc.check != nil {
				tc.check(t, setup, cfg)
			}
			if t.Failed() {
				t.Logf("rendered:\n%s", setup.Config)
			}
		})
	}
}

// Without docker variables nothing is rendered; unsupported settings and
// malformed numbers are errors.
func TestDockerEnvTriggersAndErrors(t *testing.T) {
	for _, env := range []map[string]string{{}, {"TZ": "UTC", "LOG_LEVEL": "debug", "PUBLIC_URL": "https://x"}, {"XMPP_DOMAIN": ""}} {
		if _, ok, err := dockerEnvConfig(envOf(env)); ok || err != nil {
			t.Errorf("env %v: ok %v err %v, want not triggered", env, ok, err)
		}
	}
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"visitors mode", with(stockEnv(), "PROSODY_MODE", "visitors"), "server-to-server"},
		{"unknown mode", with(stockEnv(), "PROSODY_MODE", "other"), "PROSODY_MODE"},
		{"ldap", with(stockEnv(), "ENABLE_AUTH", "1", "AUTH_TYPE", "ldap"), "AUTH_TYPE=ldap"},
		{"matrix via PROSODY_AUTH_TYPE", with(stockEnv(), "ENABLE_AUTH", "1", "PROSODY_AUTH_TYPE", "matrix"), "AUTH_TYPE=matrix"},
		{"bad port", with(stockEnv(), "XMPP_PORT", "52 22"), "XMPP_PORT"},
		{"bad http port", with(stockEnv(), "PROSODY_HTTP_PORT", "x"), "PROSODY_HTTP_PORT"},
		{"bad TURN port", with(stockEnv(), "TURN_HOST", "t", "TURN_PORT", "{"), "TURN_PORT"},
		{"bad domain", with(stockEnv(), "XMPP_DOMAIN", "a b"), "XMPP_DOMAIN"},
		{"upper-case domain", with(stockEnv(), "XMPP_MUC_DOMAIN", "MUC.meet.jitsi"), "XMPP_MUC_DOMAIN"},
		{"bad brewery domain", with(stockEnv(), "PROSODY_MODE", "brewery", "JVB_XMPP_AUTH_DOMAIN", "x@y"), "JVB_XMPP_AUTH_DOMAIN"},
		{"bad rate", with(stockEnv(), "PROSODY_ENABLE_RATE_LIMITS", "1", "PROSODY_RATE_LIMIT_TIMEOUT", "1)"), "PROSODY_RATE_LIMIT_TIMEOUT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ok, err := dockerEnvConfig(envOf(tc.env))
			if !ok || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ok %v err %v, want an error about %s", ok, err, tc.want)
			}
		})
	}
	// Auth settings are ignored when ENABLE_AUTH is off, as in the image.
	_, cfg := render(t, with(stockEnv(), "AUTH_TYPE", "ldap", "JWT_ACCEPTED_ISSUERS", "x"))
	if opt(cfg, "meet.jitsi", "authentication") != "jitsi-anonymous" || opt(cfg, "", "asap_accepted_issuers") != nil {
		t.Fatalf("auth settings applied without ENABLE_AUTH")
	}
}

// The image's toBool (jitsi/tpl v1.5.0).
func TestTplBool(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"1", true}, {"true", true}, {"TRUE", true}, {"t", true}, {`"true"`, true}, {"'1'", true},
		{"0", false}, {"false", false}, {"F", false}, {`"0"`, false}, {"", false},
		{"yes", true}, {"on", true}, {"no", true}, // not a ParseBool value but not empty
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := tplBool(tc.in); got != tc.want {
				t.Fatalf("tplBool(%q) = %v", tc.in, got)
			}
		})
	}
}

// luaQuote round-trips every byte string through the config loader.
func FuzzLuaQuote(f *testing.F) {
	for _, s := range []string{"", "plain", `quo"te`, `back\slash`, "new\nline", "\x00\x01\x7f", "é ünïcode", "]]", "--[[", "\r\n\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := config.Parse("q.cfg.lua", []byte("x = "+luaQuote(s)+"\n"), config.WithEnv(noEnv))
		if err != nil {
			t.Fatalf("luaQuote(%q) = %s does not parse: %v", s, luaQuote(s), err)
		}
		if got := cfg.Global["x"].Value; got != s {
			t.Fatalf("round trip %q -> %q", s, got)
		}
	})
}

// Any value of the string variables renders to a config that parses (or
// to an error for numeric ones): the environment cannot break the syntax.
func FuzzDockerEnv(f *testing.F) {
	f.Add("meet.jitsi", "secret", "mod_a,mod_b", "5222")
	f.Add(`x"y`, `a\b`, ",,", "0")
	f.Add("é", "\n", "\x00", "1e3")
	f.Add("\xe7", "0", "0", "0")
	f.Add("Meet.Jitsi", "", "", "")
	f.Fuzz(func(t *testing.T, domain, secret, modules, port string) {
		env := with(stockEnv(), "XMPP_DOMAIN", domain, "JWT_APP_SECRET", secret, "JWT_APP_ID", secret,
			"ENABLE_AUTH", "1", "AUTH_TYPE", "jwt", "XMPP_MODULES", modules, "TURN_HOST", domain,
			"TURN_CREDENTIALS", secret, "XMPP_PORT", port)
		setup, ok, err := dockerEnvConfig(envOf(env))
		if !ok {
			t.Fatal("not triggered")
		}
		if err != nil {
			return
		}
		cfg, err := config.Parse("fuzz.cfg.lua", []byte(setup.Config), config.WithEnv(noEnv))
		if err != nil {
			t.Fatalf("does not parse: %v\n%s", err, setup.Config)
		}
		if secret != "" {
			if got := opt(cfg, "", "external_service_secret"); got != secret {
				t.Fatalf("secret %q -> %#v", secret, got)
			}
		}
	})
}

// ensureCertificate writes a loadable self-signed pair for the host once
// and leaves existing files alone.
func TestEnsureCertificate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	c := dockerCert{Host: "meet.test", CertFile: filepath.Join(dir, "meet.test.crt"), KeyFile: filepath.Join(dir, "meet.test.key")}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	setup := dockerSetup{Certificates: []dockerCert{c}}
	made, err := setup.prepareCertificates(now)
	if err != nil || !slices.Equal(made, []string{"meet.test"}) {
		t.Fatalf("prepareCertificates = %v, %v", made, err)
	}
	pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.VerifyHostname("meet.test"); err != nil {
		t.Error(err)
	}
	// No wildcard: with one certificate per host, SNI picks the right one.
	if err := leaf.VerifyHostname("auth.meet.test"); err == nil {
		t.Error("certificate also valid for auth.meet.test")
	}
	if !leaf.NotAfter.Equal(now.AddDate(1, 0, 0)) || leaf.NotBefore.After(now) {
		t.Errorf("validity %v .. %v", leaf.NotBefore, leaf.NotAfter)
	}
	if st, err := os.Stat(c.KeyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, %v", st.Mode(), err)
	}
	before, _ := os.ReadFile(c.CertFile)
	made, err = setup.prepareCertificates(now.Add(time.Hour))
	after, _ := os.ReadFile(c.CertFile)
	if err != nil || len(made) != 0 || string(before) != string(after) {
		t.Fatalf("second run regenerated: %v %v", made, err)
	}
}

// Starting from docker-jitsi-meet variables alone (token auth on) gives a
// working deployment: generated certificates load (STARTTLS with them),
// the service accounts log in, a request through focus.D reaches jicofo
// and comes back, and TURN credentials are served.
func TestDockerEnvServes(t *testing.T) {
	dir := t.TempDir()
	env := with(stockEnv(), "ENABLE_AUTH", "1", "AUTH_TYPE", "jwt", "JWT_APP_ID", "app", "JWT_APP_SECRET", "app-secret",
		"XMPP_PORT", "0", "PROSODY_HTTP_PORT", "0", "ENABLE_IPV6", "0", "PROSODY_C2S_REQUIRE_ENCRYPTION", "0",
		"PARLEY_DATA_PATH", filepath.Join(dir, "data"), "PARLEY_CERTS_DIR", filepath.Join(dir, "certs"),
		"TURN_HOST", "turn.meet.jitsi", "TURN_PORT", "3478", "TURN_TRANSPORT", "udp", "TURN_CREDENTIALS", "turn-secret",
		"GLOBAL_CONFIG", "allow_unencrypted_plain_auth = true")
	setup, ok, err := dockerEnvConfig(envOf(env))
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, err := setup.prepareCertificates(time.Now()); err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(setup.Config, `_interfaces = { "*" }`, `_interfaces = { "127.0.0.1" }`)
	s := servertest.Start(t, text, servertest.WithServerOptions(
		server.WithAuthProvider("jitsi-anonymous", func(h *server.Host) (auth.Provider, error) {
			return auth.NewAnonymous(h.Name, auth.AnonymousOptions{}), nil
		}),
		server.WithAuthProvider(jitsi.TokenProviderName, jitsi.TokenAuthFactory(jitsi.TokenAuthOptions{})),
		server.WithComponentType(jitsi.ClientProxyType, jitsi.ClientProxyFactory()),
		server.WithModules(jitsi.NewExternalServices(), jitsi.NewFeaturesIdentity())))
	if err := setup.createAccounts(t.Context(), s.Server); err != nil {
		t.Fatal(err)
	}
	if got := s.Host("meet.jitsi").Auth.Name(); got != jitsi.TokenProviderName {
		t.Fatalf("meet.jitsi authentication %q", got)
	}

	jicofo := servertest.DialRaw(t, s.C2SAddr)
	if j := jicofo.Login("auth.meet.jitsi", "focus", "jicofo-pw", "focus"); j != "focus@auth.meet.jitsi/focus" {
		t.Fatalf("jicofo bound %s", j)
	}
	pem, err := os.ReadFile(filepath.Join(dir, "certs", "auth.meet.jitsi.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	s.ClientTLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	jvb := s.Connect(t, "jvb@auth.meet.jitsi", "jvb-pw", servertest.ClientOptions{StartTLS: true})

	iq := stanza.New(stanza.NSClient, "iq").Set("type", "set").Set("id", "conf1").Set("to", "focus.meet.jitsi").
		Add(stanza.New("http://jitsi.org/protocol/focus", "conference").Set("room", "r@muc.meet.jitsi"))
	jvb.Send(iq)
	req := jicofo.Next()
	if req.Get("from") != "focus.meet.jitsi/"+jvb.JID.String() || req.Get("id") != "conf1" {
		t.Fatalf("jicofo got %s", req)
	}
	jicofo.Write(`<iq type='result' id='conf1' to='` + req.Get("from") + `'/>`)
	if got := jvb.NextMatch(func(el *stanza.Element) bool { return el.Get("id") == "conf1" }); got.Get("type") != "result" || got.Get("from") != "focus.meet.jitsi" {
		t.Fatalf("reply %s", got)
	}

	resp := jvb.Request(stanza.New(stanza.NSClient, "iq").Set("type", "get").Set("to", "meet.jitsi").
		Add(stanza.New(jitsi.NSExtDisco, "services")))
	svc := resp.Child(jitsi.NSExtDisco, "services").Child(jitsi.NSExtDisco, "service")
	if svc == nil || svc.Get("host") != "turn.meet.jitsi" || svc.Get("port") != "3478" || svc.Get("transport") != "udp" ||
		svc.Get("username") == "" || svc.Get("password") == "" || svc.Get("restricted") != "1" {
		t.Fatalf("services %s", resp)
	}
}

// BenchmarkDockerEnvConfig measures rendering the stock layout.
func BenchmarkDockerEnvConfig(b *testing.B) {
	env := envOf(with(stockEnv(), "TURN_HOST", "t1,t2", "TURN_CREDENTIALS", "s", "ENABLE_AUTH", "1", "AUTH_TYPE", "jwt"))
	for range b.N {
		if _, _, err := dockerEnvConfig(env); err != nil {
			b.Fatal(err)
		}
	}
}
