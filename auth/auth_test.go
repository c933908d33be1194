package auth_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/auth"
	"github.com/parley-xmpp/parley/server/storage"
)

// passwordProvider is a provider that also manages accounts.
type passwordProvider interface {
	auth.Provider
	auth.Accounts
}

// providerKinds builds each password provider over a fresh store.
var providerKinds = []struct {
	name string
	make func(s storage.Store, host string) passwordProvider
}{
	{"internal_hashed SHA-1", func(s storage.Store, host string) passwordProvider {
		return auth.NewInternalHashed(s, host, auth.HashedOptions{})
	}},
	{"internal_hashed SHA-256", func(s storage.Store, host string) passwordProvider {
		return auth.NewInternalHashed(s, host, auth.HashedOptions{PasswordHash: auth.SHA256})
	}},
	{"internal_plain", func(s storage.Store, host string) passwordProvider {
		return auth.NewInternalPlain(s, host, auth.PlainOptions{})
	}},
}

var passwordMechs = []string{auth.MechSCRAMSHA256, auth.MechSCRAMSHA1, auth.MechPLAIN}

// TestPasswordLoginMatrix logs in with mellium's client, every provider and
// mechanism (SECURITY-CASES #34: wrong password and unknown user give the
// same not-authorized).
func TestPasswordLoginMatrix(t *testing.T) {
	tests := []struct {
		name     string
		user     string
		password string
		authzid  string
		wantUser string
		wantCond string
	}{
		{name: "right password", user: "alice", password: "correct horse", wantUser: "alice"},
		{name: "user name case-folded", user: "ALICE", password: "correct horse", wantUser: "alice"},
		{name: "authzid is own bare JID", user: "alice", password: "correct horse", authzid: "alice@example.com", wantUser: "alice"},
		{name: "wrong password", user: "alice", password: "correct horsE", wantCond: auth.CondNotAuthorized},
		{name: "unknown user", user: "mallory", password: "correct horse", wantCond: auth.CondNotAuthorized},
		{name: "authzid of someone else", user: "alice", password: "correct horse", authzid: "bob@example.com", wantCond: auth.CondInvalidAuthzid},
	}
	for _, kind := range providerKinds {
		t.Run(kind.name, func(t *testing.T) {
			p := kind.make(storage.NewMemoryStore(), "example.com")
			if err := p.SetPassword(context.Background(), "alice", "correct horse"); err != nil {
				t.Fatal(err)
			}
			for _, mech := range passwordMechs {
				for _, tc := range tests {
					t.Run(mech+"/"+tc.name, func(t *testing.T) {
						got, err := login(t, p, &auth.Request{Host: "example.com", Secure: true}, mech, tc.user, tc.password, tc.authzid)
						if tc.wantCond != "" {
							wantCondition(t, err, tc.wantCond)
							return
						}
						if err != nil {
							t.Fatal(err)
						}
						if got != tc.wantUser {
							t.Fatalf("Username = %q, want %q", got, tc.wantUser)
						}
					})
				}
			}
		})
	}
}

