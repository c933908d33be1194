package jwt

import (
	"errors"
	"fmt"

	"github.com/yuin/gopher-lua/pm"
)

// maxPatternLength caps a room pattern; with the quantifier and room-length
// limits it bounds the backtracking work of one match.
const maxPatternLength = 256

// countQuantifiers counts the Lua pattern quantifiers (* + - ?) outside
// character classes and not escaped with %, the way Jitsi's
// token_regex_max_quantifiers counts them (jitsi-meet PR #17803):
// "[a-z0-9%-]+%-%d+" counts 2.
func countQuantifiers(p string) int {
	n := 0
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '%':
			i++ // skip the escaped character
		case '[':
			i = skipClass(p, i)
		case '*', '+', '-', '?':
			n++
		}
	}
	return n
}

// skipClass returns the index of the ']' closing the class opened at p[i]
// (or the last index when it is unterminated), following Lua's rules: a ']'
// right after '[' or '[^' is a member, and '%' escapes the next character.
func skipClass(p string, i int) int {
	i++
	if i < len(p) && p[i] == '^' {
		i++
	}
	if i < len(p) && p[i] == ']' {
		i++
	}
	for ; i < len(p); i++ {
		switch p[i] {
		case '%':
			i++
		case ']':
			return i
		}
	}
	return len(p) - 1
}

// matchRoomPattern reports whether the Lua pattern matches name the way
// Jitsi's verify_room uses it: string.match(name, pattern) must return the
// whole name. Only a match starting at the first byte can be the whole name,
// so the pattern is anchored, which also bounds the work. Captures are
// ignored: the matched text, not a capture, is compared with the name.
func matchRoomPattern(pattern, name string) (ok bool, err error) {
	defer func() {
		// pm reports syntax errors itself; anything else it panics with is
		// a malformed pattern too, never a reason to crash the server.
		if r := recover(); r != nil {
			ok, err = false, fmt.Errorf("room pattern: %v", r)
		}
	}()
	if err := checkPatternSyntax(pattern); err != nil {
		return false, err
	}
	if len(pattern) > 0 && pattern[0] != '^' {
		pattern = "^" + pattern
	}
	matches, err := pm.Find(pattern, []byte(name), 0, 1)
	if err != nil {
		return false, fmt.Errorf("room pattern: %w", err)
	}
	if len(matches) == 0 {
		return false, nil
	}
	m := matches[0]
	if m.CaptureLength() < 2 {
		return false, errors.New("room pattern: no match bounds")
	}
	return m.Capture(0) == 0 && m.Capture(1) == len(name), nil
}

// checkPatternSyntax refuses what Lua's string.match raises an error for but
// gopher-lua's matcher would silently accept (a trailing '%', an unfinished
// %b), and the Lua 5.2+ items that matcher does not implement (%f frontiers,
// the %g class), so no pattern means something different here than in Jitsi.
func checkPatternSyntax(p string) error {
	inClass := false
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '%':
			if i+1 >= len(p) {
				return errors.New("room pattern: malformed pattern (ends with '%')")
			}
			switch p[i+1] {
			case 'f', 'g', 'G':
				return fmt.Errorf("room pattern: %%%c is not supported", p[i+1])
			case 'b':
				if !inClass {
					if i+3 >= len(p) {
						return errors.New("room pattern: missing arguments to '%b'")
					}
					i += 2
				}
			}
			i++
		case c == '[' && !inClass:
			inClass = true
			// A ']' right after '[' or '[^' is a member, not the end.
			if i+1 < len(p) && p[i+1] == '^' {
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' {
				i++
			}
		case c == ']' && inClass:
			inClass = false
		}
	}
	if inClass {
		return errors.New("room pattern: malformed pattern (missing ']')")
	}
	return nil
}
