package storage

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
)

// MarshalLua serialises t as a Prosody data file: "return " followed by the
// table and ";\n", laid out like Prosody's util.serialization default preset
// (tab indentation, every key in brackets, ";" after each item, the array
// part first without keys). Unlike Prosody, keys are written in a fixed order
// (false, true, numbers, then strings), so the output is deterministic.
//
// Strings are escaped as Prosody does (\n, \t, \", \\ ... and \ddd for other
// control bytes and for every byte >= 127), so the file is plain ASCII and
// readable by Lua 5.1 to 5.4. Integral numbers are written as integers,
// others in the shortest form that reads back to the same float64; infinities
// and NaN as (1/0), (-1/0) and (0/0).
func MarshalLua(t Table) ([]byte, error) {
	n, err := t.Clone()
	if err != nil {
		return nil, err
	}
	if n == nil {
		n = Table{}
	}
	var b bytes.Buffer
	b.WriteString("return ")
	writeTable(&b, n, 1)
	b.WriteString(";\n")
	return b.Bytes(), nil
}

// writeTable writes a normalised table at nesting depth d (1 = top level).
func writeTable(b *bytes.Buffer, t Table, d int) {
	if len(t) == 0 {
		b.WriteString("{}")
		return
	}
	b.WriteByte('{')
	// The array part: 1, 2, 3 ... written without keys.
	n := 0
	for {
		v, ok := t[float64(n+1)]
		if !ok {
			break
		}
		n++
		writeItemStart(b, d)
		writeValue(b, v, d)
		b.WriteByte(';')
	}
	for _, k := range sortedKeys(t) {
		if f, ok := k.(float64); ok && f >= 1 && f <= float64(n) && f == math.Trunc(f) {
			continue
		}
		writeItemStart(b, d)
		b.WriteByte('[')
		writeScalar(b, k)
		b.WriteString("] = ")
		writeValue(b, t[k], d)
		b.WriteByte(';')
	}
	b.WriteByte('\n')
	for i := 1; i < d; i++ {
		b.WriteByte('\t')
	}
	b.WriteByte('}')
}

func writeItemStart(b *bytes.Buffer, d int) {
	b.WriteByte('\n')
	for i := 0; i < d; i++ {
		b.WriteByte('\t')
	}
}

func writeValue(b *bytes.Buffer, v any, d int) {
	if sub, ok := v.(Table); ok {
		writeTable(b, sub, d+1)
		return
	}
	writeScalar(b, v)
}

func writeScalar(b *bytes.Buffer, v any) {
	switch v := v.(type) {
	case string:
		writeLuaString(b, v)
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case float64:
		b.WriteString(formatLuaNumber(v))
	default:
		// Unreachable: values are normalised by Clone before writing.
		panic(fmt.Sprintf("storage: unexpected %T in normalised table", v))
	}
}

// formatLuaNumber renders f as a Lua numeric expression.
func formatLuaNumber(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "(1/0)"
	case math.IsInf(f, -1):
		return "(-1/0)"
	case math.IsNaN(f):
		return "(0/0)"
	case f == math.Trunc(f) && math.Abs(f) < 1<<63:
		if f == 0 && math.Signbit(f) {
			return "-0.0"
		}
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// writeLuaString writes s as a double-quoted Lua string with Prosody's escapes.
func writeLuaString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\a':
			b.WriteString(`\a`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\v':
			b.WriteString(`\v`)
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\'':
			b.WriteString(`\'`)
		default:
			if c < 32 || c >= 127 {
				fmt.Fprintf(b, `\%03d`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}
