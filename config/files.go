package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// maxFileSize caps every file the configuration reads (config files,
// FileContents, io.open), so that a path such as /dev/zero cannot exhaust
// memory.
const maxFileSize = 16 << 20

var errTooLarge = errors.New("file too large")

// fileSystem is the file access the evaluator needs.
type fileSystem interface {
	// readFile reads a regular file of at most limit bytes.
	readFile(name string, limit int64) ([]byte, error)
	// readDir lists the names in a directory, sorted.
	readDir(name string) ([]string, error)
}

// osFS reads from the operating system.
type osFS struct{}

func (osFS) readFile(name string, limit int64) ([]byte, error) {
	// Stat first: opening a FIFO would block, and devices never end.
	fi, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("not a regular file")}
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, name, limit)
}

func (osFS) readDir(name string) ([]string, error) {
	ents, err := os.ReadDir(name)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	sort.Strings(names)
	return names, nil
}

// ioFS reads from an fs.FS.
type ioFS struct{ fsys fs.FS }

func fsName(name string) string {
	name = strings.TrimLeft(path.Clean(filepath.ToSlash(name)), "/")
	if name == "" {
		return "."
	}
	return name
}

func (f ioFS) readFile(name string, limit int64) ([]byte, error) {
	fi, err := fs.Stat(f.fsys, fsName(name))
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("not a regular file")}
	}
	file, err := f.fsys.Open(fsName(name))
	if err != nil {
		return nil, err
	}
	defer file.Close()
	return readLimited(file, name, limit)
}

func (f ioFS) readDir(name string) ([]string, error) {
	ents, err := fs.ReadDir(f.fsys, fsName(name))
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	sort.Strings(names)
	return names, nil
}

func readLimited(r io.Reader, name string, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("%w (limit %d bytes)", errTooLarge, limit)}
	}
	return b, nil
}

// resolvePath resolves p against dir as Prosody's resolve_relative_path
// does: absolute paths stay, relative ones are joined to dir (a leading
// "./" is dropped by the cleaning).
func resolvePath(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

// globMatch matches name against an Include wildcard as Prosody does: "*"
// is any run of bytes, "?" any single byte, everything else is literal.
func globMatch(pattern, name string) bool {
	p, n := 0, 0
	starP, starN := -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			starP, starN = p, n
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == name[n]):
			p++
			n++
		case starP >= 0:
			starN++
			p, n = starP+1, starN
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// splitLines splits file content into lines the way Lua's io.lines does:
// "\n" separates, a final newline does not start an empty line.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	s = strings.TrimSuffix(s, "\n")
	return strings.Split(s, "\n")
}
