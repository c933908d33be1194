package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// parseConfig parses a test config the way servertest.Start does.
func parseConfig(t testing.TB, name, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse(name, []byte(servertest.Defaults+text), config.WithEnv(func(string) (string, bool) { return "", false }))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// ackH sends <r/> and returns the h of the server's answer.
func ackH(t *testing.T, c *servertest.Raw) string {
	t.Helper()
	c.Write(`<r xmlns='urn:xmpp:sm:3'/>`)
	for {
		el := c.Next()
		if el.Name.Space == nsSM && el.Name.Local == "a" {
			return el.Get("h")
		}
	}
}

// SECURITY-CASES #164: a valid changed configuration takes effect on
// SIGHUP (Reload) while sessions stay connected and keep exchanging
// stanzas with stream management acknowledgements counting on.
func TestReloadKeepsSessions(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("alice", "example.com", "secret")
	srv.CreateUser("bob", "example.com", "secret")
	alice := srv.Connect(t, "alice@example.com", "secret", servertest.ClientOptions{})
	bob, bobJID, _ := smClient(t, srv, "phone")

	exchange := func(round int) {
		t.Helper()
		for i := 1; i <= 2; i++ {
			alice.Send(chat(bobJID, strconv.Itoa(round*10+i)))
		}
		for i, m := range messages(t, bob, 2) {
			if want := strconv.Itoa(round*10 + i + 1); m.Get("id") != want {
				t.Fatalf("round %d: bob got %s, want id %s", round, m, want)
			}
		}
		bob.Write(`<a xmlns='urn:xmpp:sm:3' h='` + strconv.Itoa(round*2) + `'/>`)
		bob.Write(`<message xmlns='jabber:client' type='chat' to='` + alice.JID.String() + `' id='b` + strconv.Itoa(round) + `'><body>back</body></message>`)
		got := alice.NextMatch(func(el *stanza.Element) bool { return el.Name.Local == "message" })
		if got.Get("id") != "b"+strconv.Itoa(round) {
			t.Fatalf("round %d: alice got %s", round, got)
		}
		if h := ackH(t, bob); h != strconv.Itoa(round) {
			t.Fatalf("round %d: server acknowledged h=%s of bob's stanzas, want %d", round, h, round)
		}
	}
	exchange(1)

	tighter := parseConfig(t, "reloaded.cfg.lua", "parley_max_connections_per_ip = 1\nparley_connection_limit_exempt = {}\n"+twoHosts)
	if err := srv.Reload(t.Context(), tighter); err != nil {
		t.Fatalf("reload: %v", err)
	}
	exchange(2)

	// The new limit applies to new connections: one more from loopback is
	// allowed (the old ones were exempt when they came), a second is not.
	first := servertest.DialRaw(t, srv.C2SAddr)
	first.Open("example.com")
	second := servertest.DialRaw(t, srv.C2SAddr)
	second.Write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>`)
	second.ReadHeader()
	second.ExpectStreamError("policy-violation")

	exchange(3)
	t.Logf("SECURITY-CASES #164 figures: 1 SM session kept across Reload; 6 stanzas to it and 3 from it, all delivered and acknowledged; lost 0")
}

// SECURITY-CASES #165: a reload that cannot apply is reported with the
// place in the file, and the server keeps serving on the old settings.
func TestReloadRefused(t *testing.T) {
	base := "parley_max_connections_per_ip = 1\nparley_connection_limit_exempt = {}\n" + twoHosts
	// Lines count from the top of the file, after servertest.Defaults.
	tests := []struct {
		name string
		cfg  string
		want string
	}{
		{"bad limit value", "parley_max_connections_per_ip = \"lots\"\n" + twoHosts, "bad.cfg.lua:8: parley_max_connections_per_ip"},
		{"bad rate", "modules_enabled = { \"limits\" }\nlimits = { c2s = { rate = \"fast\" } }\n" + base, "bad.cfg.lua:9: limits.c2s"},
		{"new host cannot be built", base + "VirtualHost \"new.example\"\n    authentication = \"nosuch\"\n", "bad.cfg.lua:17: unknown authentication provider \"nosuch\""},
		{"new host bad password_hash", base + "VirtualHost \"new.example\"\n    password_hash = \"MD5\"\n", "bad.cfg.lua:17: password_hash"},
		{"external component added", base + "Component \"focus.example.com\"\n    component_secret = \"s\"\n", `bad.cfg.lua:16: Component "focus.example.com" was added; adding external components needs a restart`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := servertest.Start(t, base)
			srv.CreateUser("bob", "example.com", "secret")
			bob, _, _ := smClient(t, srv, "")
			err := srv.Reload(t.Context(), parseConfig(t, "bad.cfg.lua", tc.cfg))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("reload error %v, want it to contain %q", err, tc.want)
			}
			// Still serving, with the old limit of one connection: bob's,
			// and without the refused host.
			if h := ackH(t, bob); h != "0" {
				t.Fatalf("h = %s", h)
			}
			if srv.Host("new.example") != nil {
				t.Fatal("a refused reload activated a host")
			}
			c := servertest.DialRaw(t, srv.C2SAddr)
			c.Write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>`)
			c.ReadHeader()
			c.ExpectStreamError("policy-violation")
		})
	}
}

