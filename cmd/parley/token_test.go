package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gjwt "github.com/golang-jwt/jwt/v5"

	"github.com/parley-xmpp/parley/auth/jwt"
)

const tokenTestSecret = "0123456789abcdef0123456789abcdef-cli-secret"

func tokenConfig(t *testing.T, hostOpts string) string {
	t.Helper()
	text := `muc_mapper_domain_base = "meet.example.test"
VirtualHost "auth.meet.example.test"
VirtualHost "meet.example.test"
    authentication = "token"
    app_id = "cli-app"
    app_secret = "` + tokenTestSecret + `"
` + hostOpts
	path := filepath.Join(t.TempDir(), "prosody.cfg.lua")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func runToken(t *testing.T, cfgPath string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, env: func(string) (string, bool) { return "", false },
		path: cfgPath, system: filepath.Join(t.TempDir(), "absent.cfg.lua")}
	err := c.mintToken(args)
	return out.String(), errb.String(), err
}

func TestMintToken(t *testing.T) {
	base := "meet.example.test"
	muc := "conference." + base
	tests := []struct {
		name     string
		hostOpts string
		args     []string
		room     string // node joined with the token
		check    func(t *testing.T, c *jwt.Claims)
	}{
		{name: "defaults: any room on the host", args: nil, room: "anything", check: func(t *testing.T, c *jwt.Claims) {
			if c.Room != "*" || c.Subject != base || c.Issuer != "cli-app" || c.Moderator || c.IsOwner() {
				t.Fatalf("claims %+v", c)
			}
		}},
		{name: "room, user and moderator", args: []string{"--room", "Room1", "--moderator", "--name", "Alice", "--user-id", "u1", "--email", "a@example.test"},
			room: "room1", check: func(t *testing.T, c *jwt.Claims) {
				if !c.Moderator || !c.IsOwner() || c.User.Name != "Alice" || c.User.ID != "u1" || c.User.Email != "a@example.test" {
					t.Fatalf("claims %+v user %+v", c, c.User)
				}
			}},
		{name: "tenant becomes sub", args: []string{"--room", "r", "--tenant", "TenantA"}, room: "[tenanta]r", check: func(t *testing.T, c *jwt.Claims) {
			if c.Subject != "tenanta" || c.Context.Tenant != "TenantA" {
				t.Fatalf("claims %+v", c)
			}
		}},
		{name: "explicit sub", args: []string{"--sub", "*", "--room", "r"}, room: "[x]r", check: func(t *testing.T, c *jwt.Claims) {
			if c.Subject != "*" {
				t.Fatalf("sub %q", c.Subject)
			}
		}},
		{name: "HS512 host and its audiences", hostOpts: `    signature_algorithm = "HS512"
    asap_accepted_audiences = { "meet" }
`, args: []string{"--host", base, "--exp", "10m"}, room: "r", check: func(t *testing.T, c *jwt.Claims) {
			if len(c.Audience) != 1 || c.Audience[0] != "meet" {
				t.Fatalf("aud %v", c.Audience)
			}
			if d := time.Until(c.ExpiresAt); d < 9*time.Minute || d > 11*time.Minute {
				t.Fatalf("exp in %v", d)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tokenConfig(t, tc.hostOpts)
			out, errOut, err := runToken(t, cfg, tc.args...)
			if err != nil {
				t.Fatalf("%v (%s)", err, errOut)
			}
			alg := "HS256"
			if strings.Contains(tc.hostOpts, "HS512") {
				alg = "HS512"
			}
			cfgJ := jwt.Config{AppID: "cli-app", AppSecret: tokenTestSecret, SignatureAlgorithm: alg, MUCDomainBase: base}
			if strings.Contains(tc.hostOpts, "meet") {
				cfgJ.AcceptedAudiences = []string{"meet"}
			}
			v, err := jwt.NewVerifier(cfgJ)
			if err != nil {
				t.Fatal(err)
			}
			c, err := v.Verify(context.Background(), strings.TrimSpace(out))
			if err != nil {
				t.Fatalf("minted token refused: %v", err)
			}
			if err := v.VerifyRoom(c, tc.room, muc); err != nil {
				t.Fatalf("room %s refused: %v", tc.room, err)
			}
			tc.check(t, c)
		})
	}
}

func TestMintTokenErrors(t *testing.T) {
	tests := []struct {
		name     string
		hostOpts string
		args     []string
		want     string
	}{
		{"unknown host", "", []string{"--host", "nowhere.example"}, "no VirtualHost"},
		{"host without token settings", "", []string{"--host", "auth.meet.example.test"}, "app_id"},
		{"key server host without --key", `    asap_key_server = "https://keys.example.test"` + "\n", nil, "--key"},
		{"negative expiry", "", []string{"--exp", "-1h"}, "--exp"},
		{"stray argument", "", []string{"extra"}, "unexpected argument"},
		{"bad flag", "", []string{"--nope"}, "not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, err := runToken(t, tokenConfig(t, tc.hostOpts), tc.args...)
			if err == nil || !strings.Contains(err.Error()+errOut, tc.want) || out != "" {
				t.Fatalf("err %v, stderr %q, stdout %q; want %q", err, errOut, out, tc.want)
			}
		})
	}
}

// TestMintTokenRS256: hosts that verify with a key server need the private
// key; the token carries the kid.
func TestMintTokenRS256(t *testing.T) {
	keyPath := filepath.Join("..", "..", "jitsi", "testdata", "rsa_a.pem")
	pemBytes, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := gjwt.ParseRSAPrivateKeyFromPEM(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	cfg := tokenConfig(t, `    asap_key_server = "https://keys.example.test"`+"\n")
	if _, _, err := runToken(t, cfg, "--key", keyPath); err == nil || !strings.Contains(err.Error(), "--kid") {
		t.Fatalf("--key without --kid: %v", err)
	}
	out, errOut, err := runToken(t, cfg, "--key", keyPath, "--kid", "jitsi/key1", "--room", "r")
	if err != nil {
		t.Fatalf("%v (%s)", err, errOut)
	}
	tok, err := gjwt.Parse(strings.TrimSpace(out), func(tk *gjwt.Token) (any, error) { return &priv.PublicKey, nil },
		gjwt.WithValidMethods([]string{"RS256"}))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Header["kid"] != "jitsi/key1" || tok.Header["typ"] != "JWT" {
		t.Fatalf("header %v", tok.Header)
	}
}

// TestMintTokenES256: an ES256 key-server host takes an EC private key.
func TestMintTokenES256(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(t.TempDir(), "ec.pem")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := tokenConfig(t, `    asap_key_server = "https://keys.example.test"
    signature_algorithm = "ES256"
`)
	out, errOut, err := runToken(t, cfg, "--key", keyPath, "--kid", "ec1")
	if err != nil {
		t.Fatalf("%v (%s)", err, errOut)
	}
	tok, err := gjwt.Parse(strings.TrimSpace(out), func(*gjwt.Token) (any, error) { return &k.PublicKey, nil },
		gjwt.WithValidMethods([]string{"ES256"}))
	if err != nil || tok.Header["kid"] != "ec1" {
		t.Fatalf("token: %v %v", err, tok)
	}
}
