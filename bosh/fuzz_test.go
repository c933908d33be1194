package bosh_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/bosh"
	"github.com/parley-xmpp/parley/server/stanza"
)

// FuzzHandler posts arbitrary bodies to a live BOSH session ($SID and $RID
// stand for its sid and next rid). Whatever comes in, the answer is a 200
// with a <body/> (or 413), and nothing panics or blocks: the session was
// created with wait='0', so held requests are answered at once.
func FuzzHandler(f *testing.F) {
	seeds := []string{
		`<body xmlns='http://jabber.org/protocol/httpbind' sid='$SID' rid='$RID'/>`,
		`<body xmlns='http://jabber.org/protocol/httpbind' sid='$SID' rid='$RID'><auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'>=</auth></body>`,
		`<body xmlns='http://jabber.org/protocol/httpbind' sid='$SID' rid='$RID' type='terminate'><presence xmlns='jabber:client'/></body>`,
		`<body xmlns='http://jabber.org/protocol/httpbind' sid='$SID' rid='$RID' xmlns:xmpp='urn:xmpp:xbosh' xmpp:restart='true' to='anon.example'/>`,
		`<body xmlns='http://jabber.org/protocol/httpbind' sid='$SID' rid='$RID'><message to='x@anon.example'><body>hi</body></message></body>`,
		`<body xmlns='http://jabber.org/protocol/httpbind' sid='$SID' rid='1'/>`,
		`<body xmlns='http://jabber.org/protocol/httpbind' sid='nope' rid='$RID'/>`,
		`<body xmlns='http://jabber.org/protocol/httpbind' rid='7' to='anon.example' wait='0' hold='5' ack='1'/>`,
		`<body xmlns='http://jabber.org/protocol/httpbind' sid='$SID' rid='$RID' ack='99999999999999999999'/>`,
		`<!DOCTYPE body><body/>`,
		`<body xmlns='http://jabber.org/protocol/httpbind' sid='$SID' rid='$RID'><iq xmlns='jabber:client' type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq></body>`,
		`<body xmlns='http://jabber.org/protocol/httpbind' sid='$SID' rid='$RID'>text</body>`,
		"",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	_, m := memServer(f, "")
	f.Fuzz(func(t *testing.T, data []byte) {
		created := post(t, m, []byte(`<body xmlns='http://jabber.org/protocol/httpbind' rid='100' to='anon.example' wait='0' hold='1' xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0'/>`))
		sid := created.Get("sid")
		data = bytes.ReplaceAll(data, []byte("$SID"), []byte(sid))
		data = bytes.ReplaceAll(data, []byte("$RID"), []byte(strconv.Itoa(101)))
		post(t, m, data)
		// End the session whichever rid the input used up.
		for _, rid := range []string{"101", "102"} {
			post(t, m, []byte(`<body xmlns='http://jabber.org/protocol/httpbind' sid='`+sid+`' rid='`+rid+`' type='terminate'/>`))
		}
	})
}

// post sends data as a client that gives up after 100 ms (a deferred
// request waits for the rids before it); an abandoned request has no
// response.
func post(t *testing.T, m *bosh.Module, data []byte) *stanza.Element {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	rec := httptest.NewRecorder()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "http://example.com/http-bind", bytes.NewReader(data))
	m.ServeHTTP(rec, req)
	if rec.Code == http.StatusRequestEntityTooLarge || (rec.Body.Len() == 0 && ctx.Err() != nil) {
		return stanza.New(bosh.NS, "body")
	}
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d for %q", rec.Code, data)
	}
	el, err := stanza.Parse(rec.Body.Bytes(), stanza.Limits{MaxStanza: 1 << 22})
	if err != nil || el.Name.Space != bosh.NS || el.Name.Local != "body" {
		t.Fatalf("response %q to %q: %v", rec.Body.Bytes(), data, err)
	}
	return el
}
