package stanza_test

import (
	"encoding/xml"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/parley-xmpp/parley/server/stanza"
	"mellium.im/xmpp/stream"
)

func TestReadHeader(t *testing.T) {
	const nsDecls = "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
	tests := []struct {
		name    string
		input   string
		want    stanza.Header
		wantErr error
	}{
		{
			name:  "client header with declaration",
			input: clientHeader,
			want:  stanza.Header{NS: stanza.NSClient, To: "example.com", Version: "1.0", Lang: "en"},
		},
		{
			name: "server-style header with from and id, double quotes",
			input: `<?xml version="1.0" encoding="UTF-8"?><stream:stream xmlns="jabber:client" ` +
				`xmlns:stream="http://etherx.jabber.org/streams" from="example.com" id="abc&amp;1" version="1.0">`,
			want: stanza.Header{NS: stanza.NSClient, From: "example.com", ID: "abc&1", Version: "1.0"},
		},
		{
			name:  "no XML declaration",
			input: "<stream:stream " + nsDecls + " to='example.com'>",
			want:  stanza.Header{NS: stanza.NSClient, To: "example.com"},
		},
		{
			name:  "leading whitespace, even before the declaration, is tolerated",
			input: "\r\n <?xml version='1.0'?>\n<stream:stream " + nsDecls + ">",
			want:  stanza.Header{NS: stanza.NSClient},
		},
		{
			name:  "lower-case utf-8 encoding",
			input: "<?xml version='1.0' encoding='utf-8'?><stream:stream " + nsDecls + ">",
			want:  stanza.Header{NS: stanza.NSClient},
		},
		{
			name:  "component namespace",
			input: "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='focus.example.com'>",
			want:  stanza.Header{NS: stanza.NSComponent, To: "focus.example.com"},
		},
		{
			// SECURITY-CASES #13 is decided by the c2s layer: the reader
			// reports the namespace faithfully.
			name:  "jabber:server namespace is reported, not judged",
			input: "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>",
			want:  stanza.Header{NS: stanza.NSServer},
		},
		{
			name:  "another prefix for the stream namespace",
			input: "<s:stream xmlns='jabber:client' xmlns:s='http://etherx.jabber.org/streams' version='1.0'>",
			want:  stanza.Header{NS: stanza.NSClient, Version: "1.0"},
		},
		{
			name:  "xml:lang is taken from the xml namespace only",
			input: "<stream:stream " + nsDecls + " xmlns:x='urn:x' x:lang='fr' xml:lang='de'>",
			want:  stanza.Header{NS: stanza.NSClient, Lang: "de"},
		},
		{
			name:  "self-closing header is accepted",
			input: "<stream:stream " + nsDecls + "/>",
			want:  stanza.Header{NS: stanza.NSClient},
		},
		{name: "empty input", input: "", wantErr: io.EOF},
		{name: "only whitespace", input: " \n", wantErr: io.EOF},
		{name: "truncated header", input: "<stream:stream xmlns='jabber:cl", wantErr: io.ErrUnexpectedEOF},
		{
			name:    "#5 encoding ISO-8859-1",
			input:   "<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream " + nsDecls + ">",
			wantErr: stream.UnsupportedEncoding,
		},
		{
			name:    "#5 encoding UTF-16",
			input:   "<?xml version='1.0' encoding='UTF-16'?><stream:stream " + nsDecls + ">",
			wantErr: stream.UnsupportedEncoding,
		},
		{
			name:    "#5 XML version 1.1",
			input:   "<?xml version='1.1'?><stream:stream " + nsDecls + ">",
			wantErr: stream.NotWellFormed,
		},
		{
			name:    "#5 second XML declaration",
			input:   "<?xml version='1.0'?><?xml version='1.0'?><stream:stream " + nsDecls + ">",
			wantErr: stream.RestrictedXML,
		},
		{
			name:    "#1 DOCTYPE before the header",
			input:   "<?xml version='1.0'?><!DOCTYPE stream><stream:stream " + nsDecls + ">",
			wantErr: stream.RestrictedXML,
		},
		{
			name:    "#3 comment before the header",
			input:   "<!-- hi --><stream:stream " + nsDecls + ">",
			wantErr: stream.RestrictedXML,
		},
		{
			name:    "#4 processing instruction before the header",
			input:   "<?xml-stylesheet href='a'?><stream:stream " + nsDecls + ">",
			wantErr: stream.RestrictedXML,
		},
		{
			name:    "#12 wrong stream namespace",
			input:   "<stream:stream xmlns='jabber:client' xmlns:stream='http://example.com/streams'>",
			wantErr: stream.InvalidNamespace,
		},
		{
			name:    "#12 first element is not a stream",
			input:   "<message xmlns='jabber:client'/>",
			wantErr: stream.InvalidNamespace,
		},
		{
			name:    "#12 stream prefix not declared",
			input:   "<stream:stream xmlns='jabber:client' to='example.com'>",
			wantErr: stream.InvalidNamespace,
		},
		{
			name:    "#6 garbage instead of a header",
			input:   "<'/>",
			wantErr: stream.NotWellFormed,
		},
		{
			name:    "text before the header",
			input:   "hello<stream:stream " + nsDecls + ">",
			wantErr: stream.NotWellFormed,
		},
		{
			name:    "end tag before the header",
			input:   "</stream:stream>",
			wantErr: stream.NotWellFormed,
		},
		{
			name:    "#10 too many attributes on the header",
			input:   "<stream:stream " + nsDecls + " a0='' a1='' a2='' a3=''>",
			wantErr: stream.PolicyViolation,
		},
		{
			name:    "duplicate attribute on the header",
			input:   "<stream:stream " + nsDecls + " to='a' to='b'>",
			wantErr: stream.NotWellFormed,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := stanza.NewReader(strings.NewReader(tc.input), stanza.Limits{MaxAttrs: 5})
			h, err := r.ReadHeader()
			checkErr(t, err, tc.wantErr)
			if h != tc.want {
				t.Fatalf("header = %+v, want %+v", h, tc.want)
			}
		})
	}
}

