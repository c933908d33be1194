package jwt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"testing"

	"github.com/parley-xmpp/parley/auth/jwt"
)

// ES256 and ES384 are a parley extension for key-server hosts; Jitsi only
// knows RS* there.

func ecKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ecPEM(t testing.TB, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func mintES(t testing.TB, k *ecdsa.PrivateKey, alg, kid string, c map[string]any) string {
	t.Helper()
	s, err := jwt.Mint(c, jwt.MintOptions{Algorithm: alg, Key: k, KeyID: kid})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestECDSAKeyServer(t *testing.T) {
	p256, p256b, p384 := ecKey(t, elliptic.P256()), ecKey(t, elliptic.P256()), ecKey(t, elliptic.P384())
	rsaA := loadKey(t, "rsa_a.pem")
	tests := []struct {
		name   string
		alg    string        // host's signature_algorithm
		served []byte        // key served for testKID
		token  func() string // the token presented
		reason jwt.Reason    // "" means accepted
		text   string
	}{
		{name: "ES256 valid", alg: "ES256", served: ecPEM(t, p256), token: func() string { return mintES(t, p256, "ES256", testKID, claims(nil)) }},
		{name: "ES384 valid", alg: "ES384", served: ecPEM(t, p384), token: func() string { return mintES(t, p384, "ES384", testKID, claims(nil)) }},
		{name: "86 ES384 token on an ES256 host", alg: "ES256", served: ecPEM(t, p256), token: func() string { return mintES(t, p384, "ES384", testKID, claims(nil)) },
			reason: jwt.ReasonAlgorithm, text: "Invalid or incorrect alg"},
		{name: "86 RS256 token on an ES256 host", alg: "ES256", served: ecPEM(t, p256), token: func() string { return mintRS(t, rsaA, "RS256", testKID, claims(nil)) },
			reason: jwt.ReasonAlgorithm, text: "Invalid or incorrect alg"},
		{name: "86 ES256 token on an RS256 host", alg: "RS256", served: publicPEM(t, rsaA), token: func() string { return mintES(t, p256, "ES256", testKID, claims(nil)) },
			reason: jwt.ReasonAlgorithm, text: "Invalid or incorrect alg"},
		{name: "88 signed by another P-256 key", alg: "ES256", served: ecPEM(t, p256), token: func() string { return mintES(t, p256b, "ES256", testKID, claims(nil)) },
			reason: jwt.ReasonSignature, text: "Invalid signature"},
		{name: "a P-384 key for an ES256 host is no key", alg: "ES256", served: ecPEM(t, p384), token: func() string { return mintES(t, p256, "ES256", testKID, claims(nil)) },
			reason: jwt.ReasonKeyUnavailable, text: "could not obtain public key"},
		{name: "an RSA key for an ES256 host is no key", alg: "ES256", served: publicPEM(t, rsaA), token: func() string { return mintES(t, p256, "ES256", testKID, claims(nil)) },
			reason: jwt.ReasonKeyUnavailable, text: "could not obtain public key"},
		{name: "an EC key for an RS256 host is no key", alg: "RS256", served: ecPEM(t, p256), token: func() string { return mintRS(t, rsaA, "RS256", testKID, claims(nil)) },
			reason: jwt.ReasonKeyUnavailable, text: "could not obtain public key"},
		{name: "85 HS256 keyed with the EC public key PEM", alg: "ES256", served: ecPEM(t, p256), token: func() string {
			return rawToken(t, `{"alg":"HS256","typ":"JWT","kid":"`+testKID+`"}`, mustJSON(t, claims(nil)), "HS256", ecPEM(t, p256))
		}, reason: jwt.ReasonAlgorithm},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newASAP(t, func(c *jwt.Config) { c.SignatureAlgorithm = tc.alg })
			e.ks.set(testKID, tc.served, 0)
			c, err := e.v.Verify(context.Background(), tc.token())
			if tc.reason == "" {
				if err != nil || c.Room != "room1" {
					t.Fatalf("Verify = %v, %v", c, err)
				}
				return
			}
			wantErr(t, err, tc.reason, tc.text)
		})
	}
}

func ecJWK(kid string, k *ecdsa.PrivateKey, crv string) map[string]any {
	size := (k.Curve.Params().BitSize + 7) / 8
	return map[string]any{
		"kid": kid, "kty": "EC", "crv": crv, "use": "sig",
		"x": base64.RawURLEncoding.EncodeToString(k.X.FillBytes(make([]byte, size))),
		"y": base64.RawURLEncoding.EncodeToString(k.Y.FillBytes(make([]byte, size))),
	}
}

func TestECDSAKeySet(t *testing.T) {
	p256, p384 := ecKey(t, elliptic.P256()), ecKey(t, elliptic.P384())
	off := ecJWK("off", p256, "P-256")
	off["y"] = off["x"] // not on the curve
	s := newSetServer(t)
	s.serve(mustJSON(t, map[string]any{"keys": []any{
		ecJWK("k256", p256, "P-256"),
		ecJWK("k384", p384, "P-384"),
		off,
		ecJWK("wrongcrv", p256, "P-384"),
	}}), 200, "max-age=600")
	tests := []struct {
		name  string
		alg   string
		token string
		ok    bool
	}{
		{"ES256 JWK", "ES256", mintES(t, p256, "ES256", "k256", claims(nil)), true},
		{"ES384 JWK", "ES384", mintES(t, p384, "ES384", "k384", claims(nil)), true},
		{"P-384 JWK on an ES256 host", "ES256", mintES(t, p256, "ES256", "k384", claims(nil)), false},
		{"point not on the curve", "ES256", mintES(t, p256, "ES256", "off", claims(nil)), false},
		{"coordinates of the wrong size", "ES256", mintES(t, p256, "ES256", "wrongcrv", claims(nil)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := newSetVerifier(t, s, func(c *jwt.Config) { c.SignatureAlgorithm = tc.alg })
			_, err := v.Verify(context.Background(), tc.token)
			if (err == nil) != tc.ok {
				t.Fatalf("Verify: %v, want ok %v", err, tc.ok)
			}
			if !tc.ok {
				wantErr(t, err, jwt.ReasonKeyUnavailable, "could not obtain public key")
			}
		})
	}
}

func TestMintECDSA(t *testing.T) {
	p256, p384 := ecKey(t, elliptic.P256()), ecKey(t, elliptic.P384())
	tests := []struct {
		name string
		opts jwt.MintOptions
		ok   bool
	}{
		{"ES256 on P-256", jwt.MintOptions{Algorithm: "ES256", Key: p256}, true},
		{"ES384 on P-384", jwt.MintOptions{Algorithm: "ES384", Key: p384}, true},
		{"ES256 on P-384", jwt.MintOptions{Algorithm: "ES256", Key: p384}, false},
		{"ES256 with a public key", jwt.MintOptions{Algorithm: "ES256", Key: &p256.PublicKey}, false},
		{"ES512", jwt.MintOptions{Algorithm: "ES512", Key: p256}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jwt.Mint(claims(nil), tc.opts)
			if (err == nil) != tc.ok {
				t.Fatalf("Mint: %v, want ok %v", err, tc.ok)
			}
		})
	}
}
