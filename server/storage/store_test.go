package storage_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/parley-xmpp/parley/server/storage"
)

// storeKinds runs a contract test against every Store implementation.
func storeKinds(t *testing.T, f func(t *testing.T, s storage.Store)) {
	t.Run("file", func(t *testing.T) { f(t, storage.NewFileStore(t.TempDir())) })
	t.Run("memory", func(t *testing.T) { f(t, storage.NewMemoryStore()) })
}

func TestStoreGetMissing(t *testing.T) {
	storeKinds(t, func(t *testing.T, s storage.Store) {
		got, err := s.Get(context.Background(), "example.com", "accounts", "nobody")
		if err != nil || got != nil {
			t.Fatalf("Get of missing value = %v, %v; want nil, nil", got, err)
		}
	})
}

func TestStoreSetGetRoundTrip(t *testing.T) {
	in := storage.Table{
		"str":       "va\"lue\n\x00\xff",
		"int":       10000,
		"int64":     int64(1) << 52,
		"float":     0.25,
		"neg":       -3.5,
		"yes":       true,
		"no":        false,
		float64(7):  "seven",
		false:       storage.Table{"version": 3, "pending": storage.Table{}},
		true:        "t",
		"nested":    storage.Table{"a": storage.Table{"b": storage.Table{"c": "deep"}}},
		"list":      storage.Table{1: "one", 2: "two", 3: "three"},
		"ünïcode ☃": "ok",
		"skipped":   nil,
	}
	want := storage.Table{
		"str":       "va\"lue\n\x00\xff",
		"int":       float64(10000),
		"int64":     float64(int64(1) << 52),
		"float":     0.25,
		"neg":       -3.5,
		"yes":       true,
		"no":        false,
		float64(7):  "seven",
		false:       storage.Table{"version": float64(3), "pending": storage.Table{}},
		true:        "t",
		"nested":    storage.Table{"a": storage.Table{"b": storage.Table{"c": "deep"}}},
		"list":      storage.Table{float64(1): "one", float64(2): "two", float64(3): "three"},
		"ünïcode ☃": "ok",
	}
	storeKinds(t, func(t *testing.T, s storage.Store) {
		ctx := context.Background()
		if err := s.Set(ctx, "conference.meet.jitsi", "test_store", "user-1.x", in); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "conference.meet.jitsi", "test_store", "user-1.x")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip:\n got %#v\nwant %#v", got, want)
		}
		// The returned table is a copy.
		got["str"] = "changed"
		again, _ := s.Get(ctx, "conference.meet.jitsi", "test_store", "user-1.x")
		if again["str"] != want["str"] {
			t.Fatalf("mutating a returned table changed the store")
		}
	})
}

func TestStoreDeleteAndUsers(t *testing.T) {
	storeKinds(t, func(t *testing.T, s storage.Store) {
		ctx := context.Background()
		for _, u := range []string{"zed", "alice", "bob.b", "c%d"} {
			if err := s.Set(ctx, "h.example", "accounts", u, storage.Table{"password": u}); err != nil {
				t.Fatal(err)
			}
		}
		// A host-wide value and another host must not show up as users.
		if err := s.Set(ctx, "h.example", "accounts", "", storage.Table{"x": 1}); err != nil {
			t.Fatal(err)
		}
		if err := s.Set(ctx, "other.example", "accounts", "eve", storage.Table{"x": 1}); err != nil {
			t.Fatal(err)
		}
		users, err := s.Users(ctx, "h.example", "accounts")
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"alice", "bob.b", "c%d", "zed"}; !reflect.DeepEqual(users, want) {
			t.Fatalf("Users = %q, want %q", users, want)
		}
		if err := s.Set(ctx, "h.example", "accounts", "zed", nil); err != nil {
			t.Fatal(err)
		}
		if err := s.Set(ctx, "h.example", "accounts", "alice", storage.Table{}); err != nil {
			t.Fatal(err)
		}
		// Deleting what is absent is not an error.
		if err := s.Set(ctx, "h.example", "accounts", "never", nil); err != nil {
			t.Fatal(err)
		}
		users, err = s.Users(ctx, "h.example", "accounts")
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"bob.b", "c%d"}; !reflect.DeepEqual(users, want) {
			t.Fatalf("Users after delete = %q, want %q", users, want)
		}
		if got, err := s.Get(ctx, "h.example", "accounts", "zed"); got != nil || err != nil {
			t.Fatalf("deleted value still there: %v, %v", got, err)
		}
		if users, err := s.Users(ctx, "nohost", "accounts"); err != nil || len(users) != 0 {
			t.Fatalf("Users of empty store = %q, %v", users, err)
		}
	})
}

func TestStoreRejects(t *testing.T) {
	type weird struct{}
	tests := []struct {
		name  string
		store string
		table storage.Table
	}{
		{name: "empty store name", store: "", table: storage.Table{"a": 1}},
		{name: "unsupported value", store: "s", table: storage.Table{"a": weird{}}},
		{name: "unsupported key", store: "s", table: storage.Table{weird{}: 1}},
		{name: "NaN key", store: "s", table: storage.Table{nan(): 1}},
		{name: "duplicate key after normalisation", store: "s", table: storage.Table{1: "a", float64(1): "b"}},
		{name: "too deep", store: "s", table: deepTable(storage.MaxDepth + 1)},
	}
	storeKinds(t, func(t *testing.T, s storage.Store) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if err := s.Set(context.Background(), "h", tc.store, "u", tc.table); err == nil {
					t.Fatal("Set succeeded, want error")
				}
				if tc.store == "" {
					return
				}
				if got, _ := s.Get(context.Background(), "h", tc.store, "u"); got != nil {
					t.Fatalf("rejected Set stored %v", got)
				}
			})
		}
	})
}

