package muc_test

import (
	"testing"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"

	"github.com/parley-xmpp/parley/muc"
)

// SECURITY-CASES 135: the prepared forms of nicks.
func TestPrepareNick(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{name: "plain ASCII kept", in: "Alice", want: "Alice"},
		{name: "case kept", in: "alice", want: "alice"},
		{name: "Jitsi hex nick", in: "1a2b3c4d", want: "1a2b3c4d"},
		{name: "inner space kept", in: "Ali ce", want: "Ali ce"},
		{name: "fullwidth to ASCII", in: "Ａｌｉｃｅ", want: "Alice"},
		{name: "ligature expanded", in: "ﬁsh", want: "fish"},
		{name: "NFD composed", in: "Zoe\u0308", want: "Zo\u00eb"},
		{name: "superscript", in: "R\u00b2", want: "R2"},
		{name: "outer spaces trimmed", in: " Alice ", want: "Alice"},
		{name: "space runs collapsed", in: "Ali  ce", want: "Ali ce"},
		{name: "no-break spaces", in: "\u00a0Ali\u00a0ce\u00a0", want: "Ali ce"},
		{name: "only spaces left for the invisible-nick check", in: "   ", want: "   "},
		{name: "control character refused", in: "Ali\u0007ce", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := muc.PrepareNick(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("PrepareNick(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if err == nil && got != tc.want {
				t.Fatalf("PrepareNick(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzPrepareNick checks that preparation is idempotent and that the ASCII
// fast path agrees with the PRECIS Nickname profile.
func FuzzPrepareNick(f *testing.F) {
	for _, s := range []string{"Alice", "Ａlice", " a  b ", "ﬁ", "Zoe\u0308", "\u00a0", "", "a\x00", "focus", "R²"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if !utf8.ValidString(in) {
			return
		}
		got, err := muc.PrepareNick(in)
		if err != nil {
			return
		}
		again, err := muc.PrepareNick(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", in, got, again, err)
		}
		if want, perr := precis.Nickname.String(in); perr == nil && want != got {
			t.Fatalf("PrepareNick(%q) = %q, Nickname profile gives %q", in, got, want)
		}
	})
}

func BenchmarkPrepareNick(b *testing.B) {
	for _, bc := range []struct{ name, nick string }{{"ascii", "1a2b3c4d"}, {"unicode", "Ｊöｒｇ Müller"}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := muc.PrepareNick(bc.nick); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
