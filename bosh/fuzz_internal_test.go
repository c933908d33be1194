package bosh

import (
	"strconv"
	"testing"

	"github.com/parley-xmpp/parley/server/stanza"
)

// FuzzParseRequest checks the body parser's invariants: an accepted body
// is a <body/> in the BOSH namespace with a rid in range, and the response
// builder escapes whatever attribute values it is given into a body that
// parses back to the same values.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`<body xmlns='http://jabber.org/protocol/httpbind' rid='1' to='example.com' wait='60' hold='1' xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0'/>`,
		`<body xmlns='http://jabber.org/protocol/httpbind' sid='s' rid='9007199254740991' xmpp:restart='true' xmlns:xmpp='urn:xmpp:xbosh'/>`,
		`<body xmlns='http://jabber.org/protocol/httpbind' rid='+1'/>`,
		`<body xmlns='http://jabber.org/protocol/httpbind' rid='1' wait='1e3'/>`,
		`<body rid='1'/>`,
		`<?xml version='1.0'?><body xmlns='http://jabber.org/protocol/httpbind' rid='2' type='terminate'><message xmlns='jabber:client'/></body>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rq, err := parseRequest(data, stanza.Limits{MaxStanza: 1 << 16})
		if err != nil {
			return
		}
		if rq.body.Name.Space != NS || rq.body.Name.Local != "body" {
			t.Fatalf("accepted root %v", rq.body.Name)
		}
		if rq.rid < 0 || rq.rid > MaxRID {
			t.Fatalf("rid %d out of range", rq.rid)
		}
		if rq.body.Get("rid") != strconv.FormatInt(rq.rid, 10) {
			t.Fatalf("rid %q read as %d", rq.body.Get("rid"), rq.rid)
		}
		out := appendBody(nil, []string{"sid", rq.sid, "from", rq.to}, [][]byte{[]byte("<x xmlns='urn:test'/>")})
		back, err := stanza.Parse(out, stanza.Limits{MaxStanza: 1 << 20})
		if err != nil {
			t.Fatalf("response %q does not parse: %v", out, err)
		}
		if back.Get("sid") != rq.sid || back.Get("from") != rq.to {
			t.Fatalf("attributes did not survive: %q", out)
		}
	})
}
