package stanza_test

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/stanza"
)

func attr(local, value string) xml.Attr {
	return xml.Attr{Name: xml.Name{Local: local}, Value: value}
}

func nsAttr(space, local, value string) xml.Attr {
	return xml.Attr{Name: xml.Name{Space: space, Local: local}, Value: value}
}

func TestAppendIn(t *testing.T) {
	tests := []struct {
		name   string
		el     *stanza.Element
		parent string
		want   string
	}{
		{
			name: "child in the same namespace gets no xmlns",
			el: stanza.New(stanza.NSClient, "message").Set("to", "a@b").
				Add(stanza.New(stanza.NSClient, "body").AddText("hi")),
			want: "<message xmlns='jabber:client' to='a@b'><body>hi</body></message>",
		},
		{
			name: "child in another namespace declares it",
			el: stanza.New(stanza.NSClient, "iq").
				Add(stanza.New("urn:xmpp:ping", "ping")),
			want: "<iq xmlns='jabber:client'><ping xmlns='urn:xmpp:ping'/></iq>",
		},
		{
			name: "empty Space inherits the parent namespace",
			el: stanza.New("http://jabber.org/protocol/muc#user", "x").
				Add(stanza.New("", "item").Set("role", "moderator").Add(stanza.New("", "actor"))),
			want: "<x xmlns='http://jabber.org/protocol/muc#user'><item role='moderator'><actor/></item></x>",
		},
		{
			name:   "empty Space at the top inherits parentNS",
			el:     stanza.New("", "presence"),
			parent: stanza.NSClient,
			want:   "<presence/>",
		},
		{
			name: "back to the outer namespace is declared again",
			el: stanza.New("urn:a", "a").Add(stanza.New("urn:b", "b").
				Add(stanza.New("urn:a", "c"), stanza.New("", "d"))),
			want: "<a xmlns='urn:a'><b xmlns='urn:b'><c xmlns='urn:a'/><d/></b></a>",
		},
		{
			name:   "element in parentNS omits xmlns",
			el:     stanza.New("urn:a", "a"),
			parent: "urn:a",
			want:   "<a/>",
		},
		{
			name: "xml:lang from NSXML or the xml prefix",
			el: stanza.New(stanza.NSClient, "message").
				Add(&stanza.Element{Name: xml.Name{Local: "body"}, Attr: []xml.Attr{nsAttr(stanza.NSXML, "lang", "de")}, Nodes: []stanza.Node{{Text: "Hallo"}}}).
				Add(&stanza.Element{Name: xml.Name{Local: "body"}, Attr: []xml.Attr{nsAttr("xml", "lang", "fr")}}),
			want: "<message xmlns='jabber:client'><body xml:lang='de'>Hallo</body><body xml:lang='fr'/></message>",
		},
		{
			name: "namespaced attributes get generated prefixes",
			el: &stanza.Element{Name: xml.Name{Space: "urn:e", Local: "e"}, Attr: []xml.Attr{
				attr("a", "1"), nsAttr("urn:x", "b", "2"), nsAttr("urn:y", "c", "3"), nsAttr("urn:x", "d", "4"),
			}},
			want: "<e xmlns='urn:e' a='1' xmlns:ns1='urn:x' ns1:b='2' xmlns:ns2='urn:y' ns2:c='3' ns1:d='4'/>",
		},
		{
			name: "nested elements may reuse a generated prefix",
			el: (&stanza.Element{Name: xml.Name{Local: "a"}, Attr: []xml.Attr{nsAttr("urn:x", "k", "1")}}).
				Add(&stanza.Element{Name: xml.Name{Local: "b"}, Attr: []xml.Attr{nsAttr("urn:y", "k", "2")}}),
			want: "<a xmlns:ns0='urn:x' ns0:k='1'><b xmlns:ns0='urn:y' ns0:k='2'/></a>",
		},
		{
			name: "attribute in the element's own namespace still needs a prefix",
			el:   &stanza.Element{Name: xml.Name{Space: "urn:e", Local: "e"}, Attr: []xml.Attr{nsAttr("urn:e", "k", "v")}},
			want: "<e xmlns='urn:e' xmlns:ns0='urn:e' ns0:k='v'/>",
		},
		{
			name: "namespace declarations in Attr are dropped",
			el: &stanza.Element{Name: xml.Name{Space: "urn:e", Local: "e"}, Attr: []xml.Attr{
				attr("xmlns", "urn:evil"), nsAttr("xmlns", "p", "urn:p"),
				nsAttr("http://www.w3.org/2000/xmlns/", "q", "urn:q"), attr("k", "v"),
			}},
			want: "<e xmlns='urn:e' k='v'/>",
		},
		{
			name: "escaping in text and attributes",
			el:   stanza.New("", "m").Set("a", `&<>'"`).AddText(`&<>'"`),
			want: `<m a='&amp;&lt;&gt;&apos;&quot;'>&amp;&lt;&gt;'"</m>`,
		},
		{
			name: "whitespace controls",
			el:   stanza.New("", "m").Set("a", "x\ty\nz\r").AddText("x\ty\nz\r"),
			want: "<m a='x&#x9;y&#xA;z&#xD;'>x\ty\nz&#xD;</m>",
		},
		{
			name: "C0 controls become U+FFFD, U+007F stays",
			el:   stanza.New("", "m").Set("a", "\x00\x01\x1f\x7f").AddText("a\x00b\x08c\x1b\x7f"),
			want: "<m a='\uFFFD\uFFFD\uFFFD\x7f'>a\uFFFDb\uFFFDc\uFFFD\x7f</m>",
		},
		{
			name: "invalid UTF-8 and non-characters become U+FFFD",
			el:   stanza.New("", "m").Set("a", "\xffok\xc3").AddText("\xed\xa0\x80|\uFFFE|\uFFFF|\uFFFD|é|\U0001F600"),
			want: "<m a='\uFFFDok\uFFFD'>\uFFFD\uFFFD\uFFFD|\uFFFD|\uFFFD|\uFFFD|é|\U0001F600</m>",
		},
		{
			name: "namespace URIs are escaped",
			el:   stanza.New("urn:a'b&c", "m"),
			want: "<m xmlns='urn:a&apos;b&amp;c'/>",
		},
		{
			name:   "jabber:client stanza into a component stream omits xmlns",
			el:     stanza.New(stanza.NSClient, "message").Set("to", "focus@x").Add(stanza.New(stanza.NSClient, "body").AddText("b"), stanza.New("urn:x", "x")),
			parent: stanza.NSComponent,
			want:   "<message to='focus@x'><body>b</body><x xmlns='urn:x'/></message>",
		},
		{
			name:   "component stanza into a client stream omits xmlns",
			el:     stanza.New(stanza.NSComponent, "iq").Add(stanza.New(stanza.NSComponent, "query")),
			parent: stanza.NSClient,
			want:   "<iq><query/></iq>",
		},
		{
			name: "forwarded stanza keeps its own namespace",
			el: stanza.New(stanza.NSClient, "message").Add(
				stanza.New("urn:xmpp:forward:0", "forwarded").Add(
					stanza.New(stanza.NSClient, "message").Add(stanza.New(stanza.NSClient, "body")))),
			parent: stanza.NSComponent,
			want: "<message><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client'><body/>" +
				"</message></forwarded></message>",
		},
		{
			name:   "non-stanza namespaces are not mapped",
			el:     stanza.New("urn:xmpp:sm:3", "r"),
			parent: stanza.NSComponent,
			want:   "<r xmlns='urn:xmpp:sm:3'/>",
		},
		{
			name: "Append declares a stanza namespace",
			el:   stanza.New(stanza.NSComponent, "presence"),
			want: "<presence xmlns='jabber:component:accept'/>",
		},
		{
			name: "empty text node still opens the element",
			el:   &stanza.Element{Name: xml.Name{Local: "m"}, Nodes: []stanza.Node{{Text: ""}}},
			want: "<m></m>",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("prefix:")
			got := string(stanza.AppendIn(prefix, tc.el, tc.parent))
			if got != "prefix:"+tc.want {
				t.Fatalf("\n got %s\nwant prefix:%s", got, tc.want)
			}
			// Whatever went in, the output must be well-formed XML.
			wrapped := "<w xmlns='" + tc.parent + "'>" + tc.want + "</w>"
			if _, err := stanza.Parse([]byte(wrapped), stanza.Limits{}); err != nil {
				t.Fatalf("output does not parse: %v", err)
			}
		})
	}
}

