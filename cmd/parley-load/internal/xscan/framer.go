package xscan

import (
	"bytes"
	"fmt"
	"io"
)

// Kind tells what Framer.Next found.
type Kind int

// The things a stream holds at its top level.
const (
	// KindElement is a complete child of the stream element (a stanza
	// or a nonza such as <stream:features/>).
	KindElement Kind = iota
	// KindHeader is an opening <stream:stream ...> tag.
	KindHeader
	// KindClose is the stream's end tag </stream:stream>.
	KindClose
)

// Framer splits an XMPP stream read from r into headers, top-level
// elements and the closing tag. It reads in large chunks and returns
// slices of its own buffer, valid until the next call to Next.
type Framer struct {
	r     io.Reader
	buf   []byte
	start int // first unread byte
	end   int // end of the data read
	max   int
}

// NewFramer returns a Framer that reads r with an initial buffer of size
// bytes and refuses elements larger than max bytes.
func NewFramer(r io.Reader, size, max int) *Framer {
	if size < 256 {
		size = 256
	}
	if max < size {
		max = size
	}
	return &Framer{r: r, buf: make([]byte, size), max: max}
}

// Buffered reports how many read bytes are not yet returned.
func (f *Framer) Buffered() int { return f.end - f.start }

// Next returns the next header, element or stream close.
func (f *Framer) Next() (Kind, []byte, error) {
	for {
		k, n, err := f.scan(f.buf[f.start:f.end])
		if err != nil {
			return 0, nil, err
		}
		if n > 0 {
			data := f.buf[f.start : f.start+n]
			f.start += n
			return k, data, nil
		}
		if err := f.fill(); err != nil {
			return 0, nil, err
		}
	}
}

// scan looks for one complete item at the start of data, skipping leading
// whitespace, XML declarations and comments. It returns n == 0 when more
// data is needed.
func (f *Framer) scan(data []byte) (Kind, int, error) {
	p := 0
	for {
		for p < len(data) && isSpace(data[p]) {
			p++
		}
		if p == len(data) {
			f.consume(p)
			return 0, 0, nil
		}
		if data[p] != '<' {
			return 0, 0, fmt.Errorf("%w: text at the top level of a stream", ErrSyntax)
		}
		if p+1 >= len(data) {
			f.consume(p)
			return 0, 0, nil
		}
		switch data[p+1] {
		case '?', '!':
			n, err := SkipSpecial(data[p:])
			if err != nil {
				return 0, 0, err
			}
			if n < 0 {
				f.consume(p)
				return 0, 0, nil
			}
			p += n
			continue
		case '/':
			end := bytes.IndexByte(data[p:], '>')
			if end < 0 {
				f.consume(p)
				return 0, 0, nil
			}
			f.consume(p)
			return KindClose, end + 1, nil
		}
		name := Name(data[p:])
		if p+1+len(name) < len(data) && bytes.Equal(Local(name), []byte("stream")) && bytes.IndexByte(name, ':') >= 0 {
			end, _ := TagEnd(data[p:])
			if end < 0 {
				f.consume(p)
				return 0, 0, nil
			}
			f.consume(p)
			return KindHeader, end, nil
		}
		end, err := ElementEnd(data[p:])
		if err != nil {
			return 0, 0, err
		}
		f.consume(p)
		if end < 0 {
			return 0, 0, nil
		}
		return KindElement, end, nil
	}
}

// consume drops n bytes of whitespace and specials from the front.
func (f *Framer) consume(n int) { f.start += n }

// fill reads more data, compacting or growing the buffer first.
func (f *Framer) fill() error {
	if f.start == f.end {
		f.start, f.end = 0, 0
	}
	if f.end == len(f.buf) {
		if f.start > 0 {
			f.end = copy(f.buf, f.buf[f.start:f.end])
			f.start = 0
		} else {
			if len(f.buf) >= f.max {
				return fmt.Errorf("xscan: element larger than %d bytes", f.max)
			}
			nb := make([]byte, min(2*len(f.buf), f.max))
			f.end = copy(nb, f.buf[f.start:f.end])
			f.start = 0
			f.buf = nb
		}
	}
	n, err := f.r.Read(f.buf[f.end:])
	f.end += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// Reset drops buffered data and reads from r from now on (for stream
// restarts nothing needs dropping, so Reset is only for reuse).
func (f *Framer) Reset(r io.Reader) {
	f.r, f.start, f.end = r, 0, 0
}
