package jitsi_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/auth"
	"github.com/parley-xmpp/parley/auth/jwt"
	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/server/httpx/transporttest"
	"github.com/parley-xmpp/parley/server/servertest"
)

// authCase is one SASL login with a token (JITSI.md §4.2-4.4,
// SECURITY-CASES §6).
type authCase struct {
	name string
	// token builds the ?token= value ("" sends none).
	token func(t testing.TB, e *tkEnv) string
	// bearer builds an Authorization: Bearer value ("" sends none).
	bearer func(t testing.TB, e *tkEnv) string
	ok     bool
	// text is the expected SASL failure text; prefix match when it ends
	// with "…".
	text string
}

// authStats counts the matrix across groups and transports.
type authStats struct {
	mu                     sync.Mutex
	total, passed, wrongly int
}

func (s *authStats) add(passed, wronglyAccepted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total++
	if passed {
		s.passed++
	}
	if wronglyAccepted {
		s.wrongly++
	}
}

// runAuthCases runs every case over WebSocket and BOSH against e.
func runAuthCases(t *testing.T, e *tkEnv, cases []authCase, st *authStats) {
	t.Helper()
	for _, tr := range tkTransports() {
		for _, tc := range cases {
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				q := url.Values{}
				if tc.token != nil {
					if tok := tc.token(t, e); tok != "" {
						q.Set("token", tok)
					}
				}
				var h http.Header
				if tc.bearer != nil {
					h = http.Header{"Authorization": {"Bearer " + tc.bearer(t, e)}}
				}
				c, _ := tr.open(t, e, tkDomain, q, h)
				res := tkSASL(c)
				accepted := res.Name.Local == "success"
				passed := accepted == tc.ok
				if !tc.ok && !accepted {
					if res.Name.Local != "failure" || res.Child(tkNSSASL, "not-allowed") == nil {
						t.Errorf("failure %s, want <not-allowed/>", res)
						passed = false
					}
					if !textMatches(tkFailureText(res), tc.text) {
						t.Errorf("failure text %q, want %q", tkFailureText(res), tc.text)
						passed = false
					}
				}
				if accepted != tc.ok {
					t.Errorf("accepted = %v, want %v: %s", accepted, tc.ok, res)
				}
				if accepted {
					c.Restart(tkDomain)
					if full := tkBind(t, c); !strings.HasSuffix(strings.SplitN(full, "/", 2)[0], "@"+tkDomain) {
						t.Errorf("bound %s", full)
					}
				}
				st.add(passed, accepted && !tc.ok)
			})
		}
	}
}

func textMatches(got, want string) bool {
	if p, ok := strings.CutSuffix(want, "…"); ok {
		return strings.HasPrefix(got, p)
	}
	return want == "" || got == want
}

// tok adapts a claims-modifying function to authCase.token.
func tok(mods map[string]any) func(testing.TB, *tkEnv) string {
	return func(t testing.TB, e *tkEnv) string { return tkHS(t, e.claims(mods)) }
}

