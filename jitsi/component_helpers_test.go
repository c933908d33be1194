package jitsi_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/httpx/transporttest"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
	"github.com/parley-xmpp/parley/server/websocket"
)

// Shared by the tests of the message-driven components (av_moderation,
// room_metadata, polls, filesharing); identifiers carry the jc prefix.

const (
	jcDomain = "meet.test"
	jcConf   = "conference.meet.test"
	jcBO     = "breakout.meet.test"
	jcAVM    = "avmoderation.meet.test"
	jcMeta   = "metadata.meet.test"
	jcPolls  = "polls.meet.test"
	jcFiles  = "filesharing.meet.test"
	jcFocus  = "focus"
)

// jcConfig is a Debian-like setup: the main host with features_identity,
// the conference and breakout MUCs and the four components. confModules
// is the conference MUC's modules_enabled list body.
func jcConfig(confModules string) string {
	return `
modules_enabled = { "websocket" }
consider_websocket_secure = true
muc_mapper_domain_base = "` + jcDomain + `"
admins = { "focus@` + jcDomain + `" }
VirtualHost "` + jcDomain + `"
    modules_enabled = { "features_identity" }
Component "` + jcConf + `" "muc"
    muc_room_locking = false
    modules_enabled = { ` + confModules + ` }
Component "` + jcBO + `" "muc"
    muc_room_locking = false
Component "` + jcAVM + `" "av_moderation_component"
    muc_component = "` + jcConf + `"
Component "` + jcMeta + `" "room_metadata_component"
    muc_component = "` + jcConf + `"
    breakout_rooms_component = "` + jcBO + `"
Component "` + jcPolls + `" "polls_component"
Component "` + jcFiles + `" "filesharing_component"
    muc_component = "` + jcConf + `"
`
}

// jcStart runs the components over real sockets with the real MUC.
func jcStart(t testing.TB, confModules string) *servertest.Server {
	t.Helper()
	mucOpts := append(jitsi.MUCModules(), muc.WithModule(jitsi.PollsModule, jitsi.MUCPolls))
	return servertest.Start(t, jcConfig(confModules), servertest.WithServerOptions(
		server.WithModules(websocket.New(websocket.Options{}), jitsi.NewFeaturesIdentity()),
		server.WithComponentType("muc", muc.Factory(mucOpts...)),
		server.WithComponentType(jitsi.AVModerationType, jitsi.AVModerationFactory()),
		server.WithComponentType(jitsi.RoomMetadataType, jitsi.RoomMetadataFactory()),
		server.WithComponentType(jitsi.PollsComponentType, jitsi.PollsComponentFactory()),
		server.WithComponentType(jitsi.FileSharingType, jitsi.FileSharingFactory()),
	))
}

// jcClient is a WebSocket client (the web app's transport, which carries
// the room parameter) that keeps everything it received.
type jcClient struct {
	*transporttest.WS
	t    testing.TB
	JID  string
	nick string
	room string // occupant JID once joined
	log  []*stanza.Element
	pos  int // log entries before pos were consumed by expect
	ids  atomic.Int64
}

// jcUser creates user and logs it in over WebSocket with ?room=room.
func jcUser(t testing.TB, srv *servertest.Server, user, room string) *jcClient {
	t.Helper()
	srv.CreateUser(user, jcDomain, "pw-"+user)
	q := ""
	if room != "" {
		q = "room=" + room
	}
	ws := transporttest.DialWS(t, transporttest.WSURL(srv.HTTPURL, q), nil)
	full := ws.Login(jcDomain, sasl.Plain, user, "pw-"+user)
	return &jcClient{WS: ws, t: t, JID: full, nick: user}
}

// send writes a stanza in jabber:client.
func (c *jcClient) send(el *stanza.Element) {
	c.t.Helper()
	c.Send(string(stanza.Append(nil, el)))
}

// sendRaw writes literal XML.
func (c *jcClient) sendRaw(xml string) {
	c.t.Helper()
	c.Send(xml)
}

// read appends the next received element to the log.
func (c *jcClient) read() *stanza.Element {
	c.t.Helper()
	el := c.Next()
	c.log = append(c.log, el)
	return el
}

// expect returns the first unconsumed element matching match, reading
// more as needed; it and everything before it are consumed.
func (c *jcClient) expect(what string, match func(*stanza.Element) bool) *stanza.Element {
	c.t.Helper()
	for {
		for i := c.pos; i < len(c.log); i++ {
			if match(c.log[i]) {
				c.pos = i + 1
				return c.log[i]
			}
		}
		if len(c.log) > 500 {
			c.t.Fatalf("%s: no %s among %d stanzas", c.nick, what, len(c.log))
		}
		c.read()
	}
}

