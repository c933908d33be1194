package httpx

import (
	"github.com/parley-xmpp/parley/server/stanza"
)

const (
	declClient = " xmlns='" + stanza.NSClient + "'"
	declStream = " xmlns:stream='" + stanza.NSStream + "'"
)

// AppendStanza serializes a top-level element for framings where every
// element stands alone (RFC 7395 messages, XEP-0206 <body/> payloads).
// Stanzas, whatever stanza namespace they were routed in (jabber:client,
// jabber:server, jabber:component:accept, or none), are written in
// jabber:client with an explicit declaration, their children inheriting it;
// other elements (SASL, stream management) declare their own namespace.
func AppendStanza(buf []byte, el *stanza.Element) []byte {
	switch el.Name.Space {
	case "", stanza.NSClient, stanza.NSServer, stanza.NSComponent:
	default:
		return stanza.Append(buf, el)
	}
	start := len(buf)
	buf = stanza.AppendIn(buf, el, stanza.NSClient)
	return insert(buf, start+1+len(el.Name.Local), declClient)
}

// AppendStreamElement serializes an element of the stream namespace
// (features, error) as a standalone document: <stream:features
// xmlns:stream='http://etherx.jabber.org/streams'>, as RFC 7395 §3.3.3
// requires.
func AppendStreamElement(buf []byte, el *stanza.Element) []byte {
	start := len(buf)
	buf = stanza.AppendStreamElement(buf, el)
	return insert(buf, start+len("<stream:")+len(el.Name.Local), declStream)
}

// SetNamespace moves el and every descendant that inherited namespace from
// into namespace to (a descendant declaring another namespace keeps it, and
// so does its subtree). Framings use it to read stanzas that omitted
// xmlns='jabber:client' and so inherited the frame's namespace.
func SetNamespace(el *stanza.Element, from, to string) {
	if el.Name.Space != from {
		return
	}
	el.Name.Space = to
	for _, n := range el.Nodes {
		if n.El != nil {
			SetNamespace(n.El, from, to)
		}
	}
}

// insert inserts s into buf at i.
func insert(buf []byte, i int, s string) []byte {
	n := len(buf)
	buf = append(buf, s...)
	copy(buf[i+len(s):], buf[i:n])
	copy(buf[i:], s)
	return buf
}
