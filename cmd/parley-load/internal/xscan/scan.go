// Package xscan finds XML element boundaries and reads attributes in raw
// bytes without building a tree. It is the load generator's parser: the
// generator trusts the server under test to send well-formed XML, so the
// scanner only tracks tags, quotes and depth (about 1 µs for a 1 KB Jitsi
// presence) and leaves every byte where it is.
//
// The scanner understands start tags, end tags, empty-element tags,
// attribute values in either quote, character data, comments, CDATA
// sections and processing instructions. It does not check names, entity
// references, namespaces or that end tags match their start tags.
package xscan

import (
	"bytes"
	"errors"
)

// ErrSyntax is returned for input that cannot be framed: a '<' followed
// by nothing that can start markup, or a stray end tag inside an element.
var ErrSyntax = errors.New("xscan: malformed XML")

// ElementEnd returns the index just past the element that starts at
// data[0] (which must be '<' opening a start tag), or -1 if data holds
// only part of it.
func ElementEnd(data []byte) (int, error) {
	if len(data) == 0 {
		return -1, nil
	}
	if data[0] != '<' {
		return 0, ErrSyntax
	}
	depth := 0
	p := 0
	for {
		// p is at a '<'.
		if p+1 >= len(data) {
			return -1, nil
		}
		switch data[p+1] {
		case '/':
			end := bytes.IndexByte(data[p:], '>')
			if end < 0 {
				return -1, nil
			}
			depth--
			p += end + 1
			if depth < 0 {
				return 0, ErrSyntax
			}
		case '!', '?':
			end, err := SkipSpecial(data[p:])
			if end < 0 || err != nil {
				return -1, err
			}
			p += end
		default:
			end, empty := TagEnd(data[p:])
			if end < 0 {
				return -1, nil
			}
			p += end
			if !empty {
				depth++
			}
		}
		if depth == 0 {
			return p, nil
		}
		next := bytes.IndexByte(data[p:], '<')
		if next < 0 {
			return -1, nil
		}
		p += next
	}
}

// TagEnd returns the index just past the tag that starts at data[0] and
// whether it is an empty-element tag ("/>"), or -1 if the tag is not
// complete. A '>' inside a quoted attribute value does not end the tag.
func TagEnd(data []byte) (end int, empty bool) {
	var quote byte
	for i := 1; i < len(data); i++ {
		c := data[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '>':
			return i + 1, data[i-1] == '/'
		}
	}
	return -1, false
}

// SkipSpecial returns the index just past the comment, CDATA section,
// declaration or processing instruction that starts at data[0], or -1 if
// it is not complete.
func SkipSpecial(data []byte) (int, error) {
	var term string
	switch {
	case len(data) < 2:
		return -1, nil
	case data[1] == '?':
		term = "?>"
	case bytes.HasPrefix(data, []byte("<!--")):
		term = "-->"
	case bytes.HasPrefix(data, []byte("<![CDATA[")):
		term = "]]>"
	case len(data) < 9 && (bytes.HasPrefix([]byte("<![CDATA["), data) || bytes.HasPrefix([]byte("<!--"), data)):
		return -1, nil
	default:
		return 0, ErrSyntax
	}
	i := bytes.Index(data[2:], []byte(term))
	if i < 0 {
		return -1, nil
	}
	return 2 + i + len(term), nil
}

// Name returns the qualified name of the element or tag at data[0], such
// as "presence" or "stream:features".
func Name(data []byte) []byte {
	if len(data) < 2 || data[0] != '<' {
		return nil
	}
	i := 1
	for i < len(data) && !isNameEnd(data[i]) {
		i++
	}
	return data[1:i]
}

// Local returns the part of a qualified name after its prefix.
func Local(name []byte) []byte {
	if i := bytes.IndexByte(name, ':'); i >= 0 {
		return name[i+1:]
	}
	return name
}