// TestReaderContent checks what the reader builds from the bytes after a
// header and how it ends. want lists the expected elements serialized.
func TestReaderContent(t *testing.T) {
	tests := []struct {
		name    string
		input   string // after clientHeader
		want    []string
		wantErr error // after the elements; nil means io.ErrUnexpectedEOF
	}{
		{
			name:  "stanzas inherit the stream namespace",
			input: "<message to='a@b'><body>hi</body></message>",
			want:  []string{"<message xmlns='jabber:client' to='a@b'><body>hi</body></message>"},
		},
		{
			name:    "whitespace keepalives between stanzas",
			input:   " <presence/>\n\n\t\r\n<presence/> ",
			want:    []string{"<presence xmlns='jabber:client'/>", "<presence xmlns='jabber:client'/>"},
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "stream close",
			input:   "<presence/></stream:stream>",
			want:    []string{"<presence xmlns='jabber:client'/>"},
			wantErr: stanza.ErrStreamEnd,
		},
		{
			name:    "stream close after whitespace",
			input:   " \n</stream:stream>trailing garbage is never read",
			wantErr: stanza.ErrStreamEnd,
		},
		{
			name:    "EOF inside a stanza",
			input:   "<message><body>hi",
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "EOF inside a tag",
			input:   "<message to='a",
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:  "stream-level elements resolve the stream prefix",
			input: "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
			want: []string{"<features xmlns='http://etherx.jabber.org/streams'>" +
				"<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></features>"},
		},
		{
			name: "#11 prefixed Jitsi identity resolves to its namespace",
			input: "<presence><a:identity xmlns:a='http://jitsi.org/identity'><a:user><a:id>x</a:id>" +
				"</a:user></a:identity></presence>",
			want: []string{"<presence xmlns='jabber:client'><identity xmlns='http://jitsi.org/identity'>" +
				"<user><id>x</id></user></identity></presence>"},
		},
		{
			name:  "#11 redefined jabber:client prefix",
			input: "<c:message xmlns:c='jabber:client' to='x'><c:body>b</c:body></c:message>",
			want:  []string{"<message xmlns='jabber:client' to='x'><body>b</body></message>"},
		},
		{
			name:  "default namespace redeclared below a prefixed element",
			input: "<message><p:x xmlns:p='urn:p' xmlns='urn:d'><y/></p:x><z/></message>",
			want: []string{"<message xmlns='jabber:client'><x xmlns='urn:p'><y xmlns='urn:d'/></x>" +
				"<z/></message>"},
		},
		{
			name:  "namespaced attributes and xml:lang",
			input: "<message xml:lang='en' xmlns:j='urn:j' j:k='v' type='chat'/>",
			want:  []string{"<message xmlns='jabber:client' xml:lang='en' xmlns:ns1='urn:j' ns1:k='v' type='chat'/>"},
		},
		{
			name:  "predefined entities and character references are allowed",
			input: "<message a='&lt;&gt;&amp;&apos;&quot;&#x41;'>&lt;&gt;&amp;&apos;&quot;&#65;&#x1F600;</message>",
			want:  []string{"<message xmlns='jabber:client' a='&lt;&gt;&amp;&apos;&quot;A'>&lt;&gt;&amp;'\"A\U0001F600</message>"},
		},
		{
			name:  "CDATA sections merge with adjacent text",
			input: "<message><body>a<![CDATA[<b>]]>c<![CDATA[]]></body></message>",
			want:  []string{"<message xmlns='jabber:client'><body>a&lt;b&gt;c</body></message>"},
		},
		{
			name:  "empty CDATA section adds no node",
			input: "<message><![CDATA[]]></message>",
			want:  []string{"<message xmlns='jabber:client'/>"},
		},
		{
			name:  "#7 U+007F is accepted",
			input: "<message a='\x7f'>\x7f</message>",
			want:  []string{"<message xmlns='jabber:client' a='\x7f'>\x7f</message>"},
		},
		{
			name:  "CRLF in text is normalized",
			input: "<message>a\r\nb\rc</message>",
			want:  []string{"<message xmlns='jabber:client'>a\nb\nc</message>"},
		},
		// Restricted XML, RFC 6120 §11.1.
		{name: "#3 comment inside a stanza", input: "<message><!-- x --></message>", wantErr: stream.RestrictedXML},
		{name: "#3 comment between stanzas", input: "<presence/><!-- x -->", want: []string{"<presence xmlns='jabber:client'/>"}, wantErr: stream.RestrictedXML},
		{name: "#4 processing instruction in the stream", input: "<?foo bar?>", wantErr: stream.RestrictedXML},
		{name: "#4 processing instruction inside a stanza", input: "<message><?foo?></message>", wantErr: stream.RestrictedXML},
		{name: "#5 XML declaration mid-stream", input: "<?xml version='1.0'?>", wantErr: stream.RestrictedXML},
		{name: "#1 DOCTYPE inside the stream", input: "<!DOCTYPE message>", wantErr: stream.RestrictedXML},
		{name: "#1 entity declaration inside a stanza", input: "<message><!ENTITY x 'y'></message>", wantErr: stream.RestrictedXML},
		{name: "#1 undeclared entity in text", input: "<message>&foo;</message>", wantErr: stream.RestrictedXML},
		{name: "#1 undeclared entity in an attribute", input: "<message to='&foo;'/>", wantErr: stream.RestrictedXML},
		// Not well-formed.
		{name: "#6 mismatched tags", input: "<message><body></message>", wantErr: stream.NotWellFormed},
		{name: "#6 quote as a name", input: "<'/>", wantErr: stream.NotWellFormed},
		{name: "#6 space after <", input: "< message>>>", wantErr: stream.NotWellFormed},
		{name: "#6 mismatched stream close", input: "</stream:features>", wantErr: stream.NotWellFormed},
		{name: "#6 stream close with another prefix", input: "<presence/></s:stream>", want: []string{"<presence xmlns='jabber:client'/>"}, wantErr: stream.NotWellFormed},
		{name: "#7 invalid UTF-8 in text", input: "<message>\xff</message>", wantErr: stream.NotWellFormed},
		{name: "#7 invalid UTF-8 in an attribute", input: "<message to='\xc3'/>", wantErr: stream.NotWellFormed},
		{name: "#7 C0 control in text", input: "<message>\x01</message>", wantErr: stream.NotWellFormed},
		{name: "#7 NUL in an attribute", input: "<message to='\x00'/>", wantErr: stream.NotWellFormed},
		{name: "#7 NUL as a character reference", input: "<message>&#0;</message>", wantErr: stream.NotWellFormed},
		{name: "character reference beyond Unicode", input: "<message>&#x110000;</message>", wantErr: stream.NotWellFormed},
		{name: "stray ampersand", input: "<message>a & b</message>", wantErr: stream.NotWellFormed},
		{name: "unterminated entity", input: "<message>&amp</message>", wantErr: stream.NotWellFormed},
		{name: "]]> in text", input: "<message>]]></message>", wantErr: stream.NotWellFormed},
		{name: "unquoted attribute", input: "<message to=a/>", wantErr: stream.NotWellFormed},
		{name: "attribute without value", input: "<message to/>", wantErr: stream.NotWellFormed},
		{name: "< inside an attribute", input: "<message to='<'/>", wantErr: stream.NotWellFormed},
		{name: "text at the stream level", input: "hello<presence/>", wantErr: stream.NotWellFormed},
		{name: "#11 unbound element prefix", input: "<foo:bar/>", wantErr: stream.NotWellFormed},
		{name: "#11 unbound attribute prefix", input: "<message foo:bar='1'/>", wantErr: stream.NotWellFormed},
		{name: "#11 prefix out of scope", input: "<message><a xmlns:p='urn:p'/><p:b/></message>", wantErr: stream.NotWellFormed},
		{name: "duplicate attribute", input: "<message to='a' to='b'/>", wantErr: stream.NotWellFormed},
		{name: "#11 duplicate attribute through two prefixes", input: "<message xmlns:a='urn:x' xmlns:b='urn:x' a:k='1' b:k='2'/>", wantErr: stream.NotWellFormed},
		{name: "duplicate namespace declaration", input: "<message xmlns:a='urn:x' xmlns:a='urn:y'/>", wantErr: stream.NotWellFormed},
		{name: "prefix undeclared with an empty value", input: "<message xmlns:a=''/>", wantErr: stream.NotWellFormed},
		{name: "xml prefix rebound", input: "<message xmlns:xml='urn:x'/>", wantErr: stream.NotWellFormed},
		{name: "xmlns prefix declared", input: "<message xmlns:xmlns='urn:x'/>", wantErr: stream.NotWellFormed},
		{name: "xml namespace bound to another prefix", input: "<message xmlns:x='http://www.w3.org/XML/1998/namespace'/>", wantErr: stream.NotWellFormed},
		{name: "xml namespace as default", input: "<message xmlns='http://www.w3.org/XML/1998/namespace'/>", wantErr: stream.NotWellFormed},
		{name: "element with the xmlns prefix", input: "<xmlns:message/>", wantErr: stream.NotWellFormed},
		{name: "element in the xml namespace", input: "<xml:message/>", wantErr: stream.NotWellFormed},
		{name: "name with a trailing colon", input: "<message a:='1'/>", wantErr: stream.NotWellFormed},
		{name: "name with two colons", input: "<a:b:c/>", wantErr: stream.NotWellFormed},
		{name: "local part starting with a digit", input: "<message xmlns:a='urn:a'><a:0/></message>", wantErr: stream.NotWellFormed},
		{name: "attribute local part starting with a dot", input: "<message xmlns:a='urn:a' a:.b='1'/>", wantErr: stream.NotWellFormed},
		{name: "local part starting with a combining mark", input: "<message xmlns:a='urn:a'><a:̀b/></message>", wantErr: stream.NotWellFormed},
		{name: "prefix starting with a digit", input: "<message xmlns:0a='urn:a'/>", wantErr: stream.NotWellFormed},
		{name: "non-ASCII start of a local part is refused", input: "<message xmlns:a='urn:a'><a:é/></message>", wantErr: stream.NotWellFormed},
		{
			name:    "non-ASCII names are otherwise accepted",
			input:   "<message xmlns:a='urn:a'><a:naïve é='1'/><é/></message>",
			want:    []string{"<message xmlns='jabber:client'><naïve xmlns='urn:a' é='1'/><é/></message>"},
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "the xml prefix may be declared to its own namespace",
			input:   "<message xmlns:xml='http://www.w3.org/XML/1998/namespace' xml:lang='en'/>",
			want:    []string{"<message xmlns='jabber:client' xml:lang='en'/>"},
			wantErr: io.ErrUnexpectedEOF,
		},
		// Undeclaring the default namespace cannot survive re-serialization.
		{name: "stanza in no namespace", input: "<message xmlns=''/>", wantErr: stream.InvalidNamespace},
		{name: "child in no namespace", input: "<message><x xmlns=''/></message>", wantErr: stream.InvalidNamespace},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			els, err := readStream(clientHeader+tc.input, stanza.Limits{})
			want := tc.wantErr
			if want == nil {
				want = io.ErrUnexpectedEOF
			}
			checkErr(t, err, want)
			if len(els) != len(tc.want) {
				t.Fatalf("got %d elements %v, want %d", len(els), els, len(tc.want))
			}
			for i, el := range els {
				if got := el.String(); got != tc.want[i] {
					t.Errorf("element %d:\n got %s\nwant %s", i, got, tc.want[i])
				}
			}
		})
	}
}

