package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

// fileEnv is the per-file state of Prosody's parser.load: the current
// section, the file's directory for relative paths, and the options this
// file already set (for duplicate warnings).
type fileEnv struct {
	ev      *evaluator
	file    string
	chunk   string
	dir     string
	current string
	seen    map[string]bool
}

func (fe *fileEnv) pos(L *lua.LState) Pos { return fe.ev.posIn(L, fe.chunk) }

// fail raises a ConfigError at the current line of this file.
func (fe *fileEnv) fail(L *lua.LState, cause error, format string, args ...any) {
	p := fe.pos(L)
	fe.ev.raise(L, &ConfigError{File: p.File, Line: p.Line, Msg: fmt.Sprintf(format, args...), Err: cause})
}

func (fe *fileEnv) section() *section { return fe.ev.sections[fe.current] }

// index resolves a global name read by config code, in Prosody's order:
// ENV_<NAME>, Lua, an option of the current section (raw: no fallback to
// the global section), then the Lua builtins (with a deprecation warning).
func (fe *fileEnv) index(L *lua.LState) int {
	k, ok := L.Get(2).(lua.LString)
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	key := string(k)
	if name, ok := strings.CutPrefix(key, "ENV_"); ok {
		if v, ok := fe.ev.s.env(name); ok {
			L.Push(lua.LString(v))
		} else {
			L.Push(lua.LNil)
		}
		return 1
	}
	if key == "Lua" {
		L.Push(fe.ev.sandbox)
		return 1
	}
	val := fe.section().vals.RawGetString(key)
	gval := fe.ev.sandbox.RawGetString(key)
	switch {
	case val != lua.LNil:
		if _, ok := val.(*lua.LTable); ok {
			L.Push(fe.ev.proxy(fe.current, key))
			return 1
		}
		L.Push(val)
	case gval == lua.LNil:
		fe.ev.warn(fe.pos(L), "unrecognized value: %s (you may be missing quotes around it)", key)
		L.Push(lua.LNil)
	default:
		fe.ev.warn(fe.pos(L), "direct usage of the Lua API is deprecated - replace `%s` with `Lua.%s`", key, key)
		L.Push(gval)
	}
	return 1
}

// newIndex sets an option in the current section.
func (fe *fileEnv) newIndex(L *lua.LState) int {
	k, ok := L.Get(2).(lua.LString)
	if !ok {
		return 0
	}
	key := string(k)
	p := fe.pos(L)
	path := fe.current + "/" + key
	if fe.seen[path] {
		fe.ev.warn(p, "Duplicate option '%s'", key)
	}
	fe.seen[path] = true
	fe.ev.set(fe.section(), key, L.Get(3), p)
	return 0
}

// setAll applies the table of the `VirtualHost "x" { ... }` form.
func (fe *fileEnv) setAll(L *lua.LState, sec *section, t *lua.LTable) {
	p := fe.pos(L)
	t.ForEach(func(k, v lua.LValue) {
		if key, ok := k.(lua.LString); ok {
			fe.ev.set(sec, string(key), v, p)
		} else {
			fe.ev.warn(p, "option with a non-string name (%s) in the options of %q ignored", k.Type(), sec.name)
		}
	})
}

// nameprep approximates Prosody's stringprep nameprep of section names:
// lower case, and no control characters or invalid UTF-8.
func nameprep(s string) (string, bool) {
	if !utf8.ValidString(s) {
		return "", false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", false
		}
	}
	return strings.ToLower(s), true
}

func (fe *fileEnv) sectionName(L *lua.LState, kind, fn string) string {
	var name string
	switch v := L.Get(1).(type) {
	case lua.LString:
		name = string(v)
	case lua.LNumber:
		name = v.String()
	default:
		if !lua.LVAsBool(v) {
			fe.fail(L, nil, "%s must have a name", kind)
		}
		fe.fail(L, nil, "bad argument #1 to '%s' (string expected, got %s)", fn, v.Type())
	}
	if name == "" {
		fe.fail(L, nil, "%s must have a name", kind)
	}
	prepped, ok := nameprep(name)
	if !ok {
		fe.fail(L, nil, "Name of %s %q contains forbidden characters", kind, name)
	}
	return prepped
}

