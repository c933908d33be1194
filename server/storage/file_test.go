package storage_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/storage"
)

// fixtureDir is the data directory made by real Prosody (see its README.md).
const fixtureDir = "../../testdata/prosody-data"

// copyFixture copies the Prosody fixture into a temporary directory, so tests
// never modify testdata.
func copyFixture(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(fixtureDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(fixtureDir, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o750)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o640)
	})
	if err != nil {
		t.Fatalf("copying fixture: %v", err)
	}
	return dst
}

func TestFileStoreReadsProsodyFixture(t *testing.T) {
	s := storage.NewFileStore(copyFixture(t))
	ctx := context.Background()
	tests := []struct {
		name  string
		host  string
		user  string
		check func(t *testing.T, tb storage.Table)
	}{
		{name: "hashed SHA-1", host: "localhost", user: "alice", check: func(t *testing.T, tb storage.Table) {
			want := storage.Table{
				"iteration_count": float64(10000),
				"salt":            "870a8a12-3a86-4701-8333-7afe70c91688",
				"stored_key":      "8c77560e256807a1ecdc157aa6059c88051584a4",
				"server_key":      "05dff172caad4c96647edd5a028cbd2a5a3f3d7f",
			}
			if !reflect.DeepEqual(tb, want) {
				t.Fatalf("got %#v\nwant %#v", tb, want)
			}
		}},
		{name: "escaped user name", host: "localhost", user: "d.o-t", check: func(t *testing.T, tb storage.Table) {
			if n, _ := tb.Int("iteration_count"); n != 10000 {
				t.Fatalf("iteration_count = %v", tb["iteration_count"])
			}
		}},
		{name: "plain on escaped host", host: "plain.localhost", user: "carol", check: func(t *testing.T, tb storage.Table) {
			if !reflect.DeepEqual(tb, storage.Table{"password": "carolpass"}) {
				t.Fatalf("got %#v", tb)
			}
		}},
		{name: "hashed SHA-256", host: "sha256.localhost", user: "dave", check: func(t *testing.T, tb storage.Table) {
			if k, _ := tb.String("stored_key"); len(k) != 64 {
				t.Fatalf("stored_key %q is not a SHA-256 hex digest", k)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb, err := s.Get(ctx, tc.host, "accounts", tc.user)
			if err != nil {
				t.Fatal(err)
			}
			if tb == nil {
				t.Fatal("account missing")
			}
			tc.check(t, tb)
		})
	}
	users, err := s.Users(ctx, "localhost", "accounts")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"alice", "bob", "d.o-t"}; !reflect.DeepEqual(users, want) {
		t.Fatalf("Users = %q, want %q", users, want)
	}
}

