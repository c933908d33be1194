package server

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/server/stanza"
)

// IQ is an IQ get or set addressed to a host, with its payload.
type IQ struct {
	Host    *Host
	Stanza  *stanza.Element
	Payload *stanza.Element
}

// Result returns an empty result reply, ready for a payload.
func (iq *IQ) Result() *stanza.Element { return iqResult(iq.Stanza) }

// IQHandler answers an IQ. It returns the reply (nil for none) or an error;
// a *StanzaError becomes the error reply.
type IQHandler func(ctx context.Context, iq *IQ) (*stanza.Element, error)

// iqTable maps type + payload name to handlers; safe for concurrent use.
type iqTable struct {
	mu sync.RWMutex
	m  map[string]IQHandler
}

func newIQTable() *iqTable { return &iqTable{m: map[string]IQHandler{}} }

func iqKey(typ, space, local string) string { return typ + " " + space + " " + local }

func (t *iqTable) set(typ, space, local string, h IQHandler) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m[iqKey(typ, space, local)] = h
}

func (t *iqTable) lookup(typ, space, local string) IQHandler {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.m[iqKey(typ, space, local)]
}

// Namespaces of the built-in IQ features.
const (
	NSPing      = "urn:xmpp:ping"
	NSVersion   = "jabber:iq:version"
	NSTime      = "urn:xmpp:time"
	NSLast      = "jabber:iq:last"
	NSDiscoInfo = "http://jabber.org/protocol/disco#info"
	NSDiscoItem = "http://jabber.org/protocol/disco#items"
	NSRoster    = "jabber:iq:roster"
)

// HandleIQ registers h for IQs of type typ ("get" or "set") with the given
// payload, addressed to the host's domain.
func (h *Host) HandleIQ(typ, space, local string, handler IQHandler) {
	h.iq.set(typ, space, local, handler)
}

// HandleOwnIQ registers h for IQs a user sends to their own bare JID
// (roster, private storage).
func (h *Host) HandleOwnIQ(typ, space, local string, handler IQHandler) {
	h.ownIQ.set(typ, space, local, handler)
}

// HandleBareIQ registers h for IQs addressed to another user's bare JID.
func (h *Host) HandleBareIQ(typ, space, local string, handler IQHandler) {
	h.bareIQ.set(typ, space, local, handler)
}

func (h *Host) registerBuiltinIQ() {
	ping := func(_ context.Context, iq *IQ) (*stanza.Element, error) { return iq.Result(), nil }
	h.HandleIQ("get", NSPing, "ping", ping)
	h.HandleOwnIQ("get", NSPing, "ping", ping)
	h.AddFeature(NSPing)

	h.HandleIQ("get", NSVersion, "query", func(_ context.Context, iq *IQ) (*stanza.Element, error) {
		q := stanza.New(NSVersion, "query")
		q.Add(stanza.New(NSVersion, "name").AddText("parley"))
		q.Add(stanza.New(NSVersion, "version").AddText(h.srv.opts.version))
		q.Add(stanza.New(NSVersion, "os").AddText(runtime.GOOS))
		return iq.Result().Add(q), nil
	})
	h.AddFeature(NSVersion)

	h.HandleIQ("get", NSTime, "time", func(_ context.Context, iq *IQ) (*stanza.Element, error) {
		now := h.srv.opts.clock().UTC()
		t := stanza.New(NSTime, "time")
		t.Add(stanza.New(NSTime, "tzo").AddText("+00:00"))
		t.Add(stanza.New(NSTime, "utc").AddText(now.Format(time.RFC3339)))
		return iq.Result().Add(t), nil
	})
	h.AddFeature(NSTime)

	h.HandleIQ("get", NSLast, "query", func(_ context.Context, iq *IQ) (*stanza.Element, error) {
		up := h.srv.opts.clock().Sub(h.srv.started)
		q := stanza.New(NSLast, "query").Set("seconds", strconv.Itoa(int(up.Seconds())))
		return iq.Result().Add(q), nil
	})
	h.AddFeature(NSLast)

	// The legacy session IQ (RFC 3921 §3) is answered at any time, as
	// Prosody does: strophe.js sends it after binding.
	session := func(_ context.Context, iq *IQ) (*stanza.Element, error) { return iq.Result(), nil }
	h.HandleOwnIQ("set", nsSession, "session", session)
	h.HandleIQ("set", nsSession, "session", session)

	h.HandleIQ("get", NSDiscoInfo, "query", h.discoInfo)
	h.HandleIQ("get", NSDiscoItem, "query", h.discoItems)
	h.HandleOwnIQ("get", NSDiscoInfo, "query", accountDiscoInfo)
	h.HandleBareIQ("get", NSDiscoInfo, "query", accountDiscoInfo)
}

func accountDiscoInfo(_ context.Context, iq *IQ) (*stanza.Element, error) {
	if iq.Payload.Get("node") != "" {
		return nil, &StanzaError{Type: "cancel", Condition: "item-not-found"}
	}
	q := stanza.New(NSDiscoInfo, "query")
	q.Add(stanza.New(NSDiscoInfo, "identity").Set("category", "account").Set("type", "registered"))
	q.Add(stanza.New(NSDiscoInfo, "feature").Set("var", NSDiscoInfo))
	return iq.Result().Add(q), nil
}