func describeType(v lua.LValue) string {
	switch s := lua.LVAsString(v); s {
	case "component":
		return "external"
	case "muc":
		return "MUC"
	default:
		return s
	}
}

// virtualHost implements VirtualHost "name" (and its aliases Host, host).
func (fe *fileEnv) virtualHost(L *lua.LState) int {
	name := fe.sectionName(L, "Host", "VirtualHost")
	ev := fe.ev
	var sec *section
	if name == globalName {
		sec = ev.sections[globalName] // `VirtualHost "*"` selects the global section
	} else {
		sec = ev.sections[name]
		if sec != nil {
			if typ, ok := sec.componentType(); ok {
				fe.fail(L, nil, "Host %q clashes with previously defined %s Component %q, for services use a sub-domain like conference.%s",
					name, describeType(typ), name, name)
			}
		} else {
			sec = ev.newSection(name, kindHost, fe.pos(L))
		}
		sec.vals.RawSetString("defined", lua.LTrue)
	}
	fe.current = sec.name
	L.Push(L.NewFunction(func(L *lua.LState) int {
		fe.current = globalName
		switch a := L.Get(1).(type) {
		case lua.LString:
			fe.fail(L, nil, "VirtualHost entries do not accept a module name (module '%s' provided for host '%s')", string(a), name)
		case *lua.LTable:
			fe.setAll(L, sec, a)
		default:
			fe.fail(L, nil, "Invalid syntax following VirtualHost, expected options but received a %s", a.Type())
		}
		return 0
	}))
	return 1
}

// component implements Component "name" ["type"] [{ options }].
func (fe *fileEnv) component(L *lua.LState) int {
	name := fe.sectionName(L, "Component", "Component")
	ev := fe.ev
	if name == globalName {
		fe.fail(L, nil, "Component name must not be %q", globalName)
	}
	sec := ev.sections[name]
	p := fe.pos(L)
	switch {
	case sec == nil:
		sec = ev.newSection(name, kindComponent, p)
	case lua.LVAsBool(sec.vals.RawGetString("defined")):
		if _, isComp := sec.componentType(); !isComp {
			fe.fail(L, nil, "Component %q clashes with previously defined VirtualHost %q, for services use a sub-domain like conference.%s", name, name, name)
		}
	}
	if typ, ok := sec.componentType(); ok && lua.LVAsString(typ) != "component" {
		sec.resetFrom, sec.resetPos = lua.LVAsString(typ), p
	}
	sec.vals.RawSetString("component_module", lua.LString("component"))
	fe.current = name
	handle := func(L *lua.LState, opts lua.LValue) {
		fe.current = globalName
		t, ok := opts.(*lua.LTable)
		if !ok {
			fe.fail(L, nil, "Invalid syntax following Component, expected options but received a %s", opts.Type())
		}
		fe.setAll(L, sec, t)
	}
	L.Push(L.NewFunction(func(L *lua.LState) int {
		arg := L.Get(1)
		if typ, ok := arg.(lua.LString); ok {
			if typ == "" {
				fe.fail(L, nil, "Component %q has an empty type (leave it out for an external component)", name)
			}
			sec.vals.RawSetString("component_module", typ)
			sec.resetFrom = ""
			L.Push(L.NewFunction(func(L *lua.LState) int {
				handle(L, L.Get(1))
				return 0
			}))
			return 1
		}
		handle(L, arg)
		return 0
	}))
	return 1
}

