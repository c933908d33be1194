package jwt_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/auth/jwt"
)

// FuzzVerify feeds arbitrary strings to Verify on an HS256 host (SECURITY-CASES
// §9: JWT parser fuzzing). Properties: no panic; failures are *jwt.Error; an
// accepted token has a correct HMAC over its first two segments and an
// accepted issuer.
func FuzzVerify(f *testing.F) {
	secret := []byte(testSecret)
	seedClaims := []map[string]any{
		claims(nil),
		claims(map[string]any{"aud": []any{"a", "b"}, "exp": nil}),
		claims(map[string]any{"context": map[string]any{"user": map[string]any{"id": 1}, "room": map[string]any{"regex": true}}}),
		claims(map[string]any{"exp": "1", "nbf": 1.5}),
	}
	for _, c := range seedClaims {
		f.Add(mintHS(f, c))
	}
	f.Add(rawToken(f, `{"alg":"HS256","typ":"JWT","alg":"none"}`, `{"iss":"x"}`, "HS256", secret))
	f.Add(rawToken(f, `{"alg":"none","typ":"JWT"}`, `{"iss":"`+testAppID+`","aud":"a","room":"r"}`, "", nil))
	f.Add(rawToken(f, `{"alg":"HS256","typ":"JWT"}`, `{"a":`+strings.Repeat("[", 50)+`}`, "HS256", secret))
	f.Add("")
	f.Add("..")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.")

	clk := newClock()
	v, err := jwt.NewVerifier(jwt.Config{AppID: testAppID, AppSecret: testSecret}, jwt.WithClock(clk.Now))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(context.Background(), token)
		if err != nil {
			var e *jwt.Error
			if !errors.As(err, &e) || e.Text == "" || e.Reason == "" {
				t.Fatalf("error %v (%T) is not a complete *jwt.Error", err, err)
			}
			if c != nil {
				t.Fatal("claims returned with an error")
			}
			return
		}
		parts := strings.Split(token, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted a token with %d segments", len(parts))
		}
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(parts[0] + "." + parts[1]))
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		if !hmac.Equal(sig, mac.Sum(nil)) {
			t.Fatal("accepted a token whose HMAC does not verify")
		}
		if c == nil || c.Issuer != testAppID || c.Room == "" {
			t.Fatalf("accepted claims %+v", c)
		}
	})
}

// FuzzVerifyRoom checks that room verification never panics and only ever
// fails with *jwt.Error, whatever the claims and room address.
func FuzzVerifyRoom(f *testing.F) {
	f.Add("room1", "meet.example.com", false, "room1", "conference.meet.example.com", true)
	f.Add("*", "*", false, "[t]x", "conference.meet.example.com", true)
	f.Add("room%d+", "t", true, "[t]room1", "conference.t.meet.example.com", true)
	f.Add("Тест", "", false, "%d1%82%d0%b5%d1%81%d1%82", "conference.meet.example.com", false)
	f.Add("[%", "%", true, "[", "", true)
	f.Add("(((", "x", true, strings.Repeat("a", 128), "conference.x", true)

	on, _ := hsVerifier(f, func(c *jwt.Config) { c.MUCDomainBase = "meet.example.com" })
	off, _ := hsVerifier(f, func(c *jwt.Config) { c.DisableDomainVerification = true })
	f.Fuzz(func(t *testing.T, room, sub string, regex bool, node, domain string, verifyDomain bool) {
		v := off
		if verifyDomain {
			v = on
		}
		c := &jwt.Claims{Room: room, Subject: sub}
		if regex {
			c.Context = &jwt.Context{RoomRegex: true}
		}
		err := v.VerifyRoom(c, node, domain)
		if err != nil {
			var e *jwt.Error
			if !errors.As(err, &e) || e.Text != jwt.RoomMismatchText {
				t.Fatalf("error %v (%T)", err, err)
			}
		}
	})
}
