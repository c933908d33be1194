package jitsitest

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/parley-xmpp/parley/server/stanza"
)

// Web-client namespaces.
const (
	NSCaps    = "http://jabber.org/protocol/caps"
	NSJitMeet = "http://jitsi.org/jitmeet"
	// WebCapsNode is jitsi-meet's entity-capabilities node.
	WebCapsNode = "https://jitsi.org/jitsi-meet"
)

// WebConfig is a jitsi-meet participant.
type WebConfig struct {
	// BaseURL is the HTTP base of the server ("http://127.0.0.1:port");
	// the client connects to BaseURL/xmpp-websocket.
	BaseURL string
	// Domain is hosts.domain (D).
	Domain string
	// Room is the room name for the URL's room parameter.
	Room string
	// Token is the JWT for the URL's token parameter ("" for none).
	Token string
	// Header is sent with the WebSocket handshake (Authorization ...).
	// Host defaults to Domain, as nginx forwards the public host name
	// (Prosody's HTTP server routes by Host, falling back to
	// http_default_host).
	Header http.Header
	// Log receives debug output.
	Log *slog.Logger
}

// Web is a jitsi-meet-shaped participant on WebSocket: SASL ANONYMOUS
// (token auth reads the token from the URL), XEP-0198 with resumption,
// answering Jicofo's disco#info and Jingle.
type Web struct {
	*Peer
	cfg WebConfig

	mu     sync.Mutex
	jingle []*stanza.Element
}

// WebSocketURL is the URL lib-jitsi-meet connects to.
func WebSocketURL(base, room, token string) string {
	u := "ws" + strings.TrimPrefix(base, "http") + "/xmpp-websocket"
	q := url.Values{}
	if room != "" {
		q.Set("room", room)
	}
	if token != "" {
		q.Set("token", token)
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// DialWeb connects and logs in.
func DialWeb(ctx context.Context, cfg WebConfig) (*Web, error) {
	header := cfg.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	if header.Get("Host") == "" {
		header.Set("Host", cfg.Domain)
	}
	c, err := DialWebSocket(ctx, WebSocketURL(cfg.BaseURL, cfg.Room, cfg.Token), header,
		Config{Domain: cfg.Domain, StreamManagement: true, Log: cfg.Log})
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	w := &Web{cfg: cfg}
	w.Peer = newPeer(c, w.handleIQ, nil)
	return w, nil
}

// BaseURL is the HTTP base the client connected to.
func (w *Web) BaseURL() string { return w.cfg.BaseURL }

// Nick is the MUC nick lib-jitsi-meet uses: the first 8 characters of the
// XMPP username.
func (w *Web) Nick() string {
	local, _, _ := strings.Cut(w.JID(), "@")
	if len(local) > 8 {
		local = local[:8]
	}
	return local
}

func (w *Web) handleIQ(_ context.Context, iq *stanza.Element) *stanza.Element {
	q := iq.FirstElement()
	switch {
	case q == nil:
		return nil
	case q.Name.Space == NSDiscInfo && iq.Get("type") == "get":
		res := stanza.New(NSDiscInfo, "query").Set("node", q.Get("node"))
		for _, f := range []string{NSDiscInfo, NSJingle, "urn:xmpp:jingle:apps:rtp:1", "urn:xmpp:jingle:transports:ice-udp:1",
			"urn:xmpp:jingle:apps:dtls:0", "http://jitsi.org/json-encoded-sources"} {
			res.Add(stanza.New(NSDiscInfo, "feature").Set("var", f))
		}
		return Result(iq).Add(res)
	case q.Name.Space == NSJingle:
		w.mu.Lock()
		w.jingle = append(w.jingle, iq)
		w.mu.Unlock()
		return Result(iq)
	}
	return nil
}

// Jingle are the Jingle requests received.
func (w *Web) Jingle() []*stanza.Element {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]*stanza.Element(nil), w.jingle...)
}

// Conference sends the conference request to the focus component
// (hosts.focus, focus.D) for room, as moderator.js does, and returns the
// <conference/> of the result.
func (w *Web) Conference(ctx context.Context, focus, room string) (*stanza.Element, error) {
	req := stanza.New(NSFocus, "conference").Set("room", room).Set("machine-uid", "jitsitest-machine")
	if w.cfg.Token != "" {
		req.Set("token", w.cfg.Token)
	}
	req.Add(stanza.New(NSFocus, "property").Set("name", "startAudioMuted").Set("value", "9"))
	res, err := w.Request(ctx, stanza.New(stanza.NSClient, "iq").Set("type", "set").Set("to", focus).Add(req))
	if err != nil {
		return nil, err
	}
	c := res.Child(NSFocus, "conference")
	if res.Get("type") != "result" || c == nil {
		return nil, fmt.Errorf("web: conference request to %s: %s", focus, res)
	}
	return c, nil
}

// JoinRoom enters room with the presence extensions jitsi-meet sends.
func (w *Web) JoinRoom(ctx context.Context, room string) (*stanza.Element, error) {
	return w.Join(ctx, room, w.Nick(),
		stanza.New(NSCaps, "c").Set("hash", "sha-1").Set("node", WebCapsNode).Set("ver", "test="),
		stanza.New(stanza.NSClient, "stats-id").AddText("Test-1"),
		stanza.New(NSJitMeet, "nick").AddText("Tester"),
		stanza.New(stanza.NSClient, "audiomuted").AddText("false"),
		stanza.New(stanza.NSClient, "videomuted").AddText("false"))
}
