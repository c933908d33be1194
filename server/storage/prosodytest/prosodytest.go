// Package prosodytest runs Lua scripts against an installed Prosody's own
// libraries (util.datamanager, util.serialization, util.sasl.scram ...), so
// tests can check that files written by parley are read by Prosody exactly
// as intended.
//
// It finds Prosody through prosodyctl on PATH: the Lua interpreter named in
// its "#!" line and the library directory in its CFG_SOURCEDIR line (as set
// by distribution packages). Tests skip, with a message saying what is
// missing, when Prosody is not installed. Prosody 0.12 (library names
// "util.x") and 13 (names "prosody.util.x") are both handled: scripts load
// modules with the preamble's preq function.
package prosodytest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Prosody is an installed Prosody found by Find.
type Prosody struct {
	// Interpreter is the Lua interpreter prosodyctl runs with.
	Interpreter string
	// SourceDir is Prosody's library directory (CFG_SOURCEDIR).
	SourceDir string
	// Version is the content of SourceDir/prosody.version, if present.
	Version string
}

var sourceDirRE = regexp.MustCompile(`(?m)^CFG_SOURCEDIR\s*=\s*'([^']+)'`)

// Find locates Prosody or skips t.
func Find(t testing.TB) *Prosody {
	t.Helper()
	ctl, err := exec.LookPath("prosodyctl")
	if err != nil {
		t.Skip("prosodyctl not on PATH: install prosody (apt-get install prosody) to run this Prosody compatibility test")
	}
	src, err := os.ReadFile(ctl)
	if err != nil {
		t.Skipf("cannot read %s: %v", ctl, err)
	}
	first, _, _ := bytes.Cut(src, []byte("\n"))
	fields := strings.Fields(strings.TrimPrefix(string(first), "#!"))
	if len(fields) == 0 {
		t.Skipf("%s has no #! line naming its Lua interpreter", ctl)
	}
	interp := fields[len(fields)-1]
	if filepath.Base(fields[0]) != "env" {
		interp = fields[0]
	}
	interp, err = exec.LookPath(interp)
	if err != nil {
		t.Skipf("Lua interpreter of %s not found: %v", ctl, err)
	}
	p := &Prosody{Interpreter: interp}
	if m := sourceDirRE.FindSubmatch(src); m != nil {
		p.SourceDir = string(m[1])
	} else {
		for _, d := range []string{"/usr/lib/prosody", "/usr/local/lib/prosody"} {
			if _, err := os.Stat(filepath.Join(d, "util")); err == nil {
				p.SourceDir = d
				break
			}
		}
	}
	if p.SourceDir == "" {
		t.Skipf("cannot find Prosody's library directory (no CFG_SOURCEDIR in %s)", ctl)
	}
	if v, err := os.ReadFile(filepath.Join(p.SourceDir, "prosody.version")); err == nil {
		p.Version = strings.TrimSpace(string(v))
	}
	return p
}

// preamble makes Prosody's libraries loadable and defines preq(name), which
// loads "prosody."..name (Prosody 13) or name (0.12).
const preamble = `
local src = assert(os.getenv("PARLEY_PROSODY_SRC"))
package.path = src .. "/?.lua;" .. package.path
package.cpath = src .. "/?.so;" .. package.cpath
if not pcall(require, "prosody.loader") then pcall(require, "loader") end
function preq(name)
	local ok, m = pcall(require, "prosody." .. name)
	if ok then return m end
	return require(name)
end
`

// Run executes script (after the preamble) with args available as arg[1]...,
// and returns its standard output. A failing script fails t with its stderr.
func (p *Prosody) Run(t testing.TB, script string, args ...string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "script.lua")
	if err := os.WriteFile(f, []byte(preamble+script), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.Interpreter, append([]string{f}, args...)...)
	cmd.Env = append(os.Environ(), "PARLEY_PROSODY_SRC="+p.SourceDir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("lua script failed: %v\nstderr:\n%s\nstdout:\n%s", err, stderr.String(), stdout.String())
	}
	return stdout.String()
}
