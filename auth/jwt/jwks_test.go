package jwt_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/auth/jwt"
)

// setServer serves a cache_keys_url document that tests can swap.
type setServer struct {
	*httptest.Server
	mu           sync.Mutex
	body         string
	status       int
	cacheControl string
	hits         int
}

func newSetServer(t testing.TB) *setServer {
	t.Helper()
	s := &setServer{status: 200}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits++
		body, status, cc := s.body, s.status, s.cacheControl
		s.mu.Unlock()
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *setServer) serve(body string, status int, cc string) {
	s.mu.Lock()
	s.body, s.status, s.cacheControl = body, status, cc
	s.mu.Unlock()
}

func (s *setServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits
}

func jwks(t testing.TB, keys map[string]*rsa.PrivateKey) string {
	t.Helper()
	var list []map[string]any
	for kid, k := range keys {
		list = append(list, map[string]any{
			"kid": kid, "kty": "RSA", "alg": "RS256", "use": "sig",
			"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
		})
	}
	// Entries to skip: EC key, encryption key, key without kid.
	list = append(list,
		map[string]any{"kid": "ec", "kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"},
		map[string]any{"kid": "enc", "kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"},
		map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"},
	)
	return mustJSON(t, map[string]any{"keys": list})
}

func selfSignedPEM(t testing.TB, k *rsa.PrivateKey) string {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "securetoken"},
		NotBefore:    t0.Add(-time.Hour),
		NotAfter:     t0.Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func newSetVerifier(t testing.TB, s *setServer, mod func(*jwt.Config)) (*jwt.Verifier, *clock) {
	t.Helper()
	clk := newClock()
	cfg := jwt.Config{AppID: testAppID, CacheKeysURL: s.URL + "/certs"}
	if mod != nil {
		mod(&cfg)
	}
	v, err := jwt.NewVerifier(cfg, jwt.WithClock(clk.Now), jwt.WithHTTPClient(s.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return v, clk
}

func TestKeySetJWKS(t *testing.T) {
	a, b := loadKey(t, "rsa_a.pem"), loadKey(t, "rsa_b.pem")
	s := newSetServer(t)
	s.serve(jwks(t, map[string]*rsa.PrivateKey{"ka": a}), 200, "public, max-age=600")
	v, clk := newSetVerifier(t, s, nil)
	ctx := context.Background()

	if _, err := v.Verify(ctx, mintRS(t, a, "RS256", "ka", claims(nil))); err != nil {
		t.Fatal(err)
	}
	_, err := v.Verify(ctx, mintRS(t, b, "RS256", "ka", claims(nil)))
	wantErr(t, err, jwt.ReasonSignature, "")
	if s.count() != 1 {
		t.Fatalf("set fetched %d times, want 1", s.count())
	}
	// Unknown kid: one refresh at most every 30 s, then "could not obtain".
	tokB := mintRS(t, b, "RS256", "kb", claims(nil))
	_, err = v.Verify(ctx, tokB)
	wantErr(t, err, jwt.ReasonKeyUnavailable, "could not obtain public key")
	clk.Advance(30 * time.Second)
	_, err = v.Verify(ctx, tokB)
	wantErr(t, err, jwt.ReasonKeyUnavailable, "")
	_, err = v.Verify(ctx, tokB)
	wantErr(t, err, jwt.ReasonKeyUnavailable, "")
	if s.count() != 2 {
		t.Fatalf("set fetched %d times, want 2", s.count())
	}
	// Rotation: kb published; the next unknown-kid refresh picks it up.
	s.serve(jwks(t, map[string]*rsa.PrivateKey{"kb": b}), 200, "max-age=600")
	clk.Advance(30 * time.Second)
	if _, err := v.Verify(ctx, tokB); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	// ka left the set but stays usable for 90 minutes (Jitsi's grace).
	tokA := mintRS(t, a, "RS256", "ka", claims(map[string]any{"exp": nil}))
	clk.Advance(89 * time.Minute)
	s.serve(jwks(t, map[string]*rsa.PrivateKey{"kb": b}), 200, "max-age=86400")
	if _, err := v.Verify(ctx, tokA); err != nil {
		t.Fatalf("dropped key within grace: %v", err)
	}
	clk.Advance(2 * time.Minute)
	_, err = v.Verify(ctx, tokA)
	wantErr(t, err, jwt.ReasonKeyUnavailable, "")
}

func TestKeySetMaxAge(t *testing.T) {
	a := loadKey(t, "rsa_a.pem")
	s := newSetServer(t)
	s.serve(jwks(t, map[string]*rsa.PrivateKey{"ka": a}), 200, "max-age=600")
	v, clk := newSetVerifier(t, s, nil)
	tok := mintRS(t, a, "RS256", "ka", claims(map[string]any{"exp": nil}))
	verify := func() {
		t.Helper()
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	verify()
	clk.Advance(539 * time.Second) // refresh 60 s before max-age runs out
	verify()
	if s.count() != 1 {
		t.Fatalf("fetched %d times before max-age-60, want 1", s.count())
	}
	clk.Advance(time.Second)
	verify()
	if s.count() != 2 {
		t.Fatalf("fetched %d times after max-age-60, want 2", s.count())
	}
	// A failing refresh keeps the keys and retries after 30 s.
	s.serve("", 500, "")
	clk.Advance(540 * time.Second)
	verify()
	verify()
	clk.Advance(29 * time.Second)
	verify()
	if s.count() != 3 {
		t.Fatalf("fetched %d times during the outage, want 3", s.count())
	}
	clk.Advance(time.Second)
	verify()
	if s.count() != 4 {
		t.Fatalf("fetched %d times after the retry delay, want 4", s.count())
	}
	// No Cache-Control: six hours.
	s.serve(jwks(t, map[string]*rsa.PrivateKey{"ka": a}), 200, "")
	clk.Advance(30 * time.Second)
	verify()
	clk.Advance(6*time.Hour - time.Second)
	verify()
	if s.count() != 5 {
		t.Fatalf("fetched %d times, want 5", s.count())
	}
}

func TestKeySetFirebasePEMMap(t *testing.T) {
	a := loadKey(t, "rsa_a.pem")
	s := newSetServer(t)
	s.serve(mustJSON(t, map[string]any{"fb1": selfSignedPEM(t, a), "junk": "not a pem", "n": 3}), 200, "")
	v, _ := newSetVerifier(t, s, nil)
	c, err := v.Verify(context.Background(), mintRS(t, a, "RS256", "fb1", claims(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if c.KeyID != "fb1" {
		t.Errorf("kid = %q", c.KeyID)
	}
}

// TestKeySetThenKeyServer: with both cache_keys_url and asap_key_server, kids
// missing from the set are fetched from the key server.
func TestKeySetThenKeyServer(t *testing.T) {
	a, b := loadKey(t, "rsa_a.pem"), loadKey(t, "rsa_b.pem")
	s := newSetServer(t)
	s.serve(jwks(t, map[string]*rsa.PrivateKey{"ka": a}), 200, "")
	ks := newKeyServer(t)
	ks.set("kb", publicPEM(t, b), 0)
	v, _ := newSetVerifier(t, s, func(c *jwt.Config) { c.ASAPKeyServer = ks.URL + "/keys" })
	for _, tc := range []struct {
		kid string
		key *rsa.PrivateKey
	}{{"ka", a}, {"kb", b}} {
		if _, err := v.Verify(context.Background(), mintRS(t, tc.key, "RS256", tc.kid, claims(nil))); err != nil {
			t.Fatalf("%s: %v", tc.kid, err)
		}
	}
	if ks.hitsFor("ka") != 0 || ks.hitsFor("kb") != 1 {
		t.Errorf("key server hits ka=%d kb=%d", ks.hitsFor("ka"), ks.hitsFor("kb"))
	}
}

func TestKeySetUnreachable(t *testing.T) {
	a := loadKey(t, "rsa_a.pem")
	s := newSetServer(t)
	s.serve("{not json", 200, "")
	v, _ := newSetVerifier(t, s, nil)
	_, err := v.Verify(context.Background(), mintRS(t, a, "RS256", "ka", claims(nil)))
	wantErr(t, err, jwt.ReasonKeyUnavailable, "could not obtain public key")
}