// TestAppendSanitizedTextRoundTrips checks that text which had to be
// sanitized reads back as exactly the sanitized value.
func TestAppendSanitizedTextRoundTrips(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "markup", in: `<a href="x">&amp;</a>`, want: `<a href="x">&amp;</a>`},
		{name: "line endings", in: "a\r\nb\rc\n", want: "a\r\nb\rc\n"},
		{name: "controls", in: "\x00\x07\t\x7f", want: "\uFFFD\uFFFD\t\x7f"},
		{name: "broken UTF-8", in: "a\xe2\x82b", want: "a\uFFFD\uFFFDb"},
		{name: "CDATA end", in: "]]>", want: "]]>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			el := stanza.New("urn:t", "t").Set("v", tc.in).AddText(tc.in)
			back, err := stanza.Parse(stanza.Append(nil, el), stanza.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if back.Get("v") != tc.want || back.Text() != tc.want {
				t.Fatalf("attr %q, text %q, want %q", back.Get("v"), back.Text(), tc.want)
			}
		})
	}
}

func TestAppendStreamHeader(t *testing.T) {
	tests := []struct {
		name  string
		ns    string
		attrs []xml.Attr
		want  string
	}{
		{
			name:  "c2s response header",
			ns:    stanza.NSClient,
			attrs: []xml.Attr{attr("from", "example.com"), attr("id", "s1"), attr("version", "1.0"), nsAttr(stanza.NSXML, "lang", "en")},
			want: "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'" +
				" from='example.com' id='s1' version='1.0' xml:lang='en'>",
		},
		{
			name:  "empty values are omitted, values escaped",
			ns:    stanza.NSComponent,
			attrs: []xml.Attr{attr("to", ""), attr("from", "a'b"), nsAttr("xml", "lang", "")},
			want: "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' " +
				"xmlns:stream='http://etherx.jabber.org/streams' from='a&apos;b'>",
		},
		{
			name:  "namespaced attributes: the prefix is declared by the first one written",
			ns:    stanza.NSClient,
			attrs: []xml.Attr{nsAttr("urn:x", "a", ""), nsAttr("urn:x", "b", "1"), nsAttr("urn:x", "c", "2")},
			want: "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'" +
				" xmlns:ns1='urn:x' ns1:b='1' ns1:c='2'>",
		},
		{
			name:  "prefix declarations; duplicates of the fixed ones are dropped",
			ns:    stanza.NSServer,
			attrs: []xml.Attr{nsAttr("xmlns", "db", "jabber:server:dialback"), attr("xmlns", "x"), nsAttr("xmlns", "stream", "y")},
			want: "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'" +
				" xmlns:db='jabber:server:dialback'>",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(stanza.AppendStreamHeader(nil, tc.ns, tc.attrs...))
			if got != tc.want {
				t.Fatalf("\n got %s\nwant %s", got, tc.want)
			}
			r := stanza.NewReader(strings.NewReader(got), stanza.Limits{})
			h, err := r.ReadHeader()
			if err != nil || h.NS != tc.ns {
				t.Fatalf("reading it back: %+v, %v", h, err)
			}
		})
	}
}