func TestMechanismsAndStart(t *testing.T) {
	store := storage.NewMemoryStore()
	insecure := &auth.Request{Host: "example.com"}
	tests := []struct {
		name      string
		p         auth.Provider
		req       *auth.Request
		wantMechs []string
		start     string
		wantCond  string
	}{
		{name: "hashed over TLS offers PLAIN", p: auth.NewInternalHashed(store, "example.com", auth.HashedOptions{}), req: secure,
			wantMechs: []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}, start: "PLAIN"},
		{name: "hashed without TLS hides PLAIN (SECURITY-CASES #30)", p: auth.NewInternalHashed(store, "example.com", auth.HashedOptions{}), req: insecure,
			wantMechs: []string{"SCRAM-SHA-256", "SCRAM-SHA-1"}, start: "PLAIN", wantCond: auth.CondEncryptionRequired},
		{name: "insecure PLAIN allowed by option", p: auth.NewInternalHashed(store, "example.com", auth.HashedOptions{AllowInsecurePlain: true}), req: insecure,
			wantMechs: []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}, start: "PLAIN"},
		{name: "plain provider without TLS", p: auth.NewInternalPlain(store, "example.com", auth.PlainOptions{}), req: insecure,
			wantMechs: []string{"SCRAM-SHA-256", "SCRAM-SHA-1"}, start: "PLAIN", wantCond: auth.CondEncryptionRequired},
		{name: "SCRAM without TLS", p: auth.NewInternalPlain(store, "example.com", auth.PlainOptions{}), req: insecure,
			wantMechs: []string{"SCRAM-SHA-256", "SCRAM-SHA-1"}, start: "SCRAM-SHA-1"},
		{name: "unknown mechanism (SECURITY-CASES #32)", p: auth.NewInternalHashed(store, "example.com", auth.HashedOptions{}), req: secure,
			wantMechs: []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}, start: "DIGEST-MD5", wantCond: auth.CondInvalidMechanism},
		{name: "PLUS variant not offered", p: auth.NewInternalHashed(store, "example.com", auth.HashedOptions{}), req: secure,
			wantMechs: []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}, start: "SCRAM-SHA-1-PLUS", wantCond: auth.CondInvalidMechanism},
		{name: "mechanism names are case-sensitive", p: auth.NewInternalHashed(store, "example.com", auth.HashedOptions{}), req: secure,
			wantMechs: []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}, start: "plain", wantCond: auth.CondInvalidMechanism},
		{name: "anonymous", p: auth.NewAnonymous("example.com", auth.AnonymousOptions{}), req: insecure,
			wantMechs: []string{"ANONYMOUS"}, start: "ANONYMOUS"},
		{name: "anonymous refuses PLAIN", p: auth.NewAnonymous("example.com", auth.AnonymousOptions{}), req: secure,
			wantMechs: []string{"ANONYMOUS"}, start: "PLAIN", wantCond: auth.CondInvalidMechanism},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Mechanisms(tc.req); !reflect.DeepEqual(got, tc.wantMechs) {
				t.Errorf("Mechanisms = %q, want %q", got, tc.wantMechs)
			}
			x, err := tc.p.Start(tc.start, tc.req)
			if tc.wantCond != "" {
				if x != nil {
					t.Errorf("Start returned an exchange with an error")
				}
				wantCondition(t, err, tc.wantCond)
				return
			}
			if err != nil || x == nil {
				t.Fatalf("Start(%q) = %v, %v", tc.start, x, err)
			}
		})
	}
	if got := []string{
		auth.NewInternalHashed(store, "h", auth.HashedOptions{}).Name(),
		auth.NewInternalPlain(store, "h", auth.PlainOptions{}).Name(),
		auth.NewAnonymous("h", auth.AnonymousOptions{}).Name(),
	}; !reflect.DeepEqual(got, []string{"internal_hashed", "internal_plain", "anonymous"}) {
		t.Errorf("Names = %q", got)
	}
}

// step is one client message and the expected outcome.
type step struct {
	in       []byte
	wantCond string // "" = expect a challenge
}