func isNameEnd(c byte) bool {
	return c == ' ' || c == '>' || c == '/' || c == '\t' || c == '\n' || c == '\r'
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// Attr returns the raw (still escaped) value of the attribute with the
// given qualified name in the start tag at data[0], and whether it is
// there.
func Attr(data []byte, name string) ([]byte, bool) {
	end, _ := TagEnd(data)
	if end < 0 {
		return nil, false
	}
	tag := data[:end]
	i := len(Name(tag)) + 1
	for i < len(tag) {
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
		start := i
		for i < len(tag) && tag[i] != '=' && !isSpace(tag[i]) && tag[i] != '>' && tag[i] != '/' {
			i++
		}
		if i == start {
			return nil, false
		}
		key := tag[start:i]
		for i < len(tag) && (isSpace(tag[i]) || tag[i] == '=') {
			i++
		}
		if i >= len(tag) || (tag[i] != '\'' && tag[i] != '"') {
			return nil, false
		}
		q := tag[i]
		i++
		vend := bytes.IndexByte(tag[i:], q)
		if vend < 0 {
			return nil, false
		}
		if string(key) == name {
			return tag[i : i+vend], true
		}
		i += vend + 1
	}
	return nil, false
}

// TagWith returns the start tag inside data whose text contains marker
// (typically a namespace URI unique to the tag), or nil.
func TagWith(data, marker []byte) []byte {
	i := bytes.Index(data, marker)
	if i < 0 {
		return nil
	}
	start := bytes.LastIndexByte(data[:i], '<')
	if start < 0 {
		return nil
	}
	end, _ := TagEnd(data[start:])
	if end < 0 || start+end < i {
		return nil
	}
	return data[start : start+end]
}

// Children calls f with each child element of the element at data[0], in
// order. Character data between children is skipped.
func Children(data []byte, f func(child []byte) error) error {
	end, empty := TagEnd(data)
	if end < 0 {
		return ErrSyntax
	}
	if empty {
		return nil
	}
	p := end
	for {
		next := bytes.IndexByte(data[p:], '<')
		if next < 0 {
			return ErrSyntax
		}
		p += next
		if p+1 < len(data) && data[p+1] == '/' {
			return nil // the parent's end tag
		}
		if p+1 < len(data) && (data[p+1] == '!' || data[p+1] == '?') {
			n, err := SkipSpecial(data[p:])
			if err != nil {
				return err
			}
			if n < 0 {
				return ErrSyntax
			}
			p += n
			continue
		}
		n, err := ElementEnd(data[p:])
		if err != nil {
			return err
		}
		if n < 0 {
			return ErrSyntax
		}
		if err := f(data[p : p+n]); err != nil {
			return err
		}
		p += n
	}
}

// Text returns the character data of the first child element named local
// (by qualified name), unescaped for the five predefined entities, and
// whether that child is there. It looks only at the children of data[0].
func Text(data []byte, name string) (string, bool) {
	var out string
	found := false
	errFound := errors.New("found")
	_ = Children(data, func(c []byte) error {
		if string(Name(c)) != name {
			return nil
		}
		found = true
		end, empty := TagEnd(c)
		if empty {
			return errFound
		}
		close := bytes.LastIndexByte(c, '<')
		if close > end {
			out = Unescape(c[end:close])
		}
		return errFound
	})
	return out, found
}

// Unescape replaces the five predefined entities and numeric character
// references below 128 in s. Other references are left as they are.
func Unescape(s []byte) string {
	if bytes.IndexByte(s, '&') < 0 {
		return string(s)
	}
	out := make([]byte, 0, len(s))
	for len(s) > 0 {
		i := bytes.IndexByte(s, '&')
		if i < 0 {
			out = append(out, s...)
			break
		}
		out = append(out, s[:i]...)
		s = s[i:]
		semi := bytes.IndexByte(s, ';')
		if semi < 0 {
			out = append(out, s...)
			break
		}
		ent := string(s[1:semi])
		switch ent {
		case "amp":
			out = append(out, '&')
		case "lt":
			out = append(out, '<')
		case "gt":
			out = append(out, '>')
		case "apos":
			out = append(out, '\'')
		case "quot":
			out = append(out, '"')
		default:
			if c, ok := charRef(ent); ok {
				out = append(out, c)
			} else {
				out = append(out, s[:semi+1]...)
			}
		}
		s = s[semi+1:]
	}
	return string(out)
}

// charRef decodes "#NN" or "#xNN" below 128.
func charRef(ent string) (byte, bool) {
	if len(ent) < 2 || ent[0] != '#' {
		return 0, false
	}
	base, digits := 10, ent[1:]
	if digits[0] == 'x' {
		base, digits = 16, digits[1:]
	}
	if digits == "" {
		return 0, false
	}
	v := 0
	for _, c := range []byte(digits) {
		var d int
		switch {
		case c >= '0' && c <= '9':
			d = int(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = int(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = int(c-'A') + 10
		default:
			return 0, false
		}
		v = v*base + d
		if v >= 128 {
			return 0, false
		}
	}
	return byte(v), true
}

// Escape appends s to buf escaped for character data or an attribute
// value quoted with either quote.
func Escape(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			buf = append(buf, "&amp;"...)
		case '<':
			buf = append(buf, "&lt;"...)
		case '>':
			buf = append(buf, "&gt;"...)
		case '\'':
			buf = append(buf, "&apos;"...)
		case '"':
			buf = append(buf, "&quot;"...)
		default:
			buf = append(buf, c)
		}
	}
	return buf
}
