package server_test

import (
	"os"
	"path/filepath"
	"testing"

	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// copyTree copies the read-only fixture into a temporary data_path.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o750)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o640)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestProsodyDataDirectory: accounts and rosters written by Debian's
// prosodyctl (testdata/prosody-data) work in place.
func TestProsodyDataDirectory(t *testing.T) {
	data := copyTree(t, filepath.Join("..", "testdata", "prosody-data"))
	srv := servertest.Start(t, `
storage = "internal"
data_path = "`+data+`"
allow_unencrypted_plain_auth = true
VirtualHost "localhost"
VirtualHost "plain.localhost"
    authentication = "internal_plain"
VirtualHost "sha256.localhost"
    password_hash = "SHA-256"
`)
	tests := []struct {
		name, addr, password string
		mech                 sasl.Mechanism
	}{
		{"hashed SCRAM-SHA-1", "alice@localhost", "alicepass", sasl.ScramSha1},
		{"hashed PLAIN", "bob@localhost", "bobpass", sasl.Plain},
		{"escaped username", "d.o-t@localhost", "dotpass", sasl.ScramSha1},
		{"plain store SCRAM-SHA-256", "carol@plain.localhost", "carolpass", sasl.ScramSha256},
		{"plain store PLAIN", "carol@plain.localhost", "carolpass", sasl.Plain},
		{"SHA-256 keys", "dave@sha256.localhost", "davepass", sasl.ScramSha256},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv.Dial(t, tc.addr, tc.password, servertest.ClientOptions{Mechanisms: []sasl.Mechanism{tc.mech}})
		})
	}
	t.Run("roster written by Prosody", func(t *testing.T) {
		c := srv.Connect(t, "alice@localhost", "alicepass", servertest.ClientOptions{Mechanisms: []sasl.Mechanism{sasl.ScramSha1}})
		r := c.Request(iq("get", "", stanza.New("jabber:iq:roster", "query")))
		items := map[string]*stanza.Element{}
		for _, it := range r.Child("jabber:iq:roster", "query").Elements() {
			items[it.Get("jid")] = it
		}
		if b := items["bob@localhost"]; b == nil || b.Get("subscription") != "both" {
			t.Fatalf("roster lacks bob with subscription both: %s", r)
		}
		if d := items["dave@sha256.localhost"]; d == nil || d.Get("ask") != "subscribe" {
			t.Fatalf("roster lacks dave with ask=subscribe: %s", r)
		}
	})
}
