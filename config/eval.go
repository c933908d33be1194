package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

const (
	globalName = "*" // Prosody's name for the global section
	// maxIncludeDepth bounds Include nesting. Prosody has no explicit limit
	// (it runs out of C stack), so a self-including file fails either way.
	maxIncludeDepth = 32
	// maxCallDepth is the Lua call stack size.
	maxCallDepth = 200
)

type sectionKind int

const (
	kindGlobal sectionKind = iota
	kindHost
	kindComponent
)

// section is the evaluator's view of one of Prosody's config_table entries:
// the raw Lua values plus where each was set.
type section struct {
	name   string
	kind   sectionKind // kind given by the declaration (VirtualHost or Component)
	pos    Pos
	vals   *lua.LTable
	optPos map[string]Pos
	// resetFrom is the component type a later `Component "name"` without a
	// type replaced by "component", as Prosody does; reported as a warning.
	resetFrom string
	resetPos  Pos
}

// proxyRef identifies the option a proxy table stands for.
type proxyRef struct{ section, option string }

type evaluator struct {
	ctx      context.Context
	s        *settings
	L        *lua.LState
	path     string
	sandbox  *lua.LTable // the `Lua` table: the builtins a config may use
	proxyMT  *lua.LTable
	errMT    *lua.LTable
	fileMT   *lua.LTable
	proxies  map[*lua.LTable]proxyRef
	sections map[string]*section
	order    []*section
	warnings []Warning
	chunks   map[string]bool // chunk names ("@"+path) of evaluated files
	files    []string
	depth    int
}

// evaluate runs the configuration under the context deadline. The Lua VM
// checks the context on every instruction, but a library call (a pattern
// match with heavy backtracking, say) does not; such a run is abandoned
// stuckGrace after the deadline, leaving its goroutine to finish in the
// background, so a config can never hang the caller.
func evaluate(name string, src []byte, s *settings) (*Config, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	type result struct {
		cfg *Config
		err error
	}
	done := make(chan result, 1)
	go func() {
		cfg, err := run(ctx, name, src, s)
		done <- result{cfg, err}
	}()
	select {
	case r := <-done:
		return r.cfg, r.err
	case <-ctx.Done():
	}
	t := time.NewTimer(s.stuckGrace)
	defer t.Stop()
	select {
	case r := <-done:
		return r.cfg, r.err
	case <-t.C:
		return nil, &ConfigError{File: name, Err: ctx.Err(),
			Msg: fmt.Sprintf("evaluation stopped: %v (abandoned while inside a library call)", ctx.Err())}
	}
}

func run(ctx context.Context, name string, src []byte, s *settings) (*Config, error) {
	L := lua.NewState(lua.Options{
		SkipOpenLibs:        true,
		CallStackSize:       maxCallDepth,
		RegistrySize:        1024,
		RegistryMaxSize:     1 << 20,
		MinimizeStackMemory: true,
		// Keeps the Lua traceback of Go-level failures such as a full call
		// stack, the one case where the message handler cannot run.
		IncludeGoStackTrace: true,
	})
	defer L.Close()
	ev := &evaluator{
		ctx:      ctx,
		s:        s,
		L:        L,
		path:     name,
		proxies:  map[*lua.LTable]proxyRef{},
		sections: map[string]*section{},
		chunks:   map[string]bool{},
	}
	if err := ev.openLibs(); err != nil {
		return nil, fmt.Errorf("config: setting up Lua: %w", err)
	}
	ev.sections[globalName] = &section{name: globalName, kind: kindGlobal, vals: L.NewTable(), optPos: map[string]Pos{}}
	L.SetContext(ctx)
	if cerr := ev.runMain(name, src); cerr != nil {
		return nil, cerr
	}
	return ev.build()
}

