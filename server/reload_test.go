package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
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
		{"host added", base + "VirtualHost \"new.example\"\n", "bad.cfg.lua:16: VirtualHost \"new.example\" was added"},
		{"host removed", "parley_max_connections_per_ip = 1\nVirtualHost \"example.com\"\n", `VirtualHost "other.example" was removed`},
		{"component added", base + "Component \"conference.example.com\" \"muc\"\n", `bad.cfg.lua:16: Component "conference.example.com" was added`},
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
			// Still serving, with the old limit of one connection: bob's.
			if h := ackH(t, bob); h != "0" {
				t.Fatalf("h = %s", h)
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
