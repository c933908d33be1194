package jwt_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/auth/jwt"
)

func TestVerifyValidHS256(t *testing.T) {
	v, _ := hsVerifier(t, nil)
	c, err := v.Verify(context.Background(), mintHS(t, claims(map[string]any{
		"moderator": true,
		"context": map[string]any{
			"user":     map[string]any{"id": "u1", "name": "Ada", "email": "ada@example.com", "avatar": "https://a/x.png", "affiliation": "member", "moderator": "true"},
			"group":    "g1",
			"tenant":   "TenantA",
			"features": map[string]any{"recording": "true", "livestreaming": false},
			"room":     map[string]any{"regex": false},
		},
	})))
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != testAppID || c.Subject != "meet.example.com" || c.Room != "room1" || len(c.Audience) != 1 || c.Audience[0] != "jitsi" {
		t.Errorf("claims = %+v", c)
	}
	if !c.ExpiresAt.Equal(t0.Add(time.Hour)) || !c.IssuedAt.Equal(t0.Add(-time.Minute)) || !c.NotBefore.IsZero() {
		t.Errorf("times = %v %v %v", c.ExpiresAt, c.IssuedAt, c.NotBefore)
	}
	if c.User == nil || c.User.ID != "u1" || c.User.Name != "Ada" || c.User.Email != "ada@example.com" ||
		c.User.Avatar != "https://a/x.png" || c.User.Affiliation != "member" || !c.User.Moderator {
		t.Errorf("user = %+v", c.User)
	}
	if c.Context == nil || c.Context.Group != "g1" || c.Context.Tenant != "TenantA" || c.Context.RoomRegex {
		t.Errorf("context = %+v", c.Context)
	}
	if !c.Feature("recording") || c.Feature("livestreaming") || c.Feature("absent") {
		t.Error("features misread")
	}
	if !c.Moderator || !c.IsOwner() {
		t.Error("moderator flags misread")
	}
	if c.TenantMismatch("tenanta") || !c.TenantMismatch("other") {
		t.Error("TenantMismatch misread")
	}
	if _, ok := c.Raw["iat"].(json.Number); !ok {
		t.Errorf("raw iat is %T, want json.Number", c.Raw["iat"])
	}
	if c.KeyID != "" {
		t.Errorf("kid = %q for an HS256 host", c.KeyID)
	}
}