// include implements Include "path", where path may end in a wildcard
// ("conf.d/*.cfg.lua"). Matches are included in sorted order; names
// starting with "." are skipped. A wildcard matching nothing is fine; a
// literal path that cannot be read is an error.
func (fe *fileEnv) include(L *lua.LState) int {
	file := L.CheckString(1)
	ev := fe.ev
	if !strings.ContainsAny(file, "*?") {
		ev.runFile(L, fe, resolvePath(fe.dir, file))
		L.Push(lua.LTrue)
		return 1
	}
	dir, pattern := fe.dir, file
	if i := strings.LastIndex(file, "/"); i >= 0 {
		pattern = file[i+1:]
		d := file[:i]
		if d == "" {
			d = "/"
		}
		dir = resolvePath(fe.dir, d)
	}
	if pattern == "" {
		fe.fail(L, nil, "Error expanding wildcard pattern in Include %q: no file name pattern", file)
	}
	names, err := ev.s.fsys.readDir(dir)
	if err != nil {
		fe.fail(L, err, "Error expanding wildcard pattern in Include %q: %v", file, err)
	}
	for _, n := range names {
		if !strings.HasPrefix(n, ".") && globMatch(pattern, n) {
			ev.runFile(L, fe, filepath.Join(dir, n))
		}
	}
	L.Push(lua.LTrue)
	return 1
}

// runScript implements RunScript "file": Prosody runs it with dofile, so its
// globals do not become options. Here it runs with the Lua builtins only
// and returns what the script returns.
func (fe *fileEnv) runScript(L *lua.LState) int {
	ev := fe.ev
	path := resolvePath(fe.dir, L.CheckString(1))
	if ev.depth >= maxIncludeDepth {
		fe.fail(L, nil, "cannot run %s: nesting deeper than %d files", path, maxIncludeDepth)
	}
	data, err := ev.s.fsys.readFile(path, maxFileSize)
	if err != nil {
		fe.fail(L, err, "cannot open %v", err)
	}
	fn, err := L.Load(strings.NewReader(string(data)), "@"+path)
	if err != nil {
		ev.raise(L, syntaxError(path, data, err))
	}
	env := L.NewTable()
	mt := L.NewTable()
	mt.RawSetString("__index", ev.sandbox)
	L.SetMetatable(env, mt)
	fn.Env = env
	ev.chunks["@"+path] = true
	ev.files = append(ev.files, path)
	ev.depth++
	defer func() { ev.depth-- }()
	top := L.GetTop()
	L.Push(fn)
	L.Call(0, lua.MultRet)
	return L.GetTop() - top
}

func (fe *fileEnv) readFile(L *lua.LState, name string) string {
	data, err := fe.ev.s.fsys.readFile(resolvePath(fe.dir, name), maxFileSize)
	if err != nil {
		fe.fail(L, err, "%v", err)
	}
	return string(data)
}

// fileReader implements FileContents (mode "*a") and FileLine (mode "*l"):
// read a file relative to the config file's directory.
func (fe *fileEnv) fileReader(defMode string) lua.LGFunction {
	return func(L *lua.LState) int {
		name := L.CheckString(1)
		mode := L.Get(2)
		if mode == lua.LNil {
			mode = lua.LString(defMode)
		}
		f := &luaFile{data: fe.readFile(L, name)}
		v, err := f.read(mode)
		if err != nil {
			fe.fail(L, nil, "%v", err)
		}
		if v == lua.LNil {
			fe.fail(L, nil, "%s: nothing to read", name)
		}
		L.Push(v)
		return 1
	}
}

// fileLines implements FileLines: the lines of a file as a list.
func (fe *fileEnv) fileLines(L *lua.LState) int {
	name := L.CheckString(1)
	t := L.NewTable()
	for _, line := range splitLines(fe.readFile(L, name)) {
		t.Append(lua.LString(line))
	}
	L.Push(t)
	return 1
}

// credential implements Credential "name": the content of a file in
// $CREDENTIALS_DIRECTORY (systemd credentials).
func (fe *fileEnv) credential(L *lua.LState) int {
	name := L.CheckString(1)
	dir, ok := fe.ev.s.env("CREDENTIALS_DIRECTORY")
	if !ok || dir == "" {
		fe.fail(L, nil, "Credential() requires the $CREDENTIALS_DIRECTORY environment variable to be set")
	}
	data, err := fe.ev.s.fsys.readFile(resolvePath(dir, name), maxFileSize)
	if err != nil {
		fe.fail(L, err, "%v", err)
	}
	L.Push(lua.LString(data))
	return 1
}
