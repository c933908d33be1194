package config_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/config"
)

// load evaluates mainFile with the given sources (absolute paths) and
// environment, failing the test on error.
func load(t *testing.T, files map[string]string, env map[string]string, opts ...config.LoadOption) *config.Config {
	t.Helper()
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	opts = append([]config.LoadOption{config.WithFS(memFS(files)), config.WithEnv(lookup)}, opts...)
	c, err := config.Load(mainFile, opts...)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func loadSrc(t *testing.T, src string) *config.Config {
	t.Helper()
	return load(t, map[string]string{mainFile: src}, nil)
}

func hostNames(c *config.Config) []string {
	var out []string
	for _, h := range c.Hosts {
		out = append(out, h.Name)
	}
	return out
}

func warnings(c *config.Config) []string {
	var out []string
	for _, w := range c.Warnings {
		out = append(out, w.String())
	}
	return out
}

func TestIncludeGlobOrder(t *testing.T) {
	files := map[string]string{
		mainFile:                                   "Include \"conf.d/*.cfg.lua\"\nVirtualHost \"main.example\"\n",
		"/etc/prosody/conf.d/c.cfg.lua":            "VirtualHost \"c.example\"\n",
		"/etc/prosody/conf.d/a.cfg.lua":            "VirtualHost \"a.example\"\n",
		"/etc/prosody/conf.d/b.cfg.lua":            "VirtualHost \"b.example\"\n",
		"/etc/prosody/conf.d/.hidden.cfg.lua":      "VirtualHost \"hidden.example\"\n",
		"/etc/prosody/conf.d/notes.txt":            "VirtualHost \"txt.example\"\n",
		"/etc/prosody/conf.d/a.cfg.lua.dpkg-dist":  "VirtualHost \"dist.example\"\n",
		"/etc/prosody/conf.d/sub/nested.cfg.lua":   "VirtualHost \"nested.example\"\n",
		"/etc/prosody/other/one-two.cfg.lua":       "x = 1\n",
		"/etc/prosody/other/one-three.cfg.lua.bak": "x = 2\n",
	}
	for i := 0; i < 5; i++ { // the order must not depend on map or directory order
		c := load(t, files, nil)
		if got, want := hostNames(c), []string{"a.example", "b.example", "c.example", "main.example"}; !slices.Equal(got, want) {
			t.Fatalf("hosts = %v, want %v", got, want)
		}
		wantFiles := []string{mainFile, "/etc/prosody/conf.d/a.cfg.lua", "/etc/prosody/conf.d/b.cfg.lua", "/etc/prosody/conf.d/c.cfg.lua"}
		if !slices.Equal(c.Files, wantFiles) {
			t.Fatalf("files = %v, want %v", c.Files, wantFiles)
		}
	}

	t.Run("question mark and absolute directory", func(t *testing.T) {
		files := map[string]string{
			mainFile:                                   "Include \"/etc/prosody/other/one-???.cfg.lua\"\n",
			"/etc/prosody/other/one-two.cfg.lua":       "x = 1\n",
			"/etc/prosody/other/one-three.cfg.lua":     "x = 2\n",
			"/etc/prosody/other/one-three.cfg.lua.bak": "x = 3\n",
		}
		c := load(t, files, nil)
		if got := c.Int(nil, "x", 0); got != 1 {
			t.Errorf("x = %d, want 1 (only one-two matches)", got)
		}
	})

	t.Run("wildcard matching nothing is not an error", func(t *testing.T) {
		c := load(t, map[string]string{mainFile: "Include \"conf.d/*.cfg.lua\"\nx = 1\n", "/etc/prosody/conf.d/readme": ""}, nil)
		if c.Int(nil, "x", 0) != 1 || len(c.Files) != 1 {
			t.Errorf("x = %d, files = %v", c.Int(nil, "x", 0), c.Files)
		}
	})
}

// TestIncludeScope: an included file starts in the global section and its
// VirtualHost does not change the includer's section (Prosody runs each
// file through parser.load with its own environment).
func TestIncludeScope(t *testing.T) {
	files := map[string]string{
		mainFile:               "VirtualHost \"a.example\"\n  Include \"inc.lua\"\n  after = true\n",
		"/etc/prosody/inc.lua": "inc_global = 1\nVirtualHost \"b.example\"\n  inc_b = 2\n",
	}
	c := load(t, files, nil)
	a, b := c.Host("a.example"), c.Host("b.example")
	if _, ok := a.Options["after"]; !ok {
		t.Errorf("after not in a.example: %v", a.Options)
	}
	if _, ok := c.Global["inc_global"]; !ok {
		t.Error("inc_global not global")
	}
	if o := b.Options["inc_b"]; o == nil || o.Pos != (config.Pos{File: "/etc/prosody/inc.lua", Line: 3}) {
		t.Errorf("inc_b = %+v", o)
	}
}

func TestEnvVariables(t *testing.T) {
	src := `domain = ENV_XMPP_DOMAIN
missing = ENV_NOT_SET or "fallback"
via_os = Lua.os.getenv("XMPP_DOMAIN")
VirtualHost(ENV_XMPP_DOMAIN)
  secret = ENV_SECRET
`
	c := load(t, map[string]string{mainFile: src}, map[string]string{"XMPP_DOMAIN": "meet.example", "SECRET": "s3"})
	for key, want := range map[string]string{"domain": "meet.example", "missing": "fallback", "via_os": "meet.example"} {
		if got := c.String(nil, key, ""); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if got := c.String(c.Host("meet.example"), "secret", ""); got != "s3" {
		t.Errorf("secret = %q", got)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings: %v", warnings(c))
	}
}

// TestDebugGetinfoSource: configs find their own directory through
// debug.getinfo(1, "S").source, which Prosody names "@" + path.
func TestDebugGetinfoSource(t *testing.T) {
	files := map[string]string{
		mainFile: `src = Lua.debug.getinfo(1, "S").source
local dir = Lua.debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")
plugin_paths = { dir .. "/plugins" }
direct = debug.getinfo(1, "S").source
Include "conf.d/x.cfg.lua"
`,
		"/etc/prosody/conf.d/x.cfg.lua": "inc_src = Lua.debug.getinfo(1, \"S\").source\n",
	}
	c := load(t, files, nil)
	if got := c.String(nil, "src", ""); got != "@"+mainFile {
		t.Errorf("source = %q", got)
	}
	if got := c.String(nil, "direct", ""); got != "@"+mainFile {
		t.Errorf("direct source = %q", got)
	}
	if got := c.String(nil, "inc_src", ""); got != "@/etc/prosody/conf.d/x.cfg.lua" {
		t.Errorf("included source = %q", got)
	}
	if got := c.Strings(nil, "plugin_paths"); !slices.Equal(got, []string{"/etc/prosody/plugins"}) {
		t.Errorf("plugin_paths = %v", got)
	}
	// Direct use of `debug` works but warns, as in Prosody 13.
	want := mainFile + ":4: direct usage of the Lua API is deprecated - replace `debug` with `Lua.debug`"
	if got := warnings(c); !slices.Equal(got, []string{want}) {
		t.Errorf("warnings = %q, want %q", got, want)
	}
}

func TestSectionReopen(t *testing.T) {
	src := `VirtualHost "A.example"
  one = 1
VirtualHost "b.example"
  two = 2
VirtualHost "a.example"
  three = 3
Component "c.example" "muc"
  four = 4
Component "c.example" "muc"
  five = 5
Component "ext.example"
  component_secret = "s"
`
	c := loadSrc(t, src)
	if got := hostNames(c); !slices.Equal(got, []string{"a.example", "b.example"}) {
		t.Fatalf("hosts = %v", got)
	}
	a := c.Host("a.example")
	if a.Pos.Line != 1 || len(a.Options) != 2 || a.Options["three"].Pos.Line != 6 {
		t.Errorf("a.example = %+v", a)
	}
	if c.Host("A.EXAMPLE") != a || c.Section("a.example") != config.Section(a) {
		t.Error("lookup is not case-insensitive")
	}
	co := c.Component("c.example")
	if co.Type != "muc" || len(co.Options) != 2 || co.Pos.Line != 7 {
		t.Errorf("c.example = %+v", co)
	}
	ext := c.Component("ext.example")
	if !ext.External() || ext.Type != "component" {
		t.Errorf("ext.example = %+v", ext)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings: %v", warnings(c))
	}

	t.Run("re-opening without a type makes it external, as Prosody does", func(t *testing.T) {
		c := loadSrc(t, "Component \"c.example\" \"muc\"\n  a = 1\nComponent \"c.example\"\n  b = 2\n")
		co := c.Component("c.example")
		if co.Type != "component" || len(co.Options) != 2 {
			t.Errorf("component = %+v", co)
		}
		want := mainFile + ":3: Component \"c.example\" re-declared without a type: its type \"muc\" is replaced by \"component\" (external), as Prosody does"
		if got := warnings(c); !slices.Equal(got, []string{want}) {
			t.Errorf("warnings = %q", got)
		}
	})
}

func TestTableForm(t *testing.T) {
	src := `VirtualHost "a.example" { authentication = "anonymous", enabled = false }
after_host = 1
Component "c.example" "muc" { restrict_room_creation = true }
after_comp = 2
Component "d.example" { component_secret = "x" }
VirtualHost "*"
star = 3
`
	c := loadSrc(t, src)
	a := c.Host("a.example")
	if c.String(a, "authentication", "") != "anonymous" || c.Enabled(a) {
		t.Errorf("a.example = %+v", a.Options)
	}
	if a.Options["authentication"].Pos.Line != 1 {
		t.Errorf("table-form option position %v", a.Options["authentication"].Pos)
	}
	for _, k := range []string{"after_host", "after_comp", "star"} {
		if _, ok := c.Global[k]; !ok {
			t.Errorf("%s is not global", k)
		}
	}
	if co := c.Component("c.example"); co.Type != "muc" || !c.Bool(co, "restrict_room_creation", false) {
		t.Errorf("c.example = %+v", co)
	}
	if co := c.Component("d.example"); !co.External() || c.String(co, "component_secret", "") != "x" {
		t.Errorf("d.example = %+v", co)
	}
	if len(c.Hosts) != 1 {
		t.Errorf(`VirtualHost "*" created a host: %v`, hostNames(c))
	}
}

func TestInheritance(t *testing.T) {
	src := `authentication = "internal_hashed"
c2s_require_encryption = true
admins = { "root@example" }
VirtualHost "a.example"
  c2s_require_encryption = false
  admins = { "alice@a.example", "root@example" }
  port = "5281"
  bad_bool = "yes"
Component "muc.a.example" "muc"
`
	c := loadSrc(t, src)
	a := c.Host("a.example")
	muc := c.Component("muc.a.example")
	tests := []struct {
		name string
		got  any
		want any
	}{
		{name: "inherited string", got: c.String(a, "authentication", ""), want: "internal_hashed"},
		{name: "own bool", got: c.Bool(a, "c2s_require_encryption", true), want: false},
		{name: "global bool", got: c.Bool(nil, "c2s_require_encryption", false), want: true},
		{name: "component inherits", got: c.Bool(muc, "c2s_require_encryption", false), want: true},
		{name: "unset default", got: c.String(a, "nothing", "def"), want: "def"},
		{name: "numeric string as int", got: c.Int(a, "port", 0), want: int64(5281)},
		{name: "number formatted as string", got: c.String(a, "port", ""), want: "5281"},
		{name: "undecodable bool gives default", got: c.Bool(a, "bad_bool", true), want: true},
		{name: "typed nil host is global", got: c.String((*config.Host)(nil), "authentication", ""), want: "internal_hashed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
	if got := c.Admins(a); !slices.Equal(got, []string{"alice@a.example", "root@example"}) {
		t.Errorf("Admins(a) = %v", got)
	}
	if got := c.Admins(muc); !slices.Equal(got, []string{"root@example"}) {
		t.Errorf("Admins(muc) = %v", got)
	}
	_, err := a.Options["bad_bool"].AsBool()
	if err == nil || err.Error() != mainFile+":8: option 'bad_bool': not understood, expecting true/false" {
		t.Errorf("AsBool error = %v", err)
	}
}

// TestReadingOptions follows Prosody 13's environment: reading a name in a
// section gives only that section's own value (no fallback to the global
// one), and table options read back are proxies.
func TestReadingOptions(t *testing.T) {
	src := `x = "global"
copy = x
modules_enabled = { "a" }
modules_enabled:append { "b" }
modules_enabled { "c" }
other = modules_enabled
local n = 0
for _ in modules_enabled:values() do n = n + 1 end
count = n
first = modules_enabled:value()[1]
ssl = { key = "k" }
ssl:append { certificate = "c" }
VirtualHost "a.example"
  x = x or "host default"
  modules_enabled = { "h" }
  modules_enabled:append { "i" }
`
	c := loadSrc(t, src)
	if got := c.String(nil, "copy", ""); got != "global" {
		t.Errorf("copy = %q", got)
	}
	if got := c.Strings(nil, "modules_enabled"); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("modules_enabled = %v", got)
	}
	if o := c.Global["modules_enabled"]; o.Pos.Line != 5 {
		t.Errorf("modules_enabled last set at %v, want line 5", o.Pos)
	}
	if got := c.Strings(nil, "other"); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("other = %v (a copied list option must hold the list)", got)
	}
	if c.Int(nil, "count", 0) != 3 || c.String(nil, "first", "") != "a" {
		t.Errorf("count = %d, first = %q", c.Int(nil, "count", 0), c.String(nil, "first", ""))
	}
	if got := c.StringMap(nil, "ssl"); got["key"] != "k" || got["certificate"] != "c" {
		t.Errorf("ssl = %v", got)
	}
	a := c.Host("a.example")
	if got := c.String(a, "x", ""); got != "host default" {
		t.Errorf("host x = %q (Prosody reads only the section's own value)", got)
	}
	if got := c.Strings(a, "modules_enabled"); !slices.Equal(got, []string{"h", "i"}) {
		t.Errorf("host modules_enabled = %v", got)
	}
	want := []string{mainFile + ":14: unrecognized value: x (you may be missing quotes around it)"}
	if got := warnings(c); !slices.Equal(got, want) {
		t.Errorf("warnings = %q, want %q", got, want)
	}
}

func TestDuplicateWarnings(t *testing.T) {
	files := map[string]string{
		mainFile:             "a = 1\na = 2\nVirtualHost \"h.example\"\n  a = 3\nInclude \"x.lua\"\n",
		"/etc/prosody/x.lua": "a = 4\n",
	}
	c := load(t, files, nil)
	want := []string{mainFile + ":2: Duplicate option 'a'"}
	if got := warnings(c); !slices.Equal(got, want) {
		t.Errorf("warnings = %q, want %q", got, want)
	}
	if o := c.Global["a"]; o.Value != int64(4) || o.Pos.File != "/etc/prosody/x.lua" {
		t.Errorf("a = %+v", o)
	}
}

func TestFileReaders(t *testing.T) {
	files := map[string]string{
		mainFile: `contents = FileContents "secrets/key.txt"
line = FileLine "secrets/key.txt"
lines = FileLines "secrets/list.txt"
cred = Credential "token"
local f = Lua.io.open("/etc/prosody/secrets/key.txt")
io_line = f:read("*l")
io_rest = f:read("*a")
f:close()
local w, werr = Lua.io.open("/etc/prosody/out.txt", "w")
write_refused = werr
got = Lua.select("#", RunScript "script.lua")
from_script = RunScript "script.lua"
`,
		"/etc/prosody/secrets/key.txt":  "first\nsecond\n",
		"/etc/prosody/secrets/list.txt": "a@example\nb@example\n",
		"/run/creds/token":              "tok\n",
		"/etc/prosody/script.lua":       "script_global = 1\nreturn \"from script\"\n",
	}
	c := load(t, files, map[string]string{"CREDENTIALS_DIRECTORY": "/run/creds"})
	tests := []struct {
		key  string
		want any
	}{
		{key: "contents", want: "first\nsecond\n"},
		{key: "line", want: "first"},
		{key: "lines", want: []any{"a@example", "b@example"}},
		{key: "cred", want: "tok\n"},
		{key: "io_line", want: "first"},
		{key: "io_rest", want: "second\n"},
		{key: "write_refused", want: "/etc/prosody/out.txt: the configuration may only open files for reading"},
		{key: "got", want: int64(1)},
		{key: "from_script", want: "from script"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			o, ok := c.Global[tt.key]
			if !ok {
				t.Fatal("unset")
			}
			if got, ok := o.Value.([]any); ok {
				if !slices.Equal(got, tt.want.([]any)) {
					t.Errorf("%s = %#v, want %#v", tt.key, got, tt.want)
				}
				return
			}
			if o.Value != tt.want {
				t.Errorf("%s = %#v, want %#v", tt.key, o.Value, tt.want)
			}
		})
	}
	if _, ok := c.Global["script_global"]; ok {
		t.Error("a RunScript global became an option")
	}
}

func TestValues(t *testing.T) {
	src := `int = 5280
float = 1.5
neg = -3
big = 2^53
str = 'single'
long = [[long
string]]
yes = true
empty = {}
list = { "a", 2, true }
map = { a = 1, ["b c"] = { nested = { deep = "x" } } }
mixed = { "first", key = "v" }
sparse = { [1] = "a", [3] = "c" }
fn = function() end
local t = {}
t.self = t
cyc = t
proxy_field = { 1 }
proxy_field.x = 2 -- sets a field of the proxy object, not of the option (as in Prosody)
shared_inner = { 1 }
shared = { shared_inner, shared_inner }
`
	c := loadSrc(t, src)
	tests := []struct {
		key  string
		want string // %#v of the value
	}{
		{key: "int", want: `5280`},
		{key: "float", want: `1.5`},
		{key: "neg", want: `-3`},
		{key: "big", want: `9007199254740992`},
		{key: "str", want: `"single"`},
		{key: "long", want: `"long\nstring"`},
		{key: "yes", want: `true`},
		{key: "empty", want: `[]interface {}{}`},
		{key: "list", want: `[]interface {}{"a", 2, true}`},
		{key: "map", want: `map[string]interface {}{"a":1, "b c":map[string]interface {}{"nested":map[string]interface {}{"deep":"x"}}}`},
		{key: "mixed", want: `map[string]interface {}{"1":"first", "key":"v"}`},
		{key: "sparse", want: `map[string]interface {}{"1":"a", "3":"c"}`},
		{key: "fn", want: `config.Unsupported{LuaType:"function"}`},
		{key: "cyc", want: `map[string]interface {}{"self":config.Unsupported{LuaType:"table (recursive)"}}`},
		{key: "proxy_field", want: `[]interface {}{1}`},
		{key: "shared", want: `[]interface {}{[]interface {}{1}, []interface {}{1}}`},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := sprintf("%#v", c.Global[tt.key].Value); got != tt.want {
				t.Errorf("%s = %s, want %s", tt.key, got, tt.want)
			}
		})
	}
	if _, ok := c.Global["int"].Value.(int64); !ok {
		t.Errorf("int is %T", c.Global["int"].Value)
	}
	if _, ok := c.Global["float"].Value.(float64); !ok {
		t.Errorf("float is %T", c.Global["float"].Value)
	}
}

