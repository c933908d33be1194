package jitsi_test

import (
	"encoding/json"
	"net/url"
	"strconv"
	"testing"
	"time"

	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/httpx/transporttest"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
	"github.com/parley-xmpp/parley/server/websocket"
)

// scEnv is a server with the stock Jitsi layout for the speakerstats,
// end_conference and conference_duration tests.
type scEnv struct {
	t     *testing.T
	srv   *servertest.Server
	clock *servertest.Clock
}

const (
	scSpeakerStats = "speakerstats.localhost"
	scEndConf      = "endconference.localhost"
)

func newSCEnv(t *testing.T, extraHost, extraMUC string) *scEnv {
	t.Helper()
	clk := servertest.NewClock(time.Date(2026, 3, 4, 5, 6, 7, 250e6, time.UTC))
	cfg := `
modules_enabled = { "websocket" }
consider_websocket_secure = true
muc_mapper_domain_base = "localhost"
admins = { "focus@localhost" }
VirtualHost "localhost"
    modules_enabled = { "features_identity"; "conference_duration" }
    main_muc = "conference.localhost"
` + extraHost + `
Component "conference.localhost" "muc"
    muc_room_locking = false
` + extraMUC + `
Component "` + scSpeakerStats + `" "speakerstats_component"
    muc_component = "conference.localhost"
Component "` + scEndConf + `" "end_conference"
    muc_component = "conference.localhost"
`
	mucOpts := append(jitsi.MUCModules(),
		muc.WithModule(jitsi.MUCResourceValidateName, jitsi.MUCResourceValidate),
		muc.WithModule(jitsi.MUCFilterAccessName, jitsi.MUCFilterAccess))
	srv := servertest.Start(t, cfg, servertest.WithServerOptions(
		server.WithClock(clk.Now),
		server.WithModules(websocket.New(websocket.Options{}), jitsi.NewFeaturesIdentity(), jitsi.NewConferenceDuration()),
		server.WithComponentType("muc", muc.Factory(mucOpts...)),
		server.WithComponentType(jitsi.SpeakerStatsType, jitsi.SpeakerStatsFactory()),
		server.WithComponentType(jitsi.EndConferenceType, jitsi.EndConferenceFactory()),
	))
	return &scEnv{t: t, srv: srv, clock: clk}
}

func (e *scEnv) user(name string) *client {
	e.t.Helper()
	e.srv.CreateUser(name, "localhost", "pw-"+name)
	return &client{Client: e.srv.Connect(e.t, name+"@localhost", "pw-"+name, servertest.ClientOptions{}), t: e.t}
}

// wsUser logs name in over WebSocket with the URL query q (room, prefix).
func (e *scEnv) wsUser(name string, q url.Values) (*transporttest.WS, string) {
	e.t.Helper()
	e.srv.CreateUser(name, "localhost", "pw-"+name)
	ws := transporttest.DialWS(e.t, transporttest.WSURL(e.srv.HTTPURL, q.Encode()), nil)
	return ws, ws.Login("localhost", sasl.Plain, name, "pw-"+name)
}

// scPing is a round trip to the server: everything the server queued for
// c before answering comes back first. It returns those stanzas.
func scPing(c *client, id string) []*stanza.Element {
	c.t.Helper()
	c.Send(el(stanza.NSClient, "iq", "type", "get", "id", id, "to", "localhost").Add(el("urn:xmpp:ping", "ping")))
	var got []*stanza.Element
	for {
		s := c.Next()
		if s.Name.Local == "iq" && s.Get("id") == id {
			return got
		}
		got = append(got, s)
	}
}

// scJoin joins and waits for the self-presence; extra goes in the presence.
func scJoin(c *client, occupant string, extra ...*stanza.Element) *stanza.Element {
	c.t.Helper()
	p := el(stanza.NSClient, "presence", "to", occupant).Add(el(muc.NS, "x"))
	p.Add(extra...)
	c.Send(p)
	return c.self(occupant)
}

// ssReport is the decoded "speakerstats" json-message.
type ssReport struct {
	Type  string `json:"type"`
	Users map[string]struct {
		DisplayName              *string                          `json:"displayName"`
		TotalDominantSpeakerTime int64                            `json:"totalDominantSpeakerTime"`
		FaceLandmarks            []jitsi.SpeakerStatsFaceLandmark `json:"faceLandmarks"`
	} `json:"users"`
}

// ssReports returns the speakerstats json-messages among got.
func ssReports(t *testing.T, got []*stanza.Element) []ssReport {
	t.Helper()
	var out []ssReport
	for _, s := range got {
		if s.Name.Local != "message" || s.Get("from") != scSpeakerStats {
			continue
		}
		text, ok := jitsi.JSONPayload(s)
		if !ok {
			t.Fatalf("message from the component without json-message: %s", s)
		}
		var r ssReport
		if err := json.Unmarshal([]byte(text), &r); err != nil {
			t.Fatalf("bad speakerstats json %q: %v", text, err)
		}
		out = append(out, r)
	}
	return out
}