func lit(s string) func(testing.TB, *tkEnv) string {
	return func(testing.TB, *tkEnv) string { return s }
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// TestTokenAuthMatrix runs every token rule of JITSI.md §4.4 and
// SECURITY-CASES 84-95, 105-115 over real WebSocket and BOSH sessions and
// counts tokens that were wrongly accepted, which must be none.
func TestTokenAuthMatrix(t *testing.T) {
	st := &authStats{}
	rsaA := tkLoadRSA(t, "rsa_a.pem")
	rsaB := tkLoadRSA(t, "rsa_b.pem")

	t.Run("hs256", func(t *testing.T) {
		e := tkStart(t, tkOptions{})
		payload := func(e *tkEnv, mods map[string]any) string { return tkJSON(t, e.claims(mods)) }
		hsHeader := `{"alg":"HS256","typ":"JWT"}`
		runAuthCases(t, e, []authCase{
			{name: "4.4 valid token", token: tok(nil), ok: true},
			{name: "115 no token", ok: false, text: "token required"},
			{name: "84 alg none", token: func(t testing.TB, e *tkEnv) string {
				return b64(`{"alg":"none","typ":"JWT"}`) + "." + b64(payload(e, nil)) + ".c2ln"
			}, text: "Invalid or incorrect alg"},
			{name: "84 alg none without signature", token: func(t testing.TB, e *tkEnv) string {
				return b64(`{"alg":"none","typ":"JWT"}`) + "." + b64(payload(e, nil)) + "."
			}, text: "Invalid token"},
			{name: "84 alg empty", token: func(t testing.TB, e *tkEnv) string {
				return tkRawHS(`{"alg":"","typ":"JWT"}`, payload(e, nil), []byte(tkSecret))
			}, text: "Invalid or incorrect alg"},
			{name: "84 alg missing", token: func(t testing.TB, e *tkEnv) string {
				return tkRawHS(`{"typ":"JWT"}`, payload(e, nil), []byte(tkSecret))
			}, text: "Invalid or incorrect alg"},
			{name: "86 HS512 token on an HS256 host", token: func(t testing.TB, e *tkEnv) string {
				return tkMint(t, e.claims(nil), "HS512", []byte(tkSecret), "")
			}, text: "Invalid or incorrect alg"},
			{name: "86 RS256 token on an HS256 host", token: func(t testing.TB, e *tkEnv) string {
				return tkMint(t, e.claims(nil), "RS256", rsaA, "k")
			}, text: "Invalid or incorrect alg"},
			{name: "87 typ missing", token: func(t testing.TB, e *tkEnv) string {
				return tkRawHS(`{"alg":"HS256"}`, payload(e, nil), []byte(tkSecret))
			}, text: "Invalid typ"},
			{name: "87 typ lower case", token: func(t testing.TB, e *tkEnv) string {
				return tkRawHS(`{"alg":"HS256","typ":"jwt"}`, payload(e, nil), []byte(tkSecret))
			}, text: "Invalid typ"},
			{name: "88 wrong secret", token: func(t testing.TB, e *tkEnv) string {
				return tkMint(t, e.claims(nil), "HS256", []byte("another-secret-of-32-bytes-or-more!!"), "")
			}, text: "Invalid signature"},
			{name: "88 tampered payload", token: func(t testing.TB, e *tkEnv) string {
				good := strings.Split(tkHS(t, e.claims(map[string]any{"room": "room1"})), ".")
				return good[0] + "." + b64(payload(e, map[string]any{"room": "*"})) + "." + good[2]
			}, text: "Invalid signature"},
			{name: "88 tampered signature", token: func(t testing.TB, e *tkEnv) string {
				good := tkHS(t, e.claims(nil))
				last := good[len(good)-2]
				flip := byte('A')
				if last == 'A' {
					flip = 'B'
				}
				return good[:len(good)-2] + string(flip) + good[len(good)-1:]
			}, text: "Invalid signature"},
			{name: "89 exp in the past", token: func(t testing.TB, e *tkEnv) string {
				return tkHS(t, e.claims(map[string]any{"exp": e.clock.Now().Add(-time.Second).Unix()}))
			}, text: "Not acceptable by exp…"},
			{name: "89 exp equals now", token: func(t testing.TB, e *tkEnv) string {
				return tkHS(t, e.claims(map[string]any{"exp": e.clock.Now().Unix()}))
			}, text: "Not acceptable by exp…"},
			{name: "89 nbf in the future", token: func(t testing.TB, e *tkEnv) string {
				return tkHS(t, e.claims(map[string]any{"nbf": e.clock.Now().Add(time.Second).Unix()}))
			}, text: "Not acceptable by nbf"},
			{name: "89 nbf equals now", token: func(t testing.TB, e *tkEnv) string {
				return tkHS(t, e.claims(map[string]any{"nbf": e.clock.Now().Unix()}))
			}, ok: true},
			{name: "90 exp as a string", token: tok(map[string]any{"exp": "9999999999"}), text: "exp must be number"},
			{name: "90 nbf as a string", token: tok(map[string]any{"nbf": "0"}), text: "nbf must be number"},
			{name: "91 no exp is accepted as Jitsi does", token: tok(map[string]any{"exp": nil}), ok: true},
			{name: "93 no iss", token: tok(map[string]any{"iss": nil}), text: "'iss' claim is missing"},
			{name: "93 wrong iss", token: tok(map[string]any{"iss": "someone-else"}), text: "invalid 'iss' claim"},
			{name: "94 no aud", token: tok(map[string]any{"aud": nil}), text: "'aud' claim is missing"},
			{name: "94 any aud under the default *", token: tok(map[string]any{"aud": "whatever"}), ok: true},
			{name: "94 aud array under *", token: tok(map[string]any{"aud": []any{"a", "b"}}), ok: true},
			{name: "95 no room claim", token: tok(map[string]any{"room": nil}), text: "'room' claim is missing"},
			{name: "95 empty room claim", token: tok(map[string]any{"room": ""}), text: "invalid 'room' claim"},
			{name: "111 token over 8 KiB", token: tok(map[string]any{"pad": strings.Repeat("x", 9000)}), text: "token too large"},
			{name: "112 duplicate alg in the header", token: func(t testing.TB, e *tkEnv) string {
				return tkRawHS(`{"alg":"HS256","typ":"JWT","alg":"none"}`, payload(e, nil), []byte(tkSecret))
			}, text: "Invalid header"},
			{name: "112 duplicate room in the payload", token: func(t testing.TB, e *tkEnv) string {
				p := strings.TrimSuffix(payload(e, map[string]any{"room": "room1"}), "}") + `,"room":"*"}`
				return tkRawHS(hsHeader, p, []byte(tkSecret))
			}, text: "Invalid body"},
			{name: "113 context.user with nested objects and numbers", token: tok(map[string]any{"context": map[string]any{
				"user": map[string]any{"id": 42, "name": map[string]any{"first": "A"}, "avatar": []any{1, 2}, "moderator": "true"},
			}}), ok: true},
			{name: "113 context that is not an object", token: tok(map[string]any{"context": "user"}), text: "invalid 'context' claim"},
			{name: "4.2 two segments", token: lit("abc.def"), text: "Invalid token"},
			{name: "4.2 garbage", token: lit("not a token at all"), text: "Invalid token"},
			{name: "4.2 header not JSON", token: func(t testing.TB, e *tkEnv) string {
				return tkRawHS(`not json`, payload(e, nil), []byte(tkSecret))
			}, text: "Invalid header"},
			{name: "4.2 Authorization Bearer header", bearer: tok(nil), ok: true},
			{name: "4.2 the query token wins over a good header", token: tok(map[string]any{"iss": "bad"}), bearer: tok(nil), text: "invalid 'iss' claim"},
			{name: "4.2 the query token wins over a bad header", token: tok(nil), bearer: tok(map[string]any{"iss": "bad"}), ok: true},
		}, st)
	})

	t.Run("audiences and issuers", func(t *testing.T) {
		e := tkStart(t, tkOptions{host: `
    asap_accepted_audiences = { "meet" }
    asap_accepted_issuers = { "` + tkAppID + `", "other-issuer" }
`})
		runAuthCases(t, e, []authCase{
			{name: "94 listed aud", token: tok(map[string]any{"aud": "meet"}), ok: true},
			{name: "94 unlisted aud", token: tok(map[string]any{"aud": "jitsi"}), text: "invalid 'aud' claim"},
			{name: "94 aud array holding a listed aud (RFC 7519 4.1.3)", token: tok(map[string]any{"aud": []any{"x", "meet"}}), ok: true},
			{name: "94 aud array without a listed aud", token: tok(map[string]any{"aud": []any{"x", "y"}}), text: "invalid 'aud' claim"},
			{name: "93 second accepted issuer", token: tok(map[string]any{"aud": "meet", "iss": "other-issuer"}), ok: true},
			{name: "93 unlisted issuer", token: tok(map[string]any{"aud": "meet", "iss": "third"}), text: "invalid 'iss' claim"},
		}, st)
	})

	t.Run("allow_empty_token", func(t *testing.T) {
		e := tkStart(t, tkOptions{host: "    allow_empty_token = true\n"})
		runAuthCases(t, e, []authCase{
			{name: "115 no token is anonymous", ok: true},
			{name: "115 a bad token is still refused", token: tok(map[string]any{"iss": "x"}), text: "invalid 'iss' claim"},
		}, st)
	})

	t.Run("token_require_exp and token_leeway", func(t *testing.T) {
		e := tkStart(t, tkOptions{host: "    token_require_exp = true\n    token_leeway = 30\n"})
		at := func(field string, d time.Duration) func(testing.TB, *tkEnv) string {
			return func(t testing.TB, e *tkEnv) string {
				return tkHS(t, e.claims(map[string]any{field: e.clock.Now().Add(d).Unix()}))
			}
		}
		runAuthCases(t, e, []authCase{
			{name: "91 no exp refused when required", token: tok(map[string]any{"exp": nil}), text: "'exp' claim is missing"},
			{name: "92 exp 20 s ago within the leeway", token: at("exp", -20*time.Second), ok: true},
			{name: "92 exp 40 s ago beyond the leeway", token: at("exp", -40*time.Second), text: "Not acceptable by exp…"},
			{name: "92 nbf 20 s ahead within the leeway", token: at("nbf", 20*time.Second), ok: true},
			{name: "92 nbf 40 s ahead beyond the leeway", token: at("nbf", 40*time.Second), text: "Not acceptable by nbf"},
		}, st)
	})

	t.Run("HS512 host", func(t *testing.T) {
		e := tkStart(t, tkOptions{host: `    signature_algorithm = "HS512"` + "\n"})
		runAuthCases(t, e, []authCase{
			{name: "86 HS512 token", token: func(t testing.TB, e *tkEnv) string {
				return tkMint(t, e.claims(nil), "HS512", []byte(tkSecret), "")
			}, ok: true},
			{name: "86 HS256 token on an HS512 host", token: tok(nil), text: "Invalid or incorrect alg"},
		}, st)
	})

	t.Run("RS256 key server", func(t *testing.T) {
		ks := newTkKeyServer(t)
		ks.set("good", tkKeyResponse{status: 200, body: tkPublicPEM(t, rsaA)})
		ks.set("empty204", tkKeyResponse{status: 204})
		ks.set("garbage", tkKeyResponse{status: 200, body: []byte("this is not a PEM key")})
		ks.set("err500", tkKeyResponse{status: 500, body: []byte("oops")})
		ks.set("slow", tkKeyResponse{hang: true})
		e := tkStart(t, tkOptions{
			host:     `    asap_key_server = "` + ks.URL + `"` + "\n",
			verifier: []jwt.Option{jwt.WithHTTPClient(tkKeyClient(t)), jwt.WithFetchTimeout(300 * time.Millisecond)},
		})
		rs := func(kid string, key any, alg string) func(testing.TB, *tkEnv) string {
			return func(t testing.TB, e *tkEnv) string { return tkMint(t, e.claims(nil), alg, key, kid) }
		}
		rawRS := func(header string) func(testing.TB, *tkEnv) string {
			return func(t testing.TB, e *tkEnv) string {
				good := strings.Split(tkMint(t, e.claims(nil), "RS256", rsaA, "good"), ".")
				return b64(header) + "." + good[1] + "." + good[2]
			}
		}
		runAuthCases(t, e, []authCase{
			{name: "4.4 valid RS256 token", token: rs("good", rsaA, "RS256"), ok: true},
			{name: "105 no kid", token: rs("", rsaA, "RS256"), text: "'kid' claim is missing"},
			{name: "105 header not base64url", token: func(t testing.TB, e *tkEnv) string {
				good := strings.Split(tkMint(t, e.claims(nil), "RS256", rsaA, "good"), ".")
				return "%%%." + good[1] + "." + good[2]
			}, text: "bad token format"},
			{name: "105 header not JSON", token: rawRS(`{"alg":"RS256",`), text: "bad token format"},
			{name: "85 HS256 keyed with the public key PEM (CVE-2021-39215)", token: func(t testing.TB, e *tkEnv) string {
				return tkMint(t, e.claims(nil), "HS256", tkPublicPEM(t, rsaA), "good")
			}, text: "'kid' claim only support with RS family"},
			{name: "86 RS512 token on an RS256 host", token: rs("good", rsaA, "RS512"), text: "Invalid or incorrect alg"},
			{name: "87 typ missing", token: rawRS(`{"alg":"RS256","kid":"good"}`), text: "Invalid typ"},
			{name: "88 signed by another private key", token: rs("good", rsaB, "RS256"), text: "Invalid signature"},
			{name: "107 key server 404 (wrong kid)", token: rs("unknown", rsaA, "RS256"), text: "could not obtain public key"},
			{name: "107 key server 204 with an empty body", token: rs("empty204", rsaA, "RS256"), text: "could not obtain public key"},
			{name: "107 key server non-PEM body", token: rs("garbage", rsaA, "RS256"), text: "could not obtain public key"},
			{name: "107 key server 500", token: rs("err500", rsaA, "RS256"), text: "could not obtain public key"},
			{name: "108 key server hangs", token: rs("slow", rsaA, "RS256"), text: "could not obtain public key"},
			{name: "106 kid with a path", token: rs("../../etc/passwd", rsaA, "RS256"), text: "could not obtain public key"},
			{name: "106 JaaS-style kid with a slash", token: rs("vpaas-magic-cookie-1/abc", rsaA, "RS256"), text: "could not obtain public key"},
			{name: "106 kid over 256 bytes", token: rs(strings.Repeat("k", 300), rsaA, "RS256"), text: "invalid 'kid' claim"},
			{name: "106 kid with NUL", token: rs("a\x00b", rsaA, "RS256"), text: "invalid 'kid' claim"},
		}, st)
		// SECURITY-CASES 106: every fetch is <server>/<hex sha256(kid)>.pem.
		hashed := regexp.MustCompile(`^/[0-9a-f]{64}\.pem$`)
		for _, p := range ks.allPaths() {
			if !hashed.MatchString(p) {
				t.Errorf("key server asked for %q", p)
			}
		}
		// The good key is fetched once for all logins; failures are
		// remembered (SECURITY-CASES 109).
		if n := ks.count("good"); n != 1 {
			t.Errorf("good key fetched %d times, want 1", n)
		}
		for _, kid := range []string{"unknown", "empty204", "garbage", "err500"} {
			if n := ks.count(kid); n != 1 {
				t.Errorf("failing kid %q fetched %d times, want 1 (negative cache)", kid, n)
			}
		}
	})

	t.Run("ES256 key server (parley extension)", func(t *testing.T) {
		ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		ks := newTkKeyServer(t)
		ks.set("ec", tkKeyResponse{status: 200, body: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})})
		ks.set("rsa", tkKeyResponse{status: 200, body: tkPublicPEM(t, rsaA)})
		e := tkStart(t, tkOptions{
			host:     `    asap_key_server = "` + ks.URL + `"` + "\n" + `    signature_algorithm = "ES256"` + "\n",
			verifier: []jwt.Option{jwt.WithHTTPClient(tkKeyClient(t))},
		})
		with := func(alg string, key any, kid string) func(testing.TB, *tkEnv) string {
			return func(t testing.TB, e *tkEnv) string { return tkMint(t, e.claims(nil), alg, key, kid) }
		}
		runAuthCases(t, e, []authCase{
			{name: "ES256 token", token: with("ES256", ec, "ec"), ok: true},
			{name: "86 RS256 token on an ES256 host", token: with("RS256", rsaA, "rsa"), text: "Invalid or incorrect alg"},
			{name: "an RSA key under the kid is no key", token: with("ES256", ec, "rsa"), text: "could not obtain public key"},
			{name: "85 HS256 keyed with the EC public key PEM", token: func(t testing.TB, e *tkEnv) string {
				return tkMint(t, e.claims(nil), "HS256", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), "ec")
			}, text: "'kid' claim only support with RS family"},
		}, st)
	})

	t.Logf("auth matrix: %d/%d JWT cases passed (over websocket and bosh); tokens wrongly accepted: %d", st.passed, st.total, st.wrongly)
	if st.wrongly != 0 {
		t.Fatalf("%d tokens were wrongly accepted", st.wrongly)
	}
	if st.total < 100 {
		t.Fatalf("only %d cases ran", st.total)
	}
}

