package stanza_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/stanza"
	"mellium.im/xmpp/stream"
)

// jitsiPresence is a Jitsi Meet MUC presence broadcast of exactly 1,219
// bytes, the shape measured in LIBRARIES.md §5: stats-id, region, caps,
// features, SourceInfo JSON, codec list, audio/video muted, a nick with
// &amp;, the JWT identity block and the muc#user item.
const jitsiPresence = `<presence to='6b0f1f4c@meet.example.com/ZmI3MjQ1' from='jitsi-team-sync@conference.meet.example.com/a1b2c3d4' xmlns='jabber:client'><stats-id>Maybelle-QzwKdL</stats-id><region id='eu-central-1' xmlns='http://jitsi.org/jitsi-meet'/><c hash='sha-1' node='https://jitsi.org/jitsi-meet' ver='cvjWXufsg4xT62Ec2mlATkFZ9lk=' xmlns='http://jabber.org/protocol/caps'/><features><feature var='https://jitsi.org/meet/e2ee'/><feature var='http://jitsi.org/visitors-1'/></features><SourceInfo>{"a1b2c3d4-a0":{"muted":false},"a1b2c3d4-v0":{"muted":true,"videoType":"camera"}}</SourceInfo><jitsi_participant_codecList>av1,vp9,vp8,h264</jitsi_participant_codecList><audiomuted xmlns='http://jitsi.org/jitmeet/audio'>false</audiomuted><videomuted xmlns='http://jitsi.org/jitmeet/video'>true</videomuted><nick xmlns='http://jabber.org/protocol/nick'>Ana &amp; Bob</nick><identity><user><id>6b0f1f4c-1a2b-4c3d-9e8f-0a1b2c3d4e5f</id><name>Ana Lopez</name><avatar>https://avatars.example.com/u/6b0f1f4c.png</avatar><email>ana@example.com</email></user><group>acme-corp-eu</group></identity><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='member' role='participant' jid='6b0f1f4c@meet.example.com/ZmI3MjQ1'/></x></presence>`

// clientHeader opens a c2s stream the way real clients do.
const clientHeader = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' " +
	"xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0' xml:lang='en'>"

// readStream reads a header and then elements until an error, which it
// returns with the elements read so far.
func readStream(input string, lim stanza.Limits) ([]*stanza.Element, error) {
	return readFrom(strings.NewReader(input), lim)
}

func readFrom(in io.Reader, lim stanza.Limits) ([]*stanza.Element, error) {
	r := stanza.NewReader(in, lim)
	if _, err := r.ReadHeader(); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	var els []*stanza.Element
	for {
		el, err := r.Next()
		if err != nil {
			return els, err
		}
		els = append(els, el)
	}
}

// diff describes the first difference between two trees, or returns "".
// Nil and empty slices are equal.
func diff(a, b *stanza.Element) string {
	return diffAt("", a, b)
}

func diffAt(path string, a, b *stanza.Element) string {
	if a == nil || b == nil {
		if a == b {
			return ""
		}
		return fmt.Sprintf("%s: %v vs %v", path, a, b)
	}
	path += "/{" + a.Name.Space + "}" + a.Name.Local
	if a.Name != b.Name {
		return fmt.Sprintf("%s: name %v vs %v", path, a.Name, b.Name)
	}
	if len(a.Attr) != len(b.Attr) {
		return fmt.Sprintf("%s: attrs %v vs %v", path, a.Attr, b.Attr)
	}
	for i := range a.Attr {
		if a.Attr[i] != b.Attr[i] {
			return fmt.Sprintf("%s: attr %d %v vs %v", path, i, a.Attr[i], b.Attr[i])
		}
	}
	if len(a.Nodes) != len(b.Nodes) {
		return fmt.Sprintf("%s: %d nodes vs %d", path, len(a.Nodes), len(b.Nodes))
	}
	for i := range a.Nodes {
		na, nb := a.Nodes[i], b.Nodes[i]
		if (na.El == nil) != (nb.El == nil) {
			return fmt.Sprintf("%s: node %d kind differs", path, i)
		}
		if na.El == nil {
			if na.Text != nb.Text {
				return fmt.Sprintf("%s: text %d %q vs %q", path, i, na.Text, nb.Text)
			}
			continue
		}
		if d := diffAt(path, na.El, nb.El); d != "" {
			return d
		}
	}
	return ""
}

// checkErr fails unless err matches want (nil means no error). Stream
// conditions are compared with errors.Is, which matches the condition name.
func checkErr(t *testing.T, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error %v (%#v)", err, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("error = %v (%#v), want %v", err, err, want)
	}
	var se stream.Error
	if errors.As(want, &se) && !errors.As(err, &se) {
		t.Fatalf("error %v is not a stream.Error", err)
	}
}

// isKnownError reports whether err is one of the errors the Reader
// documents: a stream error, a stream end, or the end of input.
func isKnownError(err error) bool {
	var se stream.Error
	return errors.As(err, &se) || errors.Is(err, stanza.ErrStreamEnd) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// chunkReader returns one chunk per Read call, as a TCP peer's separate
// writes would arrive.
type chunkReader struct{ chunks []string }

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.chunks) > 0 && c.chunks[0] == "" {
		c.chunks = c.chunks[1:]
	}
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	c.chunks[0] = c.chunks[0][n:]
	return n, nil
}

// repeatReader yields b forever and counts what it delivered.
type repeatReader struct {
	b byte
	n int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.b
	}
	r.n += len(p)
	return len(p), nil
}
