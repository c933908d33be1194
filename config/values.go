package config

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Forever is the Duration of a period option set to "never" or false.
const Forever = time.Duration(math.MaxInt64)

// The As* methods decode an option the way Prosody's module API
// (core/moduleapi.lua get_option_*) does, returning a *ConfigError that
// points at the option when the value does not fit.

func (o *Option) errorf(format string, args ...any) error {
	return &ConfigError{File: o.Pos.File, Line: o.Pos.Line, Msg: fmt.Sprintf("option '%s': ", o.Name) + fmt.Sprintf(format, args...)}
}

// Scalar is the option's value, or the first item of a list
// (get_option_scalar). A map yields nil.
func (o *Option) Scalar() any {
	switch v := o.Value.(type) {
	case []any:
		if len(v) == 0 {
			return nil
		}
		return v[0]
	case map[string]any:
		return v["1"]
	}
	return o.Value
}

// scalarType names the type of Scalar, or of the table it came from.
func (o *Option) scalarType() string {
	if v := o.Scalar(); v != nil {
		return typeName(v)
	}
	return typeName(o.Value)
}

// typeName names a value's Lua type for messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "nil"
	case string:
		return "string"
	case int64, float64:
		return "number"
	case bool:
		return "boolean"
	case []any, map[string]any:
		return "table"
	case Unsupported:
		return v.(Unsupported).LuaType
	}
	return fmt.Sprintf("%T", v)
}

// scalarString converts a scalar as Lua's tostring does.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int64, float64:
		return formatNumber(x), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// AsString decodes a string option; numbers and booleans are formatted as
// Lua's tostring does (get_option_string).
func (o *Option) AsString() (string, error) {
	s, ok := scalarString(o.Scalar())
	if !ok {
		return "", o.errorf("expected a string, got a %s", o.scalarType())
	}
	return s, nil
}

// AsFloat decodes a number option; numeric strings are accepted
// (get_option_number).
func (o *Option) AsFloat() (float64, error) {
	switch v := o.Scalar().(type) {
	case int64:
		return float64(v), nil
	case float64:
		return v, nil
	case string:
		if f, ok := parseLuaNumber(v); ok {
			return f, nil
		}
	}
	return 0, o.errorf("not understood, expecting a number")
}

// AsInt decodes an integer option; a fractional number is floored
// (get_option_integer).
func (o *Option) AsInt() (int64, error) {
	f, err := o.AsFloat()
	if err != nil {
		return 0, err
	}
	f = math.Floor(f)
	if math.IsNaN(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, o.errorf("number %v out of range", f)
	}
	return int64(f), nil
}