func TestReaderLimits(t *testing.T) {
	big := func(n int, s string) string { return strings.Repeat(s, n) }
	tests := []struct {
		name    string
		lim     stanza.Limits
		input   string // after clientHeader
		wantN   int    // elements read before the error
		wantErr error
	}{
		{
			name:    "#8 stanza larger than MaxStanza",
			lim:     stanza.Limits{MaxStanza: 1000},
			input:   "<message>" + big(100, "<a>0123456789</a>") + "</message>",
			wantErr: stream.PolicyViolation,
		},
		{
			name:    "#8 default limit is 256 KiB",
			input:   "<message><body>" + big(256*1024, "x") + "</body></message>",
			wantErr: stream.PolicyViolation,
		},
		{
			name:    "#8 just under the default limit",
			input:   "<message><body>" + big(256*1024-40, "x") + "</body></message>",
			wantN:   1,
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "#8 the limit applies per stanza, keepalives reset it",
			lim:     stanza.Limits{MaxStanza: 200},
			input:   big(50, big(150, " ")+"<message>"+big(10, "x")+"</message>"),
			wantN:   50,
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "#9 nesting deeper than MaxDepth",
			lim:     stanza.Limits{MaxDepth: 4},
			input:   "<a><b><c><d><e/></d></c></b></a>",
			wantErr: stream.PolicyViolation,
		},
		{
			name:    "#9 MaxDepth itself is allowed",
			lim:     stanza.Limits{MaxDepth: 4},
			input:   "<a><b><c><d/></c></b></a>",
			wantN:   1,
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "#9 80k nesting inside the size limit",
			input:   big(80000, "<a>"),
			wantErr: stream.PolicyViolation,
		},
		{
			name:    "#10 10k attributes",
			input:   "<message" + attrs(10000) + "/>",
			wantErr: stream.PolicyViolation,
		},
		{
			name:    "#10 MaxAttrs attributes are allowed",
			lim:     stanza.Limits{MaxAttrs: 8},
			input:   "<message" + attrs(8) + "/>",
			wantN:   1,
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "#10 namespace declarations count as attributes",
			lim:     stanza.Limits{MaxAttrs: 8},
			input:   "<message" + attrs(4) + nsDecls(5) + "/>",
			wantErr: stream.PolicyViolation,
		},
		{
			name:    "#10 1k xmlns declarations",
			input:   "<message" + nsDecls(1000) + "/>",
			wantErr: stream.PolicyViolation,
		},
		{
			name:    "#10 200 KiB attribute value over a 64 KiB limit",
			lim:     stanza.Limits{MaxStanza: 64 * 1024},
			input:   "<message to='" + big(200*1024, "a") + "'/>",
			wantErr: stream.PolicyViolation,
		},
		{
			name:    "#10 64 KiB element name over a 16 KiB limit",
			lim:     stanza.Limits{MaxStanza: 16 * 1024},
			input:   "<" + big(64*1024, "m") + "/>",
			wantErr: stream.PolicyViolation,
		},
		{
			name:    "CVE-2026-43507 many empty children exceed MaxNodes",
			input:   "<message>" + big(40000, "<a/>") + "</message>",
			wantErr: stream.PolicyViolation,
		},
		{
			name:    "CVE-2026-43507 many empty attributes on many children",
			lim:     stanza.Limits{MaxNodes: 100},
			input:   "<message>" + big(40, "<a b='' c=''/>") + "</message>",
			wantErr: stream.PolicyViolation,
		},
		{
			name:    "CVE-2026-43507 text nodes count",
			lim:     stanza.Limits{MaxNodes: 100},
			input:   "<message>" + big(60, "x<a/>") + "</message>",
			wantErr: stream.PolicyViolation,
		},
		{
			name:    "MaxNodes resets between stanzas",
			lim:     stanza.Limits{MaxNodes: 10},
			input:   big(20, "<message><a/><b/><c/></message>"),
			wantN:   20,
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "the Jitsi presence fits the default node budget",
			input:   jitsiPresence,
			wantN:   1,
			wantErr: io.ErrUnexpectedEOF,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			els, err := readStream(clientHeader+tc.input, tc.lim)
			checkErr(t, err, tc.wantErr)
			if len(els) != tc.wantN {
				t.Fatalf("read %d elements before %v, want %d", len(els), err, tc.wantN)
			}
		})
	}
}

