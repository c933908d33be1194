package config

import (
	lua "github.com/yuin/gopher-lua"
)

// Prosody 13 returns list and map options read back by config code as a
// proxy object with three operations:
//
//	modules_enabled:append { "x" }   -- add to the section's own list
//	modules_enabled { "x" }          -- the same (call syntax)
//	admins:value()                   -- the raw table
//	for v in admins:values() do ... end
//
// Indexing a proxy with anything else is an error ("Unknown config option
// operation"), as in Prosody.

func (ev *evaluator) initProxy() {
	L := ev.L
	methods := map[string]*lua.LFunction{
		"append": L.NewFunction(ev.proxyAppend),
		"value":  L.NewFunction(ev.proxyValue),
		"values": L.NewFunction(ev.proxyValues),
	}
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		k := L.Get(2)
		if s, ok := k.(lua.LString); ok {
			if fn, ok := methods[string(s)]; ok {
				L.Push(fn)
				return 1
			}
		}
		L.RaiseError("Unknown config option operation: '%s'", lua.LVAsString(L.ToStringMeta(k)))
		return 0
	}))
	mt.RawSetString("__call", L.NewFunction(func(L *lua.LState) int {
		v := ev.proxyTarget(L)
		_, isTable := v.(*lua.LTable)
		if (v == lua.LNil || isTable) && L.Get(2).Type() == lua.LTTable {
			return ev.proxyAppend(L)
		}
		L.RaiseError("Invalid syntax - missing '=' perhaps?")
		return 0
	}))
	ev.proxyMT = mt
}

func (ev *evaluator) proxy(sec, option string) *lua.LTable {
	t := ev.L.NewTable()
	ev.L.SetMetatable(t, ev.proxyMT)
	ev.proxies[t] = proxyRef{section: sec, option: option}
	return t
}

func (ev *evaluator) refOf(L *lua.LState) proxyRef {
	t, ok := L.Get(1).(*lua.LTable)
	ref, found := ev.proxies[t]
	if !ok || !found {
		L.RaiseError("config option operation called without its option (use ':' not '.')")
	}
	return ref
}

func (ev *evaluator) proxyTarget(L *lua.LState) lua.LValue {
	ref := ev.refOf(L)
	return ev.sections[ref.section].vals.RawGetString(ref.option)
}

// proxyAppend adds the items of a list (or the fields of a map) to the
// option's table, in place, as Prosody's append does.
func (ev *evaluator) proxyAppend(L *lua.LState) int {
	ref := ev.refOf(L)
	sec := ev.sections[ref.section]
	orig := sec.vals.RawGetString(ref.option)
	dst, ok := orig.(*lua.LTable)
	if orig == lua.LNil {
		dst, ok = L.NewTable(), true
	}
	if !ok {
		L.RaiseError("'append' operation expects the option '%s' to be a list, it is a %s", ref.option, orig.Type())
	}
	add, ok := L.Get(2).(*lua.LTable)
	if !ok {
		L.RaiseError("'append' operation expects a list of values to append to the existing list")
	}
	if add.RawGetInt(1) != lua.LNil {
		for i := 1; ; i++ {
			v := add.RawGetInt(i)
			if v == lua.LNil {
				break
			}
			dst.Append(ev.unwrap(v))
		}
	} else {
		add.ForEach(func(k, v lua.LValue) { dst.RawSet(k, ev.unwrap(v)) })
	}
	ev.set(sec, ref.option, dst, ev.innermost(L))
	L.Push(L.Get(1))
	return 1
}

func (ev *evaluator) proxyValue(L *lua.LState) int {
	L.Push(ev.proxyTarget(L))
	return 1
}

func (ev *evaluator) proxyValues(L *lua.LState) int {
	var vals []lua.LValue
	if t, ok := ev.proxyTarget(L).(*lua.LTable); ok {
		t.ForEach(func(_, v lua.LValue) { vals = append(vals, v) })
	}
	i := 0
	L.Push(L.NewFunction(func(L *lua.LState) int {
		if i >= len(vals) {
			L.Push(lua.LNil)
			return 1
		}
		i++
		L.Push(vals[i-1])
		return 1
	}))
	return 1
}