func ssMsg(space, local, room string, attrs ...string) *stanza.Element {
	return el(stanza.NSClient, "message", "to", scSpeakerStats).Add(el(space, local, append([]string{"room", room}, attrs...)...))
}

// TestSpeakerStatsReport follows a meeting: dominant speaker changes,
// silence, face landmarks and a leave with a display name, checking what
// each joiner is told (JITSI.md §2 P1 "Speaker stats").
func TestSpeakerStatsReport(t *testing.T) {
	e := newSCEnv(t, "", "")
	room := "meet@" + conf
	alice, bob, carol := e.user("alice"), e.user("bob"), e.user("carol")

	scJoin(alice, room+"/alice")
	if r := ssReports(t, scPing(alice, "p1")); len(r) != 0 {
		t.Fatalf("first joiner got %+v", r)
	}
	scJoin(bob, room+"/bob", el("http://jabber.org/protocol/nick", "nick").AddText("Bob"))
	if r := ssReports(t, scPing(bob, "p2")); len(r) != 0 {
		t.Fatalf("nobody spoke yet, bob got %+v", r)
	}

	alice.Send(ssMsg(jitsi.NSJitMeet, "speakerstats", room))
	scPing(alice, "p3")
	e.clock.Advance(1500 * time.Millisecond)
	bob.Send(ssMsg(jitsi.NSJitMeet, "speakerstats", room))
	scPing(bob, "p4")
	e.clock.Advance(700 * time.Millisecond)

	scJoin(carol, room+"/carol")
	reps := ssReports(t, scPing(carol, "p5"))
	if len(reps) != 1 || reps[0].Type != "speakerstats" {
		t.Fatalf("carol: want one speakerstats report, got %+v", reps)
	}
	u := reps[0].Users
	if len(u) != 2 || u["alice"].TotalDominantSpeakerTime != 1500 || u["bob"].TotalDominantSpeakerTime != 700 {
		t.Fatalf("carol's report = %+v, want alice 1500 ms and bob 700 ms (ongoing)", u)
	}
	if u["alice"].FaceLandmarks == nil || len(u["alice"].FaceLandmarks) != 0 || u["alice"].DisplayName != nil {
		t.Errorf("alice = %+v, want empty faceLandmarks list and no displayName", u["alice"])
	}

	// Bob goes silent while still dominant: his time stops.
	bob.Send(ssMsg(jitsi.NSJitMeet, "speakerstats", room, "silence", "true"))
	scPing(bob, "p6")
	e.clock.Advance(5 * time.Second)
	// Carol reports a face expression; bob leaves with his display name.
	carol.Send(ssMsg(jitsi.NSJitMeet, "faceLandmarks", room, "faceExpression", "happy", "timestamp", "1700000000000", "duration", "2.5"))
	scPing(carol, "p7")
	bob.Send(el(stanza.NSClient, "presence", "to", room+"/bob", "type", "unavailable"))
	scPing(bob, "p8")

	dave := e.user("dave")
	scJoin(dave, room+"/dave")
	reps = ssReports(t, scPing(dave, "p9"))
	if len(reps) != 1 {
		t.Fatalf("dave: want one report, got %+v", reps)
	}
	u = reps[0].Users
	if got := u["bob"]; got.TotalDominantSpeakerTime != 700 || got.DisplayName == nil || *got.DisplayName != "Bob" {
		t.Errorf("bob (left) = %+v, want 700 ms (stopped by silence) and displayName Bob", got)
	}
	if got := u["alice"].TotalDominantSpeakerTime; got != 1500 {
		t.Errorf("alice = %d ms, want 1500", got)
	}
	faces := u["carol"].FaceLandmarks
	if len(faces) != 1 || faces[0].FaceExpression == nil || *faces[0].FaceExpression != "happy" ||
		faces[0].Timestamp == nil || *faces[0].Timestamp != 1700000000000 || faces[0].Duration == nil || *faces[0].Duration != 2.5 {
		t.Errorf("carol's faceLandmarks = %+v", faces)
	}
	if _, ok := u["dave"]; ok {
		t.Error("the joiner is in its own report")
	}
}