// TestMalformedInput sends bad messages straight to the exchanges
// (SECURITY-CASES #33, #35, #36).
func TestMalformedInput(t *testing.T) {
	b := func(s string) []byte { return []byte(s) }
	tests := []struct {
		name  string
		mech  string
		steps []step
	}{
		{name: "PLAIN one NUL", mech: "PLAIN", steps: []step{{b("alice\x00correct horse"), auth.CondMalformedRequest}}},
		{name: "PLAIN no NUL", mech: "PLAIN", steps: []step{{b("alice"), auth.CondMalformedRequest}}},
		{name: "PLAIN three NULs", mech: "PLAIN", steps: []step{{b("\x00alice\x00correct horse\x00x"), auth.CondMalformedRequest}}},
		{name: "PLAIN empty user", mech: "PLAIN", steps: []step{{b("\x00\x00correct horse"), auth.CondMalformedRequest}}},
		{name: "PLAIN empty password", mech: "PLAIN", steps: []step{{b("\x00alice\x00"), auth.CondMalformedRequest}}},
		{name: "PLAIN empty message", mech: "PLAIN", steps: []step{{[]byte{}, auth.CondMalformedRequest}}},
		{name: "PLAIN invalid UTF-8", mech: "PLAIN", steps: []step{{b("\x00alice\x00\xff\xfe"), auth.CondMalformedRequest}}},
		{name: "PLAIN user not a localpart", mech: "PLAIN", steps: []step{{b("\x00al ice@x\x00correct horse"), auth.CondMalformedRequest}}},
		{name: "PLAIN password with control character", mech: "PLAIN", steps: []step{{b("\x00alice\x00correct\x01horse"), auth.CondMalformedRequest}}},
		{name: "PLAIN authzid with resource", mech: "PLAIN", steps: []step{{b("alice@localhost/r\x00alice\x00correct horse"), auth.CondInvalidAuthzid}}},
		{name: "PLAIN authzid not a JID", mech: "PLAIN", steps: []step{{b("@@\x00alice\x00correct horse"), auth.CondInvalidAuthzid}}},
		{name: "PLAIN too long", mech: "PLAIN", steps: []step{{b("\x00alice\x00" + strings.Repeat("x", auth.MaxMessageSize)), auth.CondMalformedRequest}}},
		{name: "PLAIN no initial response twice", mech: "PLAIN", steps: []step{{nil, ""}, {nil, auth.CondMalformedRequest}}},
		{name: "SCRAM channel binding requested", mech: "SCRAM-SHA-1", steps: []step{{b("p=tls-unique,,n=alice,r=abc"), auth.CondMalformedRequest}}},
		{name: "SCRAM mandatory extension", mech: "SCRAM-SHA-1", steps: []step{{b("n,,m=x,n=alice,r=abc"), auth.CondMalformedRequest}}},
		{name: "SCRAM bad saslname escape", mech: "SCRAM-SHA-1", steps: []step{{b("n,,n=al=2Xice,r=abc"), auth.CondMalformedRequest}}},
		{name: "SCRAM empty username", mech: "SCRAM-SHA-256", steps: []step{{b("n,,n=,r=abc"), auth.CondMalformedRequest}}},
		{name: "SCRAM username with @", mech: "SCRAM-SHA-256", steps: []step{{b("n,,n=alice@evil,r=abc"), auth.CondMalformedRequest}}},
		{name: "SCRAM authzid of someone else", mech: "SCRAM-SHA-256", steps: []step{{b("n,a=bob@localhost,n=alice,r=abc"), auth.CondInvalidAuthzid}}},
		{name: "SCRAM garbage", mech: "SCRAM-SHA-1", steps: []step{{b("\x00\x01\x02"), auth.CondMalformedRequest}}},
		{name: "SCRAM too long", mech: "SCRAM-SHA-1", steps: []step{{b("n,,n=alice,r=" + strings.Repeat("x", auth.MaxMessageSize)), auth.CondMalformedRequest}}},
		{name: "SCRAM final without proof", mech: "SCRAM-SHA-1", steps: []step{{b("n,,n=alice,r=abc"), ""}, {b("c=biws,r=abc"), auth.CondMalformedRequest}}},
		{name: "SCRAM final wrong nonce", mech: "SCRAM-SHA-1", steps: []step{{b("n,,n=alice,r=abc"), ""}, {b("c=biws,r=abc,p=AAAAAAAAAAAAAAAAAAAAAAAAAAA="), auth.CondMalformedRequest}}},
		{name: "SCRAM final empty", mech: "SCRAM-SHA-1", steps: []step{{b("n,,n=alice,r=abc"), ""}, {[]byte{}, auth.CondMalformedRequest}}},
		{name: "SCRAM final nil", mech: "SCRAM-SHA-1", steps: []step{{b("n,,n=alice,r=abc"), ""}, {nil, auth.CondMalformedRequest}}},
		{name: "SCRAM no initial response twice", mech: "SCRAM-SHA-1", steps: []step{{nil, ""}, {nil, auth.CondMalformedRequest}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := auth.NewInternalHashed(storage.NewMemoryStore(), "localhost", auth.HashedOptions{})
			if err := p.SetPassword(context.Background(), "alice", "correct horse"); err != nil {
				t.Fatal(err)
			}
			x, err := p.Start(tc.mech, secure)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				_, done, err := x.Step(context.Background(), s.in)
				if done {
					t.Fatalf("step %d: exchange succeeded", i)
				}
				if s.wantCond == "" {
					if err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					continue
				}
				wantCondition(t, err, s.wantCond)
			}
		})
	}
}

