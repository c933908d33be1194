package jwt_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/auth/jwt"
)

func lookup(opts map[string]any) func(string) (any, bool) {
	return func(k string) (any, bool) {
		v, ok := opts[k]
		return v, ok
	}
}

func TestConfigFromOptions(t *testing.T) {
	got, err := jwt.ConfigFromOptions(lookup(map[string]any{
		"app_id":                      "app",
		"app_secret":                  "s3cret",
		"asap_key_server":             "https://keys.example/asap",
		"cache_keys_url":              "https://idp.example/certs",
		"signature_algorithm":         "RS512",
		"allow_empty_token":           true,
		"asap_accepted_issuers":       []any{"a", "b"},
		"asap_accepted_audiences":     "jitsi", // a single string is a one-item array
		"asap_require_room_claim":     false,
		"enable_domain_verification":  "false",
		"muc_mapper_domain_base":      "meet.example.com",
		"muc_mapper_domain_prefix":    "muc",
		"muc_mapper_domain":           "muc.meet.example.com",
		"jwt_pubkey_cache_size":       float64(64),
		"token_regex_enabled":         false,
		"token_regex_room_max_length": float64(64),
		"token_regex_max_quantifiers": float64(2),
		"token_require_exp":           true,
		"token_leeway":                float64(30),
		"unrelated_option":            []any{1, 2},
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := jwt.Config{
		AppID: "app", AppSecret: "s3cret", ASAPKeyServer: "https://keys.example/asap", CacheKeysURL: "https://idp.example/certs",
		SignatureAlgorithm: "RS512", AllowEmptyToken: true,
		AcceptedIssuers: []string{"a", "b"}, AcceptedAudiences: []string{"jitsi"},
		AllowMissingRoomClaim: true, DisableDomainVerification: true,
		MUCDomainBase: "meet.example.com", MUCDomainPrefix: "muc", MUCDomain: "muc.meet.example.com",
		KeyCacheSize: 64, DisableRoomPatterns: true, RoomPatternMaxRoomLength: 64, RoomPatternMaxQuantifiers: 2,
		RequireExpiration: true, Leeway: 30 * time.Second,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// TestConfigDefaults: Jitsi's defaults (JITSI.md §4.1) when options are unset.
func TestConfigDefaults(t *testing.T) {
	cfg, err := jwt.ConfigFromOptions(lookup(map[string]any{"app_id": float64(12345), "app_secret": testSecret, "muc_mapper_domain_base": "Meet.Example.com"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AppID != "12345" {
		t.Errorf("numeric app_id = %q", cfg.AppID)
	}
	if cfg.AllowMissingRoomClaim || cfg.DisableDomainVerification || cfg.DisableRoomPatterns || cfg.AllowEmptyToken {
		t.Errorf("unset booleans did not give Jitsi defaults: %+v", cfg)
	}
	v, err := jwt.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	eff := v.Config()
	if eff.SignatureAlgorithm != "HS256" || !reflect.DeepEqual(eff.AcceptedIssuers, []string{"12345"}) ||
		!reflect.DeepEqual(eff.AcceptedAudiences, []string{"*"}) || eff.MUCDomainPrefix != "conference" ||
		eff.MUCDomain != "conference.meet.example.com" || eff.KeyCacheSize != 128 ||
		eff.RoomPatternMaxRoomLength != 128 || eff.RoomPatternMaxQuantifiers != 3 || eff.Leeway != 0 {
		t.Errorf("effective config = %+v", eff)
	}
	eff.AcceptedIssuers[0] = "mutated"
	if v.Config().AcceptedIssuers[0] != "12345" {
		t.Error("Config() exposes internal slices")
	}
	rs, err := jwt.NewVerifier(jwt.Config{AppID: "a", ASAPKeyServer: "https://k.example/"})
	if err != nil {
		t.Fatal(err)
	}
	if rs.Config().SignatureAlgorithm != "RS256" {
		t.Errorf("key server default alg = %s", rs.Config().SignatureAlgorithm)
	}
}

func TestConfigFromOptionsErrors(t *testing.T) {
	_, err := jwt.ConfigFromOptions(lookup(map[string]any{
		"app_id":                     true,
		"allow_empty_token":          "maybe",
		"asap_accepted_issuers":      []any{"a", 3},
		"asap_accepted_audiences":    map[string]any{},
		"jwt_pubkey_cache_size":      1.5,
		"enable_domain_verification": float64(2),
		"token_leeway":               float64(-1),
	}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, key := range []string{"app_id", "allow_empty_token", "asap_accepted_issuers", "asap_accepted_audiences", "jwt_pubkey_cache_size", "enable_domain_verification", "token_leeway"} {
		if !strings.Contains(err.Error(), `"`+key+`"`) {
			t.Errorf("error does not name %s: %v", key, err)
		}
	}
}

func TestNewVerifierRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  jwt.Config
		want string
	}{
		{name: "no app_id", cfg: jwt.Config{AppSecret: testSecret}, want: "'app_id' must not be empty"},
		{name: "no key source", cfg: jwt.Config{AppID: "a"}, want: "must be specified"},
		{name: "empty app_secret (anyone could mint)", cfg: jwt.Config{AppID: "a", AppSecret: ""}, want: "must be specified"},
		{name: "#85 HS256 with a key server", cfg: jwt.Config{AppID: "a", ASAPKeyServer: "https://k/", SignatureAlgorithm: "HS256"}, want: "cannot be used with a key server"},
		{name: "RS256 with app_secret", cfg: jwt.Config{AppID: "a", AppSecret: testSecret, SignatureAlgorithm: "RS256"}, want: "cannot be used with 'app_secret'"},
		{name: "alg none", cfg: jwt.Config{AppID: "a", AppSecret: testSecret, SignatureAlgorithm: "none"}, want: "cannot be used"},
		{name: "ES512 not supported", cfg: jwt.Config{AppID: "a", ASAPKeyServer: "https://k/", SignatureAlgorithm: "ES512"}, want: "cannot be used"},
		{name: "ES256 with app_secret", cfg: jwt.Config{AppID: "a", AppSecret: testSecret, SignatureAlgorithm: "ES256"}, want: "cannot be used with 'app_secret'"},
		{name: "relative key server", cfg: jwt.Config{AppID: "a", ASAPKeyServer: "/keys"}, want: "absolute http(s) URL"},
		{name: "file key server", cfg: jwt.Config{AppID: "a", ASAPKeyServer: "file:///etc"}, want: "absolute http(s) URL"},
		{name: "key server with query", cfg: jwt.Config{AppID: "a", CacheKeysURL: "https://k/?a=b"}, want: "absolute http(s) URL"},
		{name: "empty issuer list", cfg: jwt.Config{AppID: "a", AppSecret: testSecret, AcceptedIssuers: []string{}}, want: "no token could ever be accepted"},
		{name: "empty audience item", cfg: jwt.Config{AppID: "a", AppSecret: testSecret, AcceptedAudiences: []string{""}}, want: "contains an empty string"},
		{name: "negative leeway", cfg: jwt.Config{AppID: "a", AppSecret: testSecret, Leeway: -time.Second}, want: "leeway"},
		{name: "negative cache size", cfg: jwt.Config{AppID: "a", AppSecret: testSecret, KeyCacheSize: -1}, want: "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := jwt.NewVerifier(tc.cfg)
			if err == nil || v != nil {
				t.Fatalf("NewVerifier = %v, %v; want error", v, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
	if _, err := jwt.NewVerifier(jwt.Config{AppID: "a", AppSecret: testSecret}, jwt.WithFetchTimeout(0)); err == nil {
		t.Error("zero fetch timeout accepted")
	}
}

func TestMint(t *testing.T) {
	a := loadKey(t, "rsa_a.pem")
	tests := []struct {
		name string
		opts jwt.MintOptions
		ok   bool
	}{
		{name: "HS256", opts: jwt.MintOptions{Algorithm: "HS256", Key: []byte("k")}, ok: true},
		{name: "RS256", opts: jwt.MintOptions{Algorithm: "RS256", Key: a, KeyID: "kid"}, ok: true},
		{name: "HS256 with a string key", opts: jwt.MintOptions{Algorithm: "HS256", Key: "k"}},
		{name: "HS256 with an empty key", opts: jwt.MintOptions{Algorithm: "HS256", Key: []byte{}}},
		{name: "RS256 with a public key", opts: jwt.MintOptions{Algorithm: "RS256", Key: &a.PublicKey}},
		{name: "RS256 with bytes", opts: jwt.MintOptions{Algorithm: "RS256", Key: []byte("k")}},
		{name: "none", opts: jwt.MintOptions{Algorithm: "none", Key: []byte("k")}},
		{name: "ES256 with bytes", opts: jwt.MintOptions{Algorithm: "ES256", Key: []byte("k")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := jwt.Mint(map[string]any{"iss": "a"}, tc.opts)
			if (err == nil) != tc.ok || (s != "") != tc.ok {
				t.Fatalf("Mint = %q, %v; want ok %v", s, err, tc.ok)
			}
		})
	}
}

// TestMintRoundTrip: a token from Mint with time.Time claims verifies, and
// its header carries typ JWT and kid.
func TestMintRoundTrip(t *testing.T) {
	v, _ := hsVerifier(t, nil)
	c := claims(map[string]any{"exp": t0.Add(time.Hour), "nbf": t0})
	s, err := jwt.Mint(c, jwt.MintOptions{Algorithm: "HS256", Key: []byte(testSecret), KeyID: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c["exp"].(time.Time); !ok {
		t.Error("Mint modified the caller's map")
	}
	got, err := v.Verify(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if !got.ExpiresAt.Equal(t0.Add(time.Hour)) || !got.NotBefore.Equal(t0) {
		t.Errorf("times = %v, %v", got.ExpiresAt, got.NotBefore)
	}
	if hdr := strings.Split(s, ".")[0]; hdr != b64(`{"alg":"HS256","kid":"k1","typ":"JWT"}`) {
		t.Errorf("header = %s", hdr)
	}
}
