package stanza_test

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/stanza"
	"mellium.im/xmpp/stream"
)

// TestParse covers the framed path (RFC 7395 WebSocket messages, XEP-0124
// bodies), which must be as restricted as the stream (SECURITY-CASES #1,
// CVE-2022-0217).
func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		lim     stanza.Limits
		want    string // serialized; "" when an error is expected
		wantErr error
	}{
		{
			name:  "WebSocket open",
			input: "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'/>",
			want:  "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'/>",
		},
		{
			name:  "declaration and surrounding whitespace",
			input: "<?xml version='1.0' encoding='UTF-8'?>\n <message xmlns='jabber:client'><body>x</body></message>\r\n",
			want:  "<message xmlns='jabber:client'><body>x</body></message>",
		},
		{
			name:  "no namespace at all",
			input: "<a><b/></a>",
			want:  "<a><b/></a>",
		},
		{
			name:  "BOSH body with a prefixed attribute",
			input: "<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0' rid='1'/>",
			want:  "<body xmlns='http://jabber.org/protocol/httpbind' xmlns:ns0='urn:xmpp:xbosh' ns0:version='1.0' rid='1'/>",
		},
		{name: "CVE-2022-0217 DOCTYPE in a WebSocket frame", input: "<!DOCTYPE open><open xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>", wantErr: stream.RestrictedXML},
		{name: "#3 comment", input: "<open/><!-- x -->", wantErr: stream.RestrictedXML},
		{name: "#4 processing instruction", input: "<?php x?><open/>", wantErr: stream.RestrictedXML},
		{name: "#1 undeclared entity", input: "<open>&ent;</open>", wantErr: stream.RestrictedXML},
		{name: "#5 encoding", input: "<?xml version='1.0' encoding='latin1'?><open/>", wantErr: stream.UnsupportedEncoding},
		{name: "empty", input: "", wantErr: stream.NotWellFormed},
		{name: "only whitespace", input: " \n", wantErr: stream.NotWellFormed},
		{name: "two elements", input: "<a/><b/>", wantErr: stream.NotWellFormed},
		{name: "text after the element", input: "<a/>x", wantErr: stream.NotWellFormed},
		{name: "text before the element", input: "x<a/>", wantErr: stream.NotWellFormed},
		{name: "truncated", input: "<a><b>", wantErr: stream.NotWellFormed},
		{name: "truncated inside a tag", input: "<a x='", wantErr: stream.NotWellFormed},
		{name: "stray end tag", input: "</a>", wantErr: stream.NotWellFormed},
		{name: "end tag after the element", input: "<a/></a>", wantErr: stream.NotWellFormed},
		{name: "#6 mismatched", input: "<a></b>", wantErr: stream.NotWellFormed},
		{name: "#11 unbound prefix", input: "<p:a/>", wantErr: stream.NotWellFormed},
		{name: "#8 larger than MaxStanza", input: "<a>" + strings.Repeat("x", 100) + "</a>", lim: stanza.Limits{MaxStanza: 100}, wantErr: stream.PolicyViolation},
		{name: "#9 too deep", input: strings.Repeat("<a>", 5) + strings.Repeat("</a>", 5), lim: stanza.Limits{MaxDepth: 4}, wantErr: stream.PolicyViolation},
		{name: "#10 too many attributes", input: "<a" + attrs(5) + "/>", lim: stanza.Limits{MaxAttrs: 4}, wantErr: stream.PolicyViolation},
		{name: "too many nodes", input: "<a>" + strings.Repeat("<b/>", 10) + "</a>", lim: stanza.Limits{MaxNodes: 10}, wantErr: stream.PolicyViolation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			el, err := stanza.Parse([]byte(tc.input), tc.lim)
			checkErr(t, err, tc.wantErr)
			if tc.wantErr != nil {
				if el != nil {
					t.Fatalf("element %s returned with an error", el)
				}
				return
			}
			if got := el.String(); got != tc.want {
				t.Fatalf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestParseNames pins the tree representation: resolved namespaces,
// declarations stripped, xml:lang in NSXML.
func TestParseNames(t *testing.T) {
	el, err := stanza.Parse([]byte("<p:a xmlns:p='urn:p' xmlns='urn:d' xml:lang='en' p:k='1' k='2'><b/><p:c/></p:a>"), stanza.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := &stanza.Element{
		Name: xml.Name{Space: "urn:p", Local: "a"},
		Attr: []xml.Attr{nsAttr(stanza.NSXML, "lang", "en"), nsAttr("urn:p", "k", "1"), attr("k", "2")},
		Nodes: []stanza.Node{
			{El: stanza.New("urn:d", "b")},
			{El: stanza.New("urn:p", "c")},
		},
	}
	if d := diff(el, want); d != "" {
		t.Fatal(d)
	}
	if el.Lang() != "en" || el.Get("k") != "2" {
		t.Fatalf("Lang %q, k %q", el.Lang(), el.Get("k"))
	}
}
