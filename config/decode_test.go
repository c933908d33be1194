package config_test

import (
	"slices"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/config"
)

func TestModules(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		section string // "" = global
		want    []string
	}{
		{
			name: "autoload only",
			src:  "VirtualHost \"h\"\n",
			want: []string{"presence", "message", "iq", "offline", "c2s", "s2s", "s2s_auth_certs"},
		},
		{
			name:    "host adds to global, global disabled removed",
			src:     "modules_enabled = { \"roster\", \"ping\" }\nmodules_disabled = { \"offline\", \"s2s\" }\nVirtualHost \"h\"\n  modules_enabled = { \"bosh\", \"ping\" }\n",
			section: "h",
			want:    []string{"presence", "message", "iq", "c2s", "s2s_auth_certs", "roster", "ping", "bosh"},
		},
		{
			name:    "host modules_disabled removes global modules",
			src:     "modules_enabled = { \"roster\", \"ping\" }\nVirtualHost \"h\"\n  modules_disabled = { \"ping\", \"c2s\" }\n",
			section: "h",
			want:    []string{"presence", "message", "iq", "offline", "s2s", "s2s_auth_certs", "roster"},
		},
		{
			name:    "component keeps only inheritable global modules",
			src:     "modules_enabled = { \"roster\", \"tls\", \"smacks\", \"ping\" }\nComponent \"muc.h\" \"muc\"\n  modules_enabled = { \"muc_hide_all\" }\n",
			section: "muc.h",
			want:    []string{"muc", "iq", "s2s", "tls", "smacks", "muc_hide_all"},
		},
		{
			name:    "external component",
			src:     "modules_disabled = { \"s2s\" }\nComponent \"ext.h\"\n  component_secret = \"x\"\n",
			section: "ext.h",
			want:    []string{"component", "iq"},
		},
		{
			name:    "component module is first even if also enabled",
			src:     "Component \"muc.h\" \"muc\"\n  modules_enabled = { \"muc\" }\n  modules_disabled = { \"iq\", \"s2s\" }\n",
			section: "muc.h",
			want:    []string{"muc"},
		},
		{
			name:    "vcard_legacy replaces vcard",
			src:     "modules_enabled = { \"vcard\" }\nVirtualHost \"h\"\n  modules_enabled = { \"vcard_legacy\" }\n  modules_disabled = { \"offline\", \"s2s\", \"s2s_auth_certs\", \"presence\", \"message\", \"iq\", \"c2s\" }\n",
			section: "h",
			want:    []string{"vcard_legacy"},
		},
		{
			name: "global list",
			src:  "modules_enabled = { \"posix\" }\nmodules_disabled = { \"offline\" }\n",
			want: []string{"presence", "message", "iq", "c2s", "s2s", "s2s_auth_certs", "posix"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := loadSrc(t, tt.src)
			var s config.Section
			if tt.section != "" {
				if s = c.Section(tt.section); s == nil {
					t.Fatalf("no section %q", tt.section)
				}
			}
			if got := c.Modules(s); !slices.Equal(got, tt.want) {
				t.Errorf("Modules = %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestLog(t *testing.T) {
	all := []string{"debug", "info", "warn", "error"}
	tests := []struct {
		name string
		src  string
		want []config.LogSink
	}{
		{name: "unset", src: "x = 1\n", want: []config.LogSink{{To: "console", Levels: all[1:], Min: "info", Max: "error"}}},
		{name: "unset with debug", src: "debug = true\n", want: []config.LogSink{{To: "console", Levels: all, Min: "debug", Max: "error"}}},
		{name: "*syslog", src: "log = \"*syslog\"\n", want: []config.LogSink{{To: "syslog", Levels: all, Min: "debug", Max: "error"}}},
		{name: "file name", src: "log = \"/var/log/prosody.log\"\n",
			want: []config.LogSink{{To: "file", Filename: "/var/log/prosody.log", Levels: all[1:], Min: "info", Max: "error"}}},
		{name: "per level", src: "log = { error = \"prosody.err\"; info = \"prosody.log\"; warn = \"*syslog\" }\n", want: []config.LogSink{
			{To: "file", Filename: "prosody.log", Levels: all[1:], Min: "info", Max: "error"},
			{To: "syslog", Levels: all[2:], Min: "warn", Max: "error"},
			{To: "file", Filename: "prosody.err", Levels: all[3:], Min: "error", Max: "error"},
		}},
		{name: "sink tables", src: "log = { { levels = { min = \"info\", max = \"warn\" }, to = \"console\" }, { levels = { \"error\" }, to = \"file\", filename = \"e.log\" }, { to = \"stdout\", levels = \"warn\" }, \"*syslog\", { levels = {} } }\n",
			want: []config.LogSink{
				{To: "console", Levels: []string{"info", "warn"}, Min: "info", Max: "warn"},
				{To: "file", Filename: "e.log", Levels: []string{"error"}, Min: "error", Max: "error"},
				{To: "stdout", Levels: []string{"warn"}, Min: "warn", Max: "warn"},
				{To: "syslog", Levels: all, Min: "debug", Max: "error"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := loadSrc(t, tt.src)
			got, err := c.Log()
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Log = %+v\nwant %+v", got, tt.want)
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.To != w.To || g.Filename != w.Filename || !slices.Equal(g.Levels, w.Levels) || g.Min != w.Min || g.Max != w.Max {
					t.Errorf("sink %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
	c := loadSrc(t, "log = 5\n")
	if _, err := c.Log(); err == nil || err.Error() != mainFile+":1: option 'log': expected a file name, \"*sink\" or a table, got a number" {
		t.Errorf("Log(number) error = %v", err)
	}
}

func opt(v any) *config.Option {
	return &config.Option{Name: "o", Value: v, Pos: config.Pos{File: "f.lua", Line: 7}}
}

func TestAsDuration(t *testing.T) {
	tests := []struct {
		name    string
		value   any
		want    time.Duration
		wantErr bool
	}{
		{name: "seconds", value: int64(60), want: time.Minute},
		{name: "fractional seconds", value: 1.5, want: 1500 * time.Millisecond},
		{name: "list scalar", value: []any{int64(5)}, want: 5 * time.Second},
		{name: "never", value: "never", want: config.Forever},
		{name: "false", value: false, want: config.Forever},
		{name: "days", value: "2 days", want: 48 * time.Hour},
		{name: "hours", value: "3 hours", want: 3 * time.Hour},
		{name: "minutes", value: "5 minutes", want: 5 * time.Minute},
		{name: "min", value: "10min", want: 10 * time.Minute},
		{name: "weeks", value: "1 week", want: 7 * 24 * time.Hour},
		{name: "month", value: "1 month", want: 31 * 24 * time.Hour},
		{name: "seconds word", value: "30 seconds", want: 30 * time.Second},
		{name: "upper case", value: "2 HOURS", want: 2 * time.Hour},
		{name: "lax bare number", value: "60", want: time.Minute},
		{name: "lax m is months", value: "5m", want: 5 * 31 * 24 * time.Hour},
		{name: "no number", value: "soon", wantErr: true},
		{name: "negative", value: int64(-1), wantErr: true},
		{name: "true", value: true, wantErr: true},
		{name: "table", value: map[string]any{"a": int64(1)}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := opt(tt.value).AsDuration()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("AsDuration = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAsScalars(t *testing.T) {
	tests := []struct {
		name    string
		value   any
		str     string
		strErr  bool
		num     float64
		numErr  bool
		boolean bool
		boolErr bool
	}{
		{name: "string", value: "abc", str: "abc", numErr: true, boolErr: true},
		{name: "numeric string", value: " 0x10 ", str: " 0x10 ", num: 16, boolErr: true},
		{name: "int", value: int64(1), str: "1", num: 1, boolean: true},
		{name: "zero", value: int64(0), str: "0", num: 0, boolean: false},
		{name: "float", value: 2.5, str: "2.5", num: 2.5, boolErr: true},
		{name: "bool", value: true, str: "true", numErr: true, boolean: true},
		{name: "string true", value: "true", str: "true", numErr: true, boolean: true},
		{name: "string false", value: "false", str: "false", numErr: true, boolean: false},
		{name: "yes is not a boolean", value: "yes", str: "yes", numErr: true, boolErr: true},
		{name: "list takes first", value: []any{"x", "y"}, str: "x", numErr: true, boolErr: true},
		{name: "inf is not a number", value: "inf", str: "inf", numErr: true, boolErr: true},
		{name: "map", value: map[string]any{"a": "b"}, strErr: true, numErr: true, boolErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := opt(tt.value)
			s, err := o.AsString()
			if (err != nil) != tt.strErr || (err == nil && s != tt.str) {
				t.Errorf("AsString = %q, %v", s, err)
			}
			n, err := o.AsFloat()
			if (err != nil) != tt.numErr || (err == nil && n != tt.num) {
				t.Errorf("AsFloat = %v, %v", n, err)
			}
			b, err := o.AsBool()
			if (err != nil) != tt.boolErr || (err == nil && b != tt.boolean) {
				t.Errorf("AsBool = %v, %v", b, err)
			}
		})
	}
	if _, err := opt(map[string]any{}).AsString(); err == nil || err.Error() != "f.lua:7: option 'o': expected a string, got a table" {
		t.Errorf("error = %v", err)
	}
}

func TestAsLists(t *testing.T) {
	tests := []struct {
		name    string
		value   any
		strs    []string
		strsErr bool
		ints    []int64
		intsErr bool
	}{
		{name: "single string", value: "a", strs: []string{"a"}, intsErr: true},
		{name: "list of strings", value: []any{"a", "b"}, strs: []string{"a", "b"}, intsErr: true},
		{name: "ports", value: []any{int64(5222), "5223"}, strs: []string{"5222", "5223"}, ints: []int64{5222, 5223}},
		{name: "single number", value: int64(5280), strs: []string{"5280"}, ints: []int64{5280}},
		{name: "empty", value: []any{}, strs: []string{}, ints: []int64{}},
		{name: "map with list part", value: map[string]any{"1": "a", "2": "b", "k": "v"}, strs: []string{"a", "b"}, intsErr: true},
		{name: "nested table", value: []any{[]any{"x"}}, strsErr: true, intsErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := opt(tt.value)
			s, err := o.AsStrings()
			if (err != nil) != tt.strsErr || (err == nil && !slices.Equal(s, tt.strs)) {
				t.Errorf("AsStrings = %q, %v", s, err)
			}
			n, err := o.AsInts()
			if (err != nil) != tt.intsErr || (err == nil && !slices.Equal(n, tt.ints)) {
				t.Errorf("AsInts = %v, %v", n, err)
			}
		})
	}
	m, err := opt(map[string]any{"key": "k", "n": int64(1)}).AsStringMap()
	if err != nil || m["key"] != "k" || m["n"] != "1" {
		t.Errorf("AsStringMap = %v, %v", m, err)
	}
	if _, err := opt([]any{"x"}).AsMap(); err == nil {
		t.Error("AsMap of a list succeeded")
	}
	if m, err := opt([]any{}).AsMap(); err != nil || len(m) != 0 {
		t.Errorf("AsMap of {} = %v, %v", m, err)
	}
}