func TestAppendStreamElement(t *testing.T) {
	tests := []struct {
		name string
		el   *stanza.Element
		want string
		// back is what a reader of a jabber:client stream sees.
		back string
	}{
		{
			name: "features",
			el: stanza.New(stanza.NSStream, "features").Add(
				stanza.New("urn:ietf:params:xml:ns:xmpp-sasl", "mechanisms").Add(
					stanza.New("", "mechanism").AddText("PLAIN"))),
			want: "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>" +
				"</mechanisms></stream:features>",
			back: "<features xmlns='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" +
				"<mechanism>PLAIN</mechanism></mechanisms></features>",
		},
		{
			name: "error with text",
			el: stanza.New(stanza.NSStream, "error").Add(
				stanza.New(stanza.NSStreams, "not-well-formed"),
				(&stanza.Element{Name: xml.Name{Space: stanza.NSStreams, Local: "text"}, Attr: []xml.Attr{nsAttr(stanza.NSXML, "lang", "en")}}).AddText("a<b")),
			want: "<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" +
				"<text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>a&lt;b</text></stream:error>",
			back: "<error xmlns='http://etherx.jabber.org/streams'><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" +
				"<text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>a&lt;b</text></error>",
		},
		{
			name: "empty",
			el:   stanza.New(stanza.NSStream, "features"),
			want: "<stream:features/>",
			back: "<features xmlns='http://etherx.jabber.org/streams'/>",
		},
		{
			name: "children: empty Space takes the content namespace, NSStream is declared",
			el: stanza.New(stanza.NSStream, "features").Set("k", "v").Add(
				stanza.New("", "a"), stanza.New(stanza.NSStream, "b").Add(stanza.New("", "c"))),
			want: "<stream:features k='v'><a/><b xmlns='http://etherx.jabber.org/streams'><c/></b></stream:features>",
			back: "<features xmlns='http://etherx.jabber.org/streams' k='v'><a xmlns='jabber:client'/>" +
				"<b><c/></b></features>",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(stanza.AppendStreamElement(nil, tc.el))
			if got != tc.want {
				t.Fatalf("\n got %s\nwant %s", got, tc.want)
			}
			els, err := readStream(clientHeader+got+stanza.StreamClose, stanza.Limits{})
			checkErr(t, err, stanza.ErrStreamEnd)
			if len(els) != 1 || els[0].String() != tc.back {
				t.Fatalf("read back %v, want %s", els, tc.back)
			}
		})
	}
}

