package stanza_test

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/stanza"
)

// cycleReader repeats data forever, so that a benchmark can read b.N
// stanzas from one stream without building the input up front.
type cycleReader struct {
	data string
	off  int
}

func (c *cycleReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], c.data[c.off:])
		n += k
		c.off = (c.off + k) % len(c.data)
	}
	return n, nil
}

func presenceStream() io.Reader {
	return io.MultiReader(strings.NewReader(clientHeader), &cycleReader{data: jitsiPresence})
}

// BenchmarkReaderPresence reads the 1,219-byte Jitsi presence from an
// endless c2s stream (LIBRARIES.md §5), alone and followed by serializing it
// into a buffer, as a MUC broadcast does.
func BenchmarkReaderPresence(b *testing.B) {
	b.Run("parse", func(b *testing.B) {
		r := stanza.NewReader(presenceStream(), stanza.Limits{})
		if _, err := r.ReadHeader(); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(jitsiPresence)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Next(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parse+serialize", func(b *testing.B) {
		r := stanza.NewReader(presenceStream(), stanza.Limits{})
		if _, err := r.ReadHeader(); err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 0, 4096)
		b.SetBytes(int64(len(jitsiPresence)))
		b.ReportAllocs()
		for b.Loop() {
			el, err := r.Next()
			if err != nil {
				b.Fatal(err)
			}
			buf = stanza.AppendIn(buf[:0], el, stanza.NSClient)
		}
	})
}

// BenchmarkDecoderTokenBaseline is encoding/xml's Decoder.Token over the
// same stream, without building anything: the floor for this design.
func BenchmarkDecoderTokenBaseline(b *testing.B) {
	d := xml.NewDecoder(presenceStream())
	tok, err := d.Token() // XML declaration
	for err == nil {
		if _, ok := tok.(xml.StartElement); ok {
			break
		}
		tok, err = d.Token()
	}
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(jitsiPresence)))
	b.ReportAllocs()
	for b.Loop() {
		depth := 0
		for {
			tok, err := d.Token()
			if err != nil {
				b.Fatal(err)
			}
			switch tok.(type) {
			case xml.StartElement:
				depth++
			case xml.EndElement:
				depth--
			}
			if depth == 0 {
				if _, ok := tok.(xml.EndElement); ok {
					break
				}
			}
		}
	}
}

// BenchmarkAppendPresence serializes the parsed presence into a reused
// buffer.
func BenchmarkAppendPresence(b *testing.B) {
	el, err := stanza.Parse([]byte(jitsiPresence), stanza.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	buf := stanza.AppendIn(nil, el, stanza.NSClient)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = stanza.AppendIn(buf[:0], el, stanza.NSClient)
	}
}

// BenchmarkParse parses the presence as one framed element (WebSocket or
// BOSH path).
func BenchmarkParse(b *testing.B) {
	data := []byte(jitsiPresence)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := stanza.Parse(data, stanza.Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendBroadcast serializes shallow copies of one presence with
// their own 'to', as a room's broadcast does: the children are written
// once and copied afterwards.
func BenchmarkAppendBroadcast(b *testing.B) {
	el, err := stanza.Parse([]byte(jitsiPresence), stanza.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	buf := stanza.AppendIn(nil, el, stanza.NSClient)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		c := el.ShallowCopy()
		c.Set("to", "someone@example.com/resource")
		buf = stanza.AppendIn(buf[:0], c, stanza.NSClient)
	}
}
