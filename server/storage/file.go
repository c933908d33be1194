package storage

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// File and directory modes used for new files; Prosody gets the same from
// its default umask of 027.
const (
	FileMode fs.FileMode = 0o640
	DirMode  fs.FileMode = 0o750
)

// DefaultMaxFileSize bounds the size of one data file that FileStore reads.
const DefaultMaxFileSize = 16 << 20

// lockStripes is the number of mutexes that serialise writers; paths are
// hashed onto them.
const lockStripes = 64

// FileStore is Prosody's "internal" storage (util/datamanager.lua) for keyval
// stores: one Lua data file per value, at
//
//	<dataPath>/<encoded host>/<encoded store>/<encoded user>.dat
//
// or <dataPath>/<encoded host>/<encoded store>.dat for the host-wide value
// (user ""). The global pseudo-host (host "") is the directory "_global".
// Host and user names are encoded with EncodeName, store names with
// EncodeStoreName, as Prosody does, so both programs can share a data
// directory (not at the same time: neither locks across processes).
//
// Writes go to a temporary file in the same directory which is then renamed
// over the target, so readers never see a partial file. FileStore is safe for
// concurrent use; writers of the same file are serialised.
type FileStore struct {
	root        string
	maxFileSize int64
	evalTimeout time.Duration
	locks       [lockStripes]sync.Mutex
}

// FileOption configures a FileStore.
type FileOption func(*FileStore)

// WithMaxFileSize sets the largest data file FileStore will read (default
// DefaultMaxFileSize); larger files make Get fail.
func WithMaxFileSize(n int64) FileOption {
	return func(s *FileStore) { s.maxFileSize = n }
}

// WithEvalTimeout bounds the evaluation of one data file (default
// DefaultEvalTimeout), on top of the caller's context.
func WithEvalTimeout(d time.Duration) FileOption {
	return func(s *FileStore) { s.evalTimeout = d }
}

// NewFileStore returns a FileStore rooted at dataPath (Prosody's data_path).
// Directories are created on first write.
func NewFileStore(dataPath string, opts ...FileOption) *FileStore {
	s := &FileStore{root: dataPath, maxFileSize: DefaultMaxFileSize, evalTimeout: DefaultEvalTimeout}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Path returns the file that holds the value of (host, store, user).
func (s *FileStore) Path(host, store, user string) string {
	h := "_global"
	if host != "" {
		h = EncodeName(host)
	}
	if user == "" {
		return filepath.Join(s.root, h, EncodeStoreName(store)+".dat")
	}
	return filepath.Join(s.root, h, EncodeStoreName(store), EncodeName(user)+".dat")
}

func (s *FileStore) lockFor(path string) *sync.Mutex {
	h := fnv.New32a()
	_, _ = io.WriteString(h, path)
	return &s.locks[h.Sum32()%lockStripes]
}

// Get implements Store.
func (s *FileStore) Get(ctx context.Context, host, store, user string) (Table, error) {
	if err := checkStoreName(store); err != nil {
		return nil, err
	}
	return s.read(ctx, s.Path(host, store, user))
}

func (s *FileStore) read(ctx context.Context, path string) (Table, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage: reading %s: %w", path, err)
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, s.maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("storage: reading %s: %w", path, err)
	}
	if int64(len(src)) > s.maxFileSize {
		return nil, fmt.Errorf("storage: reading %s: %w: larger than %d bytes", path, ErrInvalidData, s.maxFileSize)
	}
	ctx, cancel := context.WithTimeout(ctx, s.evalTimeout)
	defer cancel()
	t, err := UnmarshalLua(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("storage: reading %s: %w", path, err)
	}
	return t, nil
}

// Set implements Store.
func (s *FileStore) Set(ctx context.Context, host, store, user string, t Table) error {
	if err := checkStoreName(store); err != nil {
		return err
	}
	path := s.Path(host, store, user)
	mu := s.lockFor(path)
	mu.Lock()
	defer mu.Unlock()
	return s.write(ctx, path, t)
}

// Update implements Updater.
func (s *FileStore) Update(ctx context.Context, host, store, user string, fn func(Table) (Table, error)) error {
	if err := checkStoreName(store); err != nil {
		return err
	}
	path := s.Path(host, store, user)
	mu := s.lockFor(path)
	mu.Lock()
	defer mu.Unlock()
	cur, err := s.read(ctx, path)
	if err != nil {
		return err
	}
	next, err := fn(cur)
	if err != nil {
		return err
	}
	return s.write(ctx, path, next)
}

// write stores t at path (deleting it when t is empty); the caller holds the
// path's lock.
func (s *FileStore) write(ctx context.Context, path string, t Table) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(t) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("storage: deleting %s: %w", path, err)
		}
		return nil
	}
	data, err := MarshalLua(t)
	if err != nil {
		return fmt.Errorf("storage: writing %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := mkdirAll(dir); err != nil {
		return fmt.Errorf("storage: writing %s: %w", path, err)
	}
	if err := writeAtomic(path, data); err != nil {
		return fmt.Errorf("storage: writing %s: %w", path, err)
	}
	return nil
}

// mkdirAll creates dir and its parents with DirMode (then chmod, so the
// process umask cannot widen or narrow it).
func mkdirAll(dir string) error {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	if err := mkdirAll(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, DirMode); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	}
	return os.Chmod(dir, DirMode)
}

// writeAtomic writes data to a temporary file next to path, syncs it and
// renames it over path.
func writeAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	// The temporary name does not end in ".dat", so Users (ours and
	// Prosody's) never lists it.
	f, err := os.CreateTemp(dir, base+"~*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(FileMode); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	// Make the rename durable; failure to sync a directory is not fatal on
	// every filesystem, so it is ignored.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// Users implements Store: the decoded names of the *.dat files in the store's
// directory, sorted.
func (s *FileStore) Users(ctx context.Context, host, store string) ([]string, error) {
	if err := checkStoreName(store); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir := filepath.Dir(s.Path(host, store, "x"))
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage: listing %s: %w", dir, err)
	}
	var users []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".dat") || len(name) == len(".dat") {
			continue
		}
		users = append(users, DecodeName(strings.TrimSuffix(name, ".dat")))
	}
	sort.Strings(users)
	return users, nil
}
