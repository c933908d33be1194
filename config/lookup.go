package config

import (
	"slices"
	"sort"
	"strings"
	"time"
)

// Host returns the VirtualHost section with the given name, or nil.
func (c *Config) Host(name string) *Host {
	name = strings.ToLower(name)
	for _, h := range c.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// Component returns the Component section with the given name, or nil.
func (c *Config) Component(name string) *Component {
	name = strings.ToLower(name)
	for _, co := range c.Components {
		if co.Name == name {
			return co
		}
	}
	return nil
}

// Section returns the host or component with the given name, or nil (the
// global section) when there is none.
func (c *Config) Section(name string) Section {
	if h := c.Host(name); h != nil {
		return h
	}
	if co := c.Component(name); co != nil {
		return co
	}
	return nil
}

func ownOptions(s Section) Options {
	if s == nil {
		return nil
	}
	_, opts, _ := s.sectionInfo()
	return opts
}

// Get looks an option up as Prosody's config.get does: the section's own
// value, else the global one. A nil section is the global section.
func (c *Config) Get(s Section, key string) (*Option, bool) {
	if o, ok := ownOptions(s)[key]; ok {
		return o, true
	}
	o, ok := c.Global[key]
	return o, ok
}

// The typed getters below return def when the option is unset or cannot be
// decoded. Use Get and the Option.As* methods to report decoding errors
// with their position.

// String returns a string option (see Option.AsString).
func (c *Config) String(s Section, key, def string) string {
	if o, ok := c.Get(s, key); ok {
		if v, err := o.AsString(); err == nil {
			return v
		}
	}
	return def
}

// Bool returns a boolean option (see Option.AsBool).
func (c *Config) Bool(s Section, key string, def bool) bool {
	if o, ok := c.Get(s, key); ok {
		if v, err := o.AsBool(); err == nil {
			return v
		}
	}
	return def
}

// Int returns an integer option (see Option.AsInt).
func (c *Config) Int(s Section, key string, def int64) int64 {
	if o, ok := c.Get(s, key); ok {
		if v, err := o.AsInt(); err == nil {
			return v
		}
	}
	return def
}

// Float returns a number option (see Option.AsFloat).
func (c *Config) Float(s Section, key string, def float64) float64 {
	if o, ok := c.Get(s, key); ok {
		if v, err := o.AsFloat(); err == nil {
			return v
		}
	}
	return def
}

// Duration returns a period option: seconds or a "2 hours" style string
// (see Option.AsDuration).
func (c *Config) Duration(s Section, key string, def time.Duration) time.Duration {
	if o, ok := c.Get(s, key); ok {
		if v, err := o.AsDuration(); err == nil {
			return v
		}
	}
	return def
}

// Strings returns a list of strings; a single string counts as a one-item
// list. It returns nil when the option is unset or not a list of strings.
func (c *Config) Strings(s Section, key string) []string {
	if o, ok := c.Get(s, key); ok {
		if v, err := o.AsStrings(); err == nil {
			return v
		}
	}
	return nil
}

// Ints returns a list of integers (ports); a single number counts as a
// one-item list.
func (c *Config) Ints(s Section, key string) []int64 {
	if o, ok := c.Get(s, key); ok {
		if v, err := o.AsInts(); err == nil {
			return v
		}
	}
	return nil
}

// StringMap returns a table of string fields (ssl = { key = ...,
// certificate = ... }), or nil.
func (c *Config) StringMap(s Section, key string) map[string]string {
	if o, ok := c.Get(s, key); ok {
		if v, err := o.AsStringMap(); err == nil {
			return v
		}
	}
	return nil
}

// InheritedStrings is Prosody's get_option_inherited_set: the section's
// items followed by the global ones not already present. Prosody reads
// `admins` this way, so a Component's admins add to the global admins.
func (c *Config) InheritedStrings(s Section, key string) []string {
	var out []string
	add := func(opts Options) {
		o, ok := opts[key]
		if !ok {
			return
		}
		items, err := o.AsStrings()
		if err != nil {
			return
		}
		for _, it := range items {
			if !slices.Contains(out, it) {
				out = append(out, it)
			}
		}
	}
	add(ownOptions(s))
	add(c.Global)
	return out
}

// Admins returns the admin JIDs of a section: its own `admins` plus the
// global ones.
func (c *Config) Admins(s Section) []string { return c.InheritedStrings(s, "admins") }

// Enabled reports whether a host or component starts: Prosody skips a
// section whose `enabled` (inherited from the global section) is the
// boolean false.
func (c *Config) Enabled(s Section) bool {
	o, ok := c.Get(s, "enabled")
	if !ok {
		return true
	}
	b, isBool := o.Value.(bool)
	return !isBool || b
}

// Modules loaded on every host by Prosody 13 (core/modulemanager.lua).
var (
	autoloadModules = []string{"presence", "message", "iq", "offline", "c2s", "s2s", "s2s_auth_certs"}
	// componentInheritableModules are the only global modules a Component
	// loads.
	componentInheritableModules = []string{"tls", "saslauth", "dialback", "iq", "s2s", "s2s_bidi", "smacks", "server_contact_info"}
)

// Modules returns the modules Prosody 13 loads for a section
// (get_modules_for_host): the auto-loaded modules plus the global
// modules_enabled, minus the global modules_disabled; for a Component only
// the few inheritable ones of those, with the component module itself
// first; then the section's own modules_enabled, minus its own
// modules_disabled. When both vcard and vcard_legacy are present, vcard is
// dropped. A nil section gives the global list. Order: component module,
// then first appearance.
func (c *Config) Modules(s Section) []string {
	list := func(opts Options, key string) []string {
		if o, ok := opts[key]; ok {
			if v, err := o.AsStrings(); err == nil {
				return v
			}
		}
		return nil
	}
	var global []string
	for _, m := range slices.Concat(autoloadModules, list(c.Global, "modules_enabled")) {
		if !slices.Contains(global, m) && !slices.Contains(list(c.Global, "modules_disabled"), m) {
			global = append(global, m)
		}
	}
	if s == nil {
		return global
	}
	_, own, isComp := s.sectionInfo()
	if own == nil {
		return global
	}
	var out []string
	if isComp {
		out = append(out, s.(*Component).Type)
		global = slices.DeleteFunc(global, func(m string) bool { return !slices.Contains(componentInheritableModules, m) })
	}
	disabled := list(own, "modules_disabled")
	for _, m := range slices.Concat(global, list(own, "modules_enabled")) {
		if !slices.Contains(out, m) && !slices.Contains(disabled, m) {
			out = append(out, m)
		}
	}
	if slices.Contains(out, "vcard") && slices.Contains(out, "vcard_legacy") {
		out = slices.DeleteFunc(out, func(m string) bool { return m == "vcard" })
	}
	return out
}

// AllOptions returns every option of every section, in file order (by
// Files, then line, then name).
func (c *Config) AllOptions() []*Option {
	var all []*Option
	collect := func(opts Options) {
		for _, o := range opts {
			all = append(all, o)
		}
	}
	collect(c.Global)
	for _, h := range c.Hosts {
		collect(h.Options)
	}
	for _, co := range c.Components {
		collect(co.Options)
	}
	fileIdx := func(f string) int {
		if i := slices.Index(c.Files, f); i >= 0 {
			return i
		}
		return len(c.Files)
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if fa, fb := fileIdx(a.Pos.File), fileIdx(b.Pos.File); fa != fb {
			return fa < fb
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Section != b.Section {
			return a.Section < b.Section
		}
		return a.Name < b.Name
	})
	return all
}

// Unused returns the options whose name known rejects, in file order, for
// an "option ignored" listing.
func (c *Config) Unused(known func(key string) bool) []*Option {
	var out []*Option
	for _, o := range c.AllOptions() {
		if !known(o.Name) {
			out = append(out, o)
		}
	}
	return out
}