func TestFileStoreLayoutAndModes(t *testing.T) {
	root := t.TempDir()
	s := storage.NewFileStore(root)
	ctx := context.Background()
	if err := s.Set(ctx, "auth.meet-jitsi.example", "accounts", "focus.user", storage.Table{"password": "x"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "", "muc_log", "", storage.Table{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		mode fs.FileMode
	}{
		{name: "host dir", path: "auth%2emeet%2djitsi%2eexample", mode: fs.ModeDir | storage.DirMode},
		{name: "store dir", path: "auth%2emeet%2djitsi%2eexample/accounts", mode: fs.ModeDir | storage.DirMode},
		{name: "user file", path: "auth%2emeet%2djitsi%2eexample/accounts/focus%2euser.dat", mode: storage.FileMode},
		{name: "global host-wide file", path: "_global/muc_log.dat", mode: storage.FileMode},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fi, err := os.Stat(filepath.Join(root, tc.path))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != tc.mode {
				t.Fatalf("mode = %v, want %v", fi.Mode(), tc.mode)
			}
		})
	}
	// No temporary files are left behind.
	entries, err := os.ReadDir(filepath.Join(root, "auth%2emeet%2djitsi%2eexample/accounts"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("store dir has %d entries, want 1", len(entries))
	}
	want := "return {\n\t[\"password\"] = \"x\";\n};\n"
	got, err := os.ReadFile(s.Path("auth.meet-jitsi.example", "accounts", "focus.user"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("file content %q, want %q", got, want)
	}
}

// TestFileStoreSameLinesAsProsody checks that re-serialising the
// Prosody-written account files gives the same lines (in our key order).
func TestFileStoreSameLinesAsProsody(t *testing.T) {
	for _, rel := range []string{
		"localhost/accounts/alice.dat",
		"localhost/accounts/bob.dat",
		"plain%2elocalhost/accounts/carol.dat",
		"sha256%2elocalhost/accounts/dave.dat",
	} {
		t.Run(rel, func(t *testing.T) {
			orig, err := os.ReadFile(filepath.Join(fixtureDir, rel))
			if err != nil {
				t.Fatal(err)
			}
			tb, err := storage.UnmarshalLua(context.Background(), orig)
			if err != nil {
				t.Fatal(err)
			}
			ours, err := storage.MarshalLua(tb)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := sortedLines(string(orig)), sortedLines(string(ours)); !reflect.DeepEqual(a, b) {
				t.Fatalf("lines differ:\nprosody: %q\nours:    %q", a, b)
			}
		})
	}
}

func sortedLines(s string) []string {
	lines := strings.Split(s, "\n")
	sort.Strings(lines)
	return lines
}

func TestFileStoreBadFiles(t *testing.T) {
	tests := []struct {
		name    string
		content string
		wantErr error
	}{
		{name: "not lua", content: "this is not lua", wantErr: storage.ErrInvalidData},
		{name: "function call", content: `return { x = os.exit() };`, wantErr: storage.ErrInvalidData},
		{name: "infinite loop", content: `while true do end return {}`, wantErr: storage.ErrInvalidData},
		{name: "returns string", content: `return "x";`, wantErr: storage.ErrInvalidData},
		{name: "too large", content: "return {" + strings.Repeat(" ", 200) + "};", wantErr: storage.ErrInvalidData},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			s := storage.NewFileStore(root, storage.WithMaxFileSize(128))
			p := s.Path("h", "accounts", "u")
			if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(tc.content), 0o640); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(context.Background(), "h", "accounts", "u")
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Get = %v, %v; want error %v", got, err, tc.wantErr)
			}
			// Update refuses to overwrite a file it cannot read.
			err = s.Update(context.Background(), "h", "accounts", "u", func(storage.Table) (storage.Table, error) {
				return storage.Table{"a": 1}, nil
			})
			if err == nil {
				t.Fatal("Update over an unreadable file succeeded")
			}
		})
	}
}

func TestEncodeName(t *testing.T) {
	tests := []struct {
		name, in, want, wantStore string
	}{
		{name: "plain", in: "alice", want: "alice", wantStore: "alice"},
		{name: "dots and dashes", in: "conference.meet-jitsi", want: "conference%2emeet%2djitsi", wantStore: "conference%2emeet%2djitsi"},
		{name: "underscore", in: "muc_log", want: "muc%5flog", wantStore: "muc_log"},
		{name: "percent and slash", in: "a%b/../c", want: "a%25b%2f%2e%2e%2fc", wantStore: "a%25b%2f%2e%2e%2fc"},
		{name: "utf-8 bytes", in: "zoë", want: "zo%c3%ab", wantStore: "zo%c3%ab"},
		{name: "empty", in: "", want: "", wantStore: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := storage.EncodeName(tc.in); got != tc.want {
				t.Errorf("EncodeName(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if got := storage.EncodeStoreName(tc.in); got != tc.wantStore {
				t.Errorf("EncodeStoreName(%q) = %q, want %q", tc.in, got, tc.wantStore)
			}
			if got := storage.DecodeName(tc.want); got != tc.in {
				t.Errorf("DecodeName(%q) = %q, want %q", tc.want, got, tc.in)
			}
		})
	}
	// Prosody's decode accepts upper-case hex and leaves stray "%" alone.
	if got := storage.DecodeName("a%2Eb%zz%4"); got != "a.b%zz%4" {
		t.Errorf("DecodeName = %q", got)
	}
}

func FuzzEncodeName(f *testing.F) {
	for _, s := range []string{"alice", "a.b-c", "%%%", "\x00\xff", "zoë"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := storage.EncodeName(s)
		if strings.ContainsAny(enc, "/.\x00") {
			t.Fatalf("EncodeName(%q) = %q contains a path character", s, enc)
		}
		if got := storage.DecodeName(enc); got != s {
			t.Fatalf("DecodeName(EncodeName(%q)) = %q", s, got)
		}
		if got := storage.DecodeName(storage.EncodeStoreName(s)); got != s {
			t.Fatalf("DecodeName(EncodeStoreName(%q)) = %q", s, got)
		}
	})
}
