package jwt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/auth/jwt"
)

const testKID = "vpaas-magic-cookie-0123/abc123" // JaaS-style kid, with a slash

type asapEnv struct {
	v   *jwt.Verifier
	clk *clock
	ks  *keyServer
}

func newASAP(t testing.TB, mod func(*jwt.Config), opts ...jwt.Option) *asapEnv {
	t.Helper()
	ks := newKeyServer(t)
	clk := newClock()
	cfg := jwt.Config{AppID: testAppID, ASAPKeyServer: ks.URL + "/keys/"}
	if mod != nil {
		mod(&cfg)
	}
	v, err := jwt.NewVerifier(cfg, append([]jwt.Option{jwt.WithClock(clk.Now), jwt.WithHTTPClient(ks.Client())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return &asapEnv{v: v, clk: clk, ks: ks}
}

func TestASAPValidAndCached(t *testing.T) {
	a := loadKey(t, "rsa_a.pem")
	e := newASAP(t, nil)
	e.ks.set(testKID, publicPEM(t, a), 0)
	tok := mintRS(t, a, "RS256", testKID, claims(nil))
	for i := range 3 {
		c, err := e.v.Verify(context.Background(), tok)
		if err != nil {
			t.Fatalf("verify %d: %v", i, err)
		}
		if c.KeyID != testKID || c.Room != "room1" {
			t.Fatalf("claims = %+v", c)
		}
	}
	// #106: the key is fetched once, at <server>/<hex(sha256(kid))>.pem.
	if got := e.ks.hitsFor(testKID); got != 1 {
		t.Errorf("key fetched %d times, want 1", got)
	}
	if got := e.ks.totalHits(); got != 1 {
		t.Errorf("key server saw %d requests, want 1", got)
	}
}

// TestASAPKeyIDPaths: SECURITY-CASES #106. Whatever the kid, the only path
// requested is the hash; over-long or control-character kids are refused
// before any request.
func TestASAPKeyIDPaths(t *testing.T) {
	a := loadKey(t, "rsa_a.pem")
	tests := []struct {
		name   string
		kid    string
		reason jwt.Reason
	}{
		{name: "traversal", kid: "../../etc/passwd"},
		{name: "slash", kid: "a/b"},
		{name: "url-ish", kid: "http://evil.example/x?y#z"},
		{name: "unicode", kid: "ключ"},
		{name: "NUL", kid: "a\x00b", reason: jwt.ReasonKeyID},
		{name: "newline", kid: "a\nb", reason: jwt.ReasonKeyID},
		{name: "over 256 bytes", kid: strings.Repeat("k", 257), reason: jwt.ReasonKeyID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newASAP(t, nil)
			e.ks.set(tc.kid, publicPEM(t, a), 0)
			hdr := mustJSON(t, map[string]any{"alg": "RS256", "typ": "JWT", "kid": tc.kid})
			_, err := e.v.Verify(context.Background(), rawToken(t, hdr, mustJSON(t, claims(nil)), "RS256", a))
			if tc.reason != "" {
				wantErr(t, err, tc.reason, "invalid 'kid' claim")
				if n := e.ks.totalHits(); n != 0 {
					t.Errorf("%d key server requests for a refused kid", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.ks.hitsFor(tc.kid) != 1 || e.ks.totalHits() != 1 {
				t.Errorf("hits for hashed path = %d, total = %d", e.ks.hitsFor(tc.kid), e.ks.totalHits())
			}
		})
	}
}

// TestASAPHeaderRules: SECURITY-CASES #84, #85, #86, #105.
func TestASAPHeaderRules(t *testing.T) {
	a := loadKey(t, "rsa_a.pem")
	pub := publicPEM(t, a)
	body := func(t testing.TB) string { return mustJSON(t, claims(nil)) }
	tests := []struct {
		name   string
		token  func(t testing.TB) string
		reason jwt.Reason
		text   string
	}{
		{name: "#105 kid missing", token: func(t testing.TB) string {
			return rawToken(t, `{"alg":"RS256","typ":"JWT"}`, body(t), "RS256", a)
		}, reason: jwt.ReasonKeyID, text: "'kid' claim is missing"},
		{name: "#105 kid not a string", token: func(t testing.TB) string {
			return rawToken(t, `{"alg":"RS256","typ":"JWT","kid":5}`, body(t), "RS256", a)
		}, reason: jwt.ReasonKeyID, text: "invalid 'kid' claim"},
		{name: "#105 header not JSON", token: func(t testing.TB) string {
			return b64("{kid") + "." + b64(body(t)) + ".c2ln"
		}, reason: jwt.ReasonMalformed, text: "bad token format"},
		{name: "#105 header not base64url", token: func(t testing.TB) string {
			return "!!!." + b64(body(t)) + ".c2ln"
		}, reason: jwt.ReasonMalformed, text: "bad token format"},
		{name: "alg missing", token: func(t testing.TB) string {
			return rawToken(t, `{"typ":"JWT","kid":"`+testKID+`"}`, body(t), "RS256", a)
		}, reason: jwt.ReasonAlgorithm, text: "'alg' claim is missing"},
		{name: "#84 alg none", token: func(t testing.TB) string {
			return rawToken(t, `{"alg":"none","typ":"JWT","kid":"`+testKID+`"}`, body(t), "", nil)
		}, reason: jwt.ReasonAlgorithm, text: "'kid' claim only support with RS family"},
		{name: "#85 HS256 signed with the public key PEM", token: func(t testing.TB) string {
			return rawToken(t, `{"alg":"HS256","typ":"JWT","kid":"`+testKID+`"}`, body(t), "HS256", pub)
		}, reason: jwt.ReasonAlgorithm, text: "'kid' claim only support with RS family"},
		{name: "#86 RS384 on an RS256 host", token: func(t testing.TB) string {
			return mintRS(t, a, "RS384", testKID, claims(nil))
		}, reason: jwt.ReasonAlgorithm, text: "Invalid or incorrect alg"},
		{name: "#86 RSA-PSS alg refused", token: func(t testing.TB) string {
			return rawToken(t, `{"alg":"PS256","typ":"JWT","kid":"`+testKID+`"}`, body(t), "PS256", a)
		}, reason: jwt.ReasonAlgorithm, text: "'kid' claim only support with RS family"},
		{name: "#87 typ missing", token: func(t testing.TB) string {
			return rawToken(t, `{"alg":"RS256","kid":"`+testKID+`"}`, body(t), "RS256", a)
		}, reason: jwt.ReasonType, text: "Invalid typ"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newASAP(t, nil)
			e.ks.set(testKID, pub, 0)
			_, err := e.v.Verify(context.Background(), tc.token(t))
			wantErr(t, err, tc.reason, tc.text)
			if n := e.ks.totalHits(); n != 0 {
				t.Errorf("%d key fetches for a token refused on its header", n)
			}
		})
	}
}

// TestASAPAlgorithmConfusionWithKeyServerAndSecret: CVE-2021-39215 / #85.
// With both app_secret and a key server configured, an HS256 token signed
// with app_secret is still refused: the key server decides the family.
func TestASAPAlgorithmConfusionWithSecret(t *testing.T) {
	e := newASAP(t, func(c *jwt.Config) { c.AppSecret = testSecret })
	tok := rawToken(t, `{"alg":"HS256","typ":"JWT","kid":"`+testKID+`"}`, mustJSON(t, claims(nil)), "HS256", []byte(testSecret))
	_, err := e.v.Verify(context.Background(), tok)
	wantErr(t, err, jwt.ReasonAlgorithm, "")
}

// TestASAPKeyServerAnswers: SECURITY-CASES #107. Every bad answer is "could
// not obtain public key", and a failure is remembered only briefly.
func TestASAPKeyServerAnswers(t *testing.T) {
	a := loadKey(t, "rsa_a.pem")
	small := loadKey(t, "rsa_small.pem")
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		body   []byte
		status int
	}{
		{name: "404", status: 404},
		{name: "500 with a valid key body", body: publicPEM(t, a), status: 500},
		{name: "204 empty (Jitsi caches this)", status: 204},
		{name: "200 not PEM", body: []byte("hello")},
		{name: "200 private key PEM", body: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("junk")})},
		{name: "200 EC key", body: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER})},
		{name: "200 1024-bit RSA key", body: publicPEM(t, small)},
		{name: "200 body over 64KiB", body: append(publicPEM(t, a), make([]byte, 70<<10)...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newASAP(t, nil, jwt.WithNegativeCacheTTL(10*time.Second))
			e.ks.set(testKID, tc.body, tc.status)
			tok := mintRS(t, a, "RS256", testKID, claims(nil))
			for range 2 {
				_, err := e.v.Verify(context.Background(), tok)
				wantErr(t, err, jwt.ReasonKeyUnavailable, "could not obtain public key")
			}
			if n := e.ks.hitsFor(testKID); n != 1 {
				t.Errorf("fetched %d times within the negative TTL, want 1", n)
			}
			// After the negative TTL the key is fetched again, and a good
			// answer now works: nothing bad was cached.
			e.clk.Advance(10 * time.Second)
			e.ks.set(testKID, publicPEM(t, a), 0)
			if _, err := e.v.Verify(context.Background(), tok); err != nil {
				t.Fatalf("after recovery: %v", err)
			}
			if n := e.ks.hitsFor(testKID); n != 2 {
				t.Errorf("fetched %d times, want 2", n)
			}
		})
	}
}