// reloadModule records the configurations Reload hands it.
type reloadModule struct {
	mu   sync.Mutex
	seen []string
}

func (m *reloadModule) Name() string                             { return "reload_probe" }
func (m *reloadModule) Load(context.Context, *server.Host) error { return nil }
func (m *reloadModule) Reload(_ context.Context, cfg *config.Config) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen = append(m.seen, cfg.String(nil, "probe_option", ""))
	return nil
}

// Modules that implement server.Reloader re-read their options.
func TestReloadModules(t *testing.T) {
	m := &reloadModule{}
	text := "modules_enabled = { \"reload_probe\" }\nprobe_option = %q\nVirtualHost \"example.com\"\nVirtualHost \"other.example\"\n"
	srv := servertest.Start(t, strings.ReplaceAll(text, "%q", `"one"`), servertest.WithServerOptions(server.WithModules(m)))
	if err := srv.Reload(t.Context(), parseConfig(t, "r.cfg.lua", strings.ReplaceAll(text, "%q", `"two"`))); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.seen) != 1 || m.seen[0] != "two" {
		t.Fatalf("module saw %q, want one reload with probe_option two", m.seen)
	}
}

// writeCert writes a fresh self-signed certificate for example.com to
// dir and returns its DER bytes.
func writeCert(t *testing.T, dir string) []byte {
	t.Helper()
	certPEM, keyPEM, _, err := servertest.SelfSignedPEM("example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "example.com.crt"), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "example.com.key"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(certPEM)
	return b.Bytes
}

// presented returns the certificate a new direct TLS connection is shown.
func presented(t *testing.T, addr string) ([]byte, *tls.Conn) {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "example.com", InsecureSkipVerify: true}) //nolint:gosec // the test compares the certificate itself
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c.ConnectionState().PeerCertificates[0].Raw, c
}

// A renewed certificate (the same files, new contents) is presented to
// connections made after Reload; connections made before keep working.
func TestReloadCertificates(t *testing.T) {
	dir := t.TempDir()
	before := writeCert(t, dir)
	text := "c2s_direct_tls_ports = { 0 }\ncertificates = \"" + dir + "\"\nVirtualHost \"example.com\"\n"
	srv := servertest.Start(t, text)
	if srv.DirectTLSAddr == "" {
		t.Fatal("no direct TLS listener: the certificate did not load")
	}
	got, old := presented(t, srv.DirectTLSAddr)
	if !bytes.Equal(got, before) {
		t.Fatal("the first connection was not shown the certificate on disk")
	}
	after := writeCert(t, dir)
	if err := srv.Reload(t.Context(), parseConfig(t, "certs.cfg.lua", text)); err != nil {
		t.Fatal(err)
	}
	got, _ = presented(t, srv.DirectTLSAddr)
	if !bytes.Equal(got, after) {
		t.Fatal("a connection made after Reload was shown the old certificate")
	}
	// The older connection still speaks XMPP.
	if _, err := old.Write([]byte(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>`)); err != nil {
		t.Fatal(err)
	}
	r := stanza.NewReader(old, stanza.Limits{MaxStanza: 1 << 16})
	if _, err := r.ReadHeader(); err != nil {
		t.Fatalf("old TLS connection after reload: %v", err)
	}

	// Broken certificate files: refused, and the renewed one stays.
	if err := os.WriteFile(filepath.Join(dir, "example.com.crt"), []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := srv.Reload(t.Context(), parseConfig(t, "certs.cfg.lua", text))
	if err == nil || !strings.Contains(err.Error(), "certificates unchanged") {
		t.Fatalf("reload with a broken certificate: %v", err)
	}
	got, _ = presented(t, srv.DirectTLSAddr)
	if !bytes.Equal(got, after) {
		t.Fatal("a failed reload replaced the certificate")
	}
}

// SECURITY-CASES #164: a reload that adds a VirtualHost activates it (new
// logins and routing work at once) and one that removes a VirtualHost
// closes its sessions with host-gone, as Prosody's host deactivation
// does; the sessions of the other hosts stay connected and keep
// exchanging stanzas.
func TestReloadHosts(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("alice", "example.com", "secret")
	srv.CreateUser("bob", "example.com", "secret")
	srv.CreateUser("carol", "other.example", "secret")
	alice := srv.Connect(t, "alice@example.com", "secret", servertest.ClientOptions{})
	bob, bobJID, _ := smClient(t, srv, "")
	carol := servertest.DialRaw(t, srv.C2SAddr)
	carol.Login("other.example", "carol", "secret", "")

	const next = `
allow_unencrypted_plain_auth = true
VirtualHost "example.com"
VirtualHost "anon.example"
    authentication = "anonymous"
VirtualHost "new.example"
`
	if err := srv.Reload(t.Context(), parseConfig(t, "hosts.cfg.lua", next)); err != nil {
		t.Fatalf("reload: %v", err)
	}
	carol.ExpectStreamError("host-gone")
	if srv.Host("other.example") != nil || srv.Host("new.example") == nil {
		t.Fatalf("hosts after reload: other.example %v, new.example %v", srv.Host("other.example"), srv.Host("new.example"))
	}

	// The new host accepts logins, and its users reach the old host's.
	srv.CreateUser("dave", "new.example", "secret")
	dave := servertest.DialRaw(t, srv.C2SAddr)
	daveJID := dave.Login("new.example", "dave", "secret", "")
	dave.Write(`<message xmlns='jabber:client' type='chat' to='` + bobJID + `' id='d1'><body>hi</body></message>`)
	if m := messages(t, bob, 1)[0]; m.Get("id") != "d1" || m.Get("from") != daveJID {
		t.Fatalf("bob got %s, want d1 from %s", m, daveJID)
	}

	// The removed host is unknown to new streams.
	late := servertest.DialRaw(t, srv.C2SAddr)
	late.Write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='other.example' version='1.0'>`)
	late.ReadHeader()
	late.ExpectStreamError("host-unknown")

	// The sessions of example.com were untouched.
	alice.Send(chat(bobJID, "a1"))
	if m := messages(t, bob, 1)[0]; m.Get("id") != "a1" {
		t.Fatalf("bob got %s, want a1", m)
	}
	if h := ackH(t, bob); h != "0" {
		t.Fatalf("bob's acknowledged count h=%s, want 0 (he sent nothing)", h)
	}
}

// A stream that is still negotiating with a host when a reload removes it
// cannot log in: the session ends with host-gone.
func TestReloadRemovedHostNoLogin(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("carol", "other.example", "secret")
	c := servertest.DialRaw(t, srv.C2SAddr)
	c.Open("other.example")
	if err := srv.Reload(t.Context(), parseConfig(t, "hosts.cfg.lua", "allow_unencrypted_plain_auth = true\nVirtualHost \"example.com\"\n")); err != nil {
		t.Fatalf("reload: %v", err)
	}
	c.Write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + base64.StdEncoding.EncodeToString([]byte("\x00carol\x00secret")) + `</auth>`)
	for {
		el, err := c.R.Next()
		if err != nil {
			t.Fatalf("the stream ended without a host-gone stream error: %v", err)
		}
		if el.Name.Local == "success" {
			t.Fatal("a login on a removed host succeeded")
		}
		if el.Name.Space == stanza.NSStream && el.Name.Local == "error" {
			if el.Child(stanza.NSStreams, "host-gone") == nil {
				t.Fatalf("stream error %s, want host-gone", el)
			}
			return
		}
	}
}

