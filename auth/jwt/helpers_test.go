package jwt_test

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	gjwt "github.com/golang-jwt/jwt/v5"

	"github.com/parley-xmpp/parley/auth/jwt"
)

// t0 is the fixed "now" of the tests.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

const (
	testAppID  = "parley-app"
	testSecret = "0123456789abcdef0123456789abcdef-test-secret"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func loadKey(t testing.TB, name string) *rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	k, err := gjwt.ParseRSAPrivateKeyFromPEM(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return k
}

func publicPEM(t testing.TB, k *rsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// claims returns a valid payload for the HS256 test host; mods change it
// (a nil value deletes the claim).
func claims(mods map[string]any) map[string]any {
	c := map[string]any{
		"iss":  testAppID,
		"aud":  "jitsi",
		"sub":  "meet.example.com",
		"room": "room1",
		"iat":  t0.Add(-time.Minute).Unix(),
		"exp":  t0.Add(time.Hour).Unix(),
		"context": map[string]any{
			"user":  map[string]any{"id": "u1", "name": "Ada", "email": "ada@example.com", "moderator": "true"},
			"group": "g1",
		},
	}
	for k, v := range mods {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func mintHS(t testing.TB, c map[string]any) string {
	t.Helper()
	s, err := jwt.Mint(c, jwt.MintOptions{Algorithm: "HS256", Key: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mintRS(t testing.TB, key *rsa.PrivateKey, alg, kid string, c map[string]any) string {
	t.Helper()
	s, err := jwt.Mint(c, jwt.MintOptions{Algorithm: alg, Key: key, KeyID: kid})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// rawToken builds a token from literal header and payload JSON and signs it
// with alg and key (alg "" leaves the signature as "c2ln").
func rawToken(t testing.TB, header, payload, alg string, key any) string {
	t.Helper()
	input := b64(header) + "." + b64(payload)
	if alg == "" {
		return input + ".c2ln"
	}
	sig, err := gjwt.GetSigningMethod(alg).Sign(input, key)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func hsVerifier(t testing.TB, mod func(*jwt.Config), opts ...jwt.Option) (*jwt.Verifier, *clock) {
	t.Helper()
	clk := newClock()
	cfg := jwt.Config{AppID: testAppID, AppSecret: testSecret}
	if mod != nil {
		mod(&cfg)
	}
	v, err := jwt.NewVerifier(cfg, append([]jwt.Option{jwt.WithClock(clk.Now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return v, clk
}

// wantErr checks that err is a *jwt.Error with the given reason and text
// (text "" skips the text check).
func wantErr(t testing.TB, err error, reason jwt.Reason, text string) {
	t.Helper()
	var e *jwt.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *jwt.Error %s", err, err, reason)
	}
	if e.Reason != reason || (text != "" && e.Text != text) {
		t.Fatalf("error = %s / %q, want %s / %q", e.Reason, e.Text, reason, text)
	}
	if e.Condition() != "not-allowed" {
		t.Fatalf("condition = %q", e.Condition())
	}
}

func keyPath(kid string) string {
	sum := sha256.Sum256([]byte(kid))
	return "/" + hex.EncodeToString(sum[:]) + ".pem"
}

// keyServer is an ASAP key server on 127.0.0.1 serving
// /keys/<hex(sha256(kid))>.pem (a path prefix, like real deployments).
type keyServer struct {
	*httptest.Server
	mu      sync.Mutex
	bodies  map[string][]byte // path -> body
	status  map[string]int    // path -> status (default 200 if a body exists, else 404)
	hits    map[string]int
	total   int
	gate    chan struct{} // when non-nil, requests wait for it to close
	arrived chan string   // when non-nil, receives each request path
}

func newKeyServer(t testing.TB) *keyServer {
	t.Helper()
	ks := &keyServer{bodies: map[string][]byte{}, status: map[string]int{}, hits: map[string]int{}}
	ks.Server = httptest.NewServer(http.StripPrefix("/keys", http.HandlerFunc(ks.serve)))
	t.Cleanup(ks.Close)
	return ks
}

func (ks *keyServer) serve(w http.ResponseWriter, r *http.Request) {
	ks.mu.Lock()
	ks.hits[r.URL.Path]++
	ks.total++
	gate, arrived := ks.gate, ks.arrived
	body, hasBody := ks.bodies[r.URL.Path]
	status, hasStatus := ks.status[r.URL.Path]
	ks.mu.Unlock()
	if arrived != nil {
		arrived <- r.URL.Path
	}
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	switch {
	case hasStatus:
		w.WriteHeader(status)
		if hasBody {
			w.Write(body)
		}
	case hasBody:
		w.Write(body)
	default:
		http.NotFound(w, r)
	}
}

func (ks *keyServer) set(kid string, body []byte, status int) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	p := keyPath(kid)
	if body == nil {
		delete(ks.bodies, p)
	} else {
		ks.bodies[p] = body
	}
	if status == 0 {
		delete(ks.status, p)
	} else {
		ks.status[p] = status
	}
}

func (ks *keyServer) hitsFor(kid string) int {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.hits[keyPath(kid)]
}

func (ks *keyServer) totalHits() int {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.total
}
