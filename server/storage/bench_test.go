package storage_test

import (
	"context"
	"testing"

	"github.com/parley-xmpp/parley/server/storage"
)

var benchAccount = storage.Table{
	"iteration_count": 10000, "salt": "870a8a12-3a86-4701-8333-7afe70c91688",
	"stored_key": "8c77560e256807a1ecdc157aa6059c88051584a4", "server_key": "05dff172caad4c96647edd5a028cbd2a5a3f3d7f",
	"stored_key_sha256": "73879b30cda81c74f22a8e82be733241e23ea388765d738830d101bf75a81425",
	"server_key_sha256": "c8d1736e32a9f3c0604cfc3d1ce60b9f61ce69ce5caf48ec9ecffa19aaf75adf",
	"extra_keys_for":    "8c77560e256807a1ecdc157aa6059c88051584a4", "created": 1700000000, "updated": 1700000000,
}

// BenchmarkUnmarshalLua reads a typical account file (parse, check,
// evaluate, convert).
func BenchmarkUnmarshalLua(b *testing.B) {
	src, err := storage.MarshalLua(benchAccount)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := storage.UnmarshalLua(ctx, src); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalLua(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := storage.MarshalLua(benchAccount); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFileStore measures Get (read + UnmarshalLua) and Set (MarshalLua,
// temporary file, fsync, rename) of one account.
func BenchmarkFileStore(b *testing.B) {
	s := storage.NewFileStore(b.TempDir())
	ctx := context.Background()
	if err := s.Set(ctx, "example.com", "accounts", "alice", benchAccount); err != nil {
		b.Fatal(err)
	}
	b.Run("Get", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Get(ctx, "example.com", "accounts", "alice"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Set", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Set(ctx, "example.com", "accounts", "alice", benchAccount); err != nil {
				b.Fatal(err)
			}
		}
	})
}