// TestSpeakerStatsIgnored lists the messages the component drops: each
// would make alice the dominant speaker, so a later joiner would hear of
// her; nothing may be answered either (the Lua handler returns false).
func TestSpeakerStatsIgnored(t *testing.T) {
	e := newSCEnv(t, "", "")
	alice, eve, carol := e.user("alice"), e.user("eve"), e.user("carol")
	cases := []struct {
		name   string
		sender *client
		msg    func(room string) *stanza.Element
		want   bool
	}{
		{"valid report (control)", alice, func(r string) *stanza.Element { return ssMsg(jitsi.NSJitMeet, "speakerstats", r) }, true},
		{"tenant room address", alice, func(r string) *stanza.Element {
			return nil // built below
		}, true},
		{"type error", alice, func(r string) *stanza.Element {
			return ssMsg(jitsi.NSJitMeet, "speakerstats", r).Set("type", "error")
		}, false},
		{"unknown room", alice, func(string) *stanza.Element {
			return ssMsg(jitsi.NSJitMeet, "speakerstats", "nosuch@"+conf)
		}, false},
		{"bad room address", alice, func(string) *stanza.Element { return ssMsg(jitsi.NSJitMeet, "speakerstats", "@@") }, false},
		{"sender not an occupant", eve, func(r string) *stanza.Element { return ssMsg(jitsi.NSJitMeet, "speakerstats", r) }, false},
		{"wrong namespace", alice, func(r string) *stanza.Element { return ssMsg(stanza.NSClient, "speakerstats", r) }, false},
		{"to a full JID of the component", alice, func(r string) *stanza.Element {
			return ssMsg(jitsi.NSJitMeet, "speakerstats", r).Set("to", scSpeakerStats+"/x")
		}, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := strconv.Itoa(i)
			room := "ign" + n + "@" + conf
			address := room
			if tc.name == "tenant room address" {
				room = "[acme]ign" + n + "@" + conf
				address = "ign" + n + "@conference.acme.localhost"
			}
			scJoin(alice, room+"/alice")
			msg := tc.msg(address)
			if msg == nil {
				msg = ssMsg(jitsi.NSJitMeet, "speakerstats", address)
			}
			tc.sender.Send(msg)
			for _, s := range scPing(tc.sender, "i"+n) {
				if s.Get("from") == scSpeakerStats {
					t.Fatalf("the component answered: %s", s)
				}
			}
			e.clock.Advance(time.Second)
			scJoin(carol, room+"/carol")
			reps := ssReports(t, scPing(carol, "c"+n))
			if got := len(reps) == 1 && reps[0].Users["alice"].TotalDominantSpeakerTime == 1000; got != tc.want {
				t.Fatalf("carol heard of alice speaking 1000 ms: %v, want %v (%+v)", got, tc.want, reps)
			}
		})
	}
}

// TestSpeakerStatsSkipped: admins (jicofo) are neither told nor tracked,
// and health-check rooms have no stats; IQs to the component are refused.
func TestSpeakerStatsSkipped(t *testing.T) {
	e := newSCEnv(t, "", "")
	focus, alice, carol := e.user("focus"), e.user("alice"), e.user("carol")
	room := "skip@" + conf
	scJoin(alice, room+"/alice")
	alice.Send(ssMsg(jitsi.NSJitMeet, "speakerstats", room))
	scPing(alice, "s1")
	e.clock.Advance(time.Second)
	scJoin(focus, room+"/focus")
	if r := ssReports(t, scPing(focus, "s2")); len(r) != 0 {
		t.Fatalf("admin got a report: %+v", r)
	}
	focus.Send(ssMsg(jitsi.NSJitMeet, "speakerstats", room))
	scPing(focus, "s3")
	e.clock.Advance(time.Second)
	scJoin(carol, room+"/carol")
	reps := ssReports(t, scPing(carol, "s4"))
	if len(reps) != 1 || len(reps[0].Users) != 1 || reps[0].Users["alice"].TotalDominantSpeakerTime != 1000 {
		t.Fatalf("carol: %+v, want only alice with 1000 ms (focus untracked)", reps)
	}

	hc := jitsi.HealthCheckPrefix + "-x@" + conf
	scJoin(alice, hc+"/alice")
	alice.Send(ssMsg(jitsi.NSJitMeet, "speakerstats", hc))
	scPing(alice, "s5")
	e.clock.Advance(time.Second)
	scJoin(carol, hc+"/carol")
	if r := ssReports(t, scPing(carol, "s6")); len(r) != 0 {
		t.Fatalf("health-check room report: %+v", r)
	}

	res := alice.Request(el(stanza.NSClient, "iq", "type", "get", "to", scSpeakerStats).Add(el("http://jabber.org/protocol/disco#info", "query")))
	if errCond(res) != "service-unavailable" {
		t.Fatalf("iq to the component: %s", res)
	}
}

// TestComponentIdentities: the components announce themselves on the
// main host (JITSI.md §2 P1 "Component discovery").
func TestComponentIdentities(t *testing.T) {
	e := newSCEnv(t, "", "")
	alice := e.user("alice")
	res := alice.Request(el(stanza.NSClient, "iq", "type", "get", "to", "localhost").Add(el("http://jabber.org/protocol/disco#info", "query")))
	want := map[string]string{
		"speakerstats":        scSpeakerStats,
		"end_conference":      scEndConf,
		"conference_duration": "conferenceduration.localhost",
	}
	got := map[string]string{}
	for _, id := range res.Child("http://jabber.org/protocol/disco#info", "query").Elements() {
		if id.Name.Local == "identity" && id.Get("category") == "component" {
			got[id.Get("type")] = id.Get("name")
		}
	}
	for typ, name := range want {
		if got[typ] != name {
			t.Errorf("identity component/%s = %q, want %q (all: %v)", typ, got[typ], name, got)
		}
	}
}