func attrs(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(" a")
		b.WriteString(itoa(i))
		b.WriteString("=''")
	}
	return b.String()
}

func nsDecls(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(" xmlns:p")
		b.WriteString(itoa(i))
		b.WriteString("='urn:")
		b.WriteString(itoa(i))
		b.WriteString("'")
	}
	return b.String()
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var d []byte
	for ; i > 0; i /= 10 {
		d = append([]byte{byte('0' + i%10)}, d...)
	}
	return string(d)
}

// TestReaderExactLimit pins the byte accounting: a stanza of exactly
// MaxStanza bytes passes, one more byte fails.
func TestReaderExactLimit(t *testing.T) {
	const limit = 500
	mk := func(n int) string {
		s := "<message><body></body></message>"
		return "<message><body>" + strings.Repeat("x", n-len(s)) + "</body></message>"
	}
	tests := []struct {
		name    string
		stanza  string
		wantErr error
	}{
		{name: "exactly MaxStanza", stanza: mk(limit), wantErr: io.ErrUnexpectedEOF},
		{name: "MaxStanza plus one", stanza: mk(limit + 1), wantErr: stream.PolicyViolation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.stanza) < limit {
				t.Fatalf("bad fixture length %d", len(tc.stanza))
			}
			// Twice, to check the count restarts at the boundary.
			els, err := readStream(clientHeader+"\n"+tc.stanza+tc.stanza, stanza.Limits{MaxStanza: limit})
			checkErr(t, err, tc.wantErr)
			if tc.wantErr == io.ErrUnexpectedEOF && len(els) != 2 {
				t.Fatalf("read %d elements, want 2", len(els))
			}
		})
	}
}

