package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parley-xmpp/parley/server/storage"
)

// rfcVector is a complete SCRAM exchange published in an RFC.
type rfcVector struct {
	name        string
	hash        Hash
	password    string
	saltB64     string
	iterations  int
	serverNonce string
	clientFirst string
	serverFirst string
	clientFinal string
	serverFinal string
}

var rfcVectors = []rfcVector{
	{
		name: "RFC 5802 §5 SCRAM-SHA-1", hash: SHA1, password: "pencil",
		saltB64: "QSXCR+Q6sek8bf92", iterations: 4096, serverNonce: "3rfcNHYJY1ZVvWVs7j",
		clientFirst: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
		serverFirst: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
		clientFinal: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
		serverFinal: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
	},
	{
		name: "RFC 7677 §3 SCRAM-SHA-256", hash: SHA256, password: "pencil",
		saltB64: "W22ZaJ0SNY7soEsUEjb6gQ==", iterations: 4096, serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
		clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
		serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		clientFinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
	},
}

// vectorExchange builds a server exchange whose credentials and server nonce
// are those of v.
func vectorExchange(t testing.TB, v rfcVector) *scramExchange {
	t.Helper()
	salt, err := base64.StdEncoding.DecodeString(v.saltB64)
	if err != nil {
		t.Fatal(err)
	}
	stored, server, err := SCRAMKeys(v.hash, v.password, salt, v.iterations)
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(_ context.Context, user string) (scramCreds, error) {
		if user != "user" {
			return scramCreds{}, errors.New("unexpected user " + user)
		}
		return scramCreds{salt: salt, iterations: v.iterations, storedKey: stored, serverKey: server, valid: true}, nil
	}
	x := newSCRAM(v.hash, "example.com", lookup, nil)
	x.serverNonce = v.serverNonce
	return x
}

// TestSCRAMRFCVectors replays the RFC 5802 and RFC 7677 example exchanges
// against our server: this checks key derivation, the AuthMessage and the
// server signature byte for byte.
func TestSCRAMRFCVectors(t *testing.T) {
	ctx := context.Background()
	for _, v := range rfcVectors {
		t.Run(v.name, func(t *testing.T) {
			x := vectorExchange(t, v)
			out, done, err := x.Step(ctx, []byte(v.clientFirst))
			if err != nil || done {
				t.Fatalf("client-first: done=%v err=%v", done, err)
			}
			if string(out) != v.serverFirst {
				t.Fatalf("server-first = %q, want %q", out, v.serverFirst)
			}
			out, done, err = x.Step(ctx, []byte(v.clientFinal))
			if err != nil || !done {
				t.Fatalf("client-final: done=%v err=%v", done, err)
			}
			if string(out) != v.serverFinal {
				t.Fatalf("server-final = %q, want %q", out, v.serverFinal)
			}
			if x.Username() != "user" {
				t.Fatalf("Username = %q", x.Username())
			}
			// Flipping one bit of the proof must fail.
			x = vectorExchange(t, v)
			if _, _, err := x.Step(ctx, []byte(v.clientFirst)); err != nil {
				t.Fatal(err)
			}
			i := strings.LastIndex(v.clientFinal, ",p=") + 3
			proof, _ := base64.StdEncoding.DecodeString(v.clientFinal[i:])
			proof[0] ^= 1
			bad := v.clientFinal[:i] + base64.StdEncoding.EncodeToString(proof)
			_, _, err = x.Step(ctx, []byte(bad))
			var f *Failure
			if !errors.As(err, &f) || f.Condition != CondNotAuthorized {
				t.Fatalf("tampered proof: %v, want not-authorized", err)
			}
		})
	}
}

