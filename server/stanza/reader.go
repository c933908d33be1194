package stanza

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"mellium.im/xmpp/stream"
)

// Default limits, matching Prosody's defaults where Prosody has one.
const (
	DefaultMaxStanza = 256 * 1024 // c2s_stanza_size_limit
	DefaultMaxDepth  = 64
	DefaultMaxAttrs  = 64
	readBufferSize   = 4096
	maxKeptText      = 4096 // text scratch buffer kept between stanzas
)

// nsXMLNS is the namespace of namespace declarations; nothing may be bound
// to it.
const nsXMLNS = "http://www.w3.org/2000/xmlns/"

// Limits bound what a Reader accepts. Zero fields take the defaults.
type Limits struct {
	MaxStanza int // bytes in one top-level element, including its text
	MaxDepth  int // nesting depth below the stream element
	MaxAttrs  int // attributes on one element, namespace declarations included
	// MaxNodes bounds the elements, attributes and text nodes of one
	// top-level element, so that the tree built from MaxStanza bytes stays
	// within a small multiple of that size (SECURITY-CASES CVE-2026-43507:
	// allocations must not outgrow the input). Default MaxStanza/8, about
	// twice what dense real traffic needs (a Jitsi presence has one node per
	// ~16 bytes).
	MaxNodes int
}

