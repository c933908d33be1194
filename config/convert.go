package config

import (
	"math"
	"sort"
	"strconv"

	lua "github.com/yuin/gopher-lua"
)

// maxValueDepth bounds the nesting of converted tables.
const maxValueDepth = 64

// number converts a Lua number: integral values become int64, others
// float64. (gopher-lua is Lua 5.1, which has only floats; Prosody 13 runs
// on Lua 5.4, where 5280 is an integer and 1.5 a float. 1.0 is the one
// literal we cannot tell apart from 1.)
func number(f float64) any {
	if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
		return int64(f)
	}
	return f
}

// formatNumber formats a number as Lua's tostring does.
func formatNumber(v any) string {
	switch n := v.(type) {
	case int64:
		return strconv.FormatInt(n, 10)
	case float64:
		switch {
		case math.IsInf(n, 1):
			return "inf"
		case math.IsInf(n, -1):
			return "-inf"
		case math.IsNaN(n):
			return "nan"
		}
		return strconv.FormatFloat(n, 'g', 14, 64)
	}
	return ""
}

// toGo converts a Lua value. onPath holds the tables being converted, to
// stop at cycles.
func (ev *evaluator) toGo(v lua.LValue, onPath map[*lua.LTable]bool, depth int) any {
	switch x := v.(type) {
	case lua.LString:
		return string(x)
	case lua.LBool:
		return bool(x)
	case lua.LNumber:
		return number(float64(x))
	case *lua.LTable:
		if _, ok := ev.proxies[x]; ok {
			v = ev.unwrap(x)
			if _, still := ev.proxies[asTable(v)]; still {
				return Unsupported{LuaType: "table"}
			}
			return ev.toGo(v, onPath, depth)
		}
		if onPath[x] || depth >= maxValueDepth {
			return Unsupported{LuaType: "table (recursive)"}
		}
		onPath[x] = true
		defer delete(onPath, x)
		return ev.tableToGo(x, onPath, depth+1)
	}
	return Unsupported{LuaType: v.Type().String()}
}

func asTable(v lua.LValue) *lua.LTable {
	t, _ := v.(*lua.LTable)
	return t
}

func (ev *evaluator) tableToGo(t *lua.LTable, onPath map[*lua.LTable]bool, depth int) any {
	count, seq := 0, true
	t.ForEach(func(k, _ lua.LValue) {
		count++
		n, ok := k.(lua.LNumber)
		if !ok || float64(n) != math.Trunc(float64(n)) || n < 1 {
			seq = false
		}
	})
	if seq {
		// Every key is a positive integer and the keys are distinct, so
		// they are exactly 1..count when none exceeds count.
		list := make([]any, count)
		for i := 1; i <= count; i++ {
			v := t.RawGetInt(i)
			if v == lua.LNil {
				seq = false
				break
			}
			list[i-1] = ev.toGo(v, onPath, depth)
		}
		if seq {
			return list
		}
	}
	// A map. String keys win over numbers formatted to the same string;
	// keys are visited in sorted order so the result is deterministic.
	type entry struct {
		key string
		str bool
		val lua.LValue
	}
	var entries []entry
	t.ForEach(func(k, v lua.LValue) {
		switch kk := k.(type) {
		case lua.LString:
			entries = append(entries, entry{string(kk), true, v})
		case lua.LNumber:
			entries = append(entries, entry{formatNumber(number(float64(kk))), false, v})
		case lua.LBool:
			entries = append(entries, entry{strconv.FormatBool(bool(kk)), false, v})
		}
	})
	sort.SliceStable(entries, func(i, j int) bool {
		if entries[i].key != entries[j].key {
			return entries[i].key < entries[j].key
		}
		return entries[i].str && !entries[j].str
	})
	m := make(map[string]any, len(entries))
	for _, e := range entries {
		if _, dup := m[e.key]; dup {
			continue
		}
		m[e.key] = ev.toGo(e.val, onPath, depth)
	}
	return m
}
