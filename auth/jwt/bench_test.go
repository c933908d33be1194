package jwt_test

import (
	"context"
	"testing"

	"github.com/parley-xmpp/parley/auth/jwt"
)

func BenchmarkVerifyHS256(b *testing.B) {
	v, _ := hsVerifier(b, nil)
	tok := mintHS(b, claims(nil))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyRS256 measures an RS256 login whose key is already cached
// (the first Verify fetches it from a local key server).
func BenchmarkVerifyRS256(b *testing.B) {
	a := loadKey(b, "rsa_a.pem")
	e := newASAP(b, nil)
	e.ks.set(testKID, publicPEM(b, a), 0)
	tok := mintRS(b, a, "RS256", testKID, claims(nil))
	ctx := context.Background()
	if _, err := e.v.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
	if n := e.ks.totalHits(); n != 1 {
		b.Fatalf("key fetched %d times", n)
	}
}

func BenchmarkVerifyRoom(b *testing.B) {
	v, _ := hsVerifier(b, func(c *jwt.Config) { c.MUCDomainBase = base })
	c := tok("room1", "tenanta")
	for b.Loop() {
		if err := v.VerifyRoom(c, "[tenanta]room1", muc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyRejectBadSignature is the cost an attacker imposes per forged
// HS256 token.
func BenchmarkVerifyRejectBadSignature(b *testing.B) {
	v, _ := hsVerifier(b, nil)
	good := mintHS(b, claims(nil))
	bad := good[:len(good)-4] + "AAAA"
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, bad); err == nil {
			b.Fatal("accepted")
		}
	}
}