func (l Limits) withDefaults() Limits {
	if l.MaxStanza <= 0 {
		l.MaxStanza = DefaultMaxStanza
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxAttrs <= 0 {
		l.MaxAttrs = DefaultMaxAttrs
	}
	if l.MaxNodes <= 0 {
		l.MaxNodes = max(l.MaxStanza/8, 64)
	}
	return l
}

// Header is an opening <stream:stream> tag.
type Header struct {
	NS      string // default (content) namespace, e.g. jabber:client
	To      string
	From    string
	ID      string
	Version string
	Lang    string
}

// ErrStreamEnd is returned by Next when the peer closed its stream with
// </stream:stream>.
var ErrStreamEnd = errors.New("stanza: stream closed by peer")

var (
	errTooBig   = errors.New("stanza: size limit exceeded")
	errEncoding = errors.New("stanza: only UTF-8 is supported")
)

// countingReader fails once more than max bytes were read past mark; it
// stops a single huge token from being buffered by encoding/xml. It also
// remembers the last error of the underlying reader, so that I/O errors can
// be told apart from the decoder's own.
type countingReader struct {
	r    io.Reader
	n    int64
	mark int64
	max  int64
	err  error
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n-c.mark > c.max {
		return 0, errTooBig
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil {
		c.err = err
	}
	return n, err
}

// binding is one namespace declaration in scope; prefix "" is the default
// namespace.
type binding struct{ prefix, uri string }

// Reader reads an XML stream incrementally: a header, then one top-level
// element at a time. It is not safe for concurrent use; the connection's
// reader goroutine owns it.
//
// encoding/xml is used in raw mode (RawToken) as a tokenizer that checks
// characters, names, entities and quoting; the Reader itself matches end
// tags, resolves namespaces (rejecting unbound prefixes, duplicate
// attributes and illegal declarations with not-well-formed) and enforces the
// RFC 6120 §11 restrictions and the Limits.
type Reader struct {
	lim  Limits
	cr   *countingReader // nil when parsing a byte slice
	br   *bufio.Reader   // nil when parsing a byte slice
	dec  *xml.Decoder
	mark int64 // decoder offset at the last stanza boundary

	// Per-document state, reset by Restart.
	decl     bool      // an XML declaration is still allowed
	inStream bool      // the stream header was read and not yet closed
	ended    bool      // the peer closed the stream
	header   xml.Name  // raw (prefix, local) name of the stream element
	ns       []binding // namespace declarations in scope, innermost last
	nodes    int       // nodes built for the current top-level element
	text     []byte    // scratch for merging adjacent character data
}

// NewReader returns a Reader over r.
func NewReader(r io.Reader, lim Limits) *Reader {
	lim = lim.withDefaults()
	cr := &countingReader{r: r, max: int64(lim.MaxStanza + 2*readBufferSize)}
	rd := &Reader{lim: lim, cr: cr, br: bufio.NewReaderSize(cr, readBufferSize)}
	rd.Restart()
	return rd
}

// Restart begins a new XML document on the same byte stream, as a stream
// restart after SASL requires. Buffered bytes are kept.
func (r *Reader) Restart() {
	r.reset(r.br)
	r.cr.mark = r.cr.n - int64(r.br.Buffered())
}

func (r *Reader) reset(src io.Reader) {
	r.dec = xml.NewDecoder(src)
	r.dec.Strict = true
	r.dec.CharsetReader = refuseCharset
	r.mark = 0
	r.decl = true
	r.inStream = false
	r.ended = false
	r.header = xml.Name{}
	clear(r.ns)
	r.ns = r.ns[:0]
	r.nodes = 0
}

// refuseCharset is the decoder's CharsetReader: any declared encoding other
// than UTF-8 is refused (RFC 6120 §11.6).
func refuseCharset(string, io.Reader) (io.Reader, error) {
	return nil, errEncoding
}

// Buffered returns how many bytes were received but not yet parsed. After a
// <proceed/> to STARTTLS it must be zero, or the peer injected plaintext
// (SECURITY-CASES #29).
func (r *Reader) Buffered() int {
	if r.br == nil {
		return 0
	}
	return r.br.Buffered()
}

// token returns the next raw token, enforcing restricted XML (RFC 6120
// §11.1) and the stanza size limit, and mapping decoder errors onto stream
// errors.
func (r *Reader) token() (xml.Token, error) {
	for {
		tok, err := r.dec.RawToken()
		if err != nil {
			return nil, r.mapError(err)
		}
		if r.dec.InputOffset()-r.mark > int64(r.lim.MaxStanza) {
			return nil, streamError(stream.PolicyViolation, "stanza too large")
		}
		switch t := tok.(type) {
		case xml.ProcInst:
			if t.Target == "xml" && r.decl {
				// The decoder has already refused versions other than 1.0
				// and encodings other than UTF-8.
				r.decl = false
				continue
			}
			return nil, streamError(stream.RestrictedXML, "processing instructions are not allowed")
		case xml.Comment:
			return nil, streamError(stream.RestrictedXML, "comments are not allowed")
		case xml.Directive:
			return nil, streamError(stream.RestrictedXML, "DTDs and directives are not allowed")
		case xml.CharData:
			if r.decl && !isSpace(t) {
				r.decl = false
			}
		default:
			r.decl = false
		}
		return tok, nil
	}
}

// mapError turns a decoder error into a stream error, io.EOF,
// io.ErrUnexpectedEOF (end of input inside a token) or a wrapped I/O error.
func (r *Reader) mapError(err error) error {
	if errors.Is(err, errTooBig) {
		return streamError(stream.PolicyViolation, "stanza too large")
	}
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	if r.cr != nil && r.cr.err != nil && errors.Is(err, r.cr.err) {
		return fmt.Errorf("stanza: reading stream: %w", err)
	}
	if errors.Is(err, errEncoding) {
		return streamError(stream.UnsupportedEncoding, "only UTF-8 is supported")
	}
	var syn *xml.SyntaxError
	if errors.As(err, &syn) {
		msg := syn.Msg
		if strings.HasPrefix(msg, "unexpected EOF") {
			return io.ErrUnexpectedEOF
		}
		if ent, ok := strings.CutPrefix(msg, "invalid character entity "); ok && isEntityRef(ent) {
			return streamError(stream.RestrictedXML, "only the predefined entities are allowed")
		}
		return streamError(stream.NotWellFormed, msg)
	}
	// The remaining decoder errors are about the XML declaration (a version
	// other than 1.0).
	return streamError(stream.NotWellFormed, err.Error())
}

// isEntityRef reports whether ent, as quoted by the decoder, is a complete
// reference to a named entity (&name;) rather than a bad character reference
// or a stray ampersand.
func isEntityRef(ent string) bool {
	name, ok := strings.CutPrefix(ent, "&")
	if !ok {
		return false
	}
	if name, ok = strings.CutSuffix(name, ";"); !ok || name == "" {
		return false
	}
	c := name[0]
	return c == '_' || c == ':' || c >= 0x80 || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// ReadHeader reads up to and including the opening stream tag. It returns
// io.EOF if the input ended before anything but whitespace was read.
func (r *Reader) ReadHeader() (Header, error) {
	for {
		tok, err := r.token()
		if err != nil {
			return Header{}, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if !isSpace(t) {
				return Header{}, streamError(stream.NotWellFormed, "text before the stream header")
			}
		case xml.StartElement:
			return r.header1(t)
		default:
			return Header{}, streamError(stream.NotWellFormed, "unexpected token before the stream header")
		}
	}
}

func (r *Reader) header1(t xml.StartElement) (Header, error) {
	if len(t.Attr) > r.lim.MaxAttrs {
		return Header{}, streamError(stream.PolicyViolation, "too many attributes")
	}
	if t.Name.Local != "stream" {
		return Header{}, streamError(stream.InvalidNamespace, "expected a stream header")
	}
	if _, ok := r.lookup(t.Name.Space); !ok && declares(t, t.Name.Space) == "" {
		// The classic mistake: <stream:stream> without xmlns:stream.
		return Header{}, streamError(stream.InvalidNamespace, "stream prefix is not declared")
	}
	el, err := r.open(t)
	if err != nil {
		return Header{}, err
	}
	if el.Name.Space != NSStream {
		return Header{}, streamError(stream.InvalidNamespace, "wrong stream namespace")
	}
	h := Header{}
	h.NS, _ = r.lookup("")
	for _, a := range el.Attr {
		switch {
		case a.Name.Space == "" && a.Name.Local == "to":
			h.To = a.Value
		case a.Name.Space == "" && a.Name.Local == "from":
			h.From = a.Value
		case a.Name.Space == "" && a.Name.Local == "id":
			h.ID = a.Value
		case a.Name.Space == "" && a.Name.Local == "version":
			h.Version = a.Value
		case a.Name.Space == NSXML && a.Name.Local == "lang":
			h.Lang = a.Value
		}
	}
	r.header = t.Name
	r.inStream = true
	r.boundary()
	return h, nil
}

// declares returns the URI that start declares for prefix, or "".
func declares(start xml.StartElement, prefix string) string {
	for _, a := range start.Attr {
		if a.Name.Space == "xmlns" && a.Name.Local == prefix {
			return a.Value
		}
	}
	return ""
}

func (r *Reader) boundary() {
	r.mark = r.dec.InputOffset()
	if r.cr != nil {
		r.cr.mark = r.cr.n - int64(r.br.Buffered())
	}
	r.nodes = 0
	if cap(r.text) > maxKeptText {
		r.text = nil
	}
}

// Next returns the next top-level element of the stream. It returns
// ErrStreamEnd when the peer closes the stream, a mellium stream.Error for
// protocol violations, io.ErrUnexpectedEOF if the input ends before the
// stream was closed, or the underlying I/O error (wrapped).
//
// Whitespace keepalives between elements are consumed; encoding/xml reports
// character data only once the next '<' arrives.
func (r *Reader) Next() (*Element, error) {
	if r.ended {
		return nil, ErrStreamEnd
	}
	for {
		tok, err := r.token()
		if err != nil {
			if errors.Is(err, io.EOF) && r.inStream {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if !isSpace(t) {
				return nil, streamError(stream.NotWellFormed, "text at the stream level")
			}
			r.boundary()
		case xml.EndElement:
			if !r.inStream || t.Name != r.header {
				return nil, streamError(stream.NotWellFormed, "unexpected end tag </"+qname(t.Name)+">")
			}
			r.inStream = false
			r.ended = true
			return nil, ErrStreamEnd
		case xml.StartElement:
			parentNS, _ := r.lookup("")
			el, err := r.element(t, 1, parentNS)
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return nil, err
			}
			r.boundary()
			return el, nil
		}
	}
}

// element builds the tree under start, which has already been read.
// parentNS is the namespace its parent's unprefixed children inherit.
func (r *Reader) element(start xml.StartElement, depth int, parentNS string) (*Element, error) {
	if depth > r.lim.MaxDepth {
		return nil, streamError(stream.PolicyViolation, "elements nested too deep")
	}
	base := len(r.ns)
	defer func() {
		clear(r.ns[base:])
		r.ns = r.ns[:base]
	}()
	el, err := r.open(start)
	if err != nil {
		return nil, err
	}
	if el.Name.Space == "" && parentNS != "" {
		// xmlns='' inside a namespaced parent: the tree cannot tell this
		// apart from "inherit", so it would not survive re-serialization.
		return nil, streamError(stream.InvalidNamespace, "elements in no namespace are not supported")
	}
	merging := false // the last node is text being accumulated in r.text
	flush := func() {
		if merging {
			el.Nodes[len(el.Nodes)-1].Text = string(r.text)
			r.text = r.text[:0]
			merging = false
		}
	}
	for {
		tok, err := r.token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			flush()
			child, err := r.element(t, depth+1, el.Name.Space)
			if err != nil {
				return nil, err
			}
			el.Nodes = append(el.Nodes, Node{El: child})
		case xml.CharData:
			if len(t) == 0 {
				continue
			}
			n := len(el.Nodes)
			switch {
			case merging:
				r.text = append(r.text, t...)
			case n > 0 && el.Nodes[n-1].El == nil:
				// Adjacent character data (text next to a CDATA section):
				// accumulate instead of concatenating strings, which would
				// be quadratic.
				r.text = append(append(r.text[:0], el.Nodes[n-1].Text...), t...)
				merging = true
			default:
				if err := r.charge(1); err != nil {
					return nil, err
				}
				el.Nodes = append(el.Nodes, Node{Text: string(t)})
			}
		case xml.EndElement:
			if t.Name != start.Name {
				return nil, streamError(stream.NotWellFormed,
					"element <"+qname(start.Name)+"> closed by </"+qname(t.Name)+">")
			}
			flush()
			return el, nil
		}
	}
}

// charge counts n nodes against MaxNodes.
func (r *Reader) charge(n int) error {
	r.nodes += n
	if r.nodes > r.lim.MaxNodes {
		return streamError(stream.PolicyViolation, "too many elements or attributes")
	}
	return nil
}

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
// characters, may start a name.
func validLocal(s string) bool {
	if s == "" {
		return false
	}
	if c := s[0]; c < utf8.RuneSelf {
		return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
	}
	// Rare: let encoding/xml's own tables decide, so that whatever is
	// accepted here also parses when serialized.
	_, err := xml.NewDecoder(strings.NewReader("<" + s + "/>")).RawToken()
	return err == nil
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

func isSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

func streamError(base stream.Error, text string) stream.Error {
	e := base
	e.Text = []struct {
		Lang  string
		Value string
	}{{Lang: "en", Value: text}}
	return e
}

// Parse parses exactly one element from data with restricted XML and the
// given limits. It is used by framings that deliver whole elements, such as
// RFC 7395 WebSocket messages and XEP-0124 bodies. An XML declaration and
// surrounding whitespace are allowed; an element without a namespace
// declaration gets an empty Name.Space.
func Parse(data []byte, lim Limits) (*Element, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxStanza {
		return nil, streamError(stream.PolicyViolation, "stanza too large")
	}
	r := &Reader{lim: lim}
	r.reset(bytes.NewReader(data))
	var el *Element
	for {
		tok, err := r.token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, parseError(err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if !isSpace(t) {
				return nil, streamError(stream.NotWellFormed, "text outside the element")
			}
		case xml.StartElement:
			if el != nil {
				return nil, streamError(stream.NotWellFormed, "more than one element")
			}
			if el, err = r.element(t, 1, ""); err != nil {
				return nil, parseError(err)
			}
		case xml.EndElement:
			return nil, streamError(stream.NotWellFormed, "unexpected end tag </"+qname(t.Name)+">")
		}
	}
	if el == nil {
		return nil, streamError(stream.NotWellFormed, "no element")
	}
	return el, nil
}

// parseError maps the end of a complete buffer onto not-well-formed.
func parseError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return streamError(stream.NotWellFormed, "incomplete element")
	}
	return err
}
