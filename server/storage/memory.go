package storage

import (
	"context"
	"sort"
	"sync"
)

// MemoryStore is Prosody's "memory" storage: values live in the process and
// vanish when it exits. It normalises and deep-copies tables on the way in
// and out, so it behaves like FileStore apart from persistence.
type MemoryStore struct {
	mu   sync.Mutex
	data map[memKey]Table
}

type memKey struct{ host, store, user string }

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{data: make(map[memKey]Table)}
}

// Get implements Store.
func (m *MemoryStore) Get(ctx context.Context, host, store, user string) (Table, error) {
	if err := checkStoreName(store); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	t := m.data[memKey{host, store, user}]
	m.mu.Unlock()
	// Stored tables are already normalised and never mutated, so this
	// clone cannot fail.
	return t.Clone()
}

// Set implements Store.
func (m *MemoryStore) Set(ctx context.Context, host, store, user string, t Table) error {
	return m.Update(ctx, host, store, user, func(Table) (Table, error) { return t, nil })
}

// Update implements Updater.
func (m *MemoryStore) Update(ctx context.Context, host, store, user string, fn func(Table) (Table, error)) error {
	if err := checkStoreName(store); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	k := memKey{host, store, user}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, err := m.data[k].Clone()
	if err != nil {
		return err
	}
	next, err := fn(cur)
	if err != nil {
		return err
	}
	if len(next) == 0 {
		delete(m.data, k)
		return nil
	}
	n, err := next.Clone()
	if err != nil {
		return err
	}
	m.data[k] = n
	return nil
}

// Users implements Store.
func (m *MemoryStore) Users(ctx context.Context, host, store string) ([]string, error) {
	if err := checkStoreName(store); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	var users []string
	for k := range m.data {
		if k.host == host && k.store == store && k.user != "" {
			users = append(users, k.user)
		}
	}
	m.mu.Unlock()
	sort.Strings(users)
	return users, nil
}
