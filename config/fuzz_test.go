package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/config"
)

// goPanicMarkers are texts of Go runtime panics, which gopher-lua turns into
// Lua errors: finding one in an error means a bug in our Go code (or
// gopher-lua's), not in the config.
var goPanicMarkers = []string{
	"invalid memory address", "index out of range", "slice bounds out of range",
	"integer divide by zero", "assignment to entry in nil map", "interface conversion",
}

// FuzzParse evaluates arbitrary source. It must never panic or hang: each
// input runs with a 100 ms evaluation deadline (a config such as
// `while true do end` stops there) and with an in-memory file system, so
// Include/FileContents/io.open cannot touch the disk.
func FuzzParse(f *testing.F) {
	// One real config as a seed; the larger ones make the minimization of
	// every new interesting input slow without adding coverage.
	for _, name := range []string{"jitsi-example.cfg.lua"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"VirtualHost \"a\" { x = 1 }\nComponent \"b\" \"muc\" { y = {2} }\n",
		"Include \"conf.d/*.cfg.lua\"\nInclude \"inc.lua\"\n",
		"x = ENV_HOME\nmodules_enabled = {}\nmodules_enabled:append{\"a\"}\nmodules_enabled{\"b\"}\n",
		"local t = {} t.t = t\ncyc = t\nfn = print\n",
		"while true do end\n",
		"src = Lua.debug.getinfo(1, 'S').source\nx = FileContents 'inc.lua'\n",
		"Component \"x\" \"muc\"\nComponent \"x\"\nVirtualHost \"x\"\n",
		"error(setmetatable({}, {__tostring = function() return 'x' end}))\n",
		"log = { { levels = { min = 'info' }, to = 'console' }, '*syslog', info = 'x.log' }\n",
		"a = 1 a = 2 s = ('x'):rep(10, ',') ..  string.format('%5.2f', 1/3)\n",
	} {
		f.Add([]byte(s))
	}
	fsys := memFS(map[string]string{
		"/etc/prosody/inc.lua":           "inc = true\nVirtualHost \"inc.example\"\n",
		"/etc/prosody/conf.d/a.cfg.lua":  "Component \"c.example\" \"muc\"\n",
		"/etc/prosody/conf.d/b.cfg.lua":  "Include \"../inc.lua\"\n",
		"/etc/prosody/conf.d/loop.lua":   "Include \"loop.lua\"\n",
		"/etc/prosody/secrets/key.txt":   "secret\n",
		"/etc/prosody/conf.d/notes.txt":  "",
		"/etc/prosody/conf.d/.hidden.lu": "",
	})
	env := func(k string) (string, bool) {
		if k == "HOME" {
			return "/home/prosody", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := config.Parse(mainFile, src, config.WithFS(fsys), config.WithEnv(env), config.WithTimeout(100*time.Millisecond))
		if err != nil {
			var ce *config.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T) is not a *ConfigError", err, err)
			}
			for _, m := range goPanicMarkers {
				if strings.Contains(ce.Msg, m) {
					t.Fatalf("Go panic surfaced as a config error: %v", err)
				}
			}
			_ = err.Error()
			return
		}
		names := map[string]bool{}
		check := func(name string, opts config.Options) {
			if name == "" || names[name] {
				t.Fatalf("empty or duplicate section name %q", name)
			}
			names[name] = true
			for k, o := range opts {
				if o.Name != k || o.Pos.File == "" || o.Value == nil {
					t.Fatalf("bad option %q: %+v", k, o)
				}
			}
		}
		for k, o := range c.Global {
			if o.Name != k || o.Pos.File == "" || o.Value == nil || o.Section != "" {
				t.Fatalf("bad global option %q: %+v", k, o)
			}
		}
		for _, h := range c.Hosts {
			check(h.Name, h.Options)
			_ = c.Modules(h)
			_ = c.Admins(h)
			_ = c.Enabled(h)
		}
		for _, co := range c.Components {
			check(co.Name, co.Options)
			if co.Type == "" {
				t.Fatalf("component %q without type", co.Name)
			}
			_ = c.Modules(co)
		}
		_, _ = c.Log()
		for _, o := range c.AllOptions() {
			_, _ = o.AsString()
			_, _ = o.AsDuration()
			_, _ = o.AsStrings()
			_, _ = o.AsInts()
			_, _ = o.AsStringMap()
		}
	})
}
