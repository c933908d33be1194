package xscan

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// jitsiPresence is a 1.2 KB Jitsi Meet MUC presence as servers send it.
const jitsiPresence = `<presence to='6b0f1f4c@meet.example.com/ZmI3MjQ1' from='room@conference.meet.example.com/a1b2c3d4' xmlns='jabber:client'><stats-id>Maybelle-QzwKdL</stats-id><region id='eu-central-1' xmlns='http://jitsi.org/jitsi-meet'/><c hash='sha-1' node='https://jitsi.org/jitsi-meet' ver='cvjWXufsg4xT62Ec2mlATkFZ9lk=' xmlns='http://jabber.org/protocol/caps'/><features><feature var='https://jitsi.org/meet/e2ee'/><feature var='http://jitsi.org/visitors-1'/></features><SourceInfo>{"a1b2c3d4-a0":{"muted":false},"a1b2c3d4-v0":{"muted":true,"videoType":"camera"}}</SourceInfo><jitsi_participant_codecList>av1,vp9,vp8,h264</jitsi_participant_codecList><audiomuted xmlns='http://jitsi.org/jitmeet/audio'>false</audiomuted><videomuted xmlns='http://jitsi.org/jitmeet/video'>true</videomuted><nick xmlns='http://jabber.org/protocol/nick'>Ana &amp; Bob</nick><identity><user><id>6b0f1f4c-1a2b-4c3d-9e8f-0a1b2c3d4e5f</id><name>Ana Lopez</name><avatar>https://avatars.example.com/u/6b0f1f4c.png</avatar><email>ana@example.com</email></user><group>acme-corp-eu</group></identity><load xmlns='urn:parley:load' j='41' t='123456789'/><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='member' role='participant' jid='6b0f1f4c@meet.example.com/ZmI3MjQ1'/><status code='110'/></x></presence>`

