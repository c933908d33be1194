package xclient

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"testing"
)

// TestScramVectors replays the exchanges of RFC 5802 §5 (SHA-1) and
// RFC 7677 §3 (SHA-256) with their client nonces.
func TestScramVectors(t *testing.T) {
	tests := []struct {
		name      string
		h         func() hash.Hash
		mech      string
		nonce     string
		challenge string
		final     string
		success   string
	}{
		{
			name:      "SCRAM-SHA-1 RFC 5802",
			h:         sha1.New,
			mech:      ScramSHA1,
			nonce:     "fyko+d2lbbFgONRv9qkxdawL",
			challenge: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
			final:     "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
			success:   "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
		},
		{
			name:      "SCRAM-SHA-256 RFC 7677",
			h:         sha256.New,
			mech:      ScramSHA256,
			nonce:     "rOprNGfwEbeRWgbNEkqO",
			challenge: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			final:     "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			success:   "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var cache ScramCache
			for round := range 2 { // the second round uses the cache
				s := newScram(tc.h, tc.mech, "user", "pencil", &cache)
				if _, err := s.start(); err != nil {
					t.Fatal(err)
				}
				s.nonce = tc.nonce
				s.first = "n=user,r=" + tc.nonce
				got, err := s.step([]byte(tc.challenge))
				if err != nil {
					t.Fatalf("round %d: step: %v", round, err)
				}
				if string(got) != tc.final {
					t.Errorf("round %d: final = %q, want %q", round, got, tc.final)
				}
				if err := s.finish([]byte(tc.success)); err != nil {
					t.Errorf("round %d: finish: %v", round, err)
				}
				bad := "v=" + base64.StdEncoding.EncodeToString(make([]byte, tc.h().Size()))
				if err := s.finish([]byte(bad)); err == nil {
					t.Errorf("round %d: a wrong server signature was accepted", round)
				}
			}
		})
	}
}

func TestScramRejectsBadChallenge(t *testing.T) {
	tests := []struct {
		name, challenge string
	}{
		{"foreign nonce", "r=someoneelse,s=QSXCR+Q6sek8bf92,i=4096"},
		{"no salt", "r=abcdef,i=4096"},
		{"zero iterations", "r=abcdef,s=QSXCR+Q6sek8bf92,i=0"},
		{"bad salt", "r=abcdef,s=%%%,i=4096"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newScram(sha1.New, ScramSHA1, "user", "pencil", nil)
			if _, err := s.start(); err != nil {
				t.Fatal(err)
			}
			s.nonce = "abc"
			if _, err := s.step([]byte(tc.challenge)); err == nil {
				t.Error("bad challenge accepted")
			}
		})
	}
}

func TestSASLElements(t *testing.T) {
	tests := []struct {
		name    string
		el      []byte
		want    string
		wantErr bool
	}{
		{"empty auth", saslElement("auth", "ANONYMOUS", nil), "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'>=</auth>", false},
		{"plain auth", saslElement("auth", "PLAIN", []byte("\x00u\x00p")), "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AHUAcA==</auth>", false},
		{"response", saslElement("response", "", []byte("x")), "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>eA==</response>", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if string(tc.el) != tc.want {
				t.Errorf("got %s, want %s", tc.el, tc.want)
			}
		})
	}
	data := []struct {
		name    string
		el      string
		want    string
		wantErr bool
	}{
		{"empty success", "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>", "", false},
		{"equals sign", "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>=</success>", "", false},
		{"data", "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>eA==</challenge>", "x", false},
		{"not base64", "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>@@</challenge>", "", true},
	}
	for _, tc := range data {
		t.Run(tc.name, func(t *testing.T) {
			got, err := saslData([]byte(tc.el))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if string(got) != tc.want {
				t.Errorf("data = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWithToken(t *testing.T) {
	tests := []struct{ name, url, token, want string }{
		{"no token", "ws://h/x", "", "ws://h/x"},
		{"first parameter", "ws://h/x", "a.b", "ws://h/x?token=a.b"},
		{"escaped", "http://h/b?room=r", "a b&c", "http://h/b?room=r&token=a+b%26c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := withToken(tc.url, tc.token); got != tc.want {
				t.Errorf("withToken = %q, want %q", got, tc.want)
			}
		})
	}
}
