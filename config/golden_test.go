package config_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/config"
)

var update = flag.Bool("update", false, "rewrite the *.golden.json files")

// noEnv is a hermetic environment: nothing is set.
func noEnv(string) (string, bool) { return "", false }

type goldenOption struct {
	Value any    `json:"value"`
	Pos   string `json:"pos"`
}

type goldenSection struct {
	Name    string                  `json:"name"`
	Type    string                  `json:"type,omitempty"`
	Pos     string                  `json:"pos"`
	Enabled bool                    `json:"enabled"`
	Modules []string                `json:"modules"`
	Admins  []string                `json:"admins,omitempty"`
	Options map[string]goldenOption `json:"options"`
}

type golden struct {
	Files         []string                `json:"files"`
	Global        map[string]goldenOption `json:"global"`
	GlobalModules []string                `json:"global_modules"`
	Hosts         []goldenSection         `json:"hosts"`
	Components    []goldenSection         `json:"components"`
	Log           []config.LogSink        `json:"log"`
	Warnings      []string                `json:"warnings"`
}

func goldenOptions(opts config.Options) map[string]goldenOption {
	out := map[string]goldenOption{}
	for name, o := range opts {
		out[name] = goldenOption{Value: o.Value, Pos: o.Pos.String()}
	}
	return out
}

func toGolden(t *testing.T, c *config.Config) golden {
	t.Helper()
	g := golden{
		Files:         c.Files,
		Global:        goldenOptions(c.Global),
		GlobalModules: c.Modules(nil),
		Warnings:      []string{},
	}
	for _, h := range c.Hosts {
		g.Hosts = append(g.Hosts, goldenSection{Name: h.Name, Pos: h.Pos.String(), Enabled: c.Enabled(h),
			Modules: c.Modules(h), Admins: c.Admins(h), Options: goldenOptions(h.Options)})
	}
	for _, co := range c.Components {
		g.Components = append(g.Components, goldenSection{Name: co.Name, Type: co.Type, Pos: co.Pos.String(),
			Enabled: c.Enabled(co), Modules: c.Modules(co), Admins: c.Admins(co), Options: goldenOptions(co.Options)})
	}
	sinks, err := c.Log()
	if err != nil {
		t.Fatalf("Log() = %v", err)
	}
	g.Log = sinks
	for _, w := range c.Warnings {
		g.Warnings = append(g.Warnings, w.String())
	}
	return g
}