// TestSCRAMFinalChecks builds client-final messages by hand after a real
// server-first (SECURITY-CASES #35, #36).
func TestSCRAMFinalChecks(t *testing.T) {
	tests := []struct {
		name     string
		gs2      string
		final    func(nonce string) string
		wantCond string
	}{
		{name: "channel binding of another header", gs2: "n,,",
			final: func(n string) string { return "c=eSws,r=" + n + ",p=" + zeroProof }, wantCond: auth.CondMalformedRequest},
		{name: "channel binding not base64", gs2: "n,,",
			final: func(n string) string { return "c=b!ws,r=" + n + ",p=" + zeroProof }, wantCond: auth.CondMalformedRequest},
		{name: "proof not base64", gs2: "n,,",
			final: func(n string) string { return "c=biws,r=" + n + ",p=***" }, wantCond: auth.CondMalformedRequest},
		{name: "proof of the wrong length", gs2: "n,,",
			final: func(n string) string { return "c=biws,r=" + n + ",p=AAAA" }, wantCond: auth.CondMalformedRequest},
		{name: "nonce without server part", gs2: "n,,",
			final: func(string) string { return "c=biws,r=abc,p=" + zeroProof }, wantCond: auth.CondMalformedRequest},
		{name: "right shape, wrong proof", gs2: "n,,",
			final: func(n string) string { return "c=biws,r=" + n + ",p=" + zeroProof }, wantCond: auth.CondNotAuthorized},
		{name: "y flag, matching binding, wrong proof", gs2: "y,,",
			final: func(n string) string { return "c=eSws,r=" + n + ",p=" + zeroProof }, wantCond: auth.CondNotAuthorized},
		{name: "authzid kept in binding", gs2: "n,a=alice@localhost,",
			final: func(n string) string {
				return "c=" + base64.StdEncoding.EncodeToString([]byte("n,a=alice@localhost,")) + ",r=" + n + ",p=" + zeroProof
			}, wantCond: auth.CondNotAuthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := auth.NewInternalHashed(storage.NewMemoryStore(), "localhost", auth.HashedOptions{})
			if err := p.SetPassword(context.Background(), "alice", "correct horse"); err != nil {
				t.Fatal(err)
			}
			x, err := p.Start(auth.MechSCRAMSHA1, secure)
			if err != nil {
				t.Fatal(err)
			}
			out, _, err := x.Step(context.Background(), []byte(tc.gs2+"n=alice,r=abc"))
			if err != nil {
				t.Fatal(err)
			}
			nonce := strings.TrimPrefix(strings.Split(string(out), ",")[0], "r=")
			if !strings.HasPrefix(nonce, "abc") || len(nonce) < len("abc")+16 {
				t.Fatalf("server nonce %q does not extend the client's with enough randomness", nonce)
			}
			_, done, err := x.Step(context.Background(), []byte(tc.final(nonce)))
			if done {
				t.Fatal("exchange succeeded")
			}
			wantCondition(t, err, tc.wantCond)
		})
	}
}

// zeroProof is a syntactically valid SCRAM-SHA-1 proof (20 zero bytes).
var zeroProof = base64.StdEncoding.EncodeToString(make([]byte, 20))

func TestExchangeFinished(t *testing.T) {
	p := auth.NewInternalHashed(storage.NewMemoryStore(), "localhost", auth.HashedOptions{})
	if err := p.SetPassword(context.Background(), "alice", "correct horse"); err != nil {
		t.Fatal(err)
	}
	for _, mech := range passwordMechs {
		t.Run(mech, func(t *testing.T) {
			x, err := p.Start(mech, secure)
			if err != nil {
				t.Fatal(err)
			}
			// A failed exchange stays failed.
			if _, _, err := x.Step(context.Background(), []byte("garbage")); err == nil {
				t.Fatal("garbage accepted")
			}
			_, _, err = x.Step(context.Background(), []byte("more"))
			wantCondition(t, err, auth.CondNotAuthorized)
			if !errors.Is(err, auth.ErrExchangeFinished) {
				t.Fatalf("error %v does not wrap ErrExchangeFinished", err)
			}
		})
	}
}