func TestASAPWrongKey(t *testing.T) { // SECURITY-CASES #88
	a, b := loadKey(t, "rsa_a.pem"), loadKey(t, "rsa_b.pem")
	e := newASAP(t, nil)
	e.ks.set(testKID, publicPEM(t, a), 0)
	_, err := e.v.Verify(context.Background(), mintRS(t, b, "RS256", testKID, claims(nil)))
	wantErr(t, err, jwt.ReasonSignature, "Invalid signature")
}

// TestASAPHangingServer: SECURITY-CASES #108. A hanging key server costs one
// fetch timeout, not Jitsi's 4 x 30 s.
func TestASAPHangingServer(t *testing.T) {
	a := loadKey(t, "rsa_a.pem")
	e := newASAP(t, nil, jwt.WithFetchTimeout(50*time.Millisecond))
	gate := make(chan struct{})
	t.Cleanup(func() { close(gate) })
	e.ks.mu.Lock()
	e.ks.gate = gate
	e.ks.mu.Unlock()
	e.ks.set(testKID, publicPEM(t, a), 0)
	_, err := e.v.Verify(context.Background(), mintRS(t, a, "RS256", testKID, claims(nil)))
	wantErr(t, err, jwt.ReasonKeyUnavailable, "could not obtain public key")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap the deadline", err)
	}
}

