package config_test

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/parley-xmpp/parley/config"
)

const mainFile = "/etc/prosody/prosody.cfg.lua"

// memFS builds an in-memory file system from absolute paths.
func memFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for name, src := range files {
		m[strings.TrimPrefix(name, "/")] = &fstest.MapFile{Data: []byte(src)}
	}
	return m
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		files    map[string]string // other files, by absolute path
		opts     []config.LoadOption
		wantFile string // default mainFile
		wantLine int
		wantMsg  string // substring of Msg
		wantIs   error
	}{
		{name: "syntax error", src: "a = 1\nb = = 2\n", wantLine: 2, wantMsg: "syntax error near '='"},
		{name: "syntax error at end of file", src: "a = 1\nVirtualHost \"x\"\n  b = {\n", wantLine: 4, wantMsg: "near <eof>"},
		{name: "unfinished string", src: "a = 1\n\nb = \"open\n", wantLine: 3},
		{name: "undefined function call", src: "admins = {}\n\nfoo()\n", wantLine: 3, wantMsg: "attempt to call"},
		{name: "error() with message", src: "x = 1\nerror(\"boom\")\n", wantLine: 2, wantMsg: "boom"},
		{name: "error() with a table", src: "x = 1\n\nerror({})\n", wantLine: 3, wantMsg: "table value"},
		{name: "error inside a function", src: "local function f()\n  return nil + 1\nend\nx = 1\nf()\n", wantLine: 2, wantMsg: "add operation"},
		{
			name:     "runtime error in included file",
			src:      "a = 1\nInclude \"conf.d/site.cfg.lua\"\n",
			files:    map[string]string{"/etc/prosody/conf.d/site.cfg.lua": "VirtualHost \"x\"\n  ok = true\n  undefined_fn()\n"},
			wantFile: "/etc/prosody/conf.d/site.cfg.lua", wantLine: 3, wantMsg: "attempt to call",
		},
		{
			name:     "syntax error in globbed file",
			src:      "Include \"conf.d/*.cfg.lua\"\n",
			files:    map[string]string{"/etc/prosody/conf.d/a.cfg.lua": "x = 1\n", "/etc/prosody/conf.d/b.cfg.lua": "\n\ny = }\n"},
			wantFile: "/etc/prosody/conf.d/b.cfg.lua", wantLine: 3, wantMsg: "syntax error",
		},
		{
			name:     "error two includes deep",
			src:      "Include \"/opt/one.lua\"\n",
			files:    map[string]string{"/opt/one.lua": "\nInclude \"two.lua\"\n", "/opt/two.lua": "x = 1\ny = x.field\n"},
			wantFile: "/opt/two.lua", wantLine: 2, wantMsg: "attempt to index",
		},
		{name: "missing literal include", src: "a = 1\n\nInclude \"missing.cfg.lua\"\n", wantLine: 3,
			wantMsg: "Error loading included /etc/prosody/missing.cfg.lua", wantIs: fs.ErrNotExist},
		{name: "wildcard in a missing directory", src: "Include \"nowhere/*.cfg.lua\"\n", wantLine: 1,
			wantMsg: "Error expanding wildcard pattern", wantIs: fs.ErrNotExist},
		{name: "include loop", src: "Include \"prosody.cfg.lua\"\n", wantLine: 1, wantMsg: "nesting deeper"},
		{name: "VirtualHost without a name", src: "\nVirtualHost()\n", wantLine: 2, wantMsg: "Host must have a name"},
		{name: "VirtualHost with an empty name", src: "VirtualHost \"\"\n", wantLine: 1, wantMsg: "Host must have a name"},
		{name: "VirtualHost with a table name", src: "VirtualHost {}\n", wantLine: 1, wantMsg: "string expected, got table"},
		{name: "forbidden characters in a name", src: "VirtualHost \"a\\0b\"\n", wantLine: 1, wantMsg: "forbidden characters"},
		{name: "Component without a name", src: "Component(nil)\n", wantLine: 1, wantMsg: "Component must have a name"},
		{name: "VirtualHost with a module name", src: "x = 1\nVirtualHost \"example.com\" \"muc\"\n", wantLine: 2,
			wantMsg: "VirtualHost entries do not accept a module name (module 'muc' provided for host 'example.com')"},
		{name: "VirtualHost followed by a number", src: "VirtualHost \"example.com\" (5)\n", wantLine: 1,
			wantMsg: "expected options but received a number"},
		{name: "Component followed by a boolean", src: "Component \"c.example.com\" (true)\n", wantLine: 1,
			wantMsg: "Invalid syntax following Component, expected options but received a boolean"},
		{name: "host clashes with component", src: "Component \"c.example.com\" \"muc\"\n\nVirtualHost \"c.example.com\"\n", wantLine: 3,
			wantMsg: "Host \"c.example.com\" clashes with previously defined MUC Component"},
		{name: "component clashes with host", src: "VirtualHost \"example.com\"\nComponent \"example.com\"\n", wantLine: 2,
			wantMsg: "clashes with previously defined VirtualHost"},
		{name: "unknown option operation", src: "admins = { \"a@b\" }\nx = admins[1]\n", wantLine: 2,
			wantMsg: "Unknown config option operation: '1'"},
		{name: "call of a scalar option", src: "x = 5\nx { 1 }\n", wantLine: 2, wantMsg: "attempt to call"},
		{name: "call without '=' on a list", src: "x = { 1 }\nx \"y\"\n", wantLine: 2, wantMsg: "missing '=' perhaps?"},
		{name: "require is not available", src: "\nlocal m = require \"os\"\n", wantLine: 2, wantMsg: "attempt to call"},
		{name: "os.execute is not available", src: "os.execute(\"true\")\n", wantLine: 1, wantMsg: "attempt to call"},
		{name: "io.popen is not available", src: "Lua.io.popen(\"true\")\n", wantLine: 1, wantMsg: "attempt to call"},
		{name: "loadstring is not available", src: "loadstring(\"x = 1\")()\n", wantLine: 1, wantMsg: "attempt to call"},
		{name: "string.rep is capped", src: "x = 1\ns = (\"x\"):rep(1e9)\n", wantLine: 2, wantMsg: "string.rep: result larger"},
		{name: "Credential without CREDENTIALS_DIRECTORY", src: "secret = Credential \"s\"\n", wantLine: 1,
			wantMsg: "requires the $CREDENTIALS_DIRECTORY"},
		{name: "FileContents of a missing file", src: "\nsecret = FileContents \"nope.txt\"\n", wantLine: 2, wantIs: fs.ErrNotExist},
		{name: "FileContents of a directory", src: "secret = FileContents \"conf.d\"\n", wantLine: 1, wantMsg: "not a regular file",
			files: map[string]string{"/etc/prosody/conf.d/x.lua": ""}},
		{name: "RunScript error", src: "RunScript \"script.lua\"\n", files: map[string]string{"/etc/prosody/script.lua": "\nerror(\"from script\")\n"},
			wantFile: "/etc/prosody/script.lua", wantLine: 2, wantMsg: "from script"},
		{name: "timeout (SECURITY: config must not hang the process)", src: "x = 1\nwhile true do end\n",
			opts: []config.LoadOption{config.WithTimeout(50 * time.Millisecond)}, wantLine: 2, wantMsg: "evaluation stopped", wantIs: context.DeadlineExceeded},
		{name: "timeout inside pcall", src: "x = 1\nwhile true do pcall(function() while true do end end) end\n",
			opts: []config.LoadOption{config.WithTimeout(50 * time.Millisecond)}, wantLine: 2, wantIs: context.DeadlineExceeded},
		{name: "deep recursion", src: "local function f(n) return 1 + f(n + 1) end\nx = f(1)\n", wantLine: 1, wantMsg: "stack overflow"},
		{name: "empty component type", src: "Component \"c.example.com\" \"\"\n", wantLine: 1,
			wantMsg: "Component \"c.example.com\" has an empty type"},
		{name: "component_module of the wrong type", src: "Component \"c.example.com\"\n  component_module = { }\n", wantLine: 2,
			wantMsg: "component_module of \"c.example.com\" must be a non-empty string"},
		{name: "empty component_module", src: "Component \"c.example.com\"\n  component_module = \"\"\n", wantLine: 2,
			wantMsg: "must be a non-empty string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{mainFile: tt.src}
			for k, v := range tt.files {
				files[k] = v
			}
			opts := append([]config.LoadOption{config.WithFS(memFS(files)), config.WithEnv(noEnv)}, tt.opts...)
			c, err := config.Load(mainFile, opts...)
			if err == nil {
				t.Fatalf("Load succeeded (%d hosts), want an error", len(c.Hosts))
			}
			var ce *config.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T) is not a *ConfigError", err, err)
			}
			wantFile := tt.wantFile
			if wantFile == "" {
				wantFile = mainFile
			}
			if ce.File != wantFile || ce.Line != tt.wantLine {
				t.Errorf("error at %s:%d, want %s:%d (%v)", ce.File, ce.Line, wantFile, tt.wantLine, err)
			}
			if !strings.Contains(ce.Msg, tt.wantMsg) {
				t.Errorf("message %q does not contain %q", ce.Msg, tt.wantMsg)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.wantIs)
			}
			if want := wantFile + ":"; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Error() = %q, want prefix %q", err.Error(), want)
			}
		})
	}
}

func TestErrorCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := config.Parse("cancelled.cfg.lua", []byte("x = 1\ny = 2\n"), config.WithContext(ctx))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := config.Load("testdata/does-not-exist.cfg.lua")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
	if !strings.HasPrefix(err.Error(), "config: reading testdata/does-not-exist.cfg.lua") {
		t.Errorf("err = %q", err)
	}
}

func TestConfigErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  config.ConfigError
		want string
	}{
		{name: "file and line", err: config.ConfigError{File: "a.lua", Line: 3, Msg: "bad"}, want: "a.lua:3: bad"},
		{name: "file only", err: config.ConfigError{File: "a.lua", Msg: "bad"}, want: "a.lua: bad"},
		{name: "no position", err: config.ConfigError{Msg: "bad"}, want: "bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestPcallSeesConfigErrors: errors raised by the config functions can be
// caught with pcall and print as "file:line: message".
func TestPcallSeesConfigErrors(t *testing.T) {
	src := "local ok, err = pcall(Include, \"missing.lua\")\nresult = tostring(err)\nok_value = ok\n"
	c, err := config.Load(mainFile, config.WithFS(memFS(map[string]string{mainFile: src})))
	if err != nil {
		t.Fatal(err)
	}
	got := c.String(nil, "result", "")
	if !strings.HasPrefix(got, mainFile+":1: Error loading included /etc/prosody/missing.lua") {
		t.Errorf("result = %q", got)
	}
	if c.Bool(nil, "ok_value", true) {
		t.Error("pcall returned ok")
	}
}
