package storage

import (
	"fmt"
	"math"
	"sort"
)

// Table is a Lua table as Prosody stores it: the value of one store for one
// user (or for a whole host).
//
// Keys are string, float64 or bool. Values are string, float64, bool or
// Table. Every number read from a store is a float64 (gopher-lua, like Lua
// 5.1, has a single number type); integers are exact up to 2^53. When
// writing, any Go integer or float type is accepted as a key or value and is
// normalised to float64 (so Table{"n": 5} reads back as Table{"n": 5.0}).
// Numeric keys must therefore be looked up as float64: t[float64(1)].
//
// A nil value means "absent", as in Lua, and is dropped on write.
type Table map[any]any

// MaxDepth is the deepest table nesting the stores read or write; it matches
// Prosody's util.serialization default (maxdepth = 127).
const MaxDepth = 127

// String returns t[key] when it is a string.
func (t Table) String(key any) (string, bool) {
	v, ok := t[key].(string)
	return v, ok
}

// Number returns t[key] when it is a number (float64, or any Go integer type
// in a table that has not been through a store yet).
func (t Table) Number(key any) (float64, bool) {
	v, err := normalizeNumber(t[key])
	if err != nil {
		return 0, false
	}
	f, ok := v.(float64)
	return f, ok
}

// Int returns t[key] when it is a number with no fractional part that fits in
// an int64.
func (t Table) Int(key any) (int64, bool) {
	f, ok := t.Number(key)
	if !ok || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, false
	}
	return int64(f), true
}

// Bool returns t[key] when it is a boolean.
func (t Table) Bool(key any) (bool, bool) {
	v, ok := t[key].(bool)
	return v, ok
}

// Sub returns t[key] when it is a nested Table.
func (t Table) Sub(key any) (Table, bool) {
	v, ok := t[key].(Table)
	return v, ok
}

// Clone returns a deep copy of t with keys and values normalised to the types
// a store returns. It fails on unsupported types, NaN keys, duplicate keys
// after normalisation (for example int 1 and float64 1), or nesting deeper
// than MaxDepth. Clone of a nil Table is nil.
func (t Table) Clone() (Table, error) {
	if t == nil {
		return nil, nil
	}
	return cloneTable(t, 1)
}

func cloneTable(t Table, depth int) (Table, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("storage: table nested deeper than %d", MaxDepth)
	}
	out := make(Table, len(t))
	for k, v := range t {
		if v == nil {
			continue
		}
		nk, err := normalizeKey(k)
		if err != nil {
			return nil, err
		}
		if _, dup := out[nk]; dup {
			return nil, fmt.Errorf("storage: duplicate key %v after normalisation", nk)
		}
		nv, err := normalizeValue(v, depth)
		if err != nil {
			return nil, fmt.Errorf("storage: value of key %v: %w", nk, err)
		}
		out[nk] = nv
	}
	return out, nil
}

func normalizeKey(k any) (any, error) {
	switch k := k.(type) {
	case string, bool:
		return k, nil
	}
	n, err := normalizeNumber(k)
	if err != nil {
		return nil, fmt.Errorf("storage: unsupported key type %T", k)
	}
	if math.IsNaN(n.(float64)) {
		return nil, fmt.Errorf("storage: NaN table key")
	}
	return n, nil
}

func normalizeValue(v any, depth int) (any, error) {
	switch v := v.(type) {
	case string, bool:
		return v, nil
	case Table:
		return cloneTable(v, depth+1)
	}
	n, err := normalizeNumber(v)
	if err != nil {
		return nil, fmt.Errorf("storage: unsupported value type %T", v)
	}
	return n, nil
}

// normalizeNumber converts any Go number to float64.
func normalizeNumber(v any) (any, error) {
	switch v := v.(type) {
	case float64:
		return v, nil
	case float32:
		return float64(v), nil
	case int:
		return float64(v), nil
	case int8:
		return float64(v), nil
	case int16:
		return float64(v), nil
	case int32:
		return float64(v), nil
	case int64:
		return float64(v), nil
	case uint:
		return float64(v), nil
	case uint8:
		return float64(v), nil
	case uint16:
		return float64(v), nil
	case uint32:
		return float64(v), nil
	case uint64:
		return float64(v), nil
	}
	return nil, fmt.Errorf("storage: %T is not a number", v)
}

// keyRank orders key kinds in serialised output: booleans, numbers, strings.
func keyRank(k any) int {
	switch k.(type) {
	case bool:
		return 0
	case string:
		return 2
	}
	return 1
}

// sortedKeys returns the keys of t in a stable order: false, true, numbers
// ascending, strings in byte order. Keys must already be normalised.
func sortedKeys(t Table) []any {
	keys := make([]any, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		ri, rj := keyRank(keys[i]), keyRank(keys[j])
		if ri != rj {
			return ri < rj
		}
		switch a := keys[i].(type) {
		case bool:
			return !a && keys[j].(bool)
		case float64:
			return a < keys[j].(float64)
		case string:
			return a < keys[j].(string)
		}
		return false
	})
	return keys
}
