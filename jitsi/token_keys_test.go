package jitsi_test

import (
	"crypto/rsa"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/auth/jwt"
	"github.com/parley-xmpp/parley/server/servertest"
)

// tryLogin runs SASL with token over tr and reports whether it succeeded,
// with the failure text.
func tryLogin(t *testing.T, e *tkEnv, tr tkTransport, token string) (bool, string) {
	t.Helper()
	c, _ := tr.open(t, e, tkDomain, url.Values{"token": {token}}, nil)
	res := tkSASL(c)
	return res.Name.Local == "success", tkFailureText(res)
}

// TestTokenKeyServerLifecycle covers the key cache over time: rotation to a
// new kid, revocation of a removed key after its TTL, a 204 never cached as
// a key (SECURITY-CASES 107), and cached keys surviving a key-server outage
// (SECURITY-CASES 172).
func TestTokenKeyServerLifecycle(t *testing.T) {
	rsaA := tkLoadRSA(t, "rsa_a.pem")
	rsaB := tkLoadRSA(t, "rsa_b.pem")
	ks := newTkKeyServer(t)
	ks.set("k1", tkKeyResponse{status: 200, body: tkPublicPEM(t, rsaA)})
	e := tkStart(t, tkOptions{
		host: `    asap_key_server = "` + ks.URL + `/"` + "\n",
		verifier: []jwt.Option{
			jwt.WithHTTPClient(tkKeyClient(t)),
			jwt.WithKeyCacheTTL(time.Minute),
			jwt.WithNegativeCacheTTL(10 * time.Second),
		},
	})
	rs := func(kid string, key *rsa.PrivateKey) string { return tkMint(t, e.claims(nil), "RS256", key, kid) }
	steps := []struct {
		name    string
		prepare func()
		token   func() string
		ok      bool
		fetches map[string]int // kid -> total fetches after the step
	}{
		{name: "k1 works", token: func() string { return rs("k1", rsaA) }, ok: true, fetches: map[string]int{"k1": 1}},
		{name: "rotation: a new kid k2 is fetched at once", prepare: func() {
			ks.set("k2", tkKeyResponse{status: 200, body: tkPublicPEM(t, rsaB)})
		}, token: func() string { return rs("k2", rsaB) }, ok: true, fetches: map[string]int{"k2": 1}},
		{name: "k1 removed from the server still works within its TTL", prepare: func() {
			ks.remove("k1")
		}, token: func() string { return rs("k1", rsaA) }, ok: true, fetches: map[string]int{"k1": 1}},
		{name: "k1 is revoked once its TTL ran out and the server says 404", prepare: func() {
			e.clock.Advance(2 * time.Minute)
		}, token: func() string { return rs("k1", rsaA) }, ok: false, fetches: map[string]int{"k1": 2}},
		{name: "107 a 204 is a failure", prepare: func() {
			ks.set("k3", tkKeyResponse{status: 204})
		}, token: func() string { return rs("k3", rsaA) }, ok: false, fetches: map[string]int{"k3": 1}},
		{name: "107 the failure is remembered briefly", token: func() string { return rs("k3", rsaA) }, ok: false, fetches: map[string]int{"k3": 1}},
		{name: "107 the 204 was not cached as a key", prepare: func() {
			ks.set("k3", tkKeyResponse{status: 200, body: tkPublicPEM(t, rsaA)})
			e.clock.Advance(11 * time.Second)
		}, token: func() string { return rs("k3", rsaA) }, ok: true, fetches: map[string]int{"k3": 2}},
		{name: "172 key server down: a cached kid keeps working after its TTL", prepare: func() {
			ks.set("k2", tkKeyResponse{status: 500})
			e.clock.Advance(2 * time.Minute)
		}, token: func() string { return rs("k2", rsaB) }, ok: true, fetches: map[string]int{"k2": 2}},
		{name: "172 key server down: a new kid fails", prepare: func() {
			ks.set("k4", tkKeyResponse{status: 500})
		}, token: func() string { return rs("k4", rsaA) }, ok: false, fetches: map[string]int{"k4": 1}},
	}
	tr := tkTransports()[0]
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.prepare != nil {
				st.prepare()
			}
			ok, text := tryLogin(t, e, tr, st.token())
			if ok != st.ok {
				t.Fatalf("login ok = %v (%q), want %v", ok, text, st.ok)
			}
			if !ok && text != "could not obtain public key" {
				t.Fatalf("failure text %q", text)
			}
			for kid, n := range st.fetches {
				if got := ks.count(kid); got != n {
					t.Fatalf("kid %s fetched %d times, want %d", kid, got, n)
				}
			}
		})
	}
}

