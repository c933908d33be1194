package storage

import (
	"context"
	"errors"
	"fmt"
)

// Store is a keyval store in Prosody's sense: for each (host, store, user)
// there is at most one Table.
//
// host is the virtual host or component ("" means Prosody's global
// pseudo-host), store the store name ("accounts", "roster", "vcard"...), user
// the account's localpart as already normalised by the caller ("" addresses
// the host-wide value of a store). Implementations are safe for concurrent
// use. Tables passed in and returned are copies: callers may modify them.
type Store interface {
	// Get returns the stored table, or (nil, nil) when there is none.
	Get(ctx context.Context, host, store, user string) (Table, error)
	// Set replaces the stored table. A nil or empty t deletes it (Prosody
	// removes files of empty tables too).
	Set(ctx context.Context, host, store, user string, t Table) error
	// Users lists, sorted, the users that have a value in the store.
	Users(ctx context.Context, host, store string) ([]string, error)
}

// Updater is implemented by stores that can read, modify and write one value
// atomically with respect to other Update and Set calls on the same value.
type Updater interface {
	// Update calls fn with the current table (nil when absent) and stores
	// the table fn returns (nil or empty deletes). If fn returns an error
	// nothing is written and the error is returned. fn must not call the
	// store.
	Update(ctx context.Context, host, store, user string, fn func(Table) (Table, error)) error
}

// Update runs fn on the value of (host, store, user) atomically when s
// implements Updater, and as a plain Get followed by Set otherwise.
func Update(ctx context.Context, s Store, host, store, user string, fn func(Table) (Table, error)) error {
	if u, ok := s.(Updater); ok {
		return u.Update(ctx, host, store, user, fn)
	}
	cur, err := s.Get(ctx, host, store, user)
	if err != nil {
		return err
	}
	next, err := fn(cur)
	if err != nil {
		return err
	}
	return s.Set(ctx, host, store, user, next)
}

// Kinds accepted by Open, named as in Prosody's `storage` option.
const (
	KindInternal = "internal"
	KindMemory   = "memory"
)

// ErrUnknownKind is returned by Open for a storage kind it does not provide.
var ErrUnknownKind = errors.New("storage: unknown storage kind")

// Open returns the store for Prosody's `storage` option: "internal" (also
// "") is the file store rooted at dataPath, "memory" an in-process store
// that forgets everything on exit.
func Open(kind, dataPath string) (Store, error) {
	switch kind {
	case "", KindInternal:
		if dataPath == "" {
			return nil, fmt.Errorf("storage: internal storage needs a data path")
		}
		return NewFileStore(dataPath), nil
	case KindMemory:
		return NewMemoryStore(), nil
	}
	return nil, fmt.Errorf("%w %q (supported: %q, %q)", ErrUnknownKind, kind, KindInternal, KindMemory)
}

// checkStoreName rejects an empty store name; everything else is encoded.
func checkStoreName(store string) error {
	if store == "" {
		return fmt.Errorf("storage: empty store name")
	}
	return nil
}
