package muc_test

// The differential test runs one MUC scenario against Debian's Prosody
// (when the prosody binary is on PATH) and against parley, and compares
// what every client receives, modulo ids and timestamps.

import (
	"context"
	"encoding/xml"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// diffComponentCfg is the MUC section both servers run with.
const diffComponentCfg = `
    component_admins_as_room_owners = true
    muc_room_default_public_jids = true
`

// diffGlobalCfg is the part of the global section both servers share.
const diffGlobalCfg = `
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
`

var diffUsers = []string{"alice", "bob", "carol"}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startProsody runs prosody with a temporary configuration and returns
// its c2s address; the process is killed in t.Cleanup.
func startProsody(t *testing.T, componentCfg string) string {
	t.Helper()
	bin, err := exec.LookPath("prosody")
	if err != nil {
		t.Skip("prosody is not installed")
	}
	dir := t.TempDir()
	port := freePort(t)
	accounts := filepath.Join(dir, "data", "localhost", "accounts")
	if err := os.MkdirAll(accounts, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, u := range diffUsers {
		body := fmt.Sprintf("return {\n\t[\"password\"] = %q;\n};\n", "pw-"+u)
		if err := os.WriteFile(filepath.Join(accounts, u+".dat"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := fmt.Sprintf(`
run_as_root = true
pidfile = %q
data_path = %q
log = { { levels = { min = "error" }, to = "console" } }
interfaces = { "127.0.0.1" }
c2s_ports = { %d }
c2s_direct_tls_ports = { }
legacy_ssl_ports = { }
s2s_ports = { }
component_ports = { }
http_ports = { }
https_ports = { }
modules_enabled = { "roster"; "saslauth"; "disco"; "ping" }
modules_disabled = { "s2s"; "tls"; "offline" }
authentication = "internal_plain"
storage = "internal"
%s
VirtualHost "localhost"
Component "conference.localhost" "muc"
%s
`, filepath.Join(dir, "prosody.pid"), filepath.Join(dir, "data"), port, diffGlobalCfg, componentCfg)
	cfgPath := filepath.Join(dir, "prosody.cfg.lua")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config", cfgPath, "-F")
	cmd.Dir = dir
	cmd.Stdout = t.Output()
	cmd.Stderr = t.Output()
	if err := cmd.Start(); err != nil {
		cancel()
		t.Skipf("prosody does not start: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		select {
		case <-exited:
			t.Fatalf("prosody exited before listening")
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("prosody did not listen on %s: %v", addr, err)
		}
	}
}

// startParley runs parley with the same configuration.
func startParley(t *testing.T, componentCfg string) string {
	t.Helper()
	srv := servertest.Start(t, diffGlobalCfg+`
VirtualHost "localhost"
Component "conference.localhost" "muc"
`+componentCfg, servertest.WithServerOptions(server.WithComponentType("muc", muc.Factory())))
	for _, u := range diffUsers {
		srv.CreateUser(u, host, "pw-"+u)
	}
	return srv.C2SAddr
}

// peer is one raw client of the scenario.
type peer struct {
	name string
	raw  *servertest.Raw
	seq  int
}

// transcript records, step by step, what each client received, in
// canonical form.
type transcript struct {
	t     *testing.T
	peers map[string]*peer
	sent  map[string]bool
	steps []string
	got   map[string][]string // step/peer -> canonical stanzas
	raw   map[string][]*stanza.Element
	// no210 drops status 210 from what is compared: parley says when its
	// nick preparation changed the nick the client asked for (XEP-0045's
	// MUST), Prosody's resourceprep changes it silently.
	no210 bool
}

func newTranscript(t *testing.T, addr string) *transcript {
	tr := &transcript{t: t, peers: map[string]*peer{}, sent: map[string]bool{}, got: map[string][]string{}, raw: map[string][]*stanza.Element{}}
	for _, u := range diffUsers {
		raw := servertest.DialRaw(t, addr)
		raw.Login(host, u, "pw-"+u, "res")
		tr.peers[u] = &peer{name: u, raw: raw}
	}
	return tr
}

// send writes a stanza from a peer; ids it carries are kept verbatim in
// the canonical form.
func (tr *transcript) send(who string, e *stanza.Element) {
	if id := e.Get("id"); id != "" {
		tr.sent[id] = true
	}
	tr.peers[who].raw.Write(string(stanza.AppendIn(nil, e, stanza.NSClient)))
}

// step sends the stanzas of a step (from who) and collects what every
// peer received, up to a ping barrier: first on who's stream (so the step
// is fully processed), then on the others.
func (tr *transcript) step(name, who string, els ...*stanza.Element) {
	tr.t.Helper()
	for _, e := range els {
		tr.send(who, e)
	}
	order := []string{who}
	for _, u := range diffUsers {
		if u != who {
			order = append(order, u)
		}
	}
	tr.steps = append(tr.steps, name)
	for _, u := range order {
		p := tr.peers[u]
		p.seq++
		id := fmt.Sprintf("barrier-%s-%d", u, p.seq)
		p.raw.Write(fmt.Sprintf(`<iq type='get' id='%s' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`, id))
		for {
			e := p.raw.Next()
			if e.Name.Local == "iq" && e.Get("id") == id {
				break
			}
			tr.got[name+"/"+u] = append(tr.got[name+"/"+u], tr.canon(e, stanza.NSClient))
			tr.raw[name+"/"+u] = append(tr.raw[name+"/"+u], e)
		}
	}
}

// canon renders e with sorted attributes and without the values that
// legitimately differ (server-made ids, occupant ids, timestamps).
func (tr *transcript) canon(e *stanza.Element, parentNS string) string {
	return tr.canonIn(e, parentNS, "")
}

func (tr *transcript) canonIn(e *stanza.Element, parentNS, parentLocal string) string {
	var b strings.Builder
	b.WriteString("<" + e.Name.Local)
	if e.Name.Space != parentNS {
		b.WriteString(" xmlns='" + e.Name.Space + "'")
	}
	var attrs []string
	for _, a := range e.Attr {
		v := a.Value
		switch {
		case a.Name.Local == "id" && (e.Name.Local == "occupant-id" || !tr.sent[v]):
			v = "*"
		case a.Name.Local == "stamp":
			v = "*"
		case a.Name.Local == "lang" && a.Name.Space == stanza.NSXML:
			// Prosody's c2s stamps the stream's language on every
			// stanza; parley's core does not (not a MUC matter).
			continue
		}
		name := a.Name.Local
		if a.Name.Space != "" {
			name = a.Name.Space + ":" + name
		}
		attrs = append(attrs, name+"='"+v+"'")
	}
	sort.Strings(attrs)
	for _, a := range attrs {
		b.WriteString(" " + a)
	}
	b.WriteString(">")
	var kids []string
	for _, n := range e.Nodes {
		if n.El != nil && tr.no210 && n.El.Name.Space == muc.NSUser && n.El.Name.Local == "status" && n.El.Get("code") == "210" {
			continue
		}
		if n.El != nil && n.El.Name.Space == muc.NSDataForms && n.El.Name.Local == "field" && n.El.Get("var") == muc.FieldAllowQueryUsers {
			// parley's extension of the config form (SECURITY-CASES 138,
			// ejabberd's allow_query_users); Prosody has no such field.
			continue
		}
		if n.El != nil {
			kids = append(kids, tr.canonIn(n.El, e.Name.Space, e.Name.Local))
		} else if strings.TrimSpace(n.Text) != "" {
			kids = append(kids, n.Text)
		}
	}
	// Values of a list-multi come from a Lua table in Prosody: any order.
	if e.Name.Local == "field" && e.Get("type") == "list-multi" {
		var vals []string
		rest := kids[:0:0]
		for _, k := range kids {
			if strings.HasPrefix(k, "<value>") {
				vals = append(vals, k)
			} else {
				rest = append(rest, k)
			}
		}
		sort.Strings(vals)
		kids = append(rest, vals...)
	}
	// Status codes of a configuration change come from a Lua table too.
	if e.Name.Space == muc.NSUser && e.Name.Local == "x" && parentLocal == "message" {
		sort.Strings(kids)
	}
	b.WriteString(strings.Join(kids, ""))
	b.WriteString("</" + e.Name.Local + ">")
	return b.String()
}

// runScenario plays the MUC scenario: creation of a locked room and
// instant configuration, owner config get/set, a second join, a nick
// conflict, a presence update with Jitsi-style extensions, groupchat, an
// IQ through occupant JIDs, a kick, and destruction.
func runScenario(t *testing.T, addr string) *transcript {
	tr := newTranscript(t, addr)
	r := room("diff")
	tr.step("create", "alice", withLang(presence(r+"/Alice", mucX())))
	tr.step("instant", "alice", el(stanza.NSClient, "iq", "type", "set", "id", "inst1", "to", r).Add(
		el(muc.NSOwner, "query").Add(el(muc.NSDataForms, "x", "type", "submit"))))
	tr.step("config-get", "alice", el(stanza.NSClient, "iq", "type", "get", "id", "cfg1", "to", r).Add(el(muc.NSOwner, "query")))
	form := el(muc.NSDataForms, "x", "type", "submit").Add(
		el(muc.NSDataForms, "field", "var", "FORM_TYPE").Add(el(muc.NSDataForms, "value").AddText(muc.NSRoomConfig)),
		el(muc.NSDataForms, "field", "var", "muc#roomconfig_roomname").Add(el(muc.NSDataForms, "value").AddText("Diff room")),
		el(muc.NSDataForms, "field", "var", "muc#roomconfig_whois").Add(el(muc.NSDataForms, "value").AddText("moderators")),
		el(muc.NSDataForms, "field", "var", "muc#roomconfig_roomsecret").Add(el(muc.NSDataForms, "value").AddText("")),
	)
	tr.step("config-set", "alice", el(stanza.NSClient, "iq", "type", "set", "id", "cfg2", "to", r).Add(el(muc.NSOwner, "query").Add(form)))
	tr.step("config-get-2", "alice", el(stanza.NSClient, "iq", "type", "get", "id", "cfg3", "to", r).Add(el(muc.NSOwner, "query")))
	jitsi := []*stanza.Element{
		el("http://jabber.org/protocol/caps", "c", "hash", "sha-1", "node", "https://jitsi.org/jitsi-meet", "ver", "abc="),
		el("", "stats-id").AddText("Wilma-xyz"),
		el("http://jitsi.org/jitmeet/audio", "audiomuted").AddText("true"),
		el("http://jabber.org/protocol/nick", "nick").AddText("Bob B"),
	}
	tr.step("join-bob", "bob", presence(r+"/Bob", append([]*stanza.Element{mucX()}, jitsi...)...))
	tr.step("nick-conflict", "carol", presence(r+"/Bob", mucX()))
	tr.step("presence-update", "bob", presence(r+"/Bob", el("http://jitsi.org/jitmeet/audio", "audiomuted").AddText("false")))
	tr.step("groupchat", "alice", el(stanza.NSClient, "message", "type", "groupchat", "to", r, "id", "m1").Add(el(stanza.NSClient, "body").AddText("hello")))
	tr.step("private-message", "bob", el(stanza.NSClient, "message", "type", "chat", "to", r+"/Alice", "id", "pm1").Add(el(stanza.NSClient, "body").AddText("psst")))
	tr.step("nick-change", "bob", presence(r+"/Bobby", el("http://jitsi.org/jitmeet/audio", "audiomuted").AddText("false")))
	admin := func(id string, item *stanza.Element) *stanza.Element {
		return el(stanza.NSClient, "iq", "type", "set", "id", id, "to", r).Add(el(muc.NSAdmin, "query").Add(item))
	}
	tr.step("grant-member", "alice", admin("aff1", el(muc.NSAdmin, "item", "jid", "carol@localhost", "affiliation", "member")))
	tr.step("member-list", "alice", el(stanza.NSClient, "iq", "type", "get", "id", "list1", "to", r).Add(
		el(muc.NSAdmin, "query").Add(el(muc.NSAdmin, "item", "affiliation", "member"))))
	tr.step("member-list-denied", "bob", el(stanza.NSClient, "iq", "type", "get", "id", "list2", "to", r).Add(
		el(muc.NSAdmin, "query").Add(el(muc.NSAdmin, "item", "affiliation", "member"))))
	tr.step("ban-carol", "alice", admin("ban1", el(muc.NSAdmin, "item", "jid", "carol@localhost", "affiliation", "outcast").Add(el(muc.NSAdmin, "reason").AddText("spam"))))
	tr.step("banned-join", "carol", presence(r+"/Carol", mucX()))
	tr.step("unban-carol", "alice", admin("ban2", el(muc.NSAdmin, "item", "jid", "carol@localhost", "affiliation", "none")))
	secret := el(muc.NSDataForms, "x", "type", "submit").Add(
		el(muc.NSDataForms, "field", "var", "FORM_TYPE").Add(el(muc.NSDataForms, "value").AddText(muc.NSRoomConfig)),
		el(muc.NSDataForms, "field", "var", "muc#roomconfig_roomsecret").Add(el(muc.NSDataForms, "value").AddText("s3cret")),
	)
	tr.step("set-password", "alice", el(stanza.NSClient, "iq", "type", "set", "id", "cfg4", "to", r).Add(el(muc.NSOwner, "query").Add(secret)))
	tr.step("no-password", "carol", presence(r+"/Carol", mucX()))
	tr.step("wrong-password", "carol", presence(r+"/Carol", mucX(el(muc.NS, "password").AddText("nope"))))
	tr.step("right-password", "carol", presence(r+"/Carol", mucX(el(muc.NS, "password").AddText("s3cret"), el(muc.NS, "history", "maxstanzas", "5"))))
	tr.step("not-owner-config", "carol", el(stanza.NSClient, "iq", "type", "get", "id", "cfg5", "to", r).Add(el(muc.NSOwner, "query")))
	tr.step("kick-denied", "carol", admin("kick0", el(muc.NSAdmin, "item", "nick", "Alice", "role", "none")))
	tr.step("carol-leaves", "carol", el(stanza.NSClient, "presence", "type", "unavailable", "to", r+"/Carol").Add(el(stanza.NSClient, "status").AddText("gone fishing")))
	tr.step("pm-not-in-room", "carol", el(stanza.NSClient, "message", "type", "chat", "to", r+"/Alice", "id", "pm2").Add(el(stanza.NSClient, "body").AddText("hi")))
	tr.step("iq-to-occupant", "alice", el(stanza.NSClient, "iq", "type", "get", "id", "pv1", "to", r+"/Bobby").Add(el("jabber:iq:version", "query")))
	routed := bobsLastIQ(t, tr)
	tr.step("iq-reply", "bob", el(stanza.NSClient, "iq", "type", "result", "id", routed.Get("id"), "to", routed.Get("from")).Add(
		el("jabber:iq:version", "query").Add(el("jabber:iq:version", "name").AddText("bobclient"))))
	tr.step("kick", "alice", el(stanza.NSClient, "iq", "type", "set", "id", "kick1", "to", r).Add(
		el(muc.NSAdmin, "query").Add(el(muc.NSAdmin, "item", "nick", "Bobby", "role", "none").Add(el(muc.NSAdmin, "reason").AddText("bye")))))
	tr.step("destroy", "alice", el(stanza.NSClient, "iq", "type", "set", "id", "destroy1", "to", r).Add(
		el(muc.NSOwner, "query").Add(el(muc.NSOwner, "destroy", "jid", room("elsewhere")).Add(el(muc.NSOwner, "reason").AddText("done")))))
	tr.step("after-destroy", "carol", el(stanza.NSClient, "message", "type", "groupchat", "to", r, "id", "m2").Add(el(stanza.NSClient, "body").AddText("anyone?")))
	return tr
}

// withLang sets xml:lang='en' as Prosody's c2s would (the room takes its
// language from the creating presence).
func withLang(e *stanza.Element) *stanza.Element {
	e.Attr = append(e.Attr, xml.Attr{Name: xml.Name{Space: stanza.NSXML, Local: "lang"}, Value: "en"})
	return e
}

// bobsLastIQ finds the IQ get routed to bob in the last step.
func bobsLastIQ(t *testing.T, tr *transcript) *stanza.Element {
	t.Helper()
	key := tr.steps[len(tr.steps)-1] + "/bob"
	for _, e := range tr.raw[key] {
		if e.Name.Local == "iq" {
			return e
		}
	}
	t.Fatalf("bob got no routed IQ: %v", tr.got[key])
	return nil
}

// runRestricted plays room creation under restrict_room_creation: a
// non-admin is refused with Prosody's exact text; the admin (only listed
// in the component) creates the room and owns it.
func runRestricted(t *testing.T, addr string) *transcript {
	tr := newTranscript(t, addr)
	r := room("jitsi")
	tr.step("bob-create", "bob", withLang(presence(r+"/bob", mucX())))
	tr.step("admin-create", "alice", withLang(presence(r+"/focus", mucX())))
	tr.step("bob-join", "bob", presence(r+"/bob", mucX()))
	tr.step("owner-config", "alice", el(stanza.NSClient, "iq", "type", "get", "id", "cfg1", "to", r).Add(el(muc.NSOwner, "query")))
	tr.step("grant-owner", "alice", el(stanza.NSClient, "iq", "type", "set", "id", "own1", "to", r).Add(
		el(muc.NSAdmin, "query").Add(el(muc.NSAdmin, "item", "jid", "bob@localhost", "affiliation", "owner"))))
	tr.step("bob-demotes-admin", "bob", el(stanza.NSClient, "iq", "type", "set", "id", "own2", "to", r).Add(
		el(muc.NSAdmin, "query").Add(el(muc.NSAdmin, "item", "jid", "alice@localhost", "affiliation", "member"))))
	tr.step("bob-kicks-owner", "bob", el(stanza.NSClient, "iq", "type", "set", "id", "kick1", "to", r).Add(
		el(muc.NSAdmin, "query").Add(el(muc.NSAdmin, "item", "nick", "focus", "role", "participant"))))
	tr.step("last-leaves", "alice", el(stanza.NSClient, "presence", "type", "unavailable", "to", r+"/focus"))
	tr.step("bob-leaves", "bob", el(stanza.NSClient, "presence", "type", "unavailable", "to", r+"/bob"))
	tr.step("gone", "carol", el(stanza.NSClient, "iq", "type", "get", "id", "disco1", "to", r).Add(el(muc.NSDiscoInfo, "query")))
	return tr
}

// runNickPrep plays joins with nicks that Prosody's resourceprep and
// parley's preparation both turn into another form (SECURITY-CASES 135):
// compatibility characters conflict with their ASCII forms and occupants
// are addressed in the prepared form. (Spaces differ on purpose: parley
// trims and collapses them as RFC 8266 asks, and adds status 210.)
func runNickPrep(t *testing.T, addr string) *transcript {
	tr := newTranscript(t, addr)
	tr.no210 = true
	r := room("nicks")
	tr.step("create", "alice", withLang(presence(r+"/Alice", mucX())))
	tr.step("fullwidth-conflict", "bob", presence(r+"/Ａlice", mucX()))
	tr.step("ligature-join", "carol", presence(r+"/ﬁsh", mucX()))
	tr.step("expansion-conflict", "bob", presence(r+"/fish", mucX()))
	tr.step("nfd-join", "bob", presence(r+"/Zoe\u0308", mucX()))
	tr.step("pm-fullwidth", "alice", el(stanza.NSClient, "message", "type", "chat", "id", "pmf", "to", r+"/ｆish").Add(el(stanza.NSClient, "body").AddText("hi")))
	return tr
}

const restrictedComponentCfg = `
    admins = { "alice@localhost" }
    restrict_room_creation = true
    component_admins_as_room_owners = true
    muc_room_locking = false
    muc_room_default_public_jids = true
`

func compareTranscripts(t *testing.T, want, got *transcript) {
	t.Helper()
	for _, st := range want.steps {
		for _, u := range diffUsers {
			key := st + "/" + u
			w, g := slices.Clone(want.got[key]), slices.Clone(got.got[key])
			sort.Strings(w)
			sort.Strings(g)
			if !slices.Equal(w, g) {
				t.Errorf("%s: parley and Prosody differ\nprosody:\n  %s\nparley:\n  %s", key, strings.Join(w, "\n  "), strings.Join(g, "\n  "))
			}
		}
	}
}

func TestDifferentialProsody(t *testing.T) {
	tests := []struct {
		name     string
		cfg      string
		scenario func(*testing.T, string) *transcript
	}{
		{name: "default room lifecycle", cfg: diffComponentCfg, scenario: runScenario},
		{name: "restricted creation (SECURITY-CASES 121, 122)", cfg: restrictedComponentCfg, scenario: runRestricted},
		{name: "nick preparation (SECURITY-CASES 135)", cfg: diffComponentCfg + "    muc_room_locking = false\n", scenario: runNickPrep},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.scenario(t, startProsody(t, tc.cfg))
			got := tc.scenario(t, startParley(t, tc.cfg))
			compareTranscripts(t, want, got)
		})
	}
}
