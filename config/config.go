package config

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"time"
)

// DefaultTimeout bounds the evaluation of one configuration (the main file
// and everything it includes) when no WithTimeout option is given.
const DefaultTimeout = 10 * time.Second

// Pos is the place in a configuration file where something was defined.
type Pos struct {
	File string `json:"file"` // path of the file as it was loaded (not made absolute)
	Line int    `json:"line"` // 1-based line; 0 when unknown
}

// String returns "file:line", or just the file name when the line is unknown.
func (p Pos) String() string {
	if p.Line <= 0 {
		return p.File
	}
	return p.File + ":" + strconv.Itoa(p.Line)
}

// Option is one configuration option with the place where it was last set.
//
// Value holds the option converted from Lua: string, int64 (Lua numbers
// with an integral value), float64 (other numbers), bool, []any (tables
// whose keys are exactly 1..n, and empty tables), map[string]any (every
// other table; non-string keys are formatted as strings), nested with the
// same types. A value Go cannot represent (a function, a coroutine, a
// table that contains itself) is an Unsupported.
type Option struct {
	Name    string `json:"name"`
	Value   any    `json:"value"`
	Pos     Pos    `json:"pos"`
	Section string `json:"section,omitempty"` // host or component name; "" for the global section
}

// Unsupported stands for a Lua value that has no Go representation, such as
// a function. Its LuaType names the Lua type.
type Unsupported struct {
	LuaType string `json:"lua_type"`
}

// Options maps option names to options.
type Options map[string]*Option

// Config is an evaluated Prosody configuration.
type Config struct {
	Path       string
	Global     Options
	Hosts      []*Host      // VirtualHost sections, in order of first appearance
	Components []*Component // Component sections, in order of first appearance
	// Files lists every file evaluated (the main file, then each Include,
	// RunScript, in evaluation order; a file included twice appears twice).
	Files []string
	// Warnings are the non-fatal problems Prosody would also warn about
	// (duplicate options, reads of unknown names, direct use of the Lua API)
	// plus a few of our own.
	Warnings []Warning
}

// Host is a VirtualHost section. Options holds only what the section itself
// set; use the Config lookup methods for values inherited from the global
// section.
type Host struct {
	Name    string
	Pos     Pos
	Options Options
}

// Component is a Component section. Type is the component module: "muc",
// "client_proxy", "speakerstats_component", ...; "component" means an
// external (XEP-0114) component, as when no type is given.
type Component struct {
	Name    string
	Type    string
	Pos     Pos
	Options Options
}

// External reports whether the component is an external (XEP-0114) one.
func (c *Component) External() bool { return c != nil && (c.Type == "" || c.Type == "component") }

// Section is a VirtualHost or Component section. A nil Section (or a nil
// *Host or *Component) stands for the global section.
type Section interface {
	sectionInfo() (name string, opts Options, component bool)
}

func (h *Host) sectionInfo() (string, Options, bool) {
	if h == nil {
		return "", nil, false
	}
	return h.Name, h.Options, false
}

func (c *Component) sectionInfo() (string, Options, bool) {
	if c == nil {
		return "", nil, false
	}
	return c.Name, c.Options, true
}

// Warning is a non-fatal problem found while evaluating.
type Warning struct {
	Pos Pos
	Msg string
}

// String returns "file:line: message".
func (w Warning) String() string { return w.Pos.String() + ": " + w.Msg }

// ConfigError is an error in a configuration file: a Lua syntax error, a
// runtime error, a bad section declaration, a missing included file, a
// timeout, or an option of the wrong type.
type ConfigError struct {
	File string
	Line int
	Msg  string
	Err  error // underlying cause, if any (fs errors, context errors)
}

// Error returns "file:line: message".
func (e *ConfigError) Error() string {
	if e.File == "" {
		return e.Msg
	}
	return Pos{e.File, e.Line}.String() + ": " + e.Msg
}

// Unwrap returns the underlying cause.
func (e *ConfigError) Unwrap() error { return e.Err }

// Pos returns the error position.
func (e *ConfigError) Pos() Pos { return Pos{e.File, e.Line} }

// LoadOption customises Load and Parse.
type LoadOption func(*settings)

type settings struct {
	ctx        context.Context
	timeout    time.Duration
	stuckGrace time.Duration
	env        func(string) (string, bool)
	fsys       fileSystem
	logger     *slog.Logger
}

// WithEnv sets the environment lookup used by ENV_<NAME> globals,
// os.getenv and Credential ($CREDENTIALS_DIRECTORY). The default is
// os.LookupEnv.
func WithEnv(lookup func(string) (string, bool)) LoadOption {
	return func(s *settings) {
		if lookup != nil {
			s.env = lookup
		}
	}
}

// WithContext sets a parent context for evaluation; cancelling it stops a
// running configuration.
func WithContext(ctx context.Context) LoadOption {
	return func(s *settings) {
		if ctx != nil {
			s.ctx = ctx
		}
	}
}

// WithTimeout bounds evaluation time (default DefaultTimeout). A
// configuration still running at the deadline (for example one stuck in
// `while true do end`) fails with a ConfigError wrapping
// context.DeadlineExceeded.
func WithTimeout(d time.Duration) LoadOption {
	return func(s *settings) {
		if d > 0 {
			s.timeout = d
		}
	}
}

// WithFS makes every file access (the main file for Load, Include,
// RunScript, FileContents, FileLine, FileLines, Credential, io.open) go to
// fsys instead of the operating system. Names are cleaned and a leading "/"
// is removed, so "/etc/prosody/prosody.cfg.lua" is "etc/prosody/prosody.cfg.lua"
// in fsys.
func WithFS(fsys fs.FS) LoadOption {
	return func(s *settings) {
		if fsys != nil {
			s.fsys = ioFS{fsys}
		}
	}
}

// WithLogger receives the output of the config's print() calls (at Info
// level). By default it is discarded.
func WithLogger(l *slog.Logger) LoadOption {
	return func(s *settings) {
		if l != nil {
			s.logger = l
		}
	}
}

func newSettings(opts []LoadOption) *settings {
	s := &settings{
		ctx:        context.Background(),
		timeout:    DefaultTimeout,
		stuckGrace: time.Second,
		env:        os.LookupEnv,
		fsys:       osFS{},
		logger:     slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Load reads and evaluates the configuration file at path the way Prosody
// does. Errors in the configuration are *ConfigError values.
func Load(path string, opts ...LoadOption) (*Config, error) {
	s := newSettings(opts)
	src, err := s.fsys.readFile(path, maxFileSize)
	if err != nil {
		return nil, fmt.Errorf("config: reading %s: %w", path, err)
	}
	return evaluate(path, src, s)
}

// Parse evaluates src as if it were the file name. Include, RunScript and the
// file readers resolve relative paths against the directory of name.
func Parse(name string, src []byte, opts ...LoadOption) (*Config, error) {
	return evaluate(name, src, newSettings(opts))
}