// TestGolden evaluates each real-world configuration and compares the
// result with its golden file (refresh with `go test ./config -update`).
func TestGolden(t *testing.T) {
	tests := []struct {
		name   string
		config string
		golden string
	}{
		{name: "jitsi example (JITSI.md §8)", config: "testdata/jitsi-example.cfg.lua", golden: "testdata/jitsi-example.golden.json"},
		{name: "debian jitsi-meet-prosody", config: "testdata/jitsi-debian.cfg.lua", golden: "testdata/jitsi-debian.golden.json"},
		{name: "docker-jitsi-meet", config: "testdata/docker/prosody.cfg.lua", golden: "testdata/docker.golden.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(tt.config, config.WithEnv(noEnv))
			if err != nil {
				t.Fatalf("Load(%s) = %v", tt.config, err)
			}
			got, err := json.MarshalIndent(toGolden(t, c), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			if *update {
				if err := os.WriteFile(tt.golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(tt.golden)
			if err != nil {
				t.Fatalf("reading golden file (run with -update to create it): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s (run with -update and review the diff):\n%s", tt.config, tt.golden, firstDiff(string(want), string(got)))
			}
		})
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + w + "\n  got:  " + g
		}
	}
	return ""
}

type hostWant struct {
	name    string
	enabled bool
}

type compWant struct {
	name, typ string
}

func hostsOf(c *config.Config) []hostWant {
	var out []hostWant
	for _, h := range c.Hosts {
		out = append(out, hostWant{h.Name, c.Enabled(h)})
	}
	return out
}

func compsOf(c *config.Config) []compWant {
	var out []compWant
	for _, co := range c.Components {
		out = append(out, compWant{co.Name, co.Type})
	}
	return out
}

// TestDebianConfig checks the hosts and components of the config the Debian
// jitsi-meet-prosody package installs.
func TestDebianConfig(t *testing.T) {
	c, err := config.Load("testdata/jitsi-debian.cfg.lua", config.WithEnv(noEnv))
	if err != nil {
		t.Fatal(err)
	}
	wantHosts := []hostWant{{"meet.example.com", true}, {"auth.meet.example.com", true}, {"recorder.meet.example.com", true}}
	if got := hostsOf(c); !slices.Equal(got, wantHosts) {
		t.Errorf("hosts = %v, want %v", got, wantHosts)
	}
	wantComps := []compWant{
		{"conference.meet.example.com", "muc"},
		{"breakout.meet.example.com", "muc"},
		{"internal.auth.meet.example.com", "muc"},
		{"focus.meet.example.com", "client_proxy"},
		{"speakerstats.meet.example.com", "speakerstats_component"},
		{"endconference.meet.example.com", "end_conference"},
		{"avmoderation.meet.example.com", "av_moderation_component"},
		{"filesharing.meet.example.com", "filesharing_component"},
		{"lobby.meet.example.com", "muc"},
		{"metadata.meet.example.com", "room_metadata_component"},
	}
	if got := compsOf(c); !slices.Equal(got, wantComps) {
		t.Errorf("components = %v, want %v", got, wantComps)
	}
	main := c.Host("meet.example.com")
	if got := c.String(main, "authentication", ""); got != "jitsi-anonymous" {
		t.Errorf("authentication = %q", got)
	}
	if c.Bool(main, "c2s_require_encryption", true) {
		t.Error("c2s_require_encryption on the main host should be false")
	}
	if got := c.StringMap(c.Host("auth.meet.example.com"), "ssl"); got["key"] != "/etc/prosody/certs/auth.meet.example.com.key" {
		t.Errorf("auth host ssl = %v", got)
	}
	// The global ssl table has protocol/ciphers; the main host replaces it.
	if got := c.StringMap(main, "ssl"); got["certificate"] != "/etc/prosody/certs/meet.example.com.crt" || got["protocol"] != "" {
		t.Errorf("main host ssl = %v", got)
	}
	if got := c.Duration(c.Host("auth.meet.example.com"), "smacks_hibernation_time", 0); got.Seconds() != 15 {
		t.Errorf("auth smacks_hibernation_time = %v", got)
	}
	if got := c.Admins(c.Component("internal.auth.meet.example.com")); !slices.Equal(got, []string{"focus@auth.meet.example.com", "jvb@auth.meet.example.com"}) {
		t.Errorf("internal muc admins = %v", got)
	}
	if got := c.Strings(nil, "plugin_paths"); !slices.Equal(got, []string{"/usr/share/jitsi-meet/prosody-plugins/"}) {
		t.Errorf("plugin_paths = %v", got)
	}
	wantMods := []string{"muc", "iq", "s2s", "muc_hide_all", "muc_meeting_id", "muc_domain_mapper", "polls", "muc_rate_limit", "muc_password_whitelist"}
	if got := c.Modules(c.Component("conference.meet.example.com")); !slices.Equal(got, wantMods) {
		t.Errorf("conference modules = %v, want %v", got, wantMods)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings: %v", c.Warnings)
	}
}

// TestDockerConfig checks the docker-jitsi-meet pair: prosody.cfg.lua
// includes conf.d/*.cfg.lua.
func TestDockerConfig(t *testing.T) {
	c, err := config.Load("testdata/docker/prosody.cfg.lua", config.WithEnv(noEnv))
	if err != nil {
		t.Fatal(err)
	}
	site := filepath.Join("testdata", "docker", "conf.d", "jitsi-meet.cfg.lua")
	if want := []string{"testdata/docker/prosody.cfg.lua", site}; !slices.Equal(c.Files, want) {
		t.Errorf("files = %v, want %v", c.Files, want)
	}
	wantHosts := []hostWant{{"meet.jitsi", true}, {"auth.meet.jitsi", true}}
	if got := hostsOf(c); !slices.Equal(got, wantHosts) {
		t.Errorf("hosts = %v, want %v", got, wantHosts)
	}
	wantComps := []compWant{
		{"internal-muc.meet.jitsi", "muc"},
		{"muc.meet.jitsi", "muc"},
		{"focus.meet.jitsi", "client_proxy"},
		{"speakerstats.meet.jitsi", "speakerstats_component"},
		{"endconference.meet.jitsi", "end_conference"},
		{"avmoderation.meet.jitsi", "av_moderation_component"},
		{"lobby.meet.jitsi", "muc"},
		{"breakout.meet.jitsi", "muc"},
		{"metadata.meet.jitsi", "room_metadata_component"},
		{"polls.meet.jitsi", "polls_component"},
	}
	if got := compsOf(c); !slices.Equal(got, wantComps) {
		t.Errorf("components = %v, want %v", got, wantComps)
	}
	// admins = { } in prosody.cfg.lua, then the list in conf.d: the later
	// file wins and, being another file, is no duplicate.
	admins := c.Global["admins"]
	if admins.Pos.File != site || admins.Pos.Line != 4 {
		t.Errorf("admins set at %v, want %s:4", admins.Pos, site)
	}
	wantAdmins := []string{"jigasi@auth.meet.jitsi", "jibri@auth.meet.jitsi", "focus@auth.meet.jitsi", "jvb@auth.meet.jitsi"}
	if got := c.Strings(nil, "admins"); !slices.Equal(got, wantAdmins) {
		t.Errorf("admins = %v, want %v", got, wantAdmins)
	}
	if got := c.Ints(nil, "c2s_ports"); !slices.Equal(got, []int64{5222}) {
		t.Errorf("c2s_ports = %v", got)
	}
	if got := c.Ints(nil, "http_ports"); !slices.Equal(got, []int64{5280}) {
		t.Errorf("http_ports = %v", got)
	}
	if got := c.Ints(nil, "component_ports"); len(got) != 0 || got == nil {
		t.Errorf("component_ports = %#v, want an empty list", got)
	}
	if got := c.Strings(nil, "http_interfaces"); !slices.Equal(got, []string{"*", "::"}) {
		t.Errorf("http_interfaces = %v", got)
	}
	main := c.Host("meet.jitsi")
	if got := c.String(main, "authentication", ""); got != "jitsi-anonymous" {
		t.Errorf("meet.jitsi authentication = %q (global is internal_hashed)", got)
	}
	if got := c.String(c.Host("auth.meet.jitsi"), "authentication", ""); got != "internal_hashed" {
		t.Errorf("auth authentication = %q", got)
	}
	if got := c.String(nil, "data_path", ""); got != "/var/lib/prosody/data" {
		t.Errorf("data_path = %q", got)
	}
	if got := c.String(nil, "pidfile", ""); got != "/run/prosody/prosody.pid" {
		t.Errorf("pidfile = %q", got)
	}
	if got := c.StringMap(nil, "storage"); got["smacks_h"] != "memory" {
		t.Errorf("storage = %v", got)
	}
	if !c.Bool(main, "c2s_require_encryption", false) {
		t.Error("c2s_require_encryption should be true")
	}
	wantMain := []string{"presence", "message", "iq", "c2s", "s2s_auth_certs", "roster", "saslauth", "tls", "disco",
		"admin_shell", "private", "limits", "version", "ping", "posix", "http_health", "bosh", "features_identity",
		"websocket", "smacks", "conference_duration", "muc_lobby_rooms", "muc_breakout_rooms"}
	if got := c.Modules(main); !slices.Equal(got, wantMain) {
		t.Errorf("meet.jitsi modules = %v\nwant %v", got, wantMain)
	}
	sinks, err := c.Log()
	if err != nil {
		t.Fatal(err)
	}
	if len(sinks) != 1 || sinks[0].To != "console" || sinks[0].Min != "info" || sinks[0].Max != "error" {
		t.Errorf("log = %+v", sinks)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings: %v", c.Warnings)
	}
}
