package auth

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"strings"
)

// Hash is the hash function of a SCRAM mechanism and of the keys stored for
// it.
type Hash int

// The hashes SCRAM is offered with. The zero value is SHA1, Prosody's
// default password_hash.
const (
	SHA1 Hash = iota
	SHA256
)

// ParseHash parses Prosody's password_hash option value ("SHA-1" or
// "SHA-256", case-insensitive).
func ParseHash(s string) (Hash, error) {
	switch strings.ToUpper(s) {
	case "SHA-1":
		return SHA1, nil
	case "SHA-256":
		return SHA256, nil
	}
	return 0, fmt.Errorf("auth: unsupported password hash %q (want SHA-1 or SHA-256)", s)
}

// String returns the hash name as Prosody writes it ("SHA-1", "SHA-256").
func (h Hash) String() string {
	if h == SHA256 {
		return "SHA-256"
	}
	return "SHA-1"
}

// Mechanism returns the SCRAM mechanism name for h.
func (h Hash) Mechanism() string { return "SCRAM-" + h.String() }

// suffix is the name suffix of the extra account fields for h.
func (h Hash) suffix() string {
	if h == SHA256 {
		return "sha256"
	}
	return "sha1"
}

func (h Hash) new() hash.Hash {
	if h == SHA256 {
		return sha256.New()
	}
	return sha1.New()
}

// Size is the digest size in bytes (20 or 32).
func (h Hash) Size() int {
	if h == SHA256 {
		return sha256.Size
	}
	return sha1.Size
}

func (h Hash) hmac(key []byte, parts ...string) []byte {
	m := hmac.New(h.new, key)
	for _, p := range parts {
		_, _ = io.WriteString(m, p)
	}
	return m.Sum(nil)
}

func (h Hash) sum(b []byte) []byte {
	d := h.new()
	_, _ = d.Write(b)
	return d.Sum(nil)
}

// hashForHexKey tells the hash of a stored hex key from its length.
func hashForHexKey(k string) (Hash, bool) {
	switch len(k) {
	case 2 * sha1.Size:
		return SHA1, true
	case 2 * sha256.Size:
		return SHA256, true
	}
	return 0, false
}

// MinIterationCount is the smallest iteration count used for new keys (RFC
// 5802 §5.1; Prosody enforces the same minimum).
const MinIterationCount = 4096

// DefaultIterationCount is Prosody's default_iteration_count.
const DefaultIterationCount = 10000

// SCRAMKeys derives the StoredKey and ServerKey of RFC 5802 §3 from a
// password (already prepared; see PreparePassword), salt and iteration count:
//
//	SaltedPassword = PBKDF2-HMAC-H(password, salt, i)
//	StoredKey      = H(HMAC(SaltedPassword, "Client Key"))
//	ServerKey      = HMAC(SaltedPassword, "Server Key")
func SCRAMKeys(h Hash, password string, salt []byte, iterations int) (storedKey, serverKey []byte, err error) {
	if iterations < 1 {
		return nil, nil, fmt.Errorf("auth: iteration count %d", iterations)
	}
	salted, err := pbkdf2.Key(h.new, password, salt, iterations, h.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("auth: deriving SCRAM keys: %w", err)
	}
	return h.sum(h.hmac(salted, "Client Key")), h.hmac(salted, "Server Key"), nil
}

// newUUID returns a random version 4 UUID in lowercase, as Prosody's
// util.uuid generates for salts and Jitsi for anonymous usernames.
func newUUID(r io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("auth: reading random bytes: %w", err)
	}
	return formatUUID(b), nil
}

func formatUUID(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// saltDeriver makes salts that are stable for a (host, user) pair but
// unpredictable without its key: used for accounts that do not exist (so a
// probe sees the same salt every time, as for a real account) and for
// internal_plain accounts (whose salt is not stored).
type saltDeriver struct{ key []byte }

func newSaltDeriver(key []byte) saltDeriver {
	if len(key) == 0 {
		key = make([]byte, 32)
		// crypto/rand.Read never fails (Go 1.24+).
		_, _ = rand.Read(key)
	}
	return saltDeriver{key: append([]byte(nil), key...)}
}

// salt returns a UUID-shaped salt, like the ones Prosody stores.
func (d saltDeriver) salt(purpose, host, user string) string {
	m := hmac.New(sha256.New, d.key)
	for _, p := range []string{purpose, host, user} {
		_, _ = io.WriteString(m, p)
		_, _ = m.Write([]byte{0})
	}
	var b [16]byte
	copy(b[:], m.Sum(nil))
	return formatUUID(b)
}

// randomBytes returns n random bytes from r.
func randomBytes(r io.Reader, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("auth: reading random bytes: %w", err)
	}
	return b, nil
}

func orRand(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}