func TestPrintGoesToLogger(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	files := map[string]string{mainFile: "x = 1\nprint(\"hello\", 42)\n"}
	load(t, files, nil, config.WithLogger(logger))
	if got := buf.String(); !strings.Contains(got, `msg="hello\t42"`) || !strings.Contains(got, "pos="+mainFile+":2") {
		t.Errorf("log = %q", got)
	}
}

func TestParseRelativeName(t *testing.T) {
	c, err := config.Parse("testdata/inline.cfg.lua", []byte("Include \"docker/prosody.cfg.lua\"\n"), config.WithEnv(noEnv))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Hosts) != 2 || c.Files[1] != "testdata/docker/prosody.cfg.lua" {
		t.Errorf("hosts %v, files %v", hostNames(c), c.Files)
	}
}

func TestUnused(t *testing.T) {
	files := map[string]string{
		mainFile:             "admins = {}\nfoo = 1\nVirtualHost \"a.example\"\n  bar = 2\n  authentication = \"anonymous\"\nInclude \"x.lua\"\n",
		"/etc/prosody/x.lua": "baz = 3\n",
	}
	c := load(t, files, nil)
	known := func(k string) bool { return k == "admins" || k == "authentication" }
	var got []string
	for _, o := range c.Unused(known) {
		got = append(got, o.Section+"/"+o.Name+"@"+o.Pos.String())
	}
	want := []string{"/foo@" + mainFile + ":2", "a.example/bar@" + mainFile + ":4", "/baz@/etc/prosody/x.lua:1"}
	if !slices.Equal(got, want) {
		t.Errorf("Unused = %v, want %v", got, want)
	}
}

func TestEnabled(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want bool
	}{
		{name: "default", src: "VirtualHost \"h\"\n", want: true},
		{name: "false", src: "VirtualHost \"h\"\n  enabled = false\n", want: false},
		{name: "string false does not disable", src: "VirtualHost \"h\"\n  enabled = \"false\"\n", want: true},
		{name: "global false disables every host", src: "enabled = false\nVirtualHost \"h\"\n", want: false},
		{name: "host true overrides global false", src: "enabled = false\nVirtualHost \"h\"\n  enabled = true\n", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := loadSrc(t, tt.src)
			if got := c.Enabled(c.Host("h")); got != tt.want {
				t.Errorf("Enabled = %v, want %v", got, tt.want)
			}
		})
	}
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
