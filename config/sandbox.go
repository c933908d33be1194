package config

import (
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// maxStringRep caps string.rep results so a config cannot allocate
// gigabytes in one call.
const maxStringRep = 16 << 20

// Prosody gives config code the whole Lua global table (reading a builtin
// directly warns; `Lua.x` does not). The sandbox is the subset a config
// needs and that cannot reach outside the evaluation: no require, load,
// dofile, package, coroutine, os.execute, os.exit, os.remove, io.popen or
// writing files. os.getenv goes through the injected environment lookup;
// io.open only reads (through the same file access as Include).
var (
	sandboxBase = []string{
		"assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber",
		"tostring", "type", "unpack", "xpcall", "rawequal", "rawget", "rawset",
		"setmetatable", "getmetatable", "_VERSION",
	}
	sandboxOS    = []string{"time", "date", "clock", "difftime"}
	sandboxDebug = []string{"getinfo", "traceback"}
)

func (ev *evaluator) openLibs() error {
	L := ev.L
	libs := []struct {
		name string
		fn   lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage}, // must be first: the others register into it
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
		{lua.OsLibName, lua.OpenOs},
		{lua.DebugLibName, lua.OpenDebug},
	}
	for _, lib := range libs {
		if err := L.CallByParam(lua.P{Fn: L.NewFunction(lib.fn), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return fmt.Errorf("opening %s: %w", lib.name, err)
		}
	}
	g := L.G.Global
	sb := L.NewTable()
	for _, name := range sandboxBase {
		sb.RawSetString(name, g.RawGetString(name))
	}
	sb.RawSetString("_G", sb)
	sb.RawSetString("print", L.NewFunction(ev.print))

	// The string table is also the strings' metatable __index, so patch it
	// in place.
	str, ok := g.RawGetString("string").(*lua.LTable)
	if !ok {
		return fmt.Errorf("string library missing")
	}
	str.RawSetString("rep", L.NewFunction(safeRep))
	sb.RawSetString("string", str)
	tbl, ok := g.RawGetString("table").(*lua.LTable)
	if !ok {
		return fmt.Errorf("table library missing")
	}
	tbl.RawSetString("unpack", g.RawGetString("unpack")) // Lua 5.2+ name
	sb.RawSetString("table", tbl)
	sb.RawSetString("math", g.RawGetString("math"))
	sb.RawSetString("os", subset(L, g.RawGetString("os"), sandboxOS))
	sb.RawSetString("debug", subset(L, g.RawGetString("debug"), sandboxDebug))
	osT, _ := sb.RawGetString("os").(*lua.LTable)
	osT.RawSetString("getenv", L.NewFunction(ev.getenv))
	io := L.NewTable()
	io.RawSetString("open", L.NewFunction(ev.ioOpen))
	io.RawSetString("lines", L.NewFunction(ev.ioLines))
	sb.RawSetString("io", io)
	ev.sandbox = sb

	// Config chunks run in their own environments; empty the real global
	// table anyway so nothing reaches the full libraries through it.
	var keys []lua.LValue
	g.ForEach(func(k, _ lua.LValue) { keys = append(keys, k) })
	for _, k := range keys {
		g.RawSet(k, lua.LNil)
	}

	ev.errMT = L.NewTable()
	ev.errMT.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		ud := L.CheckUserData(1)
		if ce, ok := ud.Value.(*ConfigError); ok {
			L.Push(lua.LString(ce.Error()))
		} else {
			L.Push(lua.LString("config error"))
		}
		return 1
	}))
	ev.initProxy()
	ev.initFile()
	return nil
}

func subset(L *lua.LState, lib lua.LValue, names []string) *lua.LTable {
	t := L.NewTable()
	src, ok := lib.(*lua.LTable)
	if !ok {
		return t
	}
	for _, n := range names {
		t.RawSetString(n, src.RawGetString(n))
	}
	return t
}

// print sends the config's print() output to the logger.
func (ev *evaluator) print(L *lua.LState) int {
	parts := make([]string, 0, L.GetTop())
	for i := 1; i <= L.GetTop(); i++ {
		parts = append(parts, L.ToStringMeta(L.Get(i)).String())
	}
	ev.s.logger.Info("config print", "pos", ev.innermost(L).String(), "msg", strings.Join(parts, "\t"))
	return 0
}

func (ev *evaluator) getenv(L *lua.LState) int {
	if v, ok := ev.s.env(L.CheckString(1)); ok {
		L.Push(lua.LString(v))
	} else {
		L.Push(lua.LNil)
	}
	return 1
}

// safeRep is string.rep (with Lua 5.2's separator) bounded by maxStringRep.
func safeRep(L *lua.LState) int {
	s := L.CheckString(1)
	n := L.CheckInt(2)
	sep := L.OptString(3, "")
	unit := len(s) + len(sep)
	if n <= 0 || unit == 0 {
		L.Push(lua.LString(""))
		return 1
	}
	if n > maxStringRep/unit {
		L.RaiseError("string.rep: result larger than %d bytes", maxStringRep)
	}
	var b strings.Builder
	b.Grow(unit * n)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(s)
	}
	L.Push(lua.LString(b.String()))
	return 1
}
