package stanza_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/stanza"
	"mellium.im/xmpp/stream"
)

// fuzzSeeds are stream contents (after a header) that reach the reader's
// interesting paths.
var fuzzSeeds = []string{
	"<message to='a@b'><body>hi</body></message>",
	" <presence/>\n</stream:stream>",
	"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
	"<message>a<![CDATA[<b>]]>c&lt;&#x41;&#65;</message>",
	"<p:x xmlns:p='urn:p' p:a='1' xml:lang='en'><p:y xmlns='urn:d'><z/></p:y></p:x>",
	"<message><x xmlns=''/></message>",
	"<message xmlns:a='urn:x' xmlns:b='urn:x' a:k='1' b:k='2'/>",
	"<message><!-- c --></message>",
	"<!DOCTYPE x [<!ENTITY a 'b'>]><m>&a;</m>",
	"<message>&foo;</message>",
	"<?xml version='1.0'?>",
	"<a><b><c><d><e><f><g><h><i><j><k><l><m><n><o><p><q><r/></q></p></o></n></m></l></k></j></i></h></g></f></e></d></c></b></a>",
	"<message a='\x7f\t\n'>\r\n\x7f</message>",
}

// checkRoundTrip asserts that el serializes to XML that parses back to an
// equal tree, alone and inside a stream of namespace streamNS.
func checkRoundTrip(t *testing.T, el *stanza.Element, streamNS string) {
	t.Helper()
	// Serialization adds prefix declarations and escapes, so re-read with
	// room to spare.
	lim := stanza.Limits{MaxStanza: 1 << 20, MaxAttrs: 256, MaxDepth: 256}
	out := stanza.Append(nil, el)
	back, err := stanza.Parse(out, lim)
	if err != nil {
		t.Fatalf("serialized element does not parse: %v\n%s", err, out)
	}
	if d := diff(el, back); d != "" {
		t.Fatalf("round trip differs: %s\n%s", d, out)
	}
	if again := stanza.Append(nil, back); !bytes.Equal(again, out) {
		t.Fatalf("serialization is not a fixed point:\n%s\n%s", out, again)
	}
	if el.Name.Space == "" {
		return // inside a stream it would take the stream's namespace
	}
	in := stanza.AppendStreamHeader(nil, streamNS)
	in = stanza.AppendIn(in, el, streamNS)
	in = append(in, stanza.StreamClose...)
	els, err := readStream(string(in), lim)
	if !errors.Is(err, stanza.ErrStreamEnd) || len(els) != 1 {
		t.Fatalf("re-read from a stream: %d elements, %v\n%s", len(els), err, in)
	}
	if d := diff(el, els[0]); d != "" {
		t.Fatalf("stream round trip differs: %s\n%s", d, in)
	}
}

// FuzzReader feeds arbitrary bytes as a stream after a valid header. The
// reader must not panic, must only return its documented errors, and every
// element it returns must survive serialization.
func FuzzReader(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	for _, s := range roundTripCorpus {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := stanza.Limits{MaxStanza: 4096, MaxDepth: 16, MaxAttrs: 16, MaxNodes: 256}
		r := stanza.NewReader(io.MultiReader(strings.NewReader(clientHeader), bytes.NewReader(data)), lim)
		if _, err := r.ReadHeader(); err != nil {
			t.Fatalf("header: %v", err)
		}
		for {
			el, err := r.Next()
			if err != nil {
				if !isKnownError(err) {
					t.Fatalf("undocumented error %T %v", err, err)
				}
				return
			}
			if el == nil {
				t.Fatal("nil element without error")
			}
			checkRoundTrip(t, el, stanza.NSClient)
		}
	})
}

// FuzzParse feeds arbitrary bytes to Parse: errors are stream errors, and
// parsed elements round-trip.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	for _, s := range roundTripCorpus {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		el, err := stanza.Parse(data, stanza.Limits{MaxStanza: 8192, MaxDepth: 16, MaxAttrs: 16, MaxNodes: 512})
		if err != nil {
			var se stream.Error
			if !errors.As(err, &se) {
				t.Fatalf("error is not a stream.Error: %T %v", err, err)
			}
			return
		}
		checkRoundTrip(t, el, stanza.NSClient)
	})
}

// sanitize is what the serializer promises for text and attribute values:
// every character outside the XML Char production becomes U+FFFD, one per
// invalid byte.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		ok := r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xD7FF) ||
			(r >= 0xE000 && r <= 0xFFFD) || r >= 0x10000
		if r == 0xFFFD || !ok {
			b.WriteRune(0xFFFD)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// FuzzAppend builds elements from arbitrary strings: the output must always
// be well-formed, and read back as the sanitized values.
func FuzzAppend(f *testing.F) {
	f.Add("urn:x", "text & <more>", "attr 'q' \"d\"", "urn:y")
	f.Add("", "\x00\r\n\t\x7f", "\xff\xed\xa0\x80", "urn:\uFFFE")
	f.Add("jabber:client", "]]>", "\r\n", "urn:x")
	f.Fuzz(func(t *testing.T, space, text, value, attrNS string) {
		switch {
		case space == stanza.NSXML || space == "http://www.w3.org/2000/xmlns/",
			attrNS == "" || attrNS == "xml" || attrNS == "xmlns" || attrNS == stanza.NSXML ||
				attrNS == "http://www.w3.org/2000/xmlns/":
			return // reserved namespaces have their own rules
		}
		child := &stanza.Element{Name: xml.Name{Space: space, Local: "c"}, Attr: []xml.Attr{
			attr("v", value), nsAttr(attrNS, "v", value), nsAttr(stanza.NSXML, "lang", value),
		}}
		el := stanza.New(space, "e").AddText(text).Add(child).Add(stanza.New("", "d").AddText(text))
		out := stanza.Append(nil, el)
		back, err := stanza.Parse(out, stanza.Limits{MaxStanza: 1 << 20})
		if err != nil {
			t.Fatalf("output does not parse: %v\n%q", err, out)
		}
		ns, v, tx := sanitize(space), sanitize(value), sanitize(text)
		want := &stanza.Element{Name: xml.Name{Space: ns, Local: "e"}}
		want.AddText(tx).Add(
			&stanza.Element{Name: xml.Name{Space: ns, Local: "c"}, Attr: []xml.Attr{
				attr("v", v), nsAttr(sanitize(attrNS), "v", v), nsAttr(stanza.NSXML, "lang", v),
			}},
			stanza.New(ns, "d").AddText(tx))
		if d := diff(want, back); d != "" {
			t.Fatalf("read back differs: %s\n%q", d, out)
		}
	})
}