// TestTokenKeyFetchCoalesced: a burst of logins with one new kid makes one
// request to the key server (SECURITY-CASES 109).
func TestTokenKeyFetchCoalesced(t *testing.T) {
	rsaA := tkLoadRSA(t, "rsa_a.pem")
	release := make(chan struct{})
	var mu sync.Mutex
	hits := 0
	pemA := tkPublicPEM(t, rsaA)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		<-release
		_, _ = w.Write(pemA)
	}))
	t.Cleanup(srv.Close)
	e := tkStart(t, tkOptions{
		host:     `    asap_key_server = "` + srv.URL + `"` + "\n",
		verifier: []jwt.Option{jwt.WithHTTPClient(tkKeyClient(t))},
	})
	token := tkMint(t, e.claims(nil), "RS256", rsaA, "burst")
	const n = 8
	tr := tkTransports()[0]
	conns := make([]tkConn, n)
	for i := range conns {
		conns[i], _ = tr.open(t, e, tkDomain, url.Values{"token": {token}}, nil)
	}
	// The sessions run on their own goroutines: all n logins start and
	// wait for the key while the key server holds the first request.
	for _, c := range conns {
		c.Send(`<auth xmlns='` + tkNSSASL + `' mechanism='ANONYMOUS'/>`)
	}
	servertest.Eventually(t, "the condition", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return hits >= 1
	})
	close(release)
	for i, c := range conns {
		if res := c.Next(); res.Name.Local != "success" {
			t.Fatalf("login %d: %s", i, res)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if hits != 1 {
		t.Fatalf("key server hit %d times for one kid", hits)
	}
}

// TestTokenJWKS: cache_keys_url with a JWKS document, including a rotation
// picked up on an unknown kid.
func TestTokenJWKS(t *testing.T) {
	rsaA := tkLoadRSA(t, "rsa_a.pem")
	rsaB := tkLoadRSA(t, "rsa_b.pem")
	var mu sync.Mutex
	keys := map[string]*rsa.PublicKey{"a": &rsaA.PublicKey}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		var set []map[string]string
		for kid, k := range keys {
			set = append(set, map[string]string{
				"kid": kid, "kty": "RSA", "use": "sig",
				"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
			})
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(tkJSON(t, map[string]any{"keys": set})))
	}))
	t.Cleanup(srv.Close)
	e := tkStart(t, tkOptions{
		host:     `    cache_keys_url = "` + srv.URL + `/jwks"` + "\n",
		verifier: []jwt.Option{jwt.WithHTTPClient(tkKeyClient(t))},
	})
	tr := tkTransports()[1]
	if ok, text := tryLogin(t, e, tr, tkMint(t, e.claims(nil), "RS256", rsaA, "a")); !ok {
		t.Fatalf("kid a: %s", text)
	}
	if ok, _ := tryLogin(t, e, tr, tkMint(t, e.claims(nil), "RS256", rsaB, "a")); ok {
		t.Fatal("token signed by another key with kid a accepted")
	}
	mu.Lock()
	keys["b"] = &rsaB.PublicKey
	mu.Unlock()
	e.clock.Advance(31 * time.Second)
	if ok, text := tryLogin(t, e, tr, tkMint(t, e.claims(nil), "RS256", rsaB, "b")); !ok {
		t.Fatalf("rotated kid b: %s", text)
	}
	if ok, _ := tryLogin(t, e, tr, tkMint(t, e.claims(nil), "RS256", rsaB, "c")); ok {
		t.Fatal("unknown kid c accepted")
	}
}