// TestNoUserEnumeration compares what a client sees for an existing and a
// missing account (SECURITY-CASES #34).
func TestNoUserEnumeration(t *testing.T) {
	s := storage.NewMemoryStore()
	p := auth.NewInternalHashed(s, "localhost", auth.HashedOptions{SaltKey: []byte("test secret")})
	if err := p.SetPassword(context.Background(), "alice", "correct horse"); err != nil {
		t.Fatal(err)
	}
	serverFirst := func(user string) (salt, iter string) {
		x, err := p.Start(auth.MechSCRAMSHA256, secure)
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := x.Step(context.Background(), []byte("n,,n="+user+",r=abc"))
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		parts := strings.Split(string(out), ",")
		if len(parts) != 3 {
			t.Fatalf("server-first %q", out)
		}
		return strings.TrimPrefix(parts[1], "s="), parts[2]
	}
	saltShape := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	realSalt, realIter := serverFirst("alice")
	fakeSalt, fakeIter := serverFirst("mallory")
	fakeSalt2, _ := serverFirst("mallory")
	otherFake, _ := serverFirst("trudy")
	for name, s := range map[string]string{"real": realSalt, "fake": fakeSalt} {
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil || !saltShape.Match(raw) {
			t.Errorf("%s salt %q (%q) is not UUID-shaped like Prosody's", name, s, raw)
		}
	}
	if realIter != fakeIter || realIter != "i=10000" {
		t.Errorf("iteration counts %q (real) and %q (fake), want i=10000 for both", realIter, fakeIter)
	}
	if fakeSalt != fakeSalt2 {
		t.Errorf("fake salt not stable: %q then %q", fakeSalt, fakeSalt2)
	}
	if fakeSalt == otherFake {
		t.Errorf("two missing users got the same salt %q", fakeSalt)
	}
	// The same secret gives the same fake salt in another provider (e.g.
	// after a restart).
	p2 := auth.NewInternalHashed(s, "localhost", auth.HashedOptions{SaltKey: []byte("test secret")})
	x, _ := p2.Start(auth.MechSCRAMSHA256, secure)
	out, _, _ := x.Step(context.Background(), []byte("n,,n=mallory,r=abc"))
	if !strings.Contains(string(out), ",s="+fakeSalt+",") {
		t.Errorf("fake salt changed with a new provider using the same key: %q", out)
	}
	// And the failure itself is identical.
	_, errWrong := login(t, p, secure, auth.MechSCRAMSHA256, "alice", "wrong", "")
	_, errMissing := login(t, p, secure, auth.MechSCRAMSHA256, "mallory", "wrong", "")
	if errWrong == nil || errMissing == nil || errWrong.Error() != errMissing.Error() {
		t.Errorf("failures differ: %v vs %v", errWrong, errMissing)
	}
}

