package server

import (
	"github.com/parley-xmpp/parley/server/stanza"
)

// Transport is what a connection type (TCP, WebSocket, BOSH) provides to the
// transport-independent session core: framing of outgoing data and facts
// about the connection. Reading is driven by the transport itself, which
// calls the session's Open and Handle methods from one goroutine.
type Transport interface {
	// Kind names the transport for logs and metrics: "c2s", "websocket", "bosh".
	Kind() string
	// Header frames the server's stream header in reply to the peer's.
	Header(h OutHeader) []byte
	// Frame frames one top-level stanza or nonza in the content namespace.
	Frame(el *stanza.Element) []byte
	// StreamElement frames an element of the stream namespace (features, error).
	StreamElement(el *stanza.Element) []byte
	// Closing frames the end of the stream.
	Closing() []byte
	// Secure reports whether the connection is encrypted.
	Secure() bool
	// RemoteAddr is the peer's address, for logs and auth decisions.
	RemoteAddr() string
	// Params are transport-supplied parameters, such as a token from the URL.
	Params() map[string]string
}

// Aborter is implemented by transports that can stop a blocked write at
// once. A session closed as a slow consumer aborts its transport: the peer
// is not reading, so waiting for the stream error to drain is pointless.
type Aborter interface {
	Abort()
}

// startTLSer is implemented by transports that can upgrade to TLS in place.
type startTLSer interface {
	CanStartTLS() bool
}

// OutHeader is the server's stream header.
type OutHeader struct {
	From    string
	ID      string
	To      string
	Lang    string
	Version string
}

// Action tells the transport what to do after Session.Handle.
type Action int

// Actions returned by Session.Handle.
const (
	ActionNone     Action = iota // carry on
	ActionStartTLS               // <proceed/> queued: flush it, then upgrade (TCP only)
	ActionRestart                // SASL success queued: the next thing is a new stream header
)