// Reloads that add and remove a VirtualHost race with logins, stream
// headers to the host coming and going, and routing (run with -race):
// the hosts of the other sessions never change under them.
func TestReloadConcurrentHosts(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	srv.CreateUser("bob", "example.com", "secret")
	bob, bobJID, _ := smClient(t, srv, "")
	with := parseConfig(t, "with.cfg.lua", twoHosts+"VirtualHost \"extra.example\"\n")
	without := parseConfig(t, "without.cfg.lua", twoHosts)
	const rounds = 20
	done := make(chan error, 1)
	go func() {
		for i := range rounds {
			cfg := with
			if i%2 == 1 {
				cfg = without
			}
			if err := srv.Reload(context.Background(), cfg); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := range rounds {
		c := servertest.DialRaw(t, srv.C2SAddr)
		c.Write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='extra.example' version='1.0'>`)
		c.ReadHeader()
		if el, err := c.R.Next(); err != nil || (el.Name.Local != "features" && el.Name.Local != "error") {
			t.Fatalf("stream to a host coming and going: %v, %v", el, err)
		}
		c.Conn.Close()
		a := servertest.DialRaw(t, srv.C2SAddr)
		a.Login("example.com", "bob", "secret", "r"+strconv.Itoa(i))
		a.Write(`<message xmlns='jabber:client' type='chat' to='` + bobJID + `' id='c` + strconv.Itoa(i) + `'><body>x</body></message>`)
		if m := messages(t, bob, 1)[0]; m.Get("id") != "c"+strconv.Itoa(i) {
			t.Fatalf("bob got %s", m)
		}
		a.Conn.Close()
	}
	if err := <-done; err != nil {
		t.Fatalf("reload: %v", err)
	}
	if got := len(srv.Hosts()); got != 3 {
		t.Fatalf("%d hosts after an even number of reloads, want 3", got)
	}
}

// BenchmarkReload measures a reload that changes nothing structural (what
// SIGHUP costs with three VirtualHosts).
func BenchmarkReload(b *testing.B) {
	srv := servertest.Start(b, twoHosts)
	cfg := parseConfig(b, "bench.cfg.lua", twoHosts)
	for b.Loop() {
		if err := srv.Reload(b.Context(), cfg); err != nil {
			b.Fatal(err)
		}
	}
}
