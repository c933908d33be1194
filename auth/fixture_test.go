package auth_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/auth"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/prosodytest"
)

// TestProsodyFixtureAccounts logs in to accounts created by prosodyctl (see
// testdata/prosody-data/README.md).
func TestProsodyFixtureAccounts(t *testing.T) {
	type try struct {
		mech     string
		password string
		wantCond string
	}
	tests := []struct {
		name  string
		host  string
		user  string
		plain bool // internal_plain host
		tries []try
	}{
		{name: "SHA-1 account: SCRAM-SHA-1 and PLAIN, SHA-256 after upgrade", host: "localhost", user: "alice", tries: []try{
			{mech: auth.MechSCRAMSHA1, password: "alicepass"},
			{mech: auth.MechSCRAMSHA1, password: "bobpass", wantCond: auth.CondNotAuthorized},
			// No SHA-256 keys yet: fails like a wrong password.
			{mech: auth.MechSCRAMSHA256, password: "alicepass", wantCond: auth.CondNotAuthorized},
			{mech: auth.MechPLAIN, password: "wrong", wantCond: auth.CondNotAuthorized},
			{mech: auth.MechPLAIN, password: "alicepass"},
			{mech: auth.MechSCRAMSHA256, password: "alicepass"},
			{mech: auth.MechSCRAMSHA256, password: "wrong", wantCond: auth.CondNotAuthorized},
			{mech: auth.MechSCRAMSHA1, password: "alicepass"},
		}},
		{name: "escaped user name", host: "localhost", user: "d.o-t", tries: []try{
			{mech: auth.MechSCRAMSHA1, password: "dotpass"},
			{mech: auth.MechPLAIN, password: "dotpass"},
		}},
		{name: "SHA-256 account (password_hash = SHA-256)", host: "sha256.localhost", user: "dave", tries: []try{
			{mech: auth.MechSCRAMSHA256, password: "davepass"},
			{mech: auth.MechSCRAMSHA1, password: "davepass", wantCond: auth.CondNotAuthorized},
			{mech: auth.MechPLAIN, password: "davepass"},
			{mech: auth.MechSCRAMSHA1, password: "davepass"},
		}},
		{name: "internal_plain account", host: "plain.localhost", user: "carol", plain: true, tries: []try{
			{mech: auth.MechSCRAMSHA256, password: "carolpass"},
			{mech: auth.MechSCRAMSHA1, password: "carolpass"},
			{mech: auth.MechPLAIN, password: "carolpass"},
			{mech: auth.MechSCRAMSHA1, password: "alicepass", wantCond: auth.CondNotAuthorized},
			{mech: auth.MechPLAIN, password: "alicepass", wantCond: auth.CondNotAuthorized},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s := storage.NewFileStore(copyFixture(t))
			before, err := s.Get(ctx, tc.host, auth.AccountsStore, tc.user)
			if err != nil || before == nil {
				t.Fatalf("fixture account: %v, %v", before, err)
			}
			var p auth.Provider = auth.NewInternalHashed(s, tc.host, auth.HashedOptions{})
			if tc.plain {
				p = auth.NewInternalPlain(s, tc.host, auth.PlainOptions{})
			}
			req := &auth.Request{Host: tc.host, Secure: true}
			for i, tr := range tc.tries {
				got, err := login(t, p, req, tr.mech, tc.user, tr.password, "")
				if tr.wantCond != "" {
					if err == nil {
						t.Fatalf("try %d (%s, %q) succeeded", i, tr.mech, tr.password)
					}
					wantCondition(t, err, tr.wantCond)
					continue
				}
				if err != nil || got != tc.user {
					t.Fatalf("try %d (%s): %q, %v", i, tr.mech, got, err)
				}
			}
			// The fields Prosody uses are untouched by our upgrades.
			after, err := s.Get(ctx, tc.host, auth.AccountsStore, tc.user)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range before {
				if !reflect.DeepEqual(after[k], v) {
					t.Errorf("field %v changed from %v to %v", k, v, after[k])
				}
			}
		})
	}
}