// TestASAPCallerContext: the caller's ctx bounds its own wait.
func TestASAPCallerContext(t *testing.T) {
	a := loadKey(t, "rsa_a.pem")
	e := newASAP(t, nil)
	gate := make(chan struct{})
	arrived := make(chan string, 1)
	e.ks.mu.Lock()
	e.ks.gate, e.ks.arrived = gate, arrived
	e.ks.mu.Unlock()
	e.ks.set(testKID, publicPEM(t, a), 0)
	tok := mintRS(t, a, "RS256", testKID, claims(nil))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.v.Verify(ctx, tok)
		done <- err
	}()
	<-arrived
	cancel()
	err := <-done
	wantErr(t, err, jwt.ReasonKeyUnavailable, "")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
	// The shared fetch was not cancelled with the caller: once the server
	// answers, the key is cached and the next login needs no fetch.
	close(gate)
	e.ks.mu.Lock()
	e.ks.gate, e.ks.arrived = nil, nil
	e.ks.mu.Unlock()
	if _, err := e.v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if n := e.ks.hitsFor(testKID); n != 1 {
		t.Errorf("fetched %d times, want 1", n)
	}
}

// TestASAPCoalescing: SECURITY-CASES #109. Concurrent logins with one new kid
// cause one fetch.
func TestASAPCoalescing(t *testing.T) {
	a := loadKey(t, "rsa_a.pem")
	e := newASAP(t, nil)
	gate := make(chan struct{})
	arrived := make(chan string, 16)
	e.ks.mu.Lock()
	e.ks.gate, e.ks.arrived = gate, arrived
	e.ks.mu.Unlock()
	e.ks.set(testKID, publicPEM(t, a), 0)
	tok := mintRS(t, a, "RS256", testKID, claims(nil))

	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := e.v.Verify(context.Background(), tok)
			errs <- err
		})
	}
	<-arrived
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := e.ks.hitsFor(testKID); got != 1 {
		t.Errorf("%d fetches for %d concurrent logins, want 1", got, n)
	}
}