// TestReaderHugeTokenNotBuffered feeds an endless attribute value, text node,
// element name or whitespace run: the reader must fail with policy-violation
// after reading about MaxStanza bytes, not buffer the token (SECURITY-CASES
// #8, #10; LIBRARIES.md §5).
func TestReaderHugeTokenNotBuffered(t *testing.T) {
	const limit = 32 * 1024
	tests := []struct {
		name   string
		prefix string
		fill   byte
	}{
		{name: "#10 endless attribute value", prefix: "<message to='", fill: 'a'},
		{name: "#8 endless text node", prefix: "<message><body>", fill: 'a'},
		{name: "#10 endless element name", prefix: "<message><", fill: 'm'},
		{name: "endless whitespace between stanzas", prefix: "<presence/>", fill: ' '},
		{name: "#1 endless DOCTYPE", prefix: "<!DOCTYPE x [", fill: 'a'},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fill := &repeatReader{b: tc.fill}
			in := io.MultiReader(strings.NewReader(clientHeader+tc.prefix), fill)
			_, err := readFrom(in, stanza.Limits{MaxStanza: limit})
			checkErr(t, err, stream.PolicyViolation)
			if fill.n > limit+3*4096 {
				t.Fatalf("read %d bytes of filler, limit %d", fill.n, limit)
			}
		})
	}
}

