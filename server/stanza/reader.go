package stanza

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"mellium.im/xmpp/stream"
)

// Default limits, matching Prosody's defaults where Prosody has one.
const (
	DefaultMaxStanza = 256 * 1024 // c2s_stanza_size_limit
	DefaultMaxDepth  = 64
	DefaultMaxAttrs  = 64
	readBufferSize   = 4096
	maxKeptText      = 4096 // text scratch buffer kept between stanzas
	maxKeptNodes     = 256  // node scratch stack kept between stanzas
)

// Limits bound what a Reader accepts. Zero fields take the defaults.
type Limits struct {
	MaxStanza int // bytes in one top-level element, including its text
	MaxDepth  int // nesting depth below the stream element
	MaxAttrs  int // attributes on one element, namespace declarations included
	// MaxNodes bounds the elements, attributes and text nodes of one
	// top-level element, so that the tree built from MaxStanza bytes stays
	// within a small multiple of that size (SECURITY-CASES CVE-2026-43507:
	// allocations must not outgrow the input). The default, MaxStanza/8,
	// keeps the worst tree (thousands of <a/>) near 13×MaxStanza instead of
	// 26×, and leaves room for dense real traffic: a roster item uses one
	// node per ~15 bytes, the Jitsi presence one per ~28.
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
	err  error // first error returned; final, even across Restart

	// Per-document state, reset by Restart.
	decl     bool      // an XML declaration is still allowed
	inStream bool      // the stream header was read and not yet closed
	header   xml.Name  // raw (prefix, local) name of the stream element
	ns       []binding // namespace declarations in scope, innermost last
	nodes    int       // nodes built for the current top-level element
	text     []byte    // scratch for merging adjacent character data
	stack    []Node    // children of the elements being built
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
// io.EOF if the input ended before anything but whitespace was read, and
// otherwise the same errors as Next.
func (r *Reader) ReadHeader() (Header, error) {
	if r.err != nil {
		return Header{}, r.err
	}
	h, err := r.readHeader()
	r.err = err
	return h, err
}

func (r *Reader) readHeader() (Header, error) {
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
			return r.streamStart(t)
		default:
			return Header{}, streamError(stream.NotWellFormed, "unexpected token before the stream header")
		}
	}
}

// streamStart checks the opening stream tag and keeps its namespace
// declarations in scope for the whole document.
func (r *Reader) streamStart(t xml.StartElement) (Header, error) {
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
	if cap(r.stack) > maxKeptNodes {
		r.stack = nil
	}
}

// top prepares the scratch state for a new top-level element; an earlier
// failed element may have left nodes behind.
func (r *Reader) top() {
	clear(r.stack)
	r.stack = r.stack[:0]
	r.text = r.text[:0]
	r.nodes = 0
}

// Next returns the next top-level element of the stream. It returns
// ErrStreamEnd when the peer closes the stream, a mellium stream.Error for
// protocol violations, io.ErrUnexpectedEOF if the input ends before the
// stream was closed, or the underlying I/O error (wrapped).
//
// Errors are final: once Next or ReadHeader has failed, every later call
// returns the same error. (encoding/xml cannot resume after a read error
// either, so a read deadline cannot be used to probe an idle peer and then
// carry on reading.)
//
// Whitespace keepalives between elements are consumed; encoding/xml reports
// character data only once the next '<' arrives.
func (r *Reader) Next() (*Element, error) {
	if r.err != nil {
		return nil, r.err
	}
	el, err := r.next()
	r.err = err
	return el, err
}

func (r *Reader) next() (*Element, error) {
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
			return nil, ErrStreamEnd
		case xml.StartElement:
			parentNS, _ := r.lookup("")
			r.top()
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
	// Children are collected on r.stack and copied into an exactly sized
	// slice at the end tag: one allocation per element instead of one per
	// doubling.
	nbase := len(r.stack)
	merging := false // the last node is text being accumulated in r.text
	flush := func() {
		if merging {
			r.stack[len(r.stack)-1].Text = string(r.text)
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
			r.stack = append(r.stack, Node{El: child})
		case xml.CharData:
			if len(t) == 0 {
				continue
			}
			n := len(r.stack)
			switch {
			case merging:
				r.text = append(r.text, t...)
			case n > nbase && r.stack[n-1].El == nil:
				// Adjacent character data (text next to a CDATA section):
				// accumulate instead of concatenating strings, which would
				// be quadratic.
				r.text = append(append(r.text[:0], r.stack[n-1].Text...), t...)
				merging = true
			default:
				if err := r.charge(1); err != nil {
					return nil, err
				}
				r.stack = append(r.stack, Node{Text: string(t)})
			}
		case xml.EndElement:
			if t.Name != start.Name {
				return nil, streamError(stream.NotWellFormed,
					"element <"+qname(start.Name)+"> closed by </"+qname(t.Name)+">")
			}
			flush()
			if n := len(r.stack) - nbase; n > 0 {
				el.Nodes = make([]Node, n)
				copy(el.Nodes, r.stack[nbase:])
				clear(r.stack[nbase:])
				r.stack = r.stack[:nbase]
			}
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
			r.top()
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

// SetMaxStanza changes the size limit for the stanzas that follow, as
// Jitsi's limits_exception does for trusted components (unlimited_jids).
func (r *Reader) SetMaxStanza(n int) {
	if n <= 0 {
		return
	}
	r.lim.MaxStanza = n
	r.lim.MaxNodes = max(r.lim.MaxNodes, n/8)
	if r.cr != nil {
		r.cr.max = int64(n + 2*readBufferSize)
	}
}
