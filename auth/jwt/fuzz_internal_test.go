package jwt

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecodeObject checks the strict token JSON reader against encoding/json:
// whatever it accepts, encoding/json decodes to the same value, and whatever
// encoding/json rejects as an object, it rejects too.
func FuzzDecodeObject(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"a":{"b":[1,2,{"c":null}]}}`, `{"a":1,"a":2}`, `[]`, `{"a":"\u00e9\ud83d\ude00"}`,
		`{"exp":1e400}`, `{"a":1}x`, `{"a":` + "\xff" + `}`, `{"a":[[[[[[]]]]]]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeObject(data)
		var want map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		stdErr := dec.Decode(&want)
		if stdErr == nil && dec.More() {
			stdErr = errTrailing
		}
		if err != nil {
			return // stricter than encoding/json is fine (duplicates, depth, trailing)
		}
		if stdErr != nil {
			t.Fatalf("decodeObject accepted %q, encoding/json: %v", data, stdErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeObject(%q) = %#v, encoding/json = %#v", data, got, want)
		}
	})
}

// FuzzRoomPattern checks that no pattern or room name panics the matcher or
// the quantifier counter.
func FuzzRoomPattern(f *testing.F) {
	for _, s := range [][2]string{
		{"room%d+", "room12"}, {"[a-z0-9%-]+%-%d+", "a-1"}, {"%b()", "(()"}, {"(()", "x"},
		{"[^]]", "]"}, {"%", ""}, {"a-b*c?", "ac"}, {"%1", "a"}, {"(a)%1", "aa"}, {"[%a-%z]", "b"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		if len(pattern) > maxPatternLength || len(name) > defaultPatternRoomMaxLen ||
			countQuantifiers(pattern) > defaultPatternQuantifiers {
			return // refused before matching in VerifyRoom
		}
		ok, err := matchRoomPattern(pattern, name)
		if err != nil && ok {
			t.Fatal("match reported together with an error")
		}
	})
}