// join enters room (a node of the conference MUC) with the user's nick
// and a display name, and waits for the self-presence.
func (c *jcClient) join(roomJID string) *stanza.Element {
	c.t.Helper()
	c.room = roomJID + "/" + c.nick
	c.sendRaw(fmt.Sprintf(`<presence xmlns='jabber:client' to='%s'><x xmlns='%s'/><nick xmlns='http://jabber.org/protocol/nick'>%s</nick></presence>`,
		c.room, muc.NS, strings.ToUpper(c.nick[:1])+c.nick[1:]))
	return c.expect("self-presence in "+roomJID, func(e *stanza.Element) bool {
		return e.Name.Local == "presence" && e.Get("from") == c.room && hasStatus(e, "110")
	})
}

// barrier makes sure everything the server queued for c before now has
// been read: a ping round trip (the components answer on the sender's
// goroutine, so their output for a request precedes the reply to the
// sender's next stanza).
func (c *jcClient) barrier() {
	c.t.Helper()
	id := fmt.Sprintf("b%d", c.ids.Add(1))
	c.sendRaw(`<iq xmlns='jabber:client' type='get' id='` + id + `' to='` + jcDomain + `'><ping xmlns='urn:xmpp:ping'/></iq>`)
	for {
		if el := c.read(); el.Name.Local == "iq" && el.Get("id") == id {
			return
		}
	}
}

// jsonFrom returns the decoded json-message payloads from sender not yet
// consumed, and consumes them.
func (c *jcClient) jsonFrom(from string) []map[string]any {
	c.t.Helper()
	var out []map[string]any
	for ; c.pos < len(c.log); c.pos++ {
		el := c.log[c.pos]
		if el.Name.Local != "message" || el.Get("from") != from {
			continue
		}
		if p, ok := jitsi.JSONPayload(el); ok {
			out = append(out, jcDecode(c.t, p))
		}
	}
	return out
}

// expectJSON waits for a json-message from sender whose payload satisfies
// match and returns the payload.
func (c *jcClient) expectJSON(from string, match func(map[string]any) bool) map[string]any {
	c.t.Helper()
	var got map[string]any
	c.expect("json-message from "+from, func(el *stanza.Element) bool {
		if el.Name.Local != "message" || el.Get("from") != from {
			return false
		}
		p, ok := jitsi.JSONPayload(el)
		if !ok {
			return false
		}
		got = jcDecode(c.t, p)
		return match == nil || match(got)
	})
	return got
}

// expectNone checks, after a barrier, that no json-message from sender
// arrived.
func (c *jcClient) expectNone(from string) {
	c.t.Helper()
	c.barrier()
	if got := c.jsonFrom(from); len(got) > 0 {
		c.t.Fatalf("%s: unexpected json-messages from %s: %v", c.nick, from, got)
	}
}

func jcDecode(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("json-message %q: %v", s, err)
	}
	return m
}

// jcJSON re-encodes a decoded value for comparisons.
func jcJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestJCComponentIdentities: the four components announce themselves on the
// main host (JITSI.md §2 P1 "Component discovery").
func TestJCComponentIdentities(t *testing.T) {
	srv := jcStart(t, "")
	alice := jcUser(t, srv, "alice", "")
	alice.sendRaw(`<iq xmlns='jabber:client' type='get' id='d1' to='` + jcDomain + `'><query xmlns='` + muc.NSDiscoInfo + `'/></iq>`)
	r := alice.expect("disco#info result", func(e *stanza.Element) bool { return e.Get("id") == "d1" })
	got := map[string]string{}
	for _, id := range identities(r.Child(muc.NSDiscoInfo, "query")) {
		if id.Get("category") == "component" {
			got[id.Get("type")] = id.Get("name")
		}
	}
	want := map[string]string{"av_moderation": jcAVM, "room_metadata": jcMeta, "polls": jcPolls, "file-sharing": jcFiles}
	for typ, name := range want {
		if got[typ] != name {
			t.Errorf("identity component/%s: got %q, want %q (all: %v)", typ, got[typ], name, got)
		}
	}
}

// jcBind makes clients report failures to a subtest's t until it ends.
func jcBind(t testing.TB, cs ...*jcClient) {
	for _, c := range cs {
		old := c.t
		c.t, c.WS.T = t, t
		t.Cleanup(func() { c.t, c.WS.T = old, old })
	}
}