// TestReaderSplitWrites checks that the bytes of a stream split at every
// offset, or delivered one byte at a time, give the same elements as one
// write (SECURITY-CASES #27).
func TestReaderSplitWrites(t *testing.T) {
	input := clientHeader + "<message to='a@b' xml:lang='en'><body>x &amp; y<![CDATA[z]]></body></message> " +
		jitsiPresence + "\n<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq></stream:stream>"
	want, err := readStream(input, stanza.Limits{})
	checkErr(t, err, stanza.ErrStreamEnd)
	if len(want) != 3 {
		t.Fatalf("read %d elements, want 3", len(want))
	}
	check := func(t *testing.T, in io.Reader) {
		t.Helper()
		got, err := readFrom(in, stanza.Limits{})
		checkErr(t, err, stanza.ErrStreamEnd)
		if len(got) != len(want) {
			t.Fatalf("read %d elements, want %d", len(got), len(want))
		}
		for i := range got {
			if d := diff(got[i], want[i]); d != "" {
				t.Fatalf("element %d differs: %s", i, d)
			}
		}
	}
	t.Run("one byte at a time", func(t *testing.T) {
		check(t, iotest.OneByteReader(strings.NewReader(input)))
	})
	t.Run("two writes split at every offset", func(t *testing.T) {
		for i := 1; i < len(input); i++ {
			check(t, &chunkReader{chunks: []string{input[:i], input[i:]}})
		}
	})
}

