// Package config evaluates Prosody's prosody.cfg.lua the way Prosody 13
// does (core/configmanager.lua) and returns typed sections with the source
// position of every option.
//
// The file is run by a real Lua VM (gopher-lua, Lua 5.1 syntax). As in
// Prosody:
//
//   - Assignments at top level set global options. `VirtualHost "name"`
//     (aliases Host, host) and `Component "name" "type"` (alias component;
//     no type, or "component", means an external XEP-0114 component) start
//     a section; later assignments go to it. Declaring a section again adds
//     to it; a Component declared again without a type becomes external, as
//     in Prosody (a warning says so). The table form `VirtualHost "x" { a = 1 }`
//     sets options and returns to the global section. A name used for both a
//     VirtualHost and a Component is an error.
//   - Reading a name inside the config gives, in order: ENV_<NAME> from the
//     environment, `Lua` (the builtins), the current section's own option
//     (Prosody does NOT fall back to the global value here, so inside a
//     section `x = x or "d"` only sees the section's x), then a Lua builtin
//     (with a deprecation warning; write Lua.string.format instead). List
//     options read back are proxies that support `opt:append{...}`,
//     `opt{...}`, `opt:value()` and `opt:values()`.
//   - Include "path" runs another file in its own environment (it starts in
//     the global section). Relative paths are relative to the including
//     file's directory. A trailing wildcard ("conf.d/*.cfg.lua", "*" and
//     "?") includes every matching file, sorted by name, skipping names that
//     start with "."; a wildcard that matches nothing is fine, a missing
//     literal file or wildcard directory is an error. FileContents, FileLine,
//     FileLines, RunScript and Credential (from $CREDENTIALS_DIRECTORY) are
//     provided too.
//   - Each file's chunk is named "@"+path, so debug.getinfo(1, "S").source
//     gives the file as Prosody would.
//
// Errors (syntax, runtime, section misuse, missing includes, timeouts) are
// *ConfigError values that print as "file:line: message", with the file
// and line inside an included file when the problem is there.
//
// # Safety
//
// Evaluation runs under a context deadline (WithTimeout, default
// DefaultTimeout; WithContext for cancellation), checked on every Lua
// instruction, so `while true do end` fails instead of hanging. A library
// call that never looks at the context (a pattern match with pathological
// backtracking) is abandoned one second after the deadline: Load returns
// the timeout error and the stuck goroutine finishes in the background. The
// config gets a sandbox rather than Prosody's full global table: no
// require, load, loadstring, dofile, package, coroutine, os.execute,
// os.exit, os.remove or io.popen; io.open reads only; string.rep and every
// file read are size-capped; only regular files are read (no FIFOs or
// devices); Include nesting is bounded. Memory use of arbitrary Lua code
// (for example doubling a string in a loop) is not otherwise limited: the
// config is trusted admin input, the limits are against accidents.
//
// # Values
//
// Option values are string, int64 (integral numbers), float64, bool,
// []any (tables with keys 1..n, and empty tables) and map[string]any (other
// tables), nested. The Option.As* methods and the Config getters decode
// them as Prosody's module API does, with inheritance from the global
// section (Config.Get). Config.Modules computes a section's module list by
// Prosody's rules and Config.Log interprets the `log` option.
//
// Differences from Prosody worth knowing: host names are only
// lower-cased (no full stringprep) and an empty name is rejected;
// `VirtualHost "*"` selects the global section and `Component "*"` is an
// error; a list option copied with `b = a` is
// stored as its value instead of Prosody's proxy object; RunScript runs in
// the sandbox; Lua 5.1 syntax (no integer division or bit operators).
package config