func TestStoreMaxDepthAccepted(t *testing.T) {
	storeKinds(t, func(t *testing.T, s storage.Store) {
		ctx := context.Background()
		in := deepTable(storage.MaxDepth)
		if err := s.Set(ctx, "h", "deep", "u", in); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "h", "deep", "u")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, in) {
			t.Fatal("deep table changed in round trip")
		}
	})
}

func TestStoreUpdateIsAtomic(t *testing.T) {
	const workers, rounds = 8, 25
	storeKinds(t, func(t *testing.T, s storage.Store) {
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < rounds; i++ {
					err := storage.Update(ctx, s, "h", "counter", "u", func(cur storage.Table) (storage.Table, error) {
						n, _ := cur.Number("n")
						return storage.Table{"n": n + 1}, nil
					})
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "h", "counter", "u")
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := got.Number("n"); n != workers*rounds {
			t.Fatalf("counter = %v, want %d (lost updates)", n, workers*rounds)
		}
	})
}

func TestStoreUpdateErrorWritesNothing(t *testing.T) {
	storeKinds(t, func(t *testing.T, s storage.Store) {
		ctx := context.Background()
		if err := s.Set(ctx, "h", "s", "u", storage.Table{"a": "b"}); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		err := storage.Update(ctx, s, "h", "s", "u", func(storage.Table) (storage.Table, error) {
			return storage.Table{"a": "changed"}, boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Update error = %v, want %v", err, boom)
		}
		got, _ := s.Get(ctx, "h", "s", "u")
		if got["a"] != "b" {
			t.Fatalf("value after failed Update = %v", got)
		}
	})
}

func TestStoreCanceledContext(t *testing.T) {
	storeKinds(t, func(t *testing.T, s storage.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.Set(ctx, "h", "s", "u", storage.Table{"a": 1}); !errors.Is(err, context.Canceled) {
			t.Fatalf("Set with canceled ctx = %v", err)
		}
		if _, err := s.Get(ctx, "h", "s", "u"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Get with canceled ctx = %v", err)
		}
		if _, err := s.Users(ctx, "h", "s"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Users with canceled ctx = %v", err)
		}
	})
}

func TestOpen(t *testing.T) {
	tests := []struct {
		name     string
		kind     string
		path     string
		wantType string
		wantErr  bool
	}{
		{name: "default is internal", kind: "", path: "/tmp/x", wantType: "*storage.FileStore"},
		{name: "internal", kind: "internal", path: "/tmp/x", wantType: "*storage.FileStore"},
		{name: "memory", kind: "memory", wantType: "*storage.MemoryStore"},
		{name: "internal without path", kind: "internal", wantErr: true},
		{name: "sql unsupported", kind: "sql", path: "/tmp/x", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := storage.Open(tc.kind, tc.path)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Open(%q) succeeded", tc.kind)
				}
				if tc.kind == "sql" && !errors.Is(err, storage.ErrUnknownKind) {
					t.Fatalf("error %v does not wrap ErrUnknownKind", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%T", s); got != tc.wantType {
				t.Fatalf("Open(%q) = %s, want %s", tc.kind, got, tc.wantType)
			}
		})
	}
}

func TestTableAccessors(t *testing.T) {
	tb := storage.Table{"s": "x", "n": 2.5, "i": float64(10000), "go_int": 7, "b": true, "t": storage.Table{"k": "v"}}
	if v, ok := tb.String("s"); !ok || v != "x" {
		t.Errorf("String = %q, %v", v, ok)
	}
	if _, ok := tb.String("n"); ok {
		t.Errorf("String of a number succeeded")
	}
	if v, ok := tb.Number("n"); !ok || v != 2.5 {
		t.Errorf("Number = %v, %v", v, ok)
	}
	if v, ok := tb.Int("i"); !ok || v != 10000 {
		t.Errorf("Int = %v, %v", v, ok)
	}
	if v, ok := tb.Int("go_int"); !ok || v != 7 {
		t.Errorf("Int of Go int = %v, %v", v, ok)
	}
	if _, ok := tb.Int("n"); ok {
		t.Errorf("Int of 2.5 succeeded")
	}
	if v, ok := tb.Bool("b"); !ok || !v {
		t.Errorf("Bool = %v, %v", v, ok)
	}
	if v, ok := tb.Sub("t"); !ok || v["k"] != "v" {
		t.Errorf("Sub = %v, %v", v, ok)
	}
	if _, ok := tb.Sub("missing"); ok {
		t.Errorf("Sub of missing key succeeded")
	}
}

func deepTable(depth int) storage.Table {
	t := storage.Table{"leaf": "x"}
	for i := 1; i < depth; i++ {
		t = storage.Table{"d": t}
	}
	return t
}
