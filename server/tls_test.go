package server_test

import (
	"os"
	"path/filepath"
	"testing"

	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/server/servertest"
)

// TestCertificatesFromConfig: certificates are found the way Prosody finds
// them, through a host's ssl table and through the certificates directory.
func TestCertificatesFromConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	certA, keyA, clientA, err := servertest.SelfSignedPEM("a.example")
	if err != nil {
		t.Fatal(err)
	}
	certB, keyB, clientB, err := servertest.SelfSignedPEM("b.example")
	if err != nil {
		t.Fatal(err)
	}
	write("custom/a.pem", certA)
	write("custom/a.key", keyA)
	write("certs/b.example.crt", certB)
	write("certs/b.example.key", keyB)
	srv := servertest.Start(t, `
certificates = "`+filepath.Join(dir, "certs")+`"
VirtualHost "a.example"
    ssl = { certificate = "`+filepath.Join(dir, "custom/a.pem")+`", key = "`+filepath.Join(dir, "custom/a.key")+`" }
VirtualHost "b.example"
`)
	srv.CreateUser("alice", "a.example", "secret")
	srv.CreateUser("bob", "b.example", "secret")
	for _, tc := range []struct {
		name, addr string
		client     *servertest.Server
	}{
		{"ssl table", "alice@a.example", &servertest.Server{Server: srv.Server, C2SAddr: srv.C2SAddr, ClientTLS: clientA}},
		{"certificates directory", "bob@b.example", &servertest.Server{Server: srv.Server, C2SAddr: srv.C2SAddr, ClientTLS: clientB}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.client.Connect(t, tc.addr, "secret", servertest.ClientOptions{StartTLS: true, Mechanisms: []sasl.Mechanism{sasl.ScramSha256}})
			if c.JID.Bare().String() != tc.addr {
				t.Fatalf("bound %s", c.JID)
			}
		})
	}
}