// TestFixtureLegacyPlaintextInHashedStore: an account with a plaintext
// password on an internal_hashed host (the carol file, copied) is converted
// to keys on first login, as Prosody does.
func TestFixtureLegacyPlaintextInHashedStore(t *testing.T) {
	for _, mech := range []string{auth.MechSCRAMSHA1, auth.MechSCRAMSHA256, auth.MechPLAIN} {
		t.Run(mech, func(t *testing.T) {
			ctx := context.Background()
			s := storage.NewFileStore(copyFixture(t))
			carol, err := s.Get(ctx, "plain.localhost", auth.AccountsStore, "carol")
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Set(ctx, "localhost", auth.AccountsStore, "carol", carol); err != nil {
				t.Fatal(err)
			}
			p := auth.NewInternalHashed(s, "localhost", auth.HashedOptions{})
			if _, err := login(t, p, secure, mech, "carol", "wrong", ""); err == nil {
				t.Fatal("wrong password accepted")
			}
			if u, err := login(t, p, secure, mech, "carol", "carolpass", ""); err != nil || u != "carol" {
				t.Fatalf("login: %q, %v", u, err)
			}
			acc, _ := s.Get(ctx, "localhost", auth.AccountsStore, "carol")
			if _, has := acc["password"]; has {
				t.Fatalf("plaintext password kept: %v", acc)
			}
			if k, _ := acc.String("stored_key"); len(k) != 40 {
				t.Fatalf("no SHA-1 keys after conversion: %v", acc)
			}
			for _, m := range []string{auth.MechSCRAMSHA1, auth.MechSCRAMSHA256, auth.MechPLAIN} {
				if _, err := login(t, p, secure, m, "carol", "carolpass", ""); err != nil {
					t.Fatalf("%s after conversion: %v", m, err)
				}
			}
		})
	}
}

// verifyScript checks a password the way Prosody's auth modules do:
// internal_hashed recomputes stored_key and server_key with util.sasl.scram's
// hasher from the stored salt and iteration count (for the main keys and, if
// present, our SHA-256 ones); internal_plain compares the password field.
// Arguments: data_path host user password. Prints one word per check.
const verifyScript = `
local dm = preq("util.datamanager")
local scram = preq("util.sasl.scram")
local hashes = preq("util.hashes")
local hex = preq("util.hex")
local to_hex = hex.to or hex.encode
dm.set_data_path(arg[1])
local acc = assert(dm.load(arg[3], arg[2], "accounts"), "account not found")
local password = arg[4]
local hashers = {
	[40] = scram.get_hash(hashes.sha1, hashes.hmac_sha1, hashes.pbkdf2_hmac_sha1),
	[64] = scram.get_hash(hashes.sha256, hashes.hmac_sha256, hashes.pbkdf2_hmac_sha256),
}
local function check(stored, server)
	local ok, s, k = hashers[#stored](password, acc.salt, acc.iteration_count)
	return ok and to_hex(s) == stored and to_hex(k) == server
end
if acc.password then
	print(acc.password == password and "plain-ok" or "plain-bad")
end
if acc.stored_key then
	print(check(acc.stored_key, acc.server_key) and "main-ok" or "main-bad")
end
if acc.stored_key_sha256 then
	print(check(acc.stored_key_sha256, acc.server_key_sha256) and "sha256-ok" or "sha256-bad")
end
if acc.stored_key_sha1 then
	print(check(acc.stored_key_sha1, acc.server_key_sha1) and "sha1-ok" or "sha1-bad")
end
`

// TestProsodyVerifiesOurAccounts creates accounts with our providers and has
// Prosody's own code check the password against them.
func TestProsodyVerifiesOurAccounts(t *testing.T) {
	pr := prosodytest.Find(t)
	t.Logf("Prosody %s", pr.Version)
	const password = "s3cret Pässwörd"
	tests := []struct {
		name string
		make func(s storage.Store) auth.Accounts
		want string
	}{
		{name: "hashed SHA-1", make: func(s storage.Store) auth.Accounts {
			return auth.NewInternalHashed(s, "meet.example", auth.HashedOptions{})
		}, want: "main-ok sha256-ok"},
		{name: "hashed SHA-256", make: func(s storage.Store) auth.Accounts {
			return auth.NewInternalHashed(s, "meet.example", auth.HashedOptions{PasswordHash: auth.SHA256})
		}, want: "main-ok sha1-ok"},
		{name: "plain", make: func(s storage.Store) auth.Accounts {
			return auth.NewInternalPlain(s, "meet.example", auth.PlainOptions{})
		}, want: "plain-ok"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if err := tc.make(storage.NewFileStore(root)).SetPassword(context.Background(), "Focus.User", password); err != nil {
				t.Fatal(err)
			}
			out := pr.Run(t, verifyScript, root, "meet.example", "focus.user", password)
			if got := joinFields(out); got != tc.want {
				t.Fatalf("Prosody says %q, want %q", got, tc.want)
			}
			// And a wrong password is rejected by the same check, so the
			// script can fail.
			wrong := pr.Run(t, verifyScript, root, "meet.example", "focus.user", password+"x")
			if got := joinFields(wrong); got == tc.want {
				t.Fatalf("Prosody accepted a wrong password: %q", got)
			}
		})
	}
}

func joinFields(s string) string { return strings.Join(strings.Fields(s), " ") }