func (ev *evaluator) runMain(name string, src []byte) *ConfigError {
	fn, cerr := ev.compile(name, src)
	if cerr != nil {
		return cerr
	}
	ev.depth++
	err := ev.L.CallByParam(lua.P{Fn: fn, NRet: 0, Protect: true, Handler: ev.L.NewFunction(ev.onError)})
	if err == nil {
		return nil
	}
	ce := &ConfigError{File: name, Msg: err.Error()}
	var ae *lua.ApiError
	if errors.As(err, &ae) {
		if ud, ok := ae.Object.(*lua.LUserData); ok {
			if ce, ok := ud.Value.(*ConfigError); ok {
				return ce
			}
		}
		// The message handler could not run (the Lua call stack was
		// full): take the position from the Lua traceback.
		ce.Msg = lua.LVAsString(ae.Object)
		if ce.Msg == "lua callstack overflow" {
			ce.Msg = fmt.Sprintf("stack overflow (more than %d nested Lua calls)", maxCallDepth)
		}
		for _, line := range strings.Split(ae.StackTrace, "\n") {
			if p, _, ok := ev.splitPosition(strings.TrimSpace(line)); ok {
				ce.File, ce.Line = p.File, p.Line
				break
			}
		}
	}
	if cerr := ev.ctx.Err(); cerr != nil {
		ce.Err, ce.Msg = cerr, "evaluation stopped: "+cerr.Error()
	}
	return ce
}

// compile loads a file's chunk, named "@"+path as Prosody names it, and
// gives it its own environment.
func (ev *evaluator) compile(path string, src []byte) (*lua.LFunction, *ConfigError) {
	chunk := "@" + path
	fn, err := ev.L.Load(bytes.NewReader(src), chunk)
	if err != nil {
		return nil, syntaxError(path, src, err)
	}
	fn.Env = ev.newEnv(path)
	ev.chunks[chunk] = true
	ev.files = append(ev.files, path)
	return fn, nil
}

func syntaxError(path string, src []byte, err error) *ConfigError {
	var ae *lua.ApiError
	if errors.As(err, &ae) && ae.Cause != nil {
		err = ae.Cause // ApiError has no Unwrap
	}
	var pe *parse.Error
	var ce *lua.CompileError
	switch {
	case errors.As(err, &pe):
		if pe.Pos.Line == parse.EOF {
			return &ConfigError{File: path, Line: bytes.Count(src, []byte("\n")) + 1, Msg: strings.TrimSpace(pe.Message) + " near <eof>"}
		}
		line := pe.Pos.Line
		if pe.Pos.Column == 0 && line > 1 {
			line-- // the lexer already consumed the newline ending the bad line
		}
		return &ConfigError{File: path, Line: line, Msg: fmt.Sprintf("%s near '%s'", strings.TrimSpace(pe.Message), pe.Token)}
	case errors.As(err, &ce):
		return &ConfigError{File: path, Line: ce.Line, Msg: ce.Message}
	}
	return &ConfigError{File: path, Msg: err.Error(), Err: err}
}

// onError is the message handler of the protected call: it turns whatever
// was raised into a *ConfigError positioned in a config file, while the
// Lua stack is still intact.
func (ev *evaluator) onError(L *lua.LState) int {
	obj := L.Get(1)
	if ud, ok := obj.(*lua.LUserData); ok {
		if _, ok := ud.Value.(*ConfigError); ok {
			L.Push(ud)
			return 1
		}
	}
	ce := &ConfigError{}
	if s, ok := obj.(lua.LString); ok {
		if p, msg, ok := ev.splitPosition(string(s)); ok {
			ce.File, ce.Line, ce.Msg = p.File, p.Line, msg
		} else {
			p := ev.innermost(L)
			ce.File, ce.Line, ce.Msg = p.File, p.Line, string(s)
		}
	} else {
		p := ev.innermost(L)
		ce.File, ce.Line = p.File, p.Line
		ce.Msg = fmt.Sprintf("(error object is a %s value)", obj.Type())
		if obj == lua.LNil {
			ce.Msg = "error raised with no message"
		}
	}
	if err := ev.ctx.Err(); err != nil {
		ce.Err, ce.Msg = err, "evaluation stopped: "+err.Error()
	}
	L.Push(ev.errValue(ce))
	return 1
}

