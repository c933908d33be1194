package xscan

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"testing"
)

// wellFormedElement reports whether data is exactly one element that
// encoding/xml accepts (with nothing after it), and its length.
func wellFormedElement(data []byte) bool {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	depth := 0
	started := false
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			return started && depth == 0
		}
		if err != nil {
			return false
		}
		switch tok.(type) {
		case xml.StartElement:
			if started && depth == 0 {
				return false // a second top-level element
			}
			started = true
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(tok.(xml.CharData))) > 0 {
				return false
			}
		case xml.Directive:
			return false // DTDs are not allowed in XMPP; the scanner refuses them
		case xml.ProcInst, xml.Comment:
			if depth == 0 {
				return false
			}
		}
	}
}

// FuzzElementEnd checks the scanner against encoding/xml: it never
// panics, and for input that is one well-formed element starting at byte
// 0 it finds exactly its end.
func FuzzElementEnd(f *testing.F) {
	for _, s := range []string{jitsiPresence, "<a/>", "<a x='>'><b/>t</a>", "<a><![CDATA[<]]></a>", "<a><!--x--></a>", "<a", "</a>"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := ElementEnd(data)
		if err == nil && (n < -1 || n > len(data)) {
			t.Fatalf("ElementEnd = %d for %d bytes", n, len(data))
		}
		if len(data) == 0 || data[0] != '<' || bytes.HasPrefix(data, []byte("<?")) || bytes.HasPrefix(data, []byte("<!")) {
			return
		}
		trimmed := bytes.TrimRight(data, " \t\r\n")
		if !wellFormedElement(trimmed) {
			return
		}
		if err != nil || n != len(trimmed) {
			t.Fatalf("well-formed %q: ElementEnd = %d, %v; want %d", data, n, err, len(trimmed))
		}
		_, _ = Attr(data, "a")
		_ = Children(data, func(c []byte) error { _ = Name(c); return nil })
	})
}

// FuzzFramer feeds arbitrary streams one byte at a time and checks that
// the framer never panics and returns only what it was given.
func FuzzFramer(f *testing.F) {
	f.Add([]byte(header + jitsiPresence + "</stream:stream>"))
	f.Add([]byte("<?xml?><a/><b></b>"))
	f.Add([]byte("<stream:stream><x y='</stream:stream>'/>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := NewFramer(bytes.NewReader(data), 256, 4096)
		total := 0
		for range len(data) + 1 {
			_, el, err := fr.Next()
			if err != nil {
				return
			}
			total += len(el)
			if total > len(data) || !bytes.Contains(data, el) {
				t.Fatalf("framer returned %q, not from the input", el)
			}
		}
	})
}
