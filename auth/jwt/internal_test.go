package jwt

import (
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCountQuantifiers(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		want    int
	}{
		{name: "literal", pattern: "room", want: 0},
		{name: "PR 17803 example", pattern: "[a-z0-9%-]+%-%d+", want: 2},
		{name: "all four kinds", pattern: "a*b+c-d?", want: 4},
		{name: "escaped quantifiers", pattern: "%*%+%-%?", want: 0},
		{name: "class with ] first", pattern: "[]*+]+", want: 1},
		{name: "negated class with ] first", pattern: "[^]*]*", want: 1},
		{name: "unterminated class", pattern: "[a-", want: 0},
		{name: "trailing percent", pattern: "a*%", want: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := countQuantifiers(tc.pattern); got != tc.want {
				t.Errorf("countQuantifiers(%q) = %d, want %d", tc.pattern, got, tc.want)
			}
		})
	}
}

func TestMatchRoomPattern(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		room    string
		want    bool
		wantErr bool
	}{
		{name: "literal", pattern: "room", room: "room", want: true},
		{name: "prefix only is not whole", pattern: "room", room: "room1"},
		{name: "digits", pattern: "room%d+", room: "room123", want: true},
		{name: "explicit anchors", pattern: "^room%d+$", room: "room1", want: true},
		{name: "lazy quantifier first match is empty", pattern: "a-", room: "aaa"},
		{name: "lazy with end anchor", pattern: "a-$", room: "aaa", want: true},
		{name: "dot star", pattern: ".*", room: "anything", want: true},
		{name: "empty pattern, empty name", pattern: "", room: "", want: true},
		{name: "empty pattern", pattern: "", room: "x"},
		{name: "capture ignored", pattern: "(abc)%d+", room: "abc12", want: true},
		{name: "class", pattern: "[%w_]+", room: "a_b9", want: true},
		{name: "negated class", pattern: "[^x]+", room: "abx"},
		{name: "balanced", pattern: "%b()", room: "(a(b))", want: true},
		{name: "percent-encoded name", pattern: "%%d1%%82.*", room: "%d1%82%d0%b5", want: true},
		{name: "unfinished capture", pattern: "room(", room: "room", wantErr: true},
		{name: "trailing percent", pattern: "room%", room: "room", wantErr: true},
		{name: "missing ]", pattern: "[a-z", room: "a", wantErr: true},
		{name: "frontier unsupported", pattern: "%f[%w]room", room: "room", wantErr: true},
		{name: "%g unsupported", pattern: "%g+", room: "room", wantErr: true},
		{name: "%b missing arguments", pattern: "%b(", room: "(", wantErr: true},
		{name: "bad back-reference", pattern: "%1", room: "a", wantErr: true},
		{name: "unbalanced close", pattern: "room)", room: "room)", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := matchRoomPattern(tc.pattern, tc.room)
			if (err != nil) != tc.wantErr {
				t.Fatalf("matchRoomPattern(%q, %q) error = %v, wantErr %v", tc.pattern, tc.room, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("matchRoomPattern(%q, %q) = %v, want %v", tc.pattern, tc.room, got, tc.want)
			}
		})
	}
}

// TestMatchRoomPatternWorstCase checks that the limits keep one match cheap:
// three greedy quantifiers against a 128-byte name that cannot match.
func TestMatchRoomPatternWorstCase(t *testing.T) {
	name := strings.Repeat("a", 128)
	ok, err := matchRoomPattern("a*a*a*b", name)
	if err != nil || ok {
		t.Fatalf("got %v, %v", ok, err)
	}
}

func BenchmarkMatchRoomPatternWorstCase(b *testing.B) {
	name := strings.Repeat("a", 128)
	for b.Loop() {
		_, _ = matchRoomPattern("a*a*a*b", name)
	}
}

func TestDecodeObject(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr error // nil: must decode like encoding/json
		anyErr  bool
	}{
		{name: "object", in: `{"a":1,"b":[1,"x",{"c":null}],"d":{"e":true}}`},
		{name: "empty", in: `{}`},
		{name: "whitespace", in: " {\n\"a\" : 1 }\t"},
		{name: "duplicate top-level", in: `{"a":1,"a":1}`, wantErr: errDuplicateKey},
		{name: "duplicate nested", in: `{"a":{"b":1,"b":2}}`, wantErr: errDuplicateKey},
		{name: "duplicate in array item", in: `{"a":[{"b":1,"b":2}]}`, wantErr: errDuplicateKey},
		{name: "same key in sibling objects is fine", in: `{"a":{"k":1},"b":{"k":2}}`},
		{name: "duplicate after escape decoding", in: `{"a":1,"\u0061":2}`, wantErr: errDuplicateKey},
		{name: "array", in: `[1]`, wantErr: errNotObject},
		{name: "string", in: `"x"`, wantErr: errNotObject},
		{name: "trailing value", in: `{}{}`, wantErr: errTrailing},
		{name: "trailing garbage", in: `{} x`, anyErr: true},
		{name: "truncated", in: `{"a":`, anyErr: true},
		{name: "bad token", in: `{"a":tru}`, anyErr: true},
		{name: "deep", in: `{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, wantErr: errTooDeep},
		{name: "depth limit ok", in: `{"a":` + strings.Repeat("[", 30) + strings.Repeat("]", 30) + `}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeObject([]byte(tc.in))
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error = %v, want %v", err, tc.wantErr)
				}
				return
			case tc.anyErr:
				if err == nil {
					t.Fatal("no error")
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			var want map[string]any
			dec := json.NewDecoder(strings.NewReader(tc.in))
			dec.UseNumber()
			if err := dec.Decode(&want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %#v, want %#v", got, want)
			}
		})
	}
}