func TestDisabledAccount(t *testing.T) {
	s := storage.NewMemoryStore()
	p := auth.NewInternalHashed(s, "localhost", auth.HashedOptions{})
	ctx := context.Background()
	if err := p.SetPassword(ctx, "alice", "correct horse"); err != nil {
		t.Fatal(err)
	}
	if err := storage.Update(ctx, s, "localhost", auth.AccountsStore, "alice", func(acc storage.Table) (storage.Table, error) {
		acc["disabled"] = true
		return acc, nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, mech := range passwordMechs {
		t.Run(mech, func(t *testing.T) {
			_, err := login(t, p, secure, mech, "alice", "correct horse", "")
			wantCondition(t, err, auth.CondAccountDisabled)
			// Without the password nobody learns the account is disabled.
			_, err = login(t, p, secure, mech, "alice", "wrong", "")
			wantCondition(t, err, auth.CondNotAuthorized)
		})
	}
}

func TestAccountsManagement(t *testing.T) {
	for _, kind := range providerKinds {
		t.Run(kind.name, func(t *testing.T) {
			ctx := context.Background()
			p := kind.make(storage.NewMemoryStore(), "example.com")
			if ok, err := p.Exists(ctx, "alice"); ok || err != nil {
				t.Fatalf("Exists before creation = %v, %v", ok, err)
			}
			for _, u := range []string{"Bob", "alice"} {
				if err := p.SetPassword(ctx, u, "pw-"+u); err != nil {
					t.Fatal(err)
				}
			}
			users, err := p.Users(ctx)
			if err != nil || !reflect.DeepEqual(users, []string{"alice", "bob"}) {
				t.Fatalf("Users = %q, %v", users, err)
			}
			if ok, err := p.Exists(ctx, "ALICE"); !ok || err != nil {
				t.Fatalf("Exists(ALICE) = %v, %v", ok, err)
			}
			// Changing the password: the old one stops working.
			if err := p.SetPassword(ctx, "alice", "new password"); err != nil {
				t.Fatal(err)
			}
			for _, mech := range passwordMechs {
				if _, err := login(t, p, secure, mech, "alice", "pw-alice", ""); err == nil {
					t.Errorf("%s: old password still works", mech)
				}
				if u, err := login(t, p, secure, mech, "alice", "new password", ""); err != nil || u != "alice" {
					t.Errorf("%s: new password: %q, %v", mech, u, err)
				}
			}
			if err := p.Delete(ctx, "alice"); err != nil {
				t.Fatal(err)
			}
			if ok, _ := p.Exists(ctx, "alice"); ok {
				t.Fatal("alice exists after Delete")
			}
			if _, err := login(t, p, secure, auth.MechPLAIN, "alice", "new password", ""); err == nil {
				t.Fatal("deleted account can log in")
			}
			bad := []struct{ user, password string }{
				{"", "x"}, {"a b", "x"}, {"a@b", "x"}, {"alice", ""}, {"alice", "bad\x00password"},
			}
			for _, b := range bad {
				if err := p.SetPassword(ctx, b.user, b.password); err == nil {
					t.Errorf("SetPassword(%q, %q) succeeded", b.user, b.password)
				}
			}
		})
	}
}

func TestHashedAccountFormat(t *testing.T) {
	ctx := context.Background()
	s := storage.NewMemoryStore()
	now := time.Unix(1700000000, 0)
	p := auth.NewInternalHashed(s, "example.com", auth.HashedOptions{Now: func() time.Time { return now }, IterationCount: 100})
	if err := p.SetPassword(ctx, "alice", "pencil"); err != nil {
		t.Fatal(err)
	}
	acc, err := s.Get(ctx, "example.com", auth.AccountsStore, "alice")
	if err != nil {
		t.Fatal(err)
	}
	salt, _ := acc.String("salt")
	stored, _ := acc.String("stored_key")
	wantKeys := map[string]int{"stored_key": 40, "server_key": 40, "stored_key_sha256": 64, "server_key_sha256": 64}
	for k, n := range wantKeys {
		if v, _ := acc.String(k); len(v) != n || strings.ToLower(v) != v {
			t.Errorf("%s = %q, want %d lower-case hex digits", k, v, n)
		}
	}
	if bound, _ := acc.String("extra_keys_for"); bound != stored {
		t.Errorf("extra_keys_for = %q, want stored_key %q", bound, stored)
	}
	if n, _ := acc.Int("iteration_count"); n != auth.MinIterationCount {
		t.Errorf("iteration_count = %v, want the minimum %d", acc["iteration_count"], auth.MinIterationCount)
	}
	if len(salt) != 36 {
		t.Errorf("salt %q is not a UUID", salt)
	}
	for _, k := range []string{"created", "updated"} {
		if n, _ := acc.Int(k); n != now.Unix() {
			t.Errorf("%s = %v, want %d", k, acc[k], now.Unix())
		}
	}
	if len(acc) != 9 {
		t.Errorf("account has %d fields: %v", len(acc), acc)
	}
	if _, err := auth.ParseHash("MD5"); err == nil {
		t.Error("ParseHash(MD5) succeeded")
	}
	if h, err := auth.ParseHash("sha-256"); err != nil || h != auth.SHA256 || h.Mechanism() != "SCRAM-SHA-256" {
		t.Errorf("ParseHash(sha-256) = %v, %v", h, err)
	}
}

// TestProsodyPasswordChangeInvalidatesExtraKeys simulates Prosody changing a
// password (new salt and main keys, our extra fields left behind): the old
// password must stop working over SCRAM-SHA-256.
func TestProsodyPasswordChangeInvalidatesExtraKeys(t *testing.T) {
	ctx := context.Background()
	s := storage.NewMemoryStore()
	p := auth.NewInternalHashed(s, "example.com", auth.HashedOptions{})
	if err := p.SetPassword(ctx, "alice", "old password"); err != nil {
		t.Fatal(err)
	}
	// What Prosody's set_password does: only salt, iteration_count,
	// stored_key and server_key change.
	salt := "5f0c6f43-3c9d-4c1b-9a55-3f1f0e0c2b7a"
	stored, server, err := auth.SCRAMKeys(auth.SHA1, "new password", []byte(salt), 10000)
	if err != nil {
		t.Fatal(err)
	}
	err = storage.Update(ctx, s, "example.com", auth.AccountsStore, "alice", func(acc storage.Table) (storage.Table, error) {
		acc["salt"] = salt
		acc["iteration_count"] = 10000
		acc["stored_key"] = hex.EncodeToString(stored)
		acc["server_key"] = hex.EncodeToString(server)
		return acc, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := login(t, p, secure, auth.MechSCRAMSHA256, "alice", "old password", ""); err == nil {
		t.Fatal("old password still works over SCRAM-SHA-256")
	}
	if _, err := login(t, p, secure, auth.MechSCRAMSHA256, "alice", "new password", ""); err == nil {
		t.Fatal("stale SHA-256 keys accepted the new password")
	}
	if _, err := login(t, p, secure, auth.MechSCRAMSHA1, "alice", "new password", ""); err != nil {
		t.Fatalf("SCRAM-SHA-1 with the new password: %v", err)
	}
	// A PLAIN login re-creates SHA-256 keys for the new password.
	if _, err := login(t, p, secure, auth.MechPLAIN, "alice", "new password", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := login(t, p, secure, auth.MechSCRAMSHA256, "alice", "new password", ""); err != nil {
		t.Fatalf("SCRAM-SHA-256 after the PLAIN upgrade: %v", err)
	}
}

func TestAnonymous(t *testing.T) {
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	p := auth.NewAnonymous("guest.example.com", auth.AnonymousOptions{})
	seen := map[string]bool{}
	// SECURITY-CASES #38: two logins, two distinct random UUIDs.
	for i := 0; i < 2; i++ {
		u, err := login(t, p, &auth.Request{Host: "guest.example.com"}, auth.MechANONYMOUS, "", "", "")
		if err != nil {
			t.Fatal(err)
		}
		if !uuid.MatchString(u) {
			t.Fatalf("username %q is not a lower-case v4 UUID", u)
		}
		if seen[u] {
			t.Fatalf("username %q repeated", u)
		}
		seen[u] = true
	}
	tests := []struct {
		name     string
		in       []byte
		wantCond string
	}{
		{name: "no trace", in: nil},
		{name: "empty trace", in: []byte{}},
		{name: "trace", in: []byte("sirhc")},
		{name: "huge trace", in: make([]byte, auth.MaxMessageSize+1), wantCond: auth.CondMalformedRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x, err := p.Start(auth.MechANONYMOUS, &auth.Request{})
			if err != nil {
				t.Fatal(err)
			}
			out, done, err := x.Step(context.Background(), tc.in)
			if tc.wantCond != "" {
				wantCondition(t, err, tc.wantCond)
				return
			}
			if err != nil || !done || out != nil || !uuid.MatchString(x.Username()) {
				t.Fatalf("Step = %q, %v, %v; username %q", out, done, err, x.Username())
			}
			_, _, err = x.Step(context.Background(), nil)
			wantCondition(t, err, auth.CondNotAuthorized)
		})
	}
}

func TestFailureError(t *testing.T) {
	cause := errors.New("disk on fire")
	f := &auth.Failure{Condition: auth.CondTemporaryAuthFailure, Text: "try later", Err: cause}
	if got := f.Error(); got != "auth: temporary-auth-failure: try later: disk on fire" {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(f, cause) {
		t.Error("Failure does not unwrap to its cause")
	}
}
