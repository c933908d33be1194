package jitsi_test

import (
	"encoding/base64"
	"slices"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// paRawLogin logs in with PLAIN and binds; it returns the full JID and
// the stanzas that arrived before the bind result (jiconop's push comes
// there, as on Prosody, where resource-bind fires before the reply).
func paRawLogin(t *testing.T, s *servertest.Server, host, user, pw string) (*servertest.Raw, string, []*stanza.Element) {
	t.Helper()
	r := servertest.DialRaw(t, s.C2SAddr)
	r.Open(host)
	r.Write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` +
		base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pw)) + `</auth>`)
	if el := r.Next(); el.Name.Local != "success" {
		t.Fatalf("login: %s", el)
	}
	r.R.Restart()
	r.Open(host)
	r.Write(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`)
	var before []*stanza.Element
	for {
		el := r.Next()
		if el.Name.Local == "iq" && el.Get("id") == "bind1" {
			return r, el.Child("", "bind").ChildText("", "jid"), before
		}
		before = append(before, el)
	}
}

const paJiconopConfig = `
allow_unencrypted_plain_auth = true
c2s_require_encryption = false
muc_mapper_domain_base = "meet.test"
external_service_secret = "turn-secret-for-tests"
external_services = {
    { type = "stun", host = "meet.test", port = 3478 },
    { type = "turn", host = "meet.test", port = 3478, transport = "udp", secret = true, ttl = 86400, algorithm = "turn" },
}
VirtualHost "meet.test"
    modules_enabled = { "jiconop", "features_identity" }
    shard_name = "shard-1"
    region_name = "eu-west"
    release_number = "42"
    lobby_muc = "lobby.meet.test"
    breakout_rooms_muc = "breakout.meet.test"
VirtualHost "guest.meet.test"
    modules_enabled = { "jiconop" }
Component "speakerstats.meet.test" "speakerstats_component"
Component "speakerstats2.meet.test" "speakerstats_component"
Component "endconference.meet.test" "end_conference"
`

func paStartJiconop(t *testing.T, cfg string, j *jitsi.Jiconop) *servertest.Server {
	t.Helper()
	added := make(chan bool, 8)
	s := servertest.Start(t, cfg, servertest.WithServerOptions(
		server.WithModules(j, jitsi.NewFeaturesIdentity()),
		server.WithClock(func() time.Time { return paNow }),
		server.WithComponentType("speakerstats_component", paAnnouncerFactory("speakerstats", added)),
		server.WithComponentType("end_conference", paAnnouncerFactory("end_conference", added))))
	return s
}

func paIdentities(q *stanza.Element) []string {
	var out []string
	for _, e := range q.Elements() {
		if e.Name.Local == "identity" {
			out = append(out, e.Get("category")+"/"+e.Get("type")+"/"+e.Get("name"))
		}
	}
	return out
}

