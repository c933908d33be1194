package storage_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/storage"
)

func nan() float64 { return math.NaN() }

func TestUnmarshalLuaAccepts(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want storage.Table
	}{
		{name: "empty", src: "return {};\n", want: storage.Table{}},
		{name: "prosody account", src: "return {\n\t[\"iteration_count\"] = 10000;\n\t[\"salt\"] = \"s\";\n};\n",
			want: storage.Table{"iteration_count": float64(10000), "salt": "s"}},
		{name: "bare keys and commas", src: `return { a = 1, b = "x", c = true, d = false }`,
			want: storage.Table{"a": float64(1), "b": "x", "c": true, "d": false}},
		{name: "array part", src: `return { "a"; "b"; [5] = "e" }`,
			want: storage.Table{float64(1): "a", float64(2): "b", float64(5): "e"}},
		{name: "boolean keys", src: `return { [false] = { version = 2 }; [true] = 1 }`,
			want: storage.Table{false: storage.Table{"version": float64(2)}, true: float64(1)}},
		{name: "prosody escapes", src: `return { s = "Zo\195\171 \"q\" \n\t\\\'\0" }`,
			want: storage.Table{"s": "Zoë \"q\" \n\t\\'\x00"}},
		{name: "long string", src: "return { s = [[a\nb]] }", want: storage.Table{"s": "a\nb"}},
		{name: "infinities", src: `return { a = (1/0), b = (-1/0), c = -(1/0) }`,
			want: storage.Table{"a": math.Inf(1), "b": math.Inf(-1), "c": math.Inf(-1)}},
		{name: "other numbers", src: `return { a = -3.5, b = 1e3, c = 0x10, [-2] = 0.25 }`,
			want: storage.Table{"a": -3.5, "b": float64(1000), "c": float64(16), float64(-2): 0.25}},
		{name: "nil values vanish", src: `return { a = nil, b = 1 }`, want: storage.Table{"b": float64(1)}},
		{name: "later duplicate wins", src: `return { a = 1, a = 2 }`, want: storage.Table{"a": float64(2)}},
		{name: "comments", src: "-- hello\nreturn { a = 1 } -- bye", want: storage.Table{"a": float64(1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := storage.UnmarshalLua(context.Background(), []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestUnmarshalLuaRejects(t *testing.T) {
	tests := []struct {
		name string
		src  string
	}{
		{name: "empty file", src: ""},
		{name: "syntax error", src: "return {"},
		{name: "no return", src: "x = {}"},
		{name: "two statements", src: "local x = 1 return {}"},
		{name: "return two values", src: "return {}, {}"},
		{name: "return string", src: `return "x"`},
		{name: "return nil", src: `return nil`},
		{name: "global read", src: `return { a = os }`},
		{name: "call", src: `return { a = print("x") }`},
		{name: "method call", src: `return { a = ("x"):rep(1e9) }`},
		{name: "function value", src: `return { f = function() end }`},
		{name: "concat", src: `return { a = "x" .. "y" }`},
		{name: "multiply", src: `return { a = 2 * 3 }`},
		{name: "power", src: `return { a = 2 ^ 3 }`},
		{name: "comparison", src: `return { a = 1 == 1 }`},
		{name: "logical", src: `return { a = true and 1 }`},
		{name: "not", src: `return { a = not true }`},
		{name: "length", src: `return { a = #"x" }`},
		{name: "table key", src: `return { [{}] = 1 }`},
		{name: "nil key", src: `return { [nil] = 1 }`},
		{name: "vararg", src: `return { ... }`},
		{name: "index", src: `return { a = ({})[1] }`},
		{name: "loop", src: `while true do end`},
		{name: "deep numeric expression", src: `return { a = - - - - - 1 }`},
		{name: "too deep", src: "return " + strings.Repeat("{", storage.MaxDepth+1) + strings.Repeat("}", storage.MaxDepth+1)},
		{name: "NaN key", src: `return { [0/0] = 1 }`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := storage.UnmarshalLua(context.Background(), []byte(tc.src))
			if !errors.Is(err, storage.ErrInvalidData) {
				t.Fatalf("UnmarshalLua(%q) = %v, %v; want ErrInvalidData", tc.src, got, err)
			}
		})
	}
}

func TestMarshalLuaShape(t *testing.T) {
	in := storage.Table{
		false:      storage.Table{"version": 3, "pending": storage.Table{}},
		"b@x":      storage.Table{"groups": storage.Table{"Friends": true}, "subscription": "both"},
		"list":     storage.Table{1: "a", 2: "b", 4: "d"},
		"esc":      "q\"\\\n\x01\x7fé'",
		"inf":      math.Inf(1),
		"ninf":     math.Inf(-1),
		"nan":      math.NaN(),
		"frac":     0.1,
		"big":      float64(1 << 60),
		float64(2): "two",
	}
	want := "return {\n" +
		"\t[false] = {\n" +
		"\t\t[\"pending\"] = {};\n" +
		"\t\t[\"version\"] = 3;\n" +
		"\t};\n" +
		"\t[2] = \"two\";\n" +
		"\t[\"b@x\"] = {\n" +
		"\t\t[\"groups\"] = {\n" +
		"\t\t\t[\"Friends\"] = true;\n" +
		"\t\t};\n" +
		"\t\t[\"subscription\"] = \"both\";\n" +
		"\t};\n" +
		"\t[\"big\"] = 1152921504606846976;\n" +
		"\t[\"esc\"] = \"q\\\"\\\\\\n\\001\\127\\195\\169\\'\";\n" +
		"\t[\"frac\"] = 0.1;\n" +
		"\t[\"inf\"] = (1/0);\n" +
		"\t[\"list\"] = {\n" +
		"\t\t\"a\";\n" +
		"\t\t\"b\";\n" +
		"\t\t[4] = \"d\";\n" +
		"\t};\n" +
		"\t[\"nan\"] = (0/0);\n" +
		"\t[\"ninf\"] = (-1/0);\n" +
		"};\n"
	got, err := storage.MarshalLua(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("MarshalLua:\n%s\nwant:\n%s", got, want)
	}
	back, err := storage.UnmarshalLua(context.Background(), got)
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(back["nan"].(float64)) {
		t.Fatalf("NaN did not round-trip: %v", back["nan"])
	}
	delete(back, "nan")
	norm, _ := in.Clone()
	delete(norm, "nan")
	if !reflect.DeepEqual(back, norm) {
		t.Fatalf("round trip:\n got %#v\nwant %#v", back, norm)
	}
	if empty, _ := storage.MarshalLua(nil); string(empty) != "return {};\n" {
		t.Fatalf("MarshalLua(nil) = %q", empty)
	}
}

// FuzzUnmarshalLua feeds arbitrary bytes to the reader: it must not panic,
// and whatever it accepts must survive MarshalLua -> UnmarshalLua unchanged.
func FuzzUnmarshalLua(f *testing.F) {
	seeds := []string{
		"return {};\n",
		"return {\n\t[\"iteration_count\"] = 10000;\n\t[\"salt\"] = \"x\";\n};\n",
		`return { [false] = { version = 3, pending = { ["a@b"] = true } }, ["a@b"] = { groups = {}, subscription = "both" } }`,
		`return { "a"; "b"; [5] = (1/0); x = -(0/0); y = "\195\171\0\n" }`,
		`return { a = os.exit() }`,
		`return { [[long]] }`,
		"return {" + strings.Repeat("{", 50) + strings.Repeat("}", 50) + "}",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		ctx := context.Background()
		tb, err := storage.UnmarshalLua(ctx, src)
		if err != nil {
			return
		}
		out, err := storage.MarshalLua(tb)
		if err != nil {
			t.Fatalf("MarshalLua of an accepted table: %v", err)
		}
		back, err := storage.UnmarshalLua(ctx, out)
		if err != nil {
			t.Fatalf("our own output %q rejected: %v", out, err)
		}
		if !equalWithNaN(back, tb) {
			t.Fatalf("round trip mismatch:\n in %#v\nout %#v", tb, back)
		}
		again, err := storage.MarshalLua(back)
		if err != nil || string(again) != string(out) {
			t.Fatalf("serialisation not a fixed point:\n%q\n%q (%v)", out, again, err)
		}
	})
}

// FuzzMarshalLuaStrings checks that any byte string, as key and value,
// round-trips through the serializer.
func FuzzMarshalLuaStrings(f *testing.F) {
	f.Add("plain", 1.5, true)
	f.Add("\x00\xff\"'\\\n\r]]--[[", math.Inf(-1), false)
	f.Fuzz(func(t *testing.T, s string, n float64, b bool) {
		in := storage.Table{s: s, "n": n, "b": b, "nested": storage.Table{s: storage.Table{"x": s}}}
		if s == "n" || s == "b" || s == "nested" {
			return
		}
		out, err := storage.MarshalLua(in)
		if err != nil {
			t.Fatal(err)
		}
		back, err := storage.UnmarshalLua(context.Background(), out)
		if err != nil {
			t.Fatalf("output %q rejected: %v", out, err)
		}
		if !equalWithNaN(back, in) {
			t.Fatalf("round trip mismatch:\n in %#v\nout %#v", in, back)
		}
	})
}

// equalWithNaN is reflect.DeepEqual that treats NaN values as equal.
func equalWithNaN(a, b storage.Table) bool {
	if len(a) != len(b) {
		return false
	}
	for k, av := range a {
		bv, ok := b[k]
		if !ok {
			return false
		}
		switch av := av.(type) {
		case storage.Table:
			bt, ok := bv.(storage.Table)
			if !ok || !equalWithNaN(av, bt) {
				return false
			}
		case float64:
			bf, ok := bv.(float64)
			if !ok || !(av == bf || math.IsNaN(av) && math.IsNaN(bf)) {
				return false
			}
			if av == 0 && math.Signbit(av) != math.Signbit(bf) {
				return false
			}
		default:
			if av != bv {
				return false
			}
		}
	}
	return true
}