func TestLRU(t *testing.T) {
	l := newLRU[string, int](2)
	l.add("a", 1)
	l.add("b", 2)
	if v, ok := l.get("a"); !ok || v != 1 { // a is now most recent
		t.Fatal("a missing")
	}
	l.add("c", 3) // evicts b
	if _, ok := l.get("b"); ok {
		t.Error("b not evicted")
	}
	l.add("a", 10)
	if v, _ := l.get("a"); v != 10 || l.len() != 2 {
		t.Errorf("a = %d, len = %d", v, l.len())
	}
	l.remove("a")
	l.remove("zz")
	if _, ok := l.get("a"); ok || l.len() != 1 {
		t.Error("remove failed")
	}
}

func TestTokenBucket(t *testing.T) {
	now := time.Unix(1000, 0)
	b := newTokenBucket(2, 2)
	for i, want := range []bool{true, true, false} {
		if got := b.allow(now); got != want {
			t.Fatalf("call %d = %v", i, got)
		}
	}
	now = now.Add(500 * time.Millisecond) // one token back
	if !b.allow(now) || b.allow(now) {
		t.Error("refill wrong")
	}
	if b.allow(now.Add(-time.Hour)) { // a clock going back does not refill
		t.Error("refilled by a clock going back")
	}
	now = now.Add(time.Hour) // refill caps at burst
	if !b.allow(now) || !b.allow(now) || b.allow(now) {
		t.Error("burst cap wrong")
	}
	unlimited := newTokenBucket(0, 0)
	for range 100 {
		if !unlimited.allow(now) {
			t.Fatal("disabled limiter refused")
		}
	}
	if math.IsInf(b.rate, 1) {
		t.Error("rate lost")
	}
}

func TestKeySetTTL(t *testing.T) {
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", keySetDefaultTTL},
		{"no-cache", keySetDefaultTTL},
		{"public, max-age=600", 540 * time.Second},
		{"Max-Age=30", 30 * time.Second},
		{`max-age="120"`, 60 * time.Second},
		{"max-age=-5", keySetDefaultTTL},
		{"max-age=abc", keySetDefaultTTL},
		{"max-age=99999999999", 365*24*time.Hour - keySetEarly},
	}
	for _, tc := range tests {
		if got := keySetTTL(tc.header); got != tc.want {
			t.Errorf("keySetTTL(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestParseKeySetSkipsBadEntries(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	keys, err := parseKeySet([]byte(`{"keys":[{"kid":"a","kty":"RSA","n":"AQAB","e":"AQAB"},{"kid":"b","kty":"RSA","n":"!!","e":"AQAB"},{"kid":"c","kty":"RSA","n":"AQAB","e":""}]}`), "RS256", log)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 { // too small, bad base64, bad exponent
		t.Errorf("got %d keys", len(keys))
	}
	if _, err := parseKeySet([]byte(`{"keys":{}}`), "RS256", log); err == nil {
		t.Error("keys object accepted")
	}
	if _, err := parseKeySet([]byte(`[]`), "RS256", log); err == nil {
		t.Error("array accepted")
	}
}

func TestKeyURL(t *testing.T) { // SECURITY-CASES #106; digests from sha256sum(1)
	tests := []struct{ server, kid, want string }{
		{"https://keys.example/asap/", "../../etc/passwd", "https://keys.example/asap/3754d6cb3a38e1185e5b382d5f3ef3f118af75bf4bf0254d1fdb8437f51423e0.pem"},
		{"https://keys.example/asap", "vpaas-magic-cookie-0123/abc123", "https://keys.example/asap/aecdb3b2f366e4ddccc64dec93f6958f64e35716b49ae59ef6c57a9041cb6b19.pem"},
	}
	for _, tc := range tests {
		if got := keyURL(tc.server, tc.kid); got != tc.want {
			t.Errorf("keyURL(%q, %q) = %q, want %q", tc.server, tc.kid, got, tc.want)
		}
	}
}