// TestReaderRestart reads a whole SASL exchange and the restarted stream
// from one byte stream, the way a pipelining client sends it.
func TestReaderRestart(t *testing.T) {
	const auth = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHNlY3JldA==</auth>"
	tests := []struct {
		name   string
		second string // what follows the auth element
	}{
		{name: "declaration right after the element", second: clientHeader},
		{name: "no declaration", second: strings.TrimPrefix(clientHeader, "<?xml version='1.0'?>")},
		{name: "newline before the declaration", second: "\n" + clientHeader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			input := clientHeader + auth + tc.second + "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>"
			for _, in := range []io.Reader{strings.NewReader(input), iotest.OneByteReader(strings.NewReader(input))} {
				r := stanza.NewReader(in, stanza.Limits{MaxStanza: 300})
				if _, err := r.ReadHeader(); err != nil {
					t.Fatal(err)
				}
				el, err := r.Next()
				if err != nil {
					t.Fatal(err)
				}
				if el.Name.Local != "auth" || el.Text() != "AGFsaWNlAHNlY3JldA==" {
					t.Fatalf("first element %s", el)
				}
				r.Restart()
				h, err := r.ReadHeader()
				if err != nil {
					t.Fatalf("header after restart: %v", err)
				}
				if h.To != "example.com" || h.NS != stanza.NSClient {
					t.Fatalf("header after restart = %+v", h)
				}
				el, err = r.Next()
				if err != nil {
					t.Fatal(err)
				}
				if got := el.String(); got != "<iq xmlns='jabber:client' type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>" {
					t.Fatalf("after restart: %s", got)
				}
			}
		})
	}
}

// TestReaderRestartForgetsScope checks that a restart drops the old
// document's namespace declarations and open stream element.
func TestReaderRestartForgetsScope(t *testing.T) {
	first := "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'>"
	second := "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
	r := stanza.NewReader(strings.NewReader(first+"<db:result/>"+second+"<db:result/>"), stanza.Limits{})
	if _, err := r.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	el, err := r.Next()
	if err != nil || el.Name != (xml.Name{Space: "jabber:server:dialback", Local: "result"}) {
		t.Fatalf("Next = %v, %v", el, err)
	}
	r.Restart()
	if _, err := r.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	_, err = r.Next()
	checkErr(t, err, stream.NotWellFormed)
}

// TestReaderBuffered checks that plaintext pipelined after <starttls/> shows
// up in Buffered, so that c2s can refuse it (SECURITY-CASES #29).
func TestReaderBuffered(t *testing.T) {
	const starttls = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
	const injected = "<iq type='set' id='evil'><query xmlns='jabber:iq:roster'/></iq>"
	tests := []struct {
		name   string
		chunks []string
		want   int
	}{
		{name: "#29 plaintext in the same read as starttls", chunks: []string{clientHeader + starttls + injected}, want: len(injected)},
		{name: "#29 whitespace after starttls counts too", chunks: []string{clientHeader, starttls + "\n"}, want: 1},
		{name: "starttls alone", chunks: []string{clientHeader, starttls}, want: 0},
		{name: "starttls in the same read as the header", chunks: []string{clientHeader + starttls}, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := stanza.NewReader(&chunkReader{chunks: tc.chunks}, stanza.Limits{})
			if _, err := r.ReadHeader(); err != nil {
				t.Fatal(err)
			}
			el, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if el.Name.Local != "starttls" {
				t.Fatalf("Next = %s", el)
			}
			if got := r.Buffered(); got != tc.want {
				t.Fatalf("Buffered = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestReaderErrorsAreFinal checks that Next keeps reporting the first
// error instead of resuming mid-stanza, and that a restart does not revive a
// failed stream.
func TestReaderErrorsAreFinal(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  error
	}{
		{name: "stream end", input: "</stream:stream><message/>", want: stanza.ErrStreamEnd},
		{name: "restricted XML", input: "<message><!-- x --><body/></message><message/>", want: stream.RestrictedXML},
		{name: "policy violation", input: "<a><b><c/></b></a><message/>", want: stream.PolicyViolation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := stanza.NewReader(strings.NewReader(clientHeader+tc.input), stanza.Limits{MaxDepth: 2})
			if _, err := r.ReadHeader(); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				el, err := r.Next()
				checkErr(t, err, tc.want)
				if el != nil {
					t.Fatalf("element %s after an error", el)
				}
			}
			r.Restart()
			if _, err := r.ReadHeader(); !errors.Is(err, tc.want) {
				t.Fatalf("ReadHeader after Restart = %v, want %v", err, tc.want)
			}
		})
	}
}

type failReader struct{ err error }

func (f failReader) Read([]byte) (int, error) { return 0, f.err }

// TestReaderIOError checks that transport errors come back wrapped and are
// not mistaken for stream errors.
func TestReaderIOError(t *testing.T) {
	boom := errors.New("connection reset")
	in := io.MultiReader(strings.NewReader(clientHeader+"<message>"), failReader{boom})
	_, err := readFrom(in, stanza.Limits{})
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v, want the transport error", err)
	}
	var se stream.Error
	if errors.As(err, &se) {
		t.Fatalf("transport error reported as stream error %v", se)
	}
}

// allocated returns the bytes allocated while f runs.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestReaderCDATAFloodIsLinear checks that many adjacent CDATA sections are
// merged without quadratic copying (CVE-2026-43507 lesson: allocations must
// stay proportional to the input).
func TestReaderCDATAFloodIsLinear(t *testing.T) {
	const sections = 10000
	body := strings.Repeat("<![CDATA[0123456789]]>", sections)
	input := clientHeader + "<message>" + body + "</message>"
	var els []*stanza.Element
	var err error
	n := allocated(func() { els, err = readStream(input, stanza.Limits{}) })
	checkErr(t, err, io.ErrUnexpectedEOF)
	if len(els) != 1 || len(els[0].Nodes) != 1 || len(els[0].Text()) != sections*10 {
		t.Fatalf("got %v", els)
	}
	// Quadratic concatenation would allocate about sections²·5 bytes (2 GB).
	if limit := uint64(20 * len(input)); n > limit {
		t.Fatalf("allocated %d bytes for %d input bytes", n, len(input))
	}
}

// TestReaderBillionLaughs checks that an entity bomb is refused before any
// expansion, wherever it appears, with little memory (SECURITY-CASES #1, #2).
func TestReaderBillionLaughs(t *testing.T) {
	var b strings.Builder
	b.WriteString("<!DOCTYPE lolz [<!ENTITY lol0 'lol'>")
	for i := 1; i <= 10; i++ {
		b.WriteString("<!ENTITY lol" + itoa(i) + " '")
		for range 10 {
			b.WriteString("&lol" + itoa(i-1) + ";")
		}
		b.WriteString("'>")
	}
	b.WriteString("]>")
	bomb := b.String()
	tests := []struct {
		name  string
		input string
	}{
		{name: "#2 before the stream header", input: "<?xml version='1.0'?>" + bomb + "<lolz>&lol10;</lolz>"},
		{name: "#2 inside the stream", input: clientHeader + bomb + "<message>&lol10;</message>"},
		{name: "#2 reference without the DTD", input: clientHeader + "<message>&lol10;</message>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			n := allocated(func() { _, err = readStream(tc.input, stanza.Limits{}) })
			checkErr(t, err, stream.RestrictedXML)
			if n > 1<<20 {
				t.Fatalf("allocated %d bytes", n)
			}
		})
	}
}