// splitPosition splits "@file:line: msg" for a known file.
func (ev *evaluator) splitPosition(s string) (Pos, string, bool) {
	if !strings.HasPrefix(s, "@") {
		return Pos{}, "", false
	}
	for chunk := range ev.chunks {
		rest, ok := strings.CutPrefix(s, chunk+":")
		if !ok {
			continue
		}
		digits, msg, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		line, err := strconv.Atoi(digits)
		if err != nil {
			continue
		}
		return Pos{File: chunk[1:], Line: line}, strings.TrimPrefix(msg, " "), true
	}
	return Pos{}, "", false
}

// frames calls fn for each Lua frame on the stack, innermost first, until
// fn returns true.
func frames(L *lua.LState, fn func(source string, line int) bool) {
	for level := 0; level < maxCallDepth*2; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			return
		}
		if _, err := L.GetInfo("Sl", dbg, lua.LNil); err != nil || dbg.Source == "" {
			continue
		}
		if fn(dbg.Source, dbg.CurrentLine) {
			return
		}
	}
}

// innermost is the position of the innermost frame that runs config code.
func (ev *evaluator) innermost(L *lua.LState) Pos {
	var p Pos
	frames(L, func(src string, line int) bool {
		if ev.chunks[src] {
			p = Pos{File: src[1:], Line: line}
			return true
		}
		return false
	})
	return p
}

// posIn is the current line in the given chunk (as Prosody's
// get_line_number looks for the config file in the traceback), or the
// innermost config position.
func (ev *evaluator) posIn(L *lua.LState, chunk string) Pos {
	var p Pos
	frames(L, func(src string, line int) bool {
		if src == chunk {
			p = Pos{File: src[1:], Line: line}
			return true
		}
		return false
	})
	if p.File == "" {
		return ev.innermost(L)
	}
	return p
}

func (ev *evaluator) errValue(ce *ConfigError) *lua.LUserData {
	ud := ev.L.NewUserData()
	ud.Value = ce
	ev.L.SetMetatable(ud, ev.errMT)
	return ud
}

// raise raises ce as a Lua error; pcall in the config sees an object whose
// tostring is the message.
func (ev *evaluator) raise(L *lua.LState, ce *ConfigError) {
	L.Error(ev.errValue(ce), 0)
}

func (ev *evaluator) warn(p Pos, format string, args ...any) {
	ev.warnings = append(ev.warnings, Warning{Pos: p, Msg: fmt.Sprintf(format, args...)})
}

func (ev *evaluator) newSection(name string, kind sectionKind, p Pos) *section {
	sec := &section{name: name, kind: kind, pos: p, vals: ev.L.NewTable(), optPos: map[string]Pos{}}
	ev.sections[name] = sec
	ev.order = append(ev.order, sec)
	return sec
}

// set stores an option (Prosody's configmanager set()).
func (ev *evaluator) set(sec *section, key string, v lua.LValue, p Pos) {
	v = ev.unwrap(v)
	sec.vals.RawSetString(key, v)
	if v == lua.LNil {
		delete(sec.optPos, key)
		return
	}
	sec.optPos[key] = p
}

// unwrap replaces a proxy by the value it stands for. Prosody stores the
// proxy itself (so `b = a` for a list option a makes b unusable); storing
// the value is what such a config means.
func (ev *evaluator) unwrap(v lua.LValue) lua.LValue {
	if t, ok := v.(*lua.LTable); ok {
		if ref, ok := ev.proxies[t]; ok {
			return ev.sections[ref.section].vals.RawGetString(ref.option)
		}
	}
	return v
}

// componentType is the component_module of a section, if it has one.
func (sec *section) componentType() (lua.LValue, bool) {
	v := sec.vals.RawGetString("component_module")
	return v, lua.LVAsBool(v)
}