func TestSaslnameEscaping(t *testing.T) {
	tests := []struct {
		name    string
		escaped string
		want    string
		ok      bool
	}{
		{name: "plain", escaped: "user", want: "user", ok: true},
		{name: "comma", escaped: "a=2Cb", want: "a,b", ok: true},
		{name: "equals", escaped: "a=3Db", want: "a=b", ok: true},
		{name: "both at the ends", escaped: "=3D=2C", want: "=,", ok: true},
		{name: "lower-case hex", escaped: "a=2cb", ok: false},
		{name: "other escape", escaped: "a=41b", ok: false},
		{name: "bare equals", escaped: "a=", ok: false},
		{name: "truncated", escaped: "a=2", ok: false},
		{name: "empty", escaped: "", ok: false},
		{name: "NUL", escaped: "a\x00b", ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := unescapeSaslname(tc.escaped)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("unescapeSaslname(%q) = %q, %v; want %q, %v", tc.escaped, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestParseClientFirst(t *testing.T) {
	tests := []struct {
		name     string
		msg      string
		wantErr  bool
		wantUser string
		wantAZ   string
		wantGS2  string
		wantBare string
	}{
		{name: "minimal", msg: "n,,n=user,r=abc", wantUser: "user", wantGS2: "n,,", wantBare: "n=user,r=abc"},
		{name: "y flag", msg: "y,,n=user,r=abc", wantUser: "user", wantGS2: "y,,", wantBare: "n=user,r=abc"},
		{name: "authzid", msg: "n,a=me@x=2Cy,n=u=3Dv,r=abc", wantUser: "u=v", wantAZ: "me@x,y", wantGS2: "n,a=me@x=2Cy,", wantBare: "n=u=3Dv,r=abc"},
		{name: "extension", msg: "n,,n=user,r=abc,x=1", wantUser: "user", wantGS2: "n,,", wantBare: "n=user,r=abc,x=1"},
		{name: "channel binding requested", msg: "p=tls-unique,,n=user,r=abc", wantErr: true},
		{name: "bad flag", msg: "q,,n=user,r=abc", wantErr: true},
		{name: "mandatory extension", msg: "n,,m=x,n=user,r=abc", wantErr: true},
		{name: "m extension later", msg: "n,,n=user,r=abc,m=x", wantErr: true},
		{name: "no nonce", msg: "n,,n=user", wantErr: true},
		{name: "empty nonce", msg: "n,,n=user,r=", wantErr: true},
		{name: "swapped", msg: "n,,r=abc,n=user", wantErr: true},
		{name: "bad authzid attribute", msg: "n,b=x,n=user,r=abc", wantErr: true},
		{name: "no gs2", msg: "n=user,r=abc", wantErr: true},
		{name: "nonce with control", msg: "n,,n=user,r=a\x01c", wantErr: true},
		{name: "non-ascii nonce", msg: "n,,n=user,r=aéc", wantErr: true},
		{name: "invalid utf-8", msg: "n,,n=\xff,r=abc", wantErr: true},
		{name: "bad extension name", msg: "n,,n=user,r=abc,1=x", wantErr: true},
		{name: "empty extension", msg: "n,,n=user,r=abc,", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cf, f := parseClientFirst(tc.msg)
			if tc.wantErr {
				if f == nil {
					t.Fatalf("accepted: %+v", cf)
				}
				if f.Condition != CondMalformedRequest {
					t.Fatalf("condition %q, want malformed-request", f.Condition)
				}
				return
			}
			if f != nil {
				t.Fatal(f)
			}
			if cf.username != tc.wantUser || cf.authzid != tc.wantAZ || cf.gs2Header != tc.wantGS2 || cf.bare != tc.wantBare {
				t.Fatalf("got %+v", cf)
			}
		})
	}
}

func TestParseClientFinal(t *testing.T) {
	tests := []struct {
		name    string
		msg     string
		wantErr bool
		want    clientFinal
	}{
		{name: "ok", msg: "c=biws,r=abc,p=cHJvb2Y=", want: clientFinal{channelBinding: "biws", nonce: "abc", proof: "cHJvb2Y=", withoutProof: "c=biws,r=abc"}},
		{name: "extension", msg: "c=biws,r=abc,x=y,p=cA==", want: clientFinal{channelBinding: "biws", nonce: "abc", proof: "cA==", withoutProof: "c=biws,r=abc,x=y"}},
		{name: "no proof", msg: "c=biws,r=abc", wantErr: true},
		{name: "swapped", msg: "r=abc,c=biws,p=cA==", wantErr: true},
		{name: "m extension", msg: "c=biws,r=abc,m=y,p=cA==", wantErr: true},
		{name: "only proof", msg: ",p=cA==", wantErr: true},
		{name: "invalid utf-8", msg: "c=biws,r=\xff,p=cA==", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cf, f := parseClientFinal(tc.msg)
			if tc.wantErr {
				if f == nil || f.Condition != CondMalformedRequest {
					t.Fatalf("got %+v, %v; want malformed-request", cf, f)
				}
				return
			}
			if f != nil || cf != tc.want {
				t.Fatalf("got %+v, %v; want %+v", cf, f, tc.want)
			}
		})
	}
}

func TestSCRAMKeysRejectsZeroIterations(t *testing.T) {
	if _, _, err := SCRAMKeys(SHA1, "p", []byte("s"), 0); err == nil {
		t.Fatal("SCRAMKeys with 0 iterations succeeded")
	}
}

func FuzzParseClientFirst(f *testing.F) {
	for _, s := range []string{
		"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL", "y,a=a=2Cb,n=u=3D,r=x,e=1", "p=tls-exporter,,n=u,r=x",
		"n,,m=x,n=u,r=x", "n,,n=\x00,r=x", ",,,,", "n,,n=,r=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		cf, fl := parseClientFirst(msg)
		if fl != nil {
			if fl.Condition != CondMalformedRequest {
				t.Fatalf("condition %q", fl.Condition)
			}
			return
		}
		// Accepted messages are well formed: the header and bare part
		// make up the message, the nonce is printable and the names
		// re-escape to what was sent.
		if cf.gs2Header+cf.bare != msg {
			t.Fatalf("gs2 %q + bare %q != %q", cf.gs2Header, cf.bare, msg)
		}
		if !validNonce(cf.nonce) || cf.username == "" || !utf8.ValidString(cf.username) {
			t.Fatalf("accepted bad fields: %+v", cf)
		}
		if !strings.HasPrefix(cf.bare, "n="+escapeSaslname(cf.username)+",r="+cf.nonce) {
			t.Fatalf("username %q does not re-escape into %q", cf.username, cf.bare)
		}
		if strings.HasPrefix(msg, "p") {
			t.Fatalf("channel binding accepted: %q", msg)
		}
	})
}

func FuzzParseClientFinal(f *testing.F) {
	for _, s := range []string{"c=biws,r=abc,p=cHJvb2Y=", "c=,r=,p=", "p=,c=,r=", "c=biws,r=a,x=,p=="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		cf, fl := parseClientFinal(msg)
		if fl != nil {
			if fl.Condition != CondMalformedRequest {
				t.Fatalf("condition %q", fl.Condition)
			}
			return
		}
		if cf.withoutProof+",p="+cf.proof != msg {
			t.Fatalf("parts do not make up the message: %+v", cf)
		}
		if !strings.HasPrefix(cf.withoutProof, "c="+cf.channelBinding+",r="+cf.nonce) {
			t.Fatalf("fields do not match: %+v", cf)
		}
	})
}

