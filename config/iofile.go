package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// luaFile is a read-only, in-memory Lua file object: what io.open returns
// in the sandbox, and the reader behind FileContents and FileLine.
type luaFile struct {
	data   string
	off    int
	closed bool
}

var errClosedFile = errors.New("attempt to use a closed file")

// read implements one file:read format: "a" (rest), "l" (line), "L" (line
// with its newline), "n" (number) or a byte count; "*" prefixes are
// accepted. It returns nil at end of file, as Lua does.
func (f *luaFile) read(format lua.LValue) (lua.LValue, error) {
	if f.closed {
		return lua.LNil, errClosedFile
	}
	rest := f.data[f.off:]
	if n, ok := format.(lua.LNumber); ok {
		k := int(n)
		if rest == "" || k < 0 {
			return lua.LNil, nil
		}
		k = min(k, len(rest))
		f.off += k
		return lua.LString(rest[:k]), nil
	}
	s, ok := format.(lua.LString)
	if !ok {
		return lua.LNil, fmt.Errorf("bad argument to 'read' (invalid format)")
	}
	mode := strings.TrimPrefix(string(s), "*")
	if mode == "" {
		return lua.LNil, fmt.Errorf("bad argument to 'read' (invalid format)")
	}
	switch mode[0] {
	case 'a':
		f.off = len(f.data)
		return lua.LString(rest), nil
	case 'l', 'L':
		if rest == "" {
			return lua.LNil, nil
		}
		line, _, found := strings.Cut(rest, "\n")
		f.off += len(line)
		if found {
			f.off++
			if mode[0] == 'L' {
				line += "\n"
			}
		}
		return lua.LString(line), nil
	case 'n':
		trimmed := strings.TrimLeft(rest, " \t\r\n\f\v")
		end := 0
		for end < len(trimmed) && strings.IndexByte("0123456789+-.eExXabcdefABCDEFpP", trimmed[end]) >= 0 {
			end++
		}
		num, ok := parseLuaNumber(trimmed[:end])
		f.off += len(rest) - len(trimmed) + end
		if !ok {
			return lua.LNil, nil
		}
		return lua.LNumber(num), nil
	}
	return lua.LNil, fmt.Errorf("bad argument to 'read' (invalid format '%s')", s)
}

// parseLuaNumber converts a string as Lua's tonumber does: decimal or
// hexadecimal, surrounding spaces allowed, no inf/nan words.
func parseLuaNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	body := strings.TrimLeft(s, "+-")
	if len(body) > 1 && (body[0] == '0') && (body[1] == 'x' || body[1] == 'X') {
		if !strings.ContainsAny(body, ".pP") {
			u, err := strconv.ParseUint(body[2:], 16, 64)
			if err != nil {
				return 0, false
			}
			v := float64(u)
			if strings.HasPrefix(s, "-") {
				v = -v
			}
			return v, true
		}
		if !strings.ContainsAny(body, "pP") {
			s += "p0"
		}
	} else if strings.ContainsAny(body, "iInN") {
		return 0, false // "inf", "nan" and friends are not Lua numerals
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return v, true
}

func (ev *evaluator) initFile() {
	L := ev.L
	methods := L.NewTable()
	methods.RawSetString("read", L.NewFunction(ev.fileRead))
	methods.RawSetString("lines", L.NewFunction(func(L *lua.LState) int {
		f := ev.checkFile(L)
		L.Push(linesIterator(L, f))
		return 1
	}))
	methods.RawSetString("close", L.NewFunction(func(L *lua.LState) int {
		ev.checkFile(L).closed = true
		L.Push(lua.LTrue)
		return 1
	}))
	mt := L.NewTable()
	mt.RawSetString("__index", methods)
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		if ev.checkFile(L).closed {
			L.Push(lua.LString("file (closed)"))
		} else {
			L.Push(lua.LString("file (read-only)"))
		}
		return 1
	}))
	ev.fileMT = mt
}

func (ev *evaluator) checkFile(L *lua.LState) *luaFile {
	ud := L.CheckUserData(1)
	f, ok := ud.Value.(*luaFile)
	if !ok {
		L.ArgError(1, "file expected")
	}
	return f
}

func (ev *evaluator) fileRead(L *lua.LState) int {
	f := ev.checkFile(L)
	formats := []lua.LValue{lua.LString("l")}
	if L.GetTop() > 1 {
		formats = formats[:0]
		for i := 2; i <= L.GetTop(); i++ {
			formats = append(formats, L.Get(i))
		}
	}
	n := 0
	for _, format := range formats {
		v, err := f.read(format)
		if err != nil {
			L.RaiseError("%v", err)
		}
		L.Push(v)
		n++
		if v == lua.LNil {
			break
		}
	}
	return n
}

func linesIterator(L *lua.LState, f *luaFile) *lua.LFunction {
	return L.NewFunction(func(L *lua.LState) int {
		v, err := f.read(lua.LString("l"))
		if err != nil {
			L.RaiseError("%v", err)
		}
		L.Push(v)
		return 1
	})
}

// ioOpen is a read-only io.open: it returns nil and a message for write
// modes and unreadable files, as Lua does for failures.
func (ev *evaluator) ioOpen(L *lua.LState) int {
	name := L.CheckString(1)
	mode := L.OptString(2, "r")
	if !strings.HasPrefix(mode, "r") || strings.Contains(mode, "+") {
		L.Push(lua.LNil)
		L.Push(lua.LString(name + ": the configuration may only open files for reading"))
		return 2
	}
	data, err := ev.s.fsys.readFile(name, maxFileSize)
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	ud := L.NewUserData()
	ud.Value = &luaFile{data: string(data)}
	L.SetMetatable(ud, ev.fileMT)
	L.Push(ud)
	return 1
}

func (ev *evaluator) ioLines(L *lua.LState) int {
	name := L.CheckString(1)
	data, err := ev.s.fsys.readFile(name, maxFileSize)
	if err != nil {
		L.RaiseError("%v", err)
	}
	L.Push(linesIterator(L, &luaFile{data: string(data)}))
	return 1
}
