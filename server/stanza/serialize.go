package stanza

import (
	"encoding/xml"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Append serializes e, declaring its namespace, and appends the bytes to buf.
//
// Text, attribute values and namespace URIs are escaped (attributes are
// quoted with ', so ' and " are escaped too), and characters XML 1.0 forbids
// (C0 controls other than tab, CR and LF; invalid UTF-8; U+FFFE, U+FFFF) are
// replaced by U+FFFD. Element and attribute names are written as they are:
// parsed elements always have valid names, built ones must use NCNames. A
// child whose Name.Space is empty inherits its parent's namespace; parsing
// the output of a parsed element gives an equal tree.
func Append(buf []byte, e *Element) []byte {
	return AppendIn(buf, e, "")
}

// AppendIn serializes e as a child of an element whose default namespace is
// parentNS (the stream's content namespace for top-level stanzas). A stanza
// in one of the stanza namespaces (jabber:client, jabber:server,
// jabber:component:accept) written into a stream of another stanza
// namespace takes the stream's namespace, as RFC 6120 §4.8.3 and XEP-0114
// routing require.
//
// Shallow copies of one element (a broadcast) share the serialized form of
// their children: only the first two serialize them (see shared.go).
func AppendIn(buf []byte, e *Element, parentNS string) []byte {
	if isStanzaNS(e.Name.Space) && isStanzaNS(parentNS) {
		parentNS = e.Name.Space
	}
	if n := cachedBodyLen(e); n > 0 {
		buf = slices.Grow(buf, n+len(e.Name.Local)*2+startTagEstimate(e))
	}
	buf, ns := appendStart(buf, e, parentNS)
	if len(e.Nodes) == 0 {
		return append(buf, "/>"...)
	}
	buf = append(buf, '>')
	buf = appendBody(buf, e, ns)
	return appendEnd(buf, e)
}

// startTagEstimate is roughly how long e's attributes will be written.
func startTagEstimate(e *Element) int {
	n := 16 + len(e.Name.Space)
	for _, a := range e.Attr {
		n += len(a.Name.Local) + len(a.Value) + 4
	}
	return n
}

func isStanzaNS(ns string) bool {
	return ns == NSClient || ns == NSServer || ns == NSComponent
}

func appendElement(buf []byte, e *Element, parentNS string) []byte {
	buf, ns := appendStart(buf, e, parentNS)
	if len(e.Nodes) == 0 {
		return append(buf, "/>"...)
	}
	buf = append(buf, '>')
	buf = appendNodes(buf, e.Nodes, ns)
	return appendEnd(buf, e)
}

// appendStart writes the start tag of e up to its attributes (without the
// closing > or />) and returns the namespace its children inherit.
func appendStart(buf []byte, e *Element, parentNS string) ([]byte, string) {
	buf = append(buf, '<')
	buf = append(buf, e.Name.Local...)
	ns := e.Name.Space
	if ns == "" {
		ns = parentNS
	} else if ns != parentNS {
		buf = append(buf, " xmlns='"...)
		buf = appendEscaped(buf, e.Name.Space, true)
		buf = append(buf, '\'')
	}
	return appendAttrs(buf, e.Attr, false), ns
}

func appendEnd(buf []byte, e *Element) []byte {
	buf = append(buf, "</"...)
	buf = append(buf, e.Name.Local...)
	return append(buf, '>')
}

func appendNodes(buf []byte, nodes []Node, ns string) []byte {
	for _, n := range nodes {
		if n.El != nil {
			buf = appendElement(buf, n.El, ns)
		} else {
			buf = appendEscaped(buf, n.Text, false)
		}
	}
	return buf
}

// appendAttrs writes attributes. Un-namespaced ones are written as they
// are, the XML namespace with its xml: prefix, and every other namespace
// gets a generated prefix (ns<i>, i being the index of the first attribute
// in that namespace) declared on the element. Namespace declarations in
// attrs are dropped, since the serializer derives its own, unless decls is
// set (stream headers), and so are empty values when decls is set.
func appendAttrs(buf []byte, attrs []xml.Attr, decls bool) []byte {
	for i, a := range attrs {
		if decls && a.Value == "" {
			continue
		}
		switch a.Name.Space {
		case "":
			if a.Name.Local == "xmlns" {
				continue
			}
			buf = append(buf, ' ')
		case NSXML, "xml":
			buf = append(buf, " xml:"...)
		case "xmlns", nsXMLNS:
			if !decls || a.Name.Local == "stream" {
				continue
			}
			buf = append(buf, " xmlns:"...)
		default:
			p := i
			for j := range i {
				// The first attribute written in this namespace declared
				// the prefix (empty header attributes are not written).
				if attrs[j].Name.Space == a.Name.Space && (!decls || attrs[j].Value != "") {
					p = j
					break
				}
			}
			if p == i {
				buf = append(buf, " xmlns:ns"...)
				buf = strconv.AppendInt(buf, int64(i), 10)
				buf = append(buf, "='"...)
				buf = appendEscaped(buf, a.Name.Space, true)
				buf = append(buf, '\'')
			}
			buf = append(buf, " ns"...)
			buf = strconv.AppendInt(buf, int64(p), 10)
			buf = append(buf, ':')
		}
		buf = append(buf, a.Name.Local...)
		buf = append(buf, "='"...)
		buf = appendEscaped(buf, a.Value, true)
		buf = append(buf, '\'')
	}
	return buf
}

// appendEscaped escapes s for character data or a single-quoted attribute
// value. Characters that XML 1.0 forbids are replaced by U+FFFD so that text
// built inside the server (names from tokens, say) can never break a stream.
func appendEscaped(buf []byte, s string, attr bool) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			var esc string
			switch {
			case c == '&':
				esc = "&amp;"
			case c == '<':
				esc = "&lt;"
			case c == '>':
				esc = "&gt;"
			case attr && c == '\'':
				esc = "&apos;"
			case attr && c == '"':
				esc = "&quot;"
			case attr && c == '\n':
				esc = "&#xA;"
			case attr && c == '\r', !attr && c == '\r':
				esc = "&#xD;"
			case attr && c == '\t':
				esc = "&#x9;"
			case c < 0x20 && c != '\n' && c != '\t':
				esc = "\uFFFD"
			default:
				i++
				continue
			}
			buf = append(buf, s[last:i]...)
			buf = append(buf, esc...)
			i++
			last = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || !isXMLChar(r) {
			buf = append(buf, s[last:i]...)
			buf = append(buf, "\uFFFD"...)
			i += size
			last = i
			continue
		}
		i += size
	}
	return append(buf, s[last:]...)
}