// TestTokenFailureWireFormat checks the SASL failure the way lib-jitsi-meet
// reads it: a regular expression over the raw frame (JITSI.md §4.3).
func TestTokenFailureWireFormat(t *testing.T) {
	e := tkStart(t, tkOptions{})
	q := url.Values{"token": {tkHS(t, e.claims(map[string]any{"iss": "intruder"}))}}
	ws := transporttest.DialWS(t, transporttest.WSURL(e.HTTPURL, q.Encode()), nil)
	ws.Open(tkDomain)
	ws.Send(`<auth xmlns='` + tkNSSASL + `' mechanism='ANONYMOUS'/>`)
	raw, err := ws.NextRaw()
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`<failure.*><not-allowed/><text>(.*)</text></failure>`)
	m := re.FindStringSubmatch(string(raw))
	if m == nil || m[1] != "invalid 'iss' claim" {
		t.Fatalf("frame %q does not give lib-jitsi-meet the reason", raw)
	}
}

// TestTokenMechanisms: only ANONYMOUS is offered and accepted (JITSI.md
// §4.3).
func TestTokenMechanisms(t *testing.T) {
	e := tkStart(t, tkOptions{})
	for _, tr := range tkTransports() {
		t.Run(tr.name, func(t *testing.T) {
			c, f := tr.open(t, e, tkDomain, url.Values{"token": {tkHS(t, e.claims(nil))}}, nil)
			mechs := f.Child(tkNSSASL, "mechanisms")
			if mechs == nil || len(mechs.Elements()) != 1 || mechs.Elements()[0].Text() != "ANONYMOUS" {
				t.Fatalf("mechanisms %s", f)
			}
			res := c.Exchange(`<auth xmlns='` + tkNSSASL + `' mechanism='PLAIN'>AGFsaWNlAHNlY3JldA==</auth>`)
			if res.Name.Local != "failure" || res.Child(tkNSSASL, "invalid-mechanism") == nil {
				t.Fatalf("PLAIN: %s", res)
			}
		})
	}
}