// JITSI.md §2 P1 "Jiconop" and §7 step 3: right after bind the client gets
// one message with the main host's identities (one per category/type,
// no features) and the extdisco:2 services with credentials; components'
// node handlers add their features.
func TestJiconopPush(t *testing.T) {
	j := jitsi.NewJiconop()
	nodeCh := make(chan string, 8)
	j.OnDiscoNode("lobby.meet.test", func(s *server.Session, node string, q *stanza.Element) {
		nodeCh <- node + "@lobby"
		q.Add(stanza.New(server.NSDiscoInfo, "feature").Set("var", "http://jitsi.org/protocol/lobbyrooms#displayname_required"))
	})
	j.OnDiscoNode("breakout.meet.test", func(s *server.Session, node string, q *stanza.Element) {
		nodeCh <- node + "@breakout"
	})
	s := paStartJiconop(t, paJiconopConfig, j)
	s.CreateUser("alice", "meet.test", "pw")
	_, full, before := paRawLogin(t, s, "meet.test", "alice", "pw")
	if len(before) != 1 {
		t.Fatalf("before the bind result: %v, want one push", before)
	}
	msg := before[0]
	if msg.Name.Local != "message" || msg.Get("from") != "meet.test" || msg.Get("to") != full || msg.Get("type") != "" {
		t.Fatalf("push = %s", msg)
	}
	q := msg.Child(server.NSDiscoInfo, "query")
	if q == nil {
		t.Fatalf("no disco#info in %s", msg)
	}
	want := []string{
		"server/im/parley",
		"server/shard/shard-1", "server/region/eu-west", "server/release/42",
		"component/speakerstats/speakerstats.meet.test",
		"component/end_conference/endconference.meet.test",
	}
	got := paIdentities(q)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("identities = %v, want %v (speakerstats2 deduplicated)", got, want)
	}
	var feats []string
	for _, e := range q.Elements() {
		if e.Name.Local == "feature" {
			feats = append(feats, e.Get("var"))
		}
	}
	if !slices.Equal(feats, []string{"http://jitsi.org/protocol/lobbyrooms#displayname_required"}) {
		t.Fatalf("features = %v, want only the lobby's", feats)
	}
	if nodes := []string{<-nodeCh, <-nodeCh}; !slices.Equal(nodes, []string{"lobbyrooms@lobby", "breakout_rooms@breakout"}) {
		t.Fatalf("node handlers ran %v", nodes)
	}
	sv := msg.Child(jitsi.NSExtDisco, "services")
	if sv == nil {
		t.Fatalf("no services in %s", msg)
	}
	paSameServices(t, paServiceAttrs(sv), paWantServices[0:2])
}

// jiconop on another host (the guest host) reports the identities of
// muc_mapper_domain_base, the push goes from its own host, and it loads
// external_services there.
func TestJiconopGuestHost(t *testing.T) {
	s := paStartJiconop(t, paJiconopConfig, jitsi.NewJiconop())
	s.CreateUser("g", "guest.meet.test", "pw")
	r, full, before := paRawLogin(t, s, "guest.meet.test", "g", "pw")
	if len(before) != 1 || before[0].Get("from") != "guest.meet.test" || before[0].Get("to") != full {
		t.Fatalf("push = %v", before)
	}
	if ids := paIdentities(before[0].Child(server.NSDiscoInfo, "query")); !slices.Contains(ids, "component/speakerstats/speakerstats.meet.test") {
		t.Fatalf("identities = %v, want meet.test's", ids)
	}
	r.Write(`<iq type='get' id='s1' to='guest.meet.test'><services xmlns='urn:xmpp:extdisco:2' type='stun'/></iq>`)
	resp := r.Next()
	if resp.Get("id") != "s1" || resp.Get("type") != "result" {
		t.Fatalf("services on guest host: %s", resp)
	}
	paSameServices(t, paServiceAttrs(resp.Child(jitsi.NSExtDisco, "services")), paWantServices[0:1])
}

// Without muc_mapper_domain_base jiconop only warns: nothing is pushed.
// A client forging the module's internal replies gets nothing either.
func TestJiconopWithoutMainHost(t *testing.T) {
	s := paStartJiconop(t, `
allow_unencrypted_plain_auth = true
c2s_require_encryption = false
VirtualHost "meet.test"
    modules_enabled = { "jiconop" }
`, jitsi.NewJiconop())
	s.CreateUser("alice", "meet.test", "pw")
	r, _, before := paRawLogin(t, s, "meet.test", "alice", "pw")
	if len(before) != 0 {
		t.Fatalf("pushed %v", before)
	}
	r.Write(`<iq type='result' id='jiconop-disco-1' to='meet.test'/><iq type='get' id='p1' to='meet.test'><ping xmlns='urn:xmpp:ping'/></iq>`)
	if el := r.Next(); el.Get("id") != "p1" || el.Get("type") != "result" {
		t.Fatalf("after a forged reply: %s", el)
	}
}
