package server

import (
	"fmt"
	"strconv"

	"github.com/parley-xmpp/parley/config"
)

// sectionView reads options of one config section, falling back to the
// global section as Prosody does.
type sectionView struct {
	cfg *config.Config
	sec config.Section
}

func (v sectionView) get(key string) (*config.Option, bool) {
	if v.cfg == nil {
		return nil, false
	}
	return v.cfg.Get(v.sec, key)
}

func (v sectionView) str(key, def string) string {
	o, ok := v.get(key)
	if !ok {
		return def
	}
	switch x := o.Value.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	}
	return def
}

func (v sectionView) boolean(key string, def bool) bool {
	o, ok := v.get(key)
	if !ok {
		return def
	}
	if b, ok := o.Value.(bool); ok {
		return b
	}
	return def
}

// strings reads a list of strings; a single string counts as a list of one.
func (v sectionView) strings(key string, def []string) []string {
	o, ok := v.get(key)
	if !ok {
		return def
	}
	return toStrings(o.Value)
}

func toStrings(val any) []string {
	switch x := val.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	case []string:
		return x
	case map[string]any:
		var out []string
		for k := range x {
			out = append(out, k)
		}
		return out
	}
	return nil
}

// ints reads a list of port numbers; a single number counts as a list.
func (v sectionView) ints(key string, def []int) ([]int, error) {
	o, ok := v.get(key)
	if !ok {
		return def, nil
	}
	var raw []any
	switch x := o.Value.(type) {
	case []any:
		raw = x
	default:
		raw = []any{x}
	}
	var out []int
	for _, e := range raw {
		switch n := e.(type) {
		case float64:
			out = append(out, int(n))
		case int64:
			out = append(out, int(n))
		case int:
			out = append(out, n)
		case string:
			p, err := strconv.Atoi(n)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %q is not a port", o.Pos, key, n)
			}
			out = append(out, p)
		default:
			return nil, fmt.Errorf("%s: %s: expected port numbers", o.Pos, key)
		}
	}
	return out, nil
}

func (v sectionView) table(key string) map[string]any {
	o, ok := v.get(key)
	if !ok {
		return nil
	}
	m, _ := o.Value.(map[string]any)
	return m
}

func (v sectionView) pos(key string) string {
	if o, ok := v.get(key); ok {
		return o.Pos.String()
	}
	return ""
}