func TestElementEnd(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int // -1: incomplete
		wantErr bool
	}{
		{"empty element", "<a/>rest", 4, false},
		{"empty element with space", "<a />", 5, false},
		{"nested", "<a><b>text</b><c/></a><d/>", 22, false},
		{"attribute with gt", "<a x='1>2'/>", 12, false},
		{"attribute with slash-gt", `<a x="/>"></a>`, 14, false},
		{"comment inside", "<a><!-- <b> --></a>", 19, false},
		{"cdata inside", "<a><![CDATA[</a>]]></a>", 23, false},
		{"pi inside", "<a><?pi x?></a>", 15, false},
		{"jitsi presence", jitsiPresence + "<next/>", len(jitsiPresence), false},
		{"incomplete start tag", "<a x='1", -1, false},
		{"incomplete body", "<a><b/>", -1, false},
		{"incomplete end tag", "<a></a", -1, false},
		{"incomplete comment", "<a><!-- x", -1, false},
		{"only lt", "<", -1, false},
		{"empty input", "", -1, false},
		{"not markup", "text", 0, true},
		{"stray end tag", "</a>", 0, true},
		{"bad special", "<a><!x></a>", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ElementEnd([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && got != tc.want {
				t.Errorf("ElementEnd = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestNameAndAttr(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantName string
		attr     string
		want     string
		found    bool
	}{
		{"single quotes", "<presence type='unavailable' to='a@b'/>", "presence", "to", "a@b", true},
		{"double quotes", `<iq id="x1" type="result">`, "iq", "type", "result", true},
		{"spaces around equals", "<a x = 'v' >", "a", "x", "v", true},
		{"prefixed name", "<stream:features xmlns:stream='s'>", "stream:features", "xmlns:stream", "s", true},
		{"missing", "<a x='1'/>", "a", "y", "", false},
		{"prefix of another", "<a xy='1' x='2'/>", "a", "x", "2", true},
		{"escaped value raw", "<a x='&apos;q&apos;'/>", "a", "x", "&apos;q&apos;", true},
		{"quote inside other quote", `<a x="it's" y='z'/>`, "a", "y", "z", true},
		{"no attributes", "<a>", "a", "x", "", false},
		{"incomplete tag", "<a x='1'", "a", "x", "", false},
		{"tab separated", "<a\tx='1'/>", "a", "x", "1", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(Name([]byte(tc.in))); got != tc.wantName {
				t.Errorf("Name = %q, want %q", got, tc.wantName)
			}
			got, ok := Attr([]byte(tc.in), tc.attr)
			if ok != tc.found || string(got) != tc.want {
				t.Errorf("Attr(%q) = %q, %v; want %q, %v", tc.attr, got, ok, tc.want, tc.found)
			}
		})
	}
	if got := string(Local([]byte("stream:features"))); got != "features" {
		t.Errorf("Local = %q", got)
	}
	if got := string(Local([]byte("iq"))); got != "iq" {
		t.Errorf("Local = %q", got)
	}
}

func TestTagWithAndChildren(t *testing.T) {
	tag := TagWith([]byte(jitsiPresence), []byte("urn:parley:load"))
	if v, _ := Attr(tag, "j"); string(v) != "41" {
		t.Errorf("load j = %q in %q", v, tag)
	}
	if v, _ := Attr(tag, "t"); string(v) != "123456789" {
		t.Errorf("load t = %q", v)
	}
	if TagWith([]byte(jitsiPresence), []byte("urn:nowhere")) != nil {
		t.Error("TagWith found a missing marker")
	}
	var names []string
	err := Children([]byte(jitsiPresence), func(c []byte) error {
		names = append(names, string(Name(c)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "stats-id region c features SourceInfo jitsi_participant_codecList audiomuted videomuted nick identity load x"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("children = %s\nwant       %s", got, want)
	}
	if txt, ok := Text([]byte(jitsiPresence), "nick"); !ok || txt != "Ana & Bob" {
		t.Errorf("Text(nick) = %q, %v", txt, ok)
	}
	if _, ok := Text([]byte(jitsiPresence), "body"); ok {
		t.Error("Text found a missing child")
	}
	if txt, ok := Text([]byte("<m><body/></m>"), "body"); !ok || txt != "" {
		t.Errorf("Text(empty body) = %q, %v", txt, ok)
	}
	stop := errors.New("stop")
	n := 0
	if err := Children([]byte(jitsiPresence), func([]byte) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("Children did not stop: err %v after %d", err, n)
	}
	if err := Children([]byte("<a><b/>"), func([]byte) error { return nil }); err == nil {
		t.Error("Children accepted a truncated element")
	}
}

func TestUnescapeEscape(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "abc", "abc"},
		{"predefined", "&lt;&gt;&amp;&apos;&quot;", `<>&'"`},
		{"decimal", "&#65;&#x42;", "AB"},
		{"unknown kept", "&nbsp;&#1234;", "&nbsp;&#1234;"},
		{"unterminated", "a&amp", "a&amp"},
		{"empty numeric", "&#;&#x;", "&#;&#x;"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Unescape([]byte(tc.in)); got != tc.want {
				t.Errorf("Unescape = %q, want %q", got, tc.want)
			}
		})
	}
	if got := string(Escape(nil, `<a href="x">'&'</a>`)); got != "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;" {
		t.Errorf("Escape = %q", got)
	}
	if got := Unescape(Escape(nil, `<&'">`)); got != `<&'">` {
		t.Errorf("round trip = %q", got)
	}
}

const header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='x' from='h' version='1.0'>"

func TestFramer(t *testing.T) {
	stream := header + "\n <stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>" +
		"<!-- a comment -->" + jitsiPresence + "<r xmlns='urn:xmpp:sm:3'/>" + header + "<iq type='result' id='1'/></stream:stream>"
	want := []struct {
		kind Kind
		name string
	}{
		{KindHeader, "stream:stream"},
		{KindElement, "stream:features"},
		{KindElement, "presence"},
		{KindElement, "r"},
		{KindHeader, "stream:stream"},
		{KindElement, "iq"},
		{KindClose, ""},
	}
	readers := []struct {
		name string
		r    func() io.Reader
	}{
		{"whole", func() io.Reader { return strings.NewReader(stream) }},
		{"one byte at a time", func() io.Reader { return iotest.OneByteReader(strings.NewReader(stream)) }},
		{"half reads", func() io.Reader { return iotest.HalfReader(strings.NewReader(stream)) }},
	}
	for _, rd := range readers {
		t.Run(rd.name, func(t *testing.T) {
			f := NewFramer(rd.r(), 256, 4096)
			for i, w := range want {
				k, el, err := f.Next()
				if err != nil {
					t.Fatalf("item %d: %v", i, err)
				}
				if k != w.kind || string(Name(el)) != w.name {
					t.Fatalf("item %d = kind %d %q, want kind %d %q (%.60s)", i, k, Name(el), w.kind, w.name, el)
				}
				if w.kind == KindClose && string(el) != "</stream:stream>" {
					t.Errorf("close = %q", el)
				}
				if w.name == "presence" && string(el) != jitsiPresence {
					t.Errorf("presence bytes differ:\n%s", el)
				}
			}
			if _, _, err := f.Next(); !errors.Is(err, io.EOF) {
				t.Errorf("after the stream: %v, want EOF", err)
			}
		})
	}
}

func TestFramerLimits(t *testing.T) {
	big := "<message>" + strings.Repeat("x", 5000) + "</message>"
	f := NewFramer(strings.NewReader(header+big), 256, 1024)
	if k, _, err := f.Next(); err != nil || k != KindHeader {
		t.Fatalf("header: %v %v", k, err)
	}
	if _, _, err := f.Next(); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized element: err = %v", err)
	}
	f = NewFramer(strings.NewReader(header+"text"), 256, 1024)
	_, _, _ = f.Next()
	if _, _, err := f.Next(); !errors.Is(err, ErrSyntax) {
		t.Errorf("top-level text: err = %v, want ErrSyntax", err)
	}
	f = NewFramer(strings.NewReader("  "), 256, 1024)
	if _, _, err := f.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("whitespace only: err = %v, want EOF", err)
	}
	if f.Buffered() != 0 {
		t.Errorf("Buffered = %d after whitespace", f.Buffered())
	}
}

func BenchmarkElementEnd(b *testing.B) {
	data := []byte(jitsiPresence)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if n, err := ElementEnd(data); n != len(data) || err != nil {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkReceivePresence is what a MUC occupant does per presence:
// frame it, read its type, check for status 110 and read the marker.
func BenchmarkReceivePresence(b *testing.B) {
	stream := strings.Repeat(jitsiPresence, 100)
	b.SetBytes(int64(len(jitsiPresence)))
	r := strings.NewReader(stream)
	f := NewFramer(r, 64<<10, 1<<20)
	for b.Loop() {
		_, el, err := f.Next()
		if errors.Is(err, io.EOF) {
			r.Reset(stream)
			f.Reset(r)
			continue
		}
		if err != nil {
			b.Fatal(err)
		}
		_, _ = Attr(el, "type")
		tag := TagWith(el, []byte("urn:parley:load"))
		if v, _ := Attr(tag, "t"); len(v) == 0 {
			b.Fatal("no marker")
		}
	}
}