// TestVerifyTable covers the claim and format rules of JITSI.md §4.4 on an
// HS256 host, with SECURITY-CASES numbers in the names.
func TestVerifyTable(t *testing.T) {
	hs := func(mods map[string]any) func(testing.TB) string {
		return func(t testing.TB) string { return mintHS(t, claims(mods)) }
	}
	raw := func(header, payload, alg string, key any) func(testing.TB) string {
		return func(t testing.TB) string { return rawToken(t, header, payload, alg, key) }
	}
	secret := []byte(testSecret)
	okBody := func(t testing.TB) string { return mustJSON(t, claims(nil)) }
	signedBody := func(header string, body func(testing.TB) string) func(testing.TB) string {
		return func(t testing.TB) string { return rawToken(t, header, body(t), "HS256", secret) }
	}
	hdr := `{"alg":"HS256","typ":"JWT"}`
	rsaB := loadKey(t, "rsa_b.pem")

	tests := []struct {
		name   string
		cfg    func(*jwt.Config)
		token  func(testing.TB) string
		reason jwt.Reason // "" = accepted
		text   string
	}{
		{name: "valid", token: hs(nil)},
		{name: "#115 empty token refused", token: func(testing.TB) string { return "" }, reason: jwt.ReasonTokenRequired, text: "token required"},
		{name: "#111 token over 8KiB", token: hs(map[string]any{"pad": strings.Repeat("x", 9000)}), reason: jwt.ReasonTokenTooLarge},
		{name: "two segments", token: func(testing.TB) string { return b64(hdr) + "." + b64("{}") }, reason: jwt.ReasonMalformed, text: "Invalid token"},
		{name: "four segments", token: func(t testing.TB) string { return mintHS(t, claims(nil)) + ".x" }, reason: jwt.ReasonMalformed, text: "Invalid token"},
		{name: "empty segment", token: func(testing.TB) string { return b64(hdr) + "..c2ln" }, reason: jwt.ReasonMalformed, text: "Invalid token"},
		{name: "header not base64url", token: func(testing.TB) string { return "e30+." + b64("{}") + ".c2ln" }, reason: jwt.ReasonMalformed, text: "Invalid header"},
		{name: "header padded base64", token: func(testing.TB) string { return b64(hdr) + "=." + b64("{}") + ".c2ln" }, reason: jwt.ReasonMalformed, text: "Invalid header"},
		{name: "header not JSON", token: raw(`{"alg":`, `{}`, "", nil), reason: jwt.ReasonMalformed, text: "Invalid header"},
		{name: "header is an array", token: raw(`["HS256"]`, `{}`, "", nil), reason: jwt.ReasonMalformed, text: "Invalid header"},
		{name: "header with trailing data", token: raw(hdr+`{}`, `{}`, "", nil), reason: jwt.ReasonMalformed, text: "Invalid header"},
		{name: "#112 duplicate alg in header", token: raw(`{"alg":"none","typ":"JWT","alg":"HS256"}`, `{}`, "", nil), reason: jwt.ReasonMalformed, text: "Invalid header"},
		{name: "crit header refused", token: signedBody(`{"alg":"HS256","typ":"JWT","crit":["x"],"x":1}`, okBody), reason: jwt.ReasonMalformed, text: "Invalid header"},
		{name: "#112 duplicate room in payload", token: signedBody(hdr, func(testing.TB) string {
			return `{"iss":"` + testAppID + `","aud":"jitsi","room":"a","room":"b"}`
		}), reason: jwt.ReasonMalformed, text: "Invalid body"},
		{name: "#112 duplicate nested key", token: signedBody(hdr, func(testing.TB) string {
			return `{"iss":"` + testAppID + `","aud":"jitsi","room":"a","context":{"user":{"id":"a","id":"b"}}}`
		}), reason: jwt.ReasonMalformed, text: "Invalid body"},
		{name: "payload not JSON", token: signedBody(hdr, func(testing.TB) string { return `{"iss"` }), reason: jwt.ReasonMalformed, text: "Invalid body"},
		{name: "payload not an object", token: signedBody(hdr, func(testing.TB) string { return `"x"` }), reason: jwt.ReasonMalformed, text: "Invalid body"},
		{name: "payload nested too deeply", token: signedBody(hdr, func(testing.TB) string {
			return `{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`
		}), reason: jwt.ReasonMalformed, text: "Invalid body"},
		{name: "#87 typ missing", token: signedBody(`{"alg":"HS256"}`, okBody), reason: jwt.ReasonType, text: "Invalid typ"},
		{name: "#87 typ lower-case", token: signedBody(`{"alg":"HS256","typ":"jwt"}`, okBody), reason: jwt.ReasonType, text: "Invalid typ"},
		{name: "#87 typ not a string", token: signedBody(`{"alg":"HS256","typ":1}`, okBody), reason: jwt.ReasonType, text: "Invalid typ"},
		{name: "#84 alg none", token: raw(`{"alg":"none","typ":"JWT"}`, `{"iss":"`+testAppID+`","aud":"x","room":"r"}`, "", nil), reason: jwt.ReasonAlgorithm, text: "Invalid or incorrect alg"},
		{name: "#84 alg empty", token: raw(`{"alg":"","typ":"JWT"}`, `{}`, "", nil), reason: jwt.ReasonAlgorithm, text: "Invalid or incorrect alg"},
		{name: "#84 alg missing", token: raw(`{"typ":"JWT"}`, `{}`, "", nil), reason: jwt.ReasonAlgorithm, text: "Invalid or incorrect alg"},
		{name: "#86 HS512 on an HS256 host", token: signedBody(`{"alg":"HS512","typ":"JWT"}`, okBody), reason: jwt.ReasonAlgorithm, text: "Invalid or incorrect alg"},
		{name: "#86 RS256 on an HS256 host", token: func(t testing.TB) string {
			return rawToken(t, `{"alg":"RS256","typ":"JWT"}`, mustJSON(t, claims(nil)), "RS256", rsaB)
		}, reason: jwt.ReasonAlgorithm, text: "Invalid or incorrect alg"},
		{name: "#86 HS384 host accepts HS384", cfg: func(c *jwt.Config) { c.SignatureAlgorithm = "HS384" },
			token: func(t testing.TB) string {
				return rawToken(t, `{"alg":"HS384","typ":"JWT"}`, mustJSON(t, claims(nil)), "HS384", secret)
			}},
		{name: "#88 wrong secret", token: func(t testing.TB) string {
			return rawToken(t, hdr, mustJSON(t, claims(nil)), "HS256", []byte("another-secret-of-enough-length-000"))
		}, reason: jwt.ReasonSignature, text: "Invalid signature"},
		{name: "#88 tampered payload", token: func(t testing.TB) string {
			parts := strings.Split(mintHS(t, claims(nil)), ".")
			return parts[0] + "." + b64(mustJSON(t, claims(map[string]any{"room": "*"}))) + "." + parts[2]
		}, reason: jwt.ReasonSignature, text: "Invalid signature"},
		{name: "#88 tampered signature", token: func(t testing.TB) string {
			s := mintHS(t, claims(nil))
			last := s[len(s)-2]
			repl := byte('A')
			if last == 'A' {
				repl = 'B'
			}
			return s[:len(s)-2] + string(repl) + s[len(s)-1:]
		}, reason: jwt.ReasonSignature, text: "Invalid signature"},
		{name: "signature not base64url", token: func(t testing.TB) string {
			parts := strings.Split(mintHS(t, claims(nil)), ".")
			return parts[0] + "." + parts[1] + ".%%%"
		}, reason: jwt.ReasonSignature, text: "Invalid signature"},
		{name: "#89 exp in the past", token: hs(map[string]any{"exp": t0.Add(-time.Hour).Unix(), "iat": t0.Add(-2 * time.Hour).Unix()}),
			reason: jwt.ReasonExpired, text: "Not acceptable by exp (3600 sec since expired, valid for:3600 sec)"},
		{name: "#89 exp in the past without iat", token: hs(map[string]any{"exp": t0.Add(-10 * time.Second).Unix(), "iat": nil}),
			reason: jwt.ReasonExpired, text: "Not acceptable by exp (10 sec since expired)"},
		{name: "#89 exp equal to now", token: hs(map[string]any{"exp": t0.Unix()}), reason: jwt.ReasonExpired},
		{name: "#89 exp one second ahead", token: hs(map[string]any{"exp": t0.Unix() + 1})},
		{name: "#89 nbf in the future", token: hs(map[string]any{"nbf": t0.Unix() + 1}), reason: jwt.ReasonNotYetValid, text: "Not acceptable by nbf"},
		{name: "#89 nbf equal to now", token: hs(map[string]any{"nbf": t0.Unix()})},
		{name: "#90 exp as a string", token: hs(map[string]any{"exp": "9999999999"}), reason: jwt.ReasonClaimType, text: "exp must be number"},
		{name: "#90 nbf as a string", token: hs(map[string]any{"nbf": "1"}), reason: jwt.ReasonClaimType, text: "nbf must be number"},
		{name: "#90 exp as a boolean", token: hs(map[string]any{"exp": true}), reason: jwt.ReasonClaimType, text: "exp must be number"},
		{name: "#90 exp null", token: signedBody(hdr, func(testing.TB) string {
			return `{"iss":"` + testAppID + `","aud":"jitsi","room":"a","exp":null}`
		}), reason: jwt.ReasonClaimType, text: "exp must be number"},
		{name: "exp fractional", token: hs(map[string]any{"exp": float64(t0.Unix()) + 0.5})},
		{name: "exp absurdly large", token: hs(map[string]any{"exp": 1e300})},
		{name: "exp absurdly small", token: hs(map[string]any{"exp": -1e300}), reason: jwt.ReasonExpired},
		{name: "#91 no exp accepted like Jitsi", token: hs(map[string]any{"exp": nil})},
		{name: "#91 no exp refused with token_require_exp", cfg: func(c *jwt.Config) { c.RequireExpiration = true },
			token: hs(map[string]any{"exp": nil}), reason: jwt.ReasonExpirationMissing, text: "'exp' claim is missing"},
		{name: "#92 no leeway by default", token: hs(map[string]any{"exp": t0.Unix() - 1}), reason: jwt.ReasonExpired},
		{name: "#92 leeway 30s: exp 29s ago", cfg: func(c *jwt.Config) { c.Leeway = 30 * time.Second }, token: hs(map[string]any{"exp": t0.Unix() - 29})},
		{name: "#92 leeway 30s: exp 30s ago", cfg: func(c *jwt.Config) { c.Leeway = 30 * time.Second }, token: hs(map[string]any{"exp": t0.Unix() - 30}), reason: jwt.ReasonExpired},
		{name: "#92 leeway 30s: nbf in 30s", cfg: func(c *jwt.Config) { c.Leeway = 30 * time.Second }, token: hs(map[string]any{"nbf": t0.Unix() + 30})},
		{name: "#92 leeway 30s: nbf in 31s", cfg: func(c *jwt.Config) { c.Leeway = 30 * time.Second }, token: hs(map[string]any{"nbf": t0.Unix() + 31}), reason: jwt.ReasonNotYetValid},
		{name: "#93 iss missing", token: hs(map[string]any{"iss": nil}), reason: jwt.ReasonIssuer, text: "'iss' claim is missing"},
		{name: "#93 iss empty", token: hs(map[string]any{"iss": ""}), reason: jwt.ReasonIssuer, text: "'iss' claim is missing"},
		{name: "#93 iss wrong", token: hs(map[string]any{"iss": "evil"}), reason: jwt.ReasonIssuer, text: "invalid 'iss' claim"},
		{name: "#93 iss not a string", token: hs(map[string]any{"iss": 7}), reason: jwt.ReasonIssuer, text: "invalid 'iss' claim"},
		{name: "#93 iss in configured list", cfg: func(c *jwt.Config) { c.AcceptedIssuers = []string{"a", "b"} }, token: hs(map[string]any{"iss": "b"})},
		{name: "#93 app_id not accepted once issuers are set", cfg: func(c *jwt.Config) { c.AcceptedIssuers = []string{"a"} }, token: hs(nil), reason: jwt.ReasonIssuer},
		{name: "#93 issuer wildcard", cfg: func(c *jwt.Config) { c.AcceptedIssuers = []string{"*"} }, token: hs(map[string]any{"iss": "anyone"})},
		{name: "#94 aud missing", token: hs(map[string]any{"aud": nil}), reason: jwt.ReasonAudience, text: "'aud' claim is missing"},
		{name: "#94 aud empty array", token: hs(map[string]any{"aud": []any{}}), reason: jwt.ReasonAudience, text: "'aud' claim is missing"},
		{name: "#94 any aud with default *", token: hs(map[string]any{"aud": "whatever"})},
		{name: "#94 aud wrong", cfg: func(c *jwt.Config) { c.AcceptedAudiences = []string{"jitsi"} }, token: hs(map[string]any{"aud": "other"}), reason: jwt.ReasonAudience, text: "invalid 'aud' claim"},
		{name: "#94 aud right", cfg: func(c *jwt.Config) { c.AcceptedAudiences = []string{"jitsi"} }, token: hs(nil)},
		{name: "§4.7 aud array matched item by item", cfg: func(c *jwt.Config) { c.AcceptedAudiences = []string{"jitsi"} }, token: hs(map[string]any{"aud": []any{"x", "jitsi"}})},
		{name: "aud array without an accepted item", cfg: func(c *jwt.Config) { c.AcceptedAudiences = []string{"jitsi"} }, token: hs(map[string]any{"aud": []any{"x", "y"}}), reason: jwt.ReasonAudience},
		{name: "aud array with a non-string", token: hs(map[string]any{"aud": []any{"x", 1}}), reason: jwt.ReasonAudience, text: "invalid 'aud' claim"},
		{name: "aud object", token: hs(map[string]any{"aud": map[string]any{}}), reason: jwt.ReasonAudience, text: "invalid 'aud' claim"},
		{name: "#95 room missing", token: hs(map[string]any{"room": nil}), reason: jwt.ReasonRoomMissing, text: "'room' claim is missing"},
		{name: "#95 room optional", cfg: func(c *jwt.Config) { c.AllowMissingRoomClaim = true }, token: hs(map[string]any{"room": nil})},
		{name: "room empty string", token: hs(map[string]any{"room": ""}), reason: jwt.ReasonClaimType, text: "invalid 'room' claim"},
		{name: "room empty string with optional room", cfg: func(c *jwt.Config) { c.AllowMissingRoomClaim = true }, token: hs(map[string]any{"room": ""}), reason: jwt.ReasonClaimType},
		{name: "room null counts as missing", token: signedBody(hdr, func(testing.TB) string {
			return `{"iss":"` + testAppID + `","aud":"jitsi","room":null}`
		}), reason: jwt.ReasonRoomMissing},
		{name: "room not a string", token: hs(map[string]any{"room": 5}), reason: jwt.ReasonClaimType, text: "invalid 'room' claim"},
		{name: "sub not a string", token: hs(map[string]any{"sub": []any{"a"}}), reason: jwt.ReasonClaimType, text: "invalid 'sub' claim"},
		{name: "#113 context not an object", token: hs(map[string]any{"context": "x"}), reason: jwt.ReasonClaimType, text: "invalid 'context' claim"},
		{name: "#113 context.user not an object", token: hs(map[string]any{"context": map[string]any{"user": 3}}), reason: jwt.ReasonClaimType, text: "invalid 'context' claim"},
		{name: "#113 context.user fields of odd types", token: hs(map[string]any{"context": map[string]any{
			"user": map[string]any{"id": 42, "name": map[string]any{"x": 1}, "email": []any{1}, "moderator": 1},
		}})},
		{name: "Jitsi order: exp reported before iss", token: hs(map[string]any{"exp": t0.Unix() - 5, "iat": nil, "iss": "evil"}),
			reason: jwt.ReasonExpired, text: "Not acceptable by exp (5 sec since expired)"},
		{name: "Jitsi order: iss reported before aud and room", token: hs(map[string]any{"iss": "evil", "aud": nil, "room": nil}), reason: jwt.ReasonIssuer},
		{name: "Jitsi order: typ checked before alg", token: raw(`{"alg":"none"}`, `{}`, "", nil), reason: jwt.ReasonType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := hsVerifier(t, tc.cfg)
			c, err := v.Verify(context.Background(), tc.token(t))
			if tc.reason == "" {
				if err != nil || c == nil {
					t.Fatalf("Verify = %v, %v; want accepted", c, err)
				}
				return
			}
			if c != nil {
				t.Errorf("claims returned with an error: %+v", c)
			}
			wantErr(t, err, tc.reason, tc.text)
		})
	}
}