// roundTripCorpus is parsed, serialized and parsed again in the round-trip
// tests and seeds the fuzzers.
var roundTripCorpus = []string{
	jitsiPresence,
	"<message xmlns='jabber:client' to='r@conference.x' type='groupchat' xml:lang='en'><body>a &amp; b</body>" +
		"<x xmlns='jabber:x:event'><composing/></x></message>",
	"<iq xmlns='jabber:client' type='set' id='j1'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s'>" +
		"<content name='audio' creator='initiator'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>" +
		"<payload-type id='111' name='opus' clockrate='48000' channels='2'><parameter name='minptime' value='10'/>" +
		"<rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='transport-cc'/></payload-type>" +
		"<source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='123'><parameter name='msid' value='a b'/>" +
		"<ssrc-info xmlns='http://jitsi.org/jitmeet' owner='r@c/x'/></source></description></content></jingle></iq>",
	"<message xmlns='jabber:client'><result xmlns='urn:xmpp:mam:2' id='1'><forwarded xmlns='urn:xmpp:forward:0'>" +
		"<delay xmlns='urn:xmpp:delay' stamp='2020-01-01T00:00:00Z'/><message xmlns='jabber:client' from='a@b'>" +
		"<body>x</body></message></forwarded></result></message>",
	// Prefix games (SECURITY-CASES #11).
	"<presence xmlns='jabber:client'><a:identity xmlns:a='http://jitsi.org/identity'><a:user a:id='1' id='2'/>" +
		"</a:identity><b:x xmlns:b='jabber:client' xmlns='urn:d'><y/></b:x></presence>",
	"<r xmlns:p='urn:p' xmlns:q='urn:q' p:a='1' q:a='2' a='3' xml:lang='en'>\n  <p:c>text<![CDATA[<cdata>]]></p:c>\n</r>",
	"<a>no namespace<b>at all</b></a>",
	"<body xmlns='http://jabber.org/protocol/httpbind' rid='1' xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0'/>",
	"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'/>",
}

// TestRoundTrip checks that Parse(Append(e)) equals e for parsed elements,
// and that serialization is then a fixed point (SECURITY-CASES #11,
// CVE-2020-29509).
func TestRoundTrip(t *testing.T) {
	for _, in := range roundTripCorpus {
		name := in
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			e, err := stanza.Parse([]byte(in), stanza.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			out := stanza.Append(nil, e)
			back, err := stanza.Parse(out, stanza.Limits{})
			if err != nil {
				t.Fatalf("re-parse of %s: %v", out, err)
			}
			if d := diff(e, back); d != "" {
				t.Fatalf("round trip differs: %s\n%s", d, out)
			}
			if out2 := stanza.Append(nil, back); string(out2) != string(out) {
				t.Fatalf("not a fixed point:\n%s\n%s", out, out2)
			}
		})
	}
}

// TestRoundTripThroughStream writes parsed stanzas into a stream with
// AppendIn and reads them back with a Reader.
func TestRoundTripThroughStream(t *testing.T) {
	var els []*stanza.Element
	buf := stanza.AppendStreamHeader(nil, stanza.NSClient, attr("to", "example.com"))
	for _, in := range roundTripCorpus {
		e, err := stanza.Parse([]byte(in), stanza.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if e.Name.Space == "" {
			continue // would join the stream namespace
		}
		els = append(els, e)
		buf = stanza.AppendIn(buf, e, stanza.NSClient)
	}
	buf = append(buf, stanza.StreamClose...)
	got, err := readStream(string(buf), stanza.Limits{})
	checkErr(t, err, stanza.ErrStreamEnd)
	if len(got) != len(els) {
		t.Fatalf("read %d, wrote %d", len(got), len(els))
	}
	for i := range got {
		if d := diff(els[i], got[i]); d != "" {
			t.Fatalf("element %d: %s", i, d)
		}
	}
}

// TestAppendReusesBuffer checks that appending into a buffer with room does
// not allocate.
func TestAppendReusesBuffer(t *testing.T) {
	e, err := stanza.Parse([]byte(jitsiPresence), stanza.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(10, func() { buf = stanza.AppendIn(buf[:0], e, stanza.NSClient) })
	if allocs != 0 {
		t.Fatalf("AppendIn allocated %v times", allocs)
	}
	if len(buf) != len(jitsiPresence)-len(" xmlns='jabber:client'") {
		t.Fatalf("serialized %d bytes: %s", len(buf), buf)
	}
}