// retained returns the live heap growth while the value f returns is kept.
func retained(f func() any) (uint64, any) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := f()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	if after.HeapAlloc < before.HeapAlloc {
		return 0, v
	}
	return after.HeapAlloc - before.HeapAlloc, v
}

// TestReaderMemoryAmplification reads crafted stanzas that stay just within
// the default node budget (MaxStanza/8) and measures the tree kept alive and
// the bytes allocated on the way, against MaxStanza (CVE-2026-43507:
// allocations must not outgrow the input by much).
func TestReaderMemoryAmplification(t *testing.T) {
	const limit = 64 * 1024
	const nodes = limit / 8
	tests := []struct {
		name  string
		input string
	}{
		{name: "empty children", input: "<message>" + strings.Repeat("<a/>", nodes-2) + "</message>"},
		{name: "attributes", input: "<message>" + strings.Repeat("<a b='' c='' d='' e='' f='' g=''/>", nodes/7-1) + "</message>"},
		{name: "text between children", input: "<message>" + strings.Repeat("x<a/>", nodes/2-1) + "</message>"},
		{name: "prefixed attributes", input: "<message xmlns:p='urn:p'>" + strings.Repeat("<a p:b='' p:c=''/>", nodes/3-1) + "</message>"},
		{name: "nested to MaxDepth", input: "<message>" + strings.Repeat(strings.Repeat("<a>", 62)+strings.Repeat("</a>", 62), nodes/63) + "</message>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			var total uint64
			kept, _ := retained(func() any {
				var els []*stanza.Element
				total = allocated(func() {
					els, err = readStream(clientHeader+tc.input, stanza.Limits{MaxStanza: limit})
				})
				return els
			})
			checkErr(t, err, io.ErrUnexpectedEOF)
			t.Logf("%d bytes in: tree %d bytes (%.1fx MaxStanza), %d allocated (%.1fx input)",
				len(tc.input), kept, float64(kept)/limit, total, float64(total)/float64(len(tc.input)))
			if kept > 16*limit {
				t.Fatalf("tree of %d bytes kept for a %d-byte limit", kept, limit)
			}
			// Most of this is short-lived: encoding/xml boxes every token
			// in an interface (about 100 bytes per empty element).
			if total > 100*uint64(len(tc.input)) {
				t.Fatalf("allocated %d bytes for %d", total, len(tc.input))
			}
		})
	}
}