// lockedBuffer collects log output from many goroutines.
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

// TestTokenNeverLogged: tokens from ?token= or the Authorization header,
// good or bad, never reach the logs, even at debug level (SECURITY-CASES
// 114).
func TestTokenNeverLogged(t *testing.T) {
	var buf lockedBuffer
	e := tkStart(t, tkOptions{logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	var tokens []string
	for _, tr := range tkTransports() {
		for i, mods := range []map[string]any{nil, {"iss": "bad"}, {"exp": e.clock.Now().Add(-time.Hour).Unix()}, {"room": nil}} {
			tok := tkHS(t, e.claims(mods))
			tokens = append(tokens, tok)
			q, h := url.Values{"token": {tok}}, http.Header(nil)
			if i%2 == 1 {
				q, h = nil, http.Header{"Authorization": {"Bearer " + tok}}
			}
			c, _ := tr.open(t, e, tkDomain, q, h)
			tkSASL(c)
		}
		forged := tkHS(t, e.claims(nil))
		forged = forged[:len(forged)-3] + "AAA"
		tokens = append(tokens, forged)
		c, _ := tr.open(t, e, tkDomain, url.Values{"token": {forged}}, nil)
		tkSASL(c)
	}
	logs := buf.String()
	if !strings.Contains(logs, "authenticated") {
		t.Fatalf("no login was logged at all:\n%s", logs)
	}
	for _, tok := range tokens {
		sig := tok[strings.LastIndexByte(tok, '.')+1:]
		if strings.Contains(logs, sig) || strings.Contains(logs, tok[:strings.IndexByte(tok, '.')+8]) {
			t.Fatalf("a token reached the logs:\n%s", logs)
		}
	}
}

// TestTokenTCPHasNoToken: a TCP c2s stream has no HTTP request, hence no
// token (JITSI.md §4.2): token hosts refuse it unless empty tokens are
// allowed (SECURITY-CASES 75: same rules on every transport).
func TestTokenTCPHasNoToken(t *testing.T) {
	for _, tc := range []struct {
		name, host string
		ok         bool
	}{
		{"token required", "", false},
		{"allow_empty_token", "    allow_empty_token = true\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := tkStart(t, tkOptions{host: tc.host})
			raw := servertest.DialRaw(t, e.C2SAddr)
			raw.Open(tkDomain)
			raw.Write(`<auth xmlns='` + tkNSSASL + `' mechanism='ANONYMOUS'/>`)
			res := raw.Next()
			if ok := res.Name.Local == "success"; ok != tc.ok {
				t.Fatalf("TCP login: %s", res)
			}
			if !tc.ok && tkFailureText(res) != "token required" {
				t.Fatalf("TCP login failure: %s", res)
			}
		})
	}
}

// TestTokenVerifiedHook: jitsi-authentication-token-verified fires with the
// session and its claims after a token login; a handler error refuses the
// login.
func TestTokenVerifiedHook(t *testing.T) {
	e := tkStart(t, tkOptions{})
	p, ok := e.Host(tkDomain).Auth.(*jitsi.TokenAuth)
	if !ok {
		t.Fatalf("provider is %T", e.Host(tkDomain).Auth)
	}
	type seen struct {
		room string
		ok   bool
	}
	got := make(chan seen, 4)
	p.TokenVerified.On(0, "test", func(_ context.Context, ev *jitsi.TokenVerifiedEvent) error {
		bound := jitsi.SessionClaims(ev.Session)
		got <- seen{room: ev.Claims.Room, ok: bound == ev.Claims}
		if ev.Claims.Room == "banned" {
			return &auth.Failure{Condition: "not-allowed", Text: "user is banned"}
		}
		return nil
	})
	for _, tr := range tkTransports() {
		t.Run(tr.name, func(t *testing.T) {
			tkLogin(t, e, tr, tkHS(t, e.claims(map[string]any{"room": "r1"})))
			if s := <-got; s.room != "r1" || !s.ok {
				t.Fatalf("hook saw %+v", s)
			}
			c, _ := tr.open(t, e, tkDomain, url.Values{"token": {tkHS(t, e.claims(map[string]any{"room": "banned"}))}}, nil)
			res := tkSASL(c)
			if res.Name.Local != "failure" || tkFailureText(res) != "user is banned" {
				t.Fatalf("vetoed login: %s", res)
			}
			if s := <-got; s.room != "banned" {
				t.Fatalf("hook saw %+v", s)
			}
		})
	}
}
