package auth_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parley-xmpp/parley/auth"
)

func TestParsePlain(t *testing.T) {
	tests := []struct {
		name                   string
		msg                    string
		wantZ, wantC, wantPass string
		wantErr                bool
	}{
		{name: "no authzid", msg: "\x00alice\x00pw", wantC: "alice", wantPass: "pw"},
		{name: "authzid", msg: "alice@x\x00alice\x00pw", wantZ: "alice@x", wantC: "alice", wantPass: "pw"},
		{name: "unicode", msg: "\x00zoë\x00pässword", wantC: "zoë", wantPass: "pässword"},
		{name: "spaces kept", msg: "\x00 a \x00 p ", wantC: " a ", wantPass: " p "},
		{name: "empty", msg: "", wantErr: true},
		{name: "one NUL", msg: "alice\x00pw", wantErr: true},
		{name: "three NULs", msg: "\x00alice\x00pw\x00", wantErr: true},
		{name: "empty authcid", msg: "\x00\x00pw", wantErr: true},
		{name: "empty password", msg: "\x00alice\x00", wantErr: true},
		{name: "invalid UTF-8", msg: "\x00al\xffice\x00pw", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			z, c, p, err := auth.ParsePlain([]byte(tc.msg))
			if tc.wantErr {
				wantCondition(t, err, auth.CondMalformedRequest)
				return
			}
			if err != nil || z != tc.wantZ || c != tc.wantC || p != tc.wantPass {
				t.Fatalf("ParsePlain = %q, %q, %q, %v", z, c, p, err)
			}
		})
	}
}

func FuzzParsePlain(f *testing.F) {
	for _, s := range []string{"\x00alice\x00pw", "a@b\x00alice\x00pw", "\x00\x00", "\x00a\x00b\x00c", "\xff\x00a\x00b"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		z, c, p, err := auth.ParsePlain(msg)
		if err != nil {
			wantCondition(t, err, auth.CondMalformedRequest)
			return
		}
		if z+"\x00"+c+"\x00"+p != string(msg) {
			t.Fatalf("parts %q %q %q do not make up %q", z, c, p, msg)
		}
		if c == "" || p == "" || strings.ContainsRune(z+c+p, 0) || !utf8.ValidString(z+c+p) {
			t.Fatalf("accepted bad parts %q %q %q", z, c, p)
		}
	})
}
