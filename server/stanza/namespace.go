package stanza

import (
	"encoding/xml"
	"strings"

	"mellium.im/xmpp/stream"
)

// nsXMLNS is the namespace of namespace declarations; nothing may be bound
// to it.
const nsXMLNS = "http://www.w3.org/2000/xmlns/"

// binding is one namespace declaration in scope; prefix "" is the default
// namespace.
type binding struct{ prefix, uri string }

// open checks a start tag, pushes its namespace declarations and returns
// the element with resolved names and without declarations.
func (r *Reader) open(t xml.StartElement) (*Element, error) {
	if len(t.Attr) > r.lim.MaxAttrs {
		return nil, streamError(stream.PolicyViolation, "too many attributes")
	}
	base := len(r.ns)
	nattr := 0
	for _, a := range t.Attr {
		var b binding
		switch {
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			b = binding{"", a.Value}
		case a.Name.Space == "xmlns":
			b = binding{a.Name.Local, a.Value}
			if !validLocal(b.prefix) {
				return nil, streamError(stream.NotWellFormed, "invalid prefix "+b.prefix)
			}
			if err := checkPrefixDecl(b); err != nil {
				return nil, err
			}
		default:
			nattr++
			continue
		}
		if b.uri == NSXML || b.uri == nsXMLNS {
			if b.prefix != "xml" || b.uri != NSXML {
				return nil, streamError(stream.NotWellFormed, "reserved namespace bound to "+b.prefix)
			}
		}
		for _, prev := range r.ns[base:] {
			if prev.prefix == b.prefix {
				return nil, streamError(stream.NotWellFormed, "duplicate namespace declaration")
			}
		}
		r.ns = append(r.ns, b)
	}
	if err := r.charge(1 + nattr); err != nil {
		return nil, err
	}
	name := t.Name
	if !validName(name) || name.Space == "xmlns" || name.Space == "xml" {
		return nil, streamError(stream.NotWellFormed, "invalid element name "+qname(name))
	}
	uri, ok := r.lookup(name.Space)
	if !ok {
		return nil, streamError(stream.NotWellFormed, "unbound prefix "+name.Space)
	}
	el := &Element{Name: xml.Name{Space: uri, Local: name.Local}}
	if nattr == 0 {
		return el, nil
	}
	// Reuse the token's attribute slice: encoding/xml allocates a fresh one
	// per start tag.
	attrs := t.Attr[:0]
	for _, a := range t.Attr {
		if (a.Name.Space == "" && a.Name.Local == "xmlns") || a.Name.Space == "xmlns" {
			continue
		}
		if !validName(a.Name) {
			return nil, streamError(stream.NotWellFormed, "invalid attribute name "+qname(a.Name))
		}
		if a.Name.Space != "" {
			if a.Name.Space, ok = r.lookup(a.Name.Space); !ok {
				return nil, streamError(stream.NotWellFormed, "unbound prefix in attribute "+qname(a.Name))
			}
		}
		for _, prev := range attrs {
			if prev.Name == a.Name {
				return nil, streamError(stream.NotWellFormed, "duplicate attribute "+a.Name.Local)
			}
		}
		attrs = append(attrs, a)
	}
	el.Attr = attrs
	return el, nil
}

// validName reports whether a raw name from the decoder is a QName. The
// decoder checks the whole name against the XML Name production; the local
// part after a colon must in addition be able to start a name on its own
// (<a:0/> is a Name, but "0" is not an NCName).
func validName(n xml.Name) bool {
	if strings.IndexByte(n.Local, ':') >= 0 {
		return false
	}
	return n.Space == "" || validLocal(n.Local)
}

// validLocal reports whether s, already known to consist of name
// characters, may start a name: an ASCII letter or '_'. A non-ASCII first
// character after a colon is refused although XML allows many: checking it
// against encoding/xml's tables costs a decoder per name, which a peer could
// make us pay for every attribute, and no XMPP protocol uses such names.
// (Unprefixed names are checked in full by encoding/xml.)
func validLocal(s string) bool {
	if s == "" {
		return false
	}
	c := s[0]
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// checkPrefixDecl applies the Namespaces in XML 1.0 constraints to an
// xmlns:prefix declaration.
func checkPrefixDecl(b binding) error {
	switch {
	case b.prefix == "xmlns":
		return streamError(stream.NotWellFormed, "the xmlns prefix cannot be declared")
	case b.uri == "":
		return streamError(stream.NotWellFormed, "a prefix cannot be undeclared in XML 1.0")
	case b.prefix == "xml" && b.uri != NSXML:
		return streamError(stream.NotWellFormed, "the xml prefix cannot be rebound")
	}
	return nil
}

// lookup resolves prefix ("" for the default namespace) in the current
// scope.
func (r *Reader) lookup(prefix string) (string, bool) {
	for i := len(r.ns) - 1; i >= 0; i-- {
		if r.ns[i].prefix == prefix {
			return r.ns[i].uri, true
		}
	}
	switch prefix {
	case "":
		return "", true
	case "xml":
		return NSXML, true
	}
	return "", false
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}