// AsBool decodes a boolean option: true, "true" and 1 are true; false,
// "false" and 0 are false (get_option_boolean).
func (o *Option) AsBool() (bool, error) {
	switch v := o.Scalar().(type) {
	case bool:
		return v, nil
	case string:
		switch v {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	case int64:
		switch v {
		case 1:
			return true, nil
		case 0:
			return false, nil
		}
	}
	return false, o.errorf("not understood, expecting true/false")
}

// AsDuration decodes a period option (get_option_period): a number of
// seconds, a string such as "30 seconds", "5 minutes", "2 hours", "1 day",
// "3 weeks", "1 month", "1 year", or "never"/false for Forever. Like
// Prosody it falls back to a lax reading for strings such as "60" or "5m"
// (which Prosody reads as five months).
func (o *Option) AsDuration() (time.Duration, error) {
	var secs float64
	switch v := o.Scalar().(type) {
	case bool:
		if v {
			return 0, o.errorf("expects a number or a period description string (e.g. \"3 hours\"), not true")
		}
		return Forever, nil
	case int64:
		secs = float64(v)
	case float64:
		secs = v
	case string:
		if v == "never" {
			return Forever, nil
		}
		var ok bool
		if secs, ok = parseDuration(v, false); !ok {
			if secs, ok = parseDuration(v, true); !ok {
				return 0, o.errorf("not understood, expecting a period (e.g. \"2 days\")")
			}
		}
	default:
		return 0, o.errorf("expects a number or a period description string (e.g. \"3 hours\"), not %s", typeName(v))
	}
	if secs < 0 || math.IsNaN(secs) {
		return 0, o.errorf("period must not be negative")
	}
	if secs >= float64(Forever)/float64(time.Second) {
		return Forever, nil
	}
	return time.Duration(secs * float64(time.Second)), nil
}

const day = 86400

var durationUnits = map[string]float64{
	"d": day, "w": day * 7, "mon": 31 * day, "y": 365.2425 * day,
	"s": 1, "min": 60, "h": 3600, "ho": 3600,
}

// parseDuration follows util.human.io parse_duration (lax=false) and
// parse_duration_lax: the first run of digits, optional spaces, then a
// unit abbreviation.
func parseDuration(s string, lax bool) (float64, bool) {
	s = strings.ToLower(s)
	i := strings.IndexAny(s, "0123456789")
	if i < 0 {
		return 0, false
	}
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	n, err := strconv.ParseFloat(s[i:j], 64)
	if err != nil {
		return 0, false
	}
	for j < len(s) && strings.IndexByte(" \t\n\r\f\v", s[j]) >= 0 {
		j++
	}
	unit := ""
	if j < len(s) && strings.IndexByte("smhdwy", s[j]) >= 0 {
		unit += s[j : j+1]
		j++
	}
	if j < len(s) && strings.IndexByte("io", s[j]) >= 0 {
		unit += s[j : j+1]
		j++
	}
	if !lax && j < len(s) && s[j] == 'n' {
		unit += "n"
	}
	if lax {
		switch unit {
		case "m", "mo":
			return n * durationUnits["mon"], true
		case "mi":
			return n * durationUnits["min"], true
		}
		if m, ok := durationUnits[unit]; ok {
			return n * m, true
		}
		return n, true
	}
	m, ok := durationUnits[unit]
	if !ok {
		return 0, false
	}
	return n * m, true
}

// AsList is the option as a list (get_option_array): a non-table value is a
// one-item list; a map contributes its items 1..n.
func (o *Option) AsList() []any {
	switch v := o.Value.(type) {
	case []any:
		return v
	case map[string]any:
		var list []any
		for i := 1; ; i++ {
			item, ok := v[strconv.Itoa(i)]
			if !ok {
				return list
			}
			list = append(list, item)
		}
	case nil:
		return nil
	}
	return []any{o.Value}
}

// AsStrings decodes a list of strings; a single string is a one-item list,
// and numbers are formatted as Lua does.
func (o *Option) AsStrings() ([]string, error) {
	list := o.AsList()
	out := make([]string, 0, len(list))
	for i, item := range list {
		s, ok := scalarString(item)
		if !ok {
			return nil, o.errorf("item %d: expected a string, got a %s", i+1, typeName(item))
		}
		out = append(out, s)
	}
	return out, nil
}

// AsInts decodes a list of integers (ports, for example); a single number
// is a one-item list and numeric strings are accepted.
func (o *Option) AsInts() ([]int64, error) {
	list := o.AsList()
	out := make([]int64, 0, len(list))
	for i, item := range list {
		item := &Option{Name: o.Name, Value: item, Pos: o.Pos}
		n, err := item.AsInt()
		if err != nil {
			return nil, o.errorf("item %d: expected an integer, got a %s", i+1, typeName(item.Value))
		}
		out = append(out, n)
	}
	return out, nil
}

// AsMap decodes a table with named fields. An empty table is an empty map.
func (o *Option) AsMap() (map[string]any, error) {
	switch v := o.Value.(type) {
	case map[string]any:
		return v, nil
	case []any:
		if len(v) == 0 {
			return map[string]any{}, nil
		}
	}
	return nil, o.errorf("expected a table of named fields, got a %s", typeName(o.Value))
}

// AsStringMap decodes a table whose field values are strings (numbers and
// booleans are formatted).
func (o *Option) AsStringMap() (map[string]string, error) {
	m, err := o.AsMap()
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(m))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s, ok := scalarString(m[k])
		if !ok {
			return nil, o.errorf("field %q: expected a string, got a %s", k, typeName(m[k]))
		}
		out[k] = s
	}
	return out, nil
}
