package config

import (
	"fmt"
	"slices"
	"strings"
)

// LogLevels are Prosody's log levels, lowest first.
var LogLevels = []string{"debug", "info", "warn", "error"}

// LogSink is one logging rule from Prosody's `log` option
// (core/loggingmanager.lua).
type LogSink struct {
	// To is the sink type: "console", "file", "stdout", "syslog",
	// "nowhere", or a type provided by a module.
	To string `json:"to"`
	// Filename is the file for the "file" sink.
	Filename string `json:"filename,omitempty"`
	// Levels are the levels sent to this sink, lowest first.
	Levels []string `json:"levels"`
	// Min and Max are the first and last of Levels ("" when Levels is empty).
	Min string `json:"min,omitempty"`
	Max string `json:"max,omitempty"`
	// Options holds the fields of a sink table (timestamps, ...), if any.
	Options map[string]any `json:"options,omitempty"`
	Pos     Pos            `json:"pos"`
}

// Log interprets the global `log` option as Prosody does:
//
//	unset                        console, info and up (debug and up when `debug = true`)
//	"*console", "*syslog"        that sink, every level
//	"/var/log/prosody.log"       that file, info and up (debug with `debug`)
//	{ info = "a.log"; error = "*syslog" }  per-level minimum: file or sink
//	{ { levels = { min = "info" }, to = "console" }, "*syslog" }  sink tables and "*sink" strings
//
// Level-keyed entries come first (debug to error), then list entries in
// order. List entries without a `to` are ignored, as in Prosody.
func (c *Config) Log() ([]LogSink, error) {
	defLevel := "info"
	if c.Bool(nil, "debug", false) {
		defLevel = "debug"
	}
	o, ok := c.Global["log"]
	if !ok {
		return []LogSink{newSink("console", "", levelsFrom(defLevel, ""), nil, Pos{})}, nil
	}
	switch v := o.Value.(type) {
	case string:
		if sink, ok := strings.CutPrefix(v, "*"); ok {
			return []LogSink{newSink(sink, "", levelsFrom("debug", ""), nil, o.Pos)}, nil
		}
		return []LogSink{newSink("file", v, levelsFrom(defLevel, ""), nil, o.Pos)}, nil
	case []any, map[string]any:
	default:
		return nil, o.errorf("expected a file name, \"*sink\" or a table, got a %s", typeName(o.Value))
	}
	var sinks []LogSink
	if m, ok := o.Value.(map[string]any); ok {
		for _, level := range LogLevels {
			s, ok := m[level].(string)
			if !ok {
				continue
			}
			if sink, ok := strings.CutPrefix(s, "*"); ok {
				sinks = append(sinks, newSink(sink, "", levelsFrom(level, ""), nil, o.Pos))
			} else {
				sinks = append(sinks, newSink("file", s, levelsFrom(level, ""), nil, o.Pos))
			}
		}
	}
	for i, item := range o.AsList() {
		switch it := item.(type) {
		case string:
			if sink, ok := strings.CutPrefix(it, "*"); ok {
				sinks = append(sinks, newSink(sink, "", levelsFrom("debug", ""), nil, o.Pos))
			}
		case map[string]any:
			to, ok := it["to"].(string)
			if !ok {
				continue
			}
			levels, err := sinkLevels(it["levels"])
			if err != nil {
				return nil, o.errorf("item %d: %v", i+1, err)
			}
			file, _ := it["filename"].(string)
			sinks = append(sinks, newSink(to, file, levels, it, o.Pos))
		}
	}
	return sinks, nil
}

func newSink(to, file string, levels []string, opts map[string]any, p Pos) LogSink {
	s := LogSink{To: to, Filename: file, Levels: levels, Options: opts, Pos: p}
	if len(levels) > 0 {
		s.Min, s.Max = levels[0], levels[len(levels)-1]
	}
	return s
}

// levelsFrom is the levels from min up to max ("" for no bound).
func levelsFrom(min, max string) []string {
	var out []string
	in := false
	for _, l := range LogLevels {
		if l == min {
			in = true
		}
		if in {
			out = append(out, l)
		}
		if l == max {
			break
		}
	}
	return out
}

// sinkLevels follows loggingmanager's get_levels: a level name, or a table
// with min and/or max plus listed levels. Unset means every level.
func sinkLevels(v any) ([]string, error) {
	set := map[string]bool{}
	switch c := v.(type) {
	case nil:
		return slices.Clone(LogLevels), nil
	case string:
		set[c] = true
	case []any:
		for _, l := range c {
			if s, ok := l.(string); ok {
				set[s] = true
			}
		}
	case map[string]any:
		min, _ := c["min"].(string)
		max, _ := c["max"].(string)
		if min != "" || max != "" {
			in := false
			for _, l := range LogLevels {
				if l == min {
					set[l], in = true, true
				} else if l == max {
					set[l] = true
					break
				} else if in {
					set[l] = true
				}
			}
		}
		for i := 1; ; i++ {
			s, ok := c[fmt.Sprint(i)].(string)
			if !ok {
				break
			}
			set[s] = true
		}
	default:
		return nil, fmt.Errorf("levels: expected a level name or a table, got a %s", typeName(v))
	}
	var out []string
	for _, l := range LogLevels {
		if set[l] {
			out = append(out, l)
		}
	}
	return out, nil
}