// FuzzSCRAMExchange drives a full exchange with arbitrary client messages
// against a real account: it must never panic, and must never succeed, since
// the fuzzer cannot know the password.
func FuzzSCRAMExchange(f *testing.F) {
	f.Add([]byte("n,,n=alice,r=abc"), []byte("c=biws,r=abc,p=AAAAAAAAAAAAAAAAAAAAAAAAAAA="))
	f.Add([]byte("y,a=alice@example.com,n=alice,r=x"), []byte("c=eSxhPWFsaWNlQGV4YW1wbGUuY29tLA==,r=x,p=="))
	f.Add([]byte(nil), []byte(nil))
	s := storage.NewMemoryStore()
	p := NewInternalHashed(s, "example.com", HashedOptions{})
	if err := p.SetPassword(context.Background(), "alice", "a secret the fuzzer will not guess"); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, first, final []byte) {
		for _, mech := range []string{MechSCRAMSHA1, MechSCRAMSHA256} {
			x, err := p.Start(mech, &Request{Host: "example.com"})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for _, msg := range [][]byte{first, final, final} {
				_, done, err := x.Step(ctx, msg)
				if done {
					t.Fatalf("exchange succeeded with %q / %q", first, final)
				}
				if err != nil {
					break
				}
			}
		}
	})
}