// runFile evaluates an included file in its own environment, as Prosody's
// Include calls parser.load: the file starts in the global section and its
// section changes do not leak back to the includer.
func (ev *evaluator) runFile(L *lua.LState, fe *fileEnv, path string) {
	if ev.depth >= maxIncludeDepth {
		fe.fail(L, nil, "Error loading included %s: Include nesting deeper than %d files (does a file include itself?)", path, maxIncludeDepth)
	}
	data, err := ev.s.fsys.readFile(path, maxFileSize)
	if err != nil {
		fe.fail(L, err, "Error loading included %s: %v", path, err)
	}
	fn, cerr := ev.compile(path, data)
	if cerr != nil {
		ev.raise(L, cerr)
	}
	ev.depth++
	defer func() { ev.depth-- }()
	L.Push(fn)
	L.Call(0, 0)
}

func (ev *evaluator) build() (*Config, error) {
	cfg := &Config{Path: ev.path, Files: ev.files, Global: ev.options(ev.sections[globalName])}
	for _, sec := range ev.order {
		opts := ev.options(sec)
		typ, isComp := sec.componentType()
		if !isComp {
			cfg.Hosts = append(cfg.Hosts, &Host{Name: sec.name, Pos: sec.pos, Options: opts})
			continue
		}
		s, ok := typ.(lua.LString)
		if !ok || s == "" {
			p := sec.optPos["component_module"]
			what := "an empty string"
			if !ok {
				what = "a " + typ.Type().String()
			}
			return nil, &ConfigError{File: p.File, Line: p.Line, Msg: fmt.Sprintf("component_module of %q must be a non-empty string, not %s", sec.name, what)}
		}
		if sec.resetFrom != "" {
			ev.warn(sec.resetPos, "Component %q re-declared without a type: its type %q is replaced by \"component\" (external), as Prosody does", sec.name, sec.resetFrom)
		}
		cfg.Components = append(cfg.Components, &Component{Name: sec.name, Type: string(s), Pos: sec.pos, Options: opts})
	}
	cfg.Warnings = ev.warnings
	return cfg, nil
}

// options converts the values a section's own statements set. Values the
// evaluator stored itself ("defined", "component_module" of a declared
// component) have no position and are left out.
func (ev *evaluator) options(sec *section) Options {
	opts := Options{}
	_, isComp := sec.componentType()
	sec.vals.ForEach(func(k, v lua.LValue) {
		key, ok := k.(lua.LString)
		if !ok {
			return
		}
		p, ok := sec.optPos[string(key)]
		if !ok || (isComp && key == "component_module") {
			return
		}
		name := ""
		if sec.kind != kindGlobal {
			name = sec.name
		}
		opts[string(key)] = &Option{Name: string(key), Value: ev.toGo(v, map[*lua.LTable]bool{}, 0), Pos: p, Section: name}
	})
	return opts
}

// newEnv builds the environment of one config file (Prosody's parser.load
// env): the section functions as raw fields, reads and writes of other
// names going to the current section.
func (ev *evaluator) newEnv(path string) *lua.LTable {
	L := ev.L
	fe := &fileEnv{ev: ev, file: path, chunk: "@" + path, dir: filepath.Dir(path), current: globalName, seen: map[string]bool{}}
	env := L.NewTable()
	fns := map[string]lua.LGFunction{
		"VirtualHost":  fe.virtualHost,
		"Component":    fe.component,
		"Include":      fe.include,
		"RunScript":    fe.runScript,
		"FileContents": fe.fileReader("*a"),
		"FileLine":     fe.fileReader("*l"),
		"FileLines":    fe.fileLines,
		"Credential":   fe.credential,
	}
	for name, fn := range fns {
		env.RawSetString(name, L.NewFunction(fn))
	}
	env.RawSetString("Host", env.RawGetString("VirtualHost"))
	env.RawSetString("host", env.RawGetString("VirtualHost"))
	env.RawSetString("component", env.RawGetString("Component"))
	env.RawSetString("include", env.RawGetString("Include"))
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(fe.index))
	mt.RawSetString("__newindex", L.NewFunction(fe.newIndex))
	L.SetMetatable(env, mt)
	return env
}