func TestVerifyEmptyTokenAllowed(t *testing.T) { // SECURITY-CASES #115
	v, _ := hsVerifier(t, func(c *jwt.Config) { c.AllowEmptyToken = true })
	c, err := v.Verify(context.Background(), "")
	if c != nil || err != nil {
		t.Fatalf("Verify(\"\") = %v, %v; want nil, nil (anonymous)", c, err)
	}
	// A present token is still checked in full.
	_, err = v.Verify(context.Background(), mintHS(t, claims(map[string]any{"iss": "evil"})))
	wantErr(t, err, jwt.ReasonIssuer, "")
}

func TestVerifyUserFallbacks(t *testing.T) {
	v, _ := hsVerifier(t, nil)
	tests := []struct {
		name   string
		mods   map[string]any
		wantID string
		owner  bool
	}{
		{name: "user_id without context", mods: map[string]any{"context": nil, "user_id": "abc"}, wantID: "abc"},
		{name: "numeric user_id", mods: map[string]any{"context": nil, "user_id": 12}, wantID: "12"},
		{name: "context wins over user_id", mods: map[string]any{"user_id": "zzz"}, wantID: "u1", owner: true},
		{name: "numeric context.user.id (#113)", mods: map[string]any{"context": map[string]any{"user": map[string]any{"id": 7}}}, wantID: "7"},
		{name: "affiliation owner", mods: map[string]any{"context": map[string]any{"user": map[string]any{"affiliation": "Owner"}}}, owner: true},
		{name: "affiliation teacher", mods: map[string]any{"context": map[string]any{"user": map[string]any{"affiliation": "teacher"}}}, owner: true},
		{name: "moderator boolean", mods: map[string]any{"context": map[string]any{"user": map[string]any{"moderator": true}}}, owner: true},
		{name: "moderator false string", mods: map[string]any{"context": map[string]any{"user": map[string]any{"moderator": "false"}}}},
		{name: "no user at all", mods: map[string]any{"context": nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), mintHS(t, claims(tc.mods)))
			if err != nil {
				t.Fatal(err)
			}
			id := ""
			if c.User != nil {
				id = c.User.ID
			}
			if id != tc.wantID || c.IsOwner() != tc.owner {
				t.Errorf("user id %q owner %v; want %q %v", id, c.IsOwner(), tc.wantID, tc.owner)
			}
		})
	}
}

// TestVerifyClockAdvances checks that the injected clock drives expiry: the
// same token passes, then fails once the clock passes exp.
func TestVerifyClockAdvances(t *testing.T) {
	v, clk := hsVerifier(t, nil)
	tok := mintHS(t, claims(map[string]any{"exp": t0.Add(time.Minute).Unix()}))
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	_, err := v.Verify(context.Background(), tok)
	wantErr(t, err, jwt.ReasonExpired, "")
}

func TestErrorFormatting(t *testing.T) {
	v, _ := hsVerifier(t, nil)
	_, err := v.Verify(context.Background(), "a.b")
	if got := err.Error(); got != "jwt: malformed: Invalid token" {
		t.Errorf("Error() = %q", got)
	}
	if jwt.ReasonOf(err) != jwt.ReasonMalformed || jwt.ReasonOf(context.Canceled) != "" {
		t.Error("ReasonOf misreads")
	}
}
