package auth

import (
	"context"
	"crypto/pbkdf2"
	"encoding/base64"
	"testing"

	"github.com/parley-xmpp/parley/server/storage"
)

const (
	benchPassword    = "correct horse battery staple"
	benchClientFirst = "n,,n=alice,r=fyko+d2lbbFgONRv9qkxdawL"
	benchServerNonce = "3rfcNHYJY1ZVvWVs7jAAAAAA"
)

// clientFinalFor computes the client-final-message a client with password
// would send after serverFirst.
func clientFinalFor(tb testing.TB, h Hash, password string, salt []byte, iter int, serverFirst string) string {
	tb.Helper()
	salted, err := pbkdf2.Key(h.new, password, salt, iter, h.Size())
	if err != nil {
		tb.Fatal(err)
	}
	clientKey := h.hmac(salted, "Client Key")
	storedKey := h.sum(clientKey)
	without := "c=biws,r=fyko+d2lbbFgONRv9qkxdawL" + benchServerNonce
	sig := h.hmac(storedKey, benchClientFirst[3:]+","+serverFirst+","+without)
	for i := range sig {
		sig[i] ^= clientKey[i]
	}
	return without + ",p=" + base64.StdEncoding.EncodeToString(sig)
}

// benchSCRAM measures the server side of a full exchange (both steps,
// including the account lookup) with precomputed client messages.
func benchSCRAM(b *testing.B, p Provider, mech string, h Hash) {
	ctx := context.Background()
	start := func() *scramExchange {
		x, err := p.Start(mech, &Request{Secure: true})
		if err != nil {
			b.Fatal(err)
		}
		sx := x.(*scramExchange)
		sx.serverNonce = benchServerNonce
		return sx
	}
	x := start()
	serverFirst, _, err := x.Step(ctx, []byte(benchClientFirst))
	if err != nil {
		b.Fatal(err)
	}
	final := []byte(clientFinalFor(b, h, benchPassword, x.creds.salt, x.creds.iterations, string(serverFirst)))
	if _, done, err := x.Step(ctx, final); !done || err != nil {
		b.Fatalf("precomputed exchange failed: %v", err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		x := start()
		if _, _, err := x.Step(ctx, []byte(benchClientFirst)); err != nil {
			b.Fatal(err)
		}
		if _, done, err := x.Step(ctx, final); !done || err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSCRAMExchange(b *testing.B) {
	stores := []struct {
		name string
		make func(b *testing.B) storage.Store
	}{
		{"memory", func(*testing.B) storage.Store { return storage.NewMemoryStore() }},
		{"file", func(b *testing.B) storage.Store { return storage.NewFileStore(b.TempDir()) }},
	}
	for _, st := range stores {
		for _, h := range []Hash{SHA1, SHA256} {
			b.Run("internal_hashed/"+st.name+"/"+h.Mechanism(), func(b *testing.B) {
				p := NewInternalHashed(st.make(b), "example.com", HashedOptions{})
				if err := p.SetPassword(context.Background(), "alice", benchPassword); err != nil {
					b.Fatal(err)
				}
				benchSCRAM(b, p, h.Mechanism(), h)
			})
		}
	}
	// internal_plain derives the keys (PBKDF2, 10000 iterations) per login.
	for _, h := range []Hash{SHA1, SHA256} {
		b.Run("internal_plain/memory/"+h.Mechanism(), func(b *testing.B) {
			p := NewInternalPlain(storage.NewMemoryStore(), "example.com", PlainOptions{})
			if err := p.SetPassword(context.Background(), "alice", benchPassword); err != nil {
				b.Fatal(err)
			}
			benchSCRAM(b, p, h.Mechanism(), h)
		})
	}
}

// BenchmarkPLAINHashed is a PLAIN login on internal_hashed: one PBKDF2 with
// the account's iteration count (10000).
func BenchmarkPLAINHashed(b *testing.B) {
	p := NewInternalHashed(storage.NewMemoryStore(), "example.com", HashedOptions{})
	ctx := context.Background()
	if err := p.SetPassword(ctx, "alice", benchPassword); err != nil {
		b.Fatal(err)
	}
	msg := []byte("\x00alice\x00" + benchPassword)
	b.ReportAllocs()
	for b.Loop() {
		x, err := p.Start(MechPLAIN, &Request{Secure: true})
		if err != nil {
			b.Fatal(err)
		}
		if _, done, err := x.Step(ctx, msg); !done || err != nil {
			b.Fatal(err)
		}
	}
}