// TestASAPRandomKIDFlood: SECURITY-CASES #109. Unknown kids are fetched at
// the configured rate; the rest fail at once, and known keys stay cached.
func TestASAPRandomKIDFlood(t *testing.T) {
	a := loadKey(t, "rsa_a.pem")
	e := newASAP(t, nil, jwt.WithFetchRateLimit(1, 3))
	e.ks.set(testKID, publicPEM(t, a), 0)
	good := mintRS(t, a, "RS256", testKID, claims(nil))
	if _, err := e.v.Verify(context.Background(), good); err != nil { // uses 1 of the burst of 3
		t.Fatal(err)
	}
	for i := range 20 {
		_, err := e.v.Verify(context.Background(), mintRS(t, a, "RS256", fmt.Sprintf("random-%d", i), claims(nil)))
		wantErr(t, err, jwt.ReasonKeyUnavailable, "")
	}
	if got := e.ks.totalHits(); got != 3 {
		t.Errorf("key server saw %d requests, want 3 (burst)", got)
	}
	if _, err := e.v.Verify(context.Background(), good); err != nil {
		t.Fatalf("cached key lost during the flood: %v", err)
	}
	e.clk.Advance(time.Second)
	_, _ = e.v.Verify(context.Background(), mintRS(t, a, "RS256", "random-after", claims(nil)))
	if got := e.ks.totalHits(); got != 4 {
		t.Errorf("key server saw %d requests after refill, want 4", got)
	}
}

// TestASAPCacheSize: jwt_pubkey_cache_size bounds the cache (LRU).
func TestASAPCacheSize(t *testing.T) {
	a := loadKey(t, "rsa_a.pem")
	e := newASAP(t, func(c *jwt.Config) { c.KeyCacheSize = 2 })
	for _, kid := range []string{"k1", "k2", "k3", "k1"} {
		e.ks.set(kid, publicPEM(t, a), 0)
		if _, err := e.v.Verify(context.Background(), mintRS(t, a, "RS256", kid, claims(nil))); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.ks.hitsFor("k1"); got != 2 {
		t.Errorf("k1 fetched %d times, want 2 (evicted by k3)", got)
	}
	if got := e.ks.hitsFor("k3"); got != 1 {
		t.Errorf("k3 fetched %d times, want 1", got)
	}
}

// TestASAPRefresh: keys are refetched after the TTL; a failing key server
// keeps cached kids working (SECURITY-CASES #172) while a 404 revokes.
func TestASAPRefresh(t *testing.T) {
	a := loadKey(t, "rsa_a.pem")
	e := newASAP(t, nil, jwt.WithKeyCacheTTL(time.Hour), jwt.WithNegativeCacheTTL(time.Minute))
	e.ks.set(testKID, publicPEM(t, a), 0)
	tok := mintRS(t, a, "RS256", testKID, claims(map[string]any{"exp": nil}))
	verify := func(step string) error {
		t.Helper()
		_, err := e.v.Verify(context.Background(), tok)
		return err
	}
	if err := verify("first"); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Hour)
	e.ks.set(testKID, nil, 503) // outage
	if err := verify("outage"); err != nil {
		t.Fatalf("cached kid refused during a key server outage: %v", err)
	}
	if err := verify("outage again"); err != nil {
		t.Fatal(err)
	}
	if got := e.ks.hitsFor(testKID); got != 2 {
		t.Errorf("hits = %d, want 2 (one failed refresh, then back-off)", got)
	}
	e.clk.Advance(time.Minute)
	e.ks.set(testKID, nil, 0) // now 404: key withdrawn
	err := verify("revoked")
	wantErr(t, err, jwt.ReasonKeyUnavailable, "could not obtain public key")
	if got := e.ks.hitsFor(testKID); got != 3 {
		t.Errorf("hits = %d, want 3", got)
	}
}

// lockedBuffer is a log sink safe for the fetch goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestTokensNeverLogged: SECURITY-CASES #114. Failures are logged with the
// kid and the key URL, never with the token or its signature.
func TestTokensNeverLogged(t *testing.T) {
	a := loadKey(t, "rsa_a.pem")
	var buf lockedBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newASAP(t, func(c *jwt.Config) { c.AppSecret = "also-configured-secret" }, jwt.WithLogger(log))
	e.ks.set(testKID, []byte("garbage"), 0)
	tok := mintRS(t, a, "RS256", testKID, claims(nil))
	_, err := e.v.Verify(context.Background(), tok)
	wantErr(t, err, jwt.ReasonKeyUnavailable, "")
	out := buf.String()
	if !strings.Contains(out, "fetching public key failed") {
		t.Fatalf("expected a warning, log is %q", out)
	}
	parts := strings.Split(tok, ".")
	for _, secret := range append(parts, "also-configured-secret") {
		if strings.Contains(out, secret) {
			t.Errorf("log contains token material %q: %s", secret[:min(10, len(secret))], out)
		}
	}
	if strings.Contains(err.Error(), parts[2]) {
		t.Error("error text contains the signature")
	}
}