// isXMLChar reports whether r is allowed by the XML 1.0 Char production
// (only called for non-ASCII runes).
func isXMLChar(r rune) bool {
	return (r >= 0x80 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}

// AppendStreamHeader appends an opening <stream:stream> tag with the given
// content namespace and attributes (from, to, id, version, xml:lang; empty
// values are omitted; an attribute in namespace "xmlns" declares a prefix,
// such as xmlns:db). An XML declaration is written first.
func AppendStreamHeader(buf []byte, contentNS string, attrs ...xml.Attr) []byte {
	buf = append(buf, "<?xml version='1.0'?><stream:stream xmlns='"...)
	buf = appendEscaped(buf, contentNS, true)
	buf = append(buf, "' xmlns:stream='"+NSStream+"'"...)
	buf = appendAttrs(buf, attrs, true)
	return append(buf, '>')
}

// AppendStreamElement appends a stream-namespace element such as
// <stream:features/> or <stream:error/>, written with the stream prefix.
// Children with an empty Name.Space inherit the stream's content namespace;
// every other child declares its own.
func AppendStreamElement(buf []byte, e *Element) []byte {
	buf = append(buf, "<stream:"...)
	buf = append(buf, e.Name.Local...)
	buf = appendAttrs(buf, e.Attr, false)
	if len(e.Nodes) == 0 {
		return append(buf, "/>"...)
	}
	buf = append(buf, '>')
	// The default namespace inside a stream element is the stream's content
	// namespace, which is not known here: "" makes every namespaced child
	// declare itself.
	buf = appendNodes(buf, e.Nodes, "")
	buf = append(buf, "</stream:"...)
	buf = append(buf, e.Name.Local...)
	return append(buf, '>')
}

// StreamClose is the closing tag of a stream.
const StreamClose = "</stream:stream>"
