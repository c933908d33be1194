package auth

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
)

// AccountsStore is the store that holds accounts.
const AccountsStore = "accounts"

// Account fields, as Prosody's mod_auth_internal_hashed writes them.
const (
	fieldSalt       = "salt"
	fieldIterations = "iteration_count"
	fieldStoredKey  = "stored_key"
	fieldServerKey  = "server_key"
	fieldPassword   = "password"
	fieldDisabled   = "disabled"
	fieldCreated    = "created"
	fieldUpdated    = "updated"
)

// Extra account fields written by parley (Prosody ignores unknown fields and
// keeps them when it rewrites an account). Prosody stores keys for one hash
// only (its password_hash option) under stored_key/server_key. To offer both
// SCRAM-SHA-1 and SCRAM-SHA-256 we also store the keys for the other hash,
// derived from the same password, salt and iteration count:
//
//	stored_key_sha256, server_key_sha256  (when the main keys are SHA-1)
//	stored_key_sha1,   server_key_sha1    (when the main keys are SHA-256)
//	extra_keys_for = <the stored_key they belong with>
//
// extra_keys_for binds the extra keys to the main ones: if Prosody later
// changes the password it rewrites stored_key but leaves our fields, which
// then no longer match and are ignored (so the old password stops working).
const (
	fieldExtraStoredPrefix = "stored_key_"
	fieldExtraServerPrefix = "server_key_"
	fieldExtraFor          = "extra_keys_for"
)

// HashedOptions configures InternalHashed.
type HashedOptions struct {
	// PasswordHash is the hash of the main stored keys for new passwords
	// (Prosody's password_hash; default SHA1). Existing accounts are read
	// whatever their hash, recognised by key length.
	PasswordHash Hash
	// IterationCount is the PBKDF2 iteration count for new passwords
	// (Prosody's default_iteration_count): 0 means DefaultIterationCount,
	// values below MinIterationCount are raised to it.
	IterationCount int
	// AllowInsecurePlain offers PLAIN on streams without TLS (Prosody's
	// allow_unencrypted_plain_auth).
	AllowInsecurePlain bool
	// SaltKey is the secret from which the salts shown for accounts that do
	// not exist are derived. Set it to a persistent secret so those salts
	// stay the same across restarts; nil means a random key per provider.
	SaltKey []byte
	// Logger receives warnings (failed key upgrades); nil discards them.
	Logger *slog.Logger
	// Now is the clock for the created/updated fields; nil means time.Now.
	Now func() time.Time
	// Rand is the randomness source for salts and nonces; nil means
	// crypto/rand.
	Rand io.Reader
}

// InternalHashed is Prosody's internal_hashed provider: accounts with SCRAM
// keys in the "accounts" store. It offers SCRAM-SHA-256, SCRAM-SHA-1 and
// PLAIN, and implements Accounts.
type InternalHashed struct {
	store      storage.Store
	host       string
	hash       Hash
	iterations int
	plainOK    bool
	salts      saltDeriver
	log        *slog.Logger
	now        func() time.Time
	rand       io.Reader
}

var (
	_ Provider = (*InternalHashed)(nil)
	_ Accounts = (*InternalHashed)(nil)
)

// NewInternalHashed returns the provider for host's accounts in s.
func NewInternalHashed(s storage.Store, host string, opts HashedOptions) *InternalHashed {
	return &InternalHashed{
		store:      s,
		host:       host,
		hash:       opts.PasswordHash,
		iterations: iterationCount(opts.IterationCount),
		plainOK:    opts.AllowInsecurePlain,
		salts:      newSaltDeriver(opts.SaltKey),
		log:        orDiscard(opts.Logger),
		now:        orNow(opts.Now),
		rand:       orRand(opts.Rand),
	}
}

// Name implements Provider.
func (p *InternalHashed) Name() string { return "internal_hashed" }

// Mechanisms implements Provider.
func (p *InternalHashed) Mechanisms(req *Request) []string {
	return passwordMechanisms(req, p.plainOK)
}

// Start implements Provider.
func (p *InternalHashed) Start(mech string, req *Request) (Exchange, error) {
	if f := checkMechanism(mech, req, p.plainOK); f != nil {
		return nil, f
	}
	switch mech {
	case MechSCRAMSHA256:
		return newSCRAM(SHA256, p.host, p.scramLookup(SHA256), p.rand), nil
	case MechSCRAMSHA1:
		return newSCRAM(SHA1, p.host, p.scramLookup(SHA1), p.rand), nil
	}
	return &plainExchange{host: p.host, check: p.checkPlain}, nil
}

// account reads a user's account table (nil when absent).
func (p *InternalHashed) account(ctx context.Context, user string) (storage.Table, error) {
	acc, err := p.store.Get(ctx, p.host, AccountsStore, user)
	if err != nil {
		return nil, fmt.Errorf("auth: reading account %s@%s: %w", user, p.host, err)
	}
	return acc, nil
}

// storedKeys returns an account's salt, iteration count and keys for h, if
// it has them.
func storedKeys(acc storage.Table, h Hash) (salt string, iter int, stored, server []byte, ok bool) {
	salt, _ = acc.String(fieldSalt)
	n, _ := acc.Int(fieldIterations)
	if salt == "" || n < 1 || n > 1<<31-1 {
		return "", 0, nil, nil, false
	}
	mainStored, _ := acc.String(fieldStoredKey)
	mainServer, _ := acc.String(fieldServerKey)
	mainHash, known := hashForHexKey(mainStored)
	if !known {
		return salt, int(n), nil, nil, false
	}
	storedHex, serverHex := mainStored, mainServer
	if mainHash != h {
		storedHex, _ = acc.String(fieldExtraStoredPrefix + h.suffix())
		serverHex, _ = acc.String(fieldExtraServerPrefix + h.suffix())
		boundTo, _ := acc.String(fieldExtraFor)
		if boundTo != mainStored {
			return salt, int(n), nil, nil, false
		}
	}
	stored, err1 := hex.DecodeString(storedHex)
	server, err2 := hex.DecodeString(serverHex)
	if err1 != nil || err2 != nil || len(stored) != h.Size() || len(server) != h.Size() {
		return salt, int(n), nil, nil, false
	}
	return salt, int(n), stored, server, true
}

func (p *InternalHashed) scramLookup(h Hash) credLookup {
	return func(ctx context.Context, user string) (scramCreds, error) {
		acc, err := p.account(ctx, user)
		if err != nil {
			return scramCreds{}, err
		}
		if acc == nil {
			return scramCreds{salt: []byte(p.salts.salt("hashed", p.host, user)), iterations: p.iterations}, nil
		}
		if pw, ok := acc.String(fieldPassword); ok && pw != "" {
			// A plaintext password in a hashed store (Prosody converts
			// these on first use, and so do we).
			if acc, err = p.hashLegacyPassword(ctx, user, pw); err != nil {
				return scramCreds{}, err
			}
		}
		disabled, _ := acc.Bool(fieldDisabled)
		salt, iter, stored, server, ok := storedKeys(acc, h)
		if salt == "" {
			salt, iter = p.salts.salt("hashed", p.host, user), p.iterations
		}
		return scramCreds{salt: []byte(salt), iterations: iter, storedKey: stored, serverKey: server, disabled: disabled, valid: ok}, nil
	}
}

// checkPlain verifies a PLAIN password against the stored keys, then adds
// any missing keys for the other hash.
func (p *InternalHashed) checkPlain(ctx context.Context, user, password string) *Failure {
	acc, err := p.account(ctx, user)
	if err != nil {
		return errTemporary(err)
	}
	if acc == nil {
		// Same work as for a real account, then the same answer.
		_, _, _ = SCRAMKeys(p.hash, password, []byte(p.salts.salt("hashed", p.host, user)), p.iterations)
		return errNotAuthorized()
	}
	disabled, _ := acc.Bool(fieldDisabled)
	if legacy, ok := acc.String(fieldPassword); ok && legacy != "" {
		prepped, err := PreparePassword(legacy)
		if err != nil || !hmac.Equal([]byte(prepped), []byte(password)) {
			return errNotAuthorized()
		}
		if disabled {
			return fail(CondAccountDisabled, "")
		}
		if _, err := p.hashLegacyPassword(ctx, user, legacy); err != nil {
			p.log.Warn("auth: hashing plaintext password failed", "host", p.host, "user", user, "err", err)
		}
		return nil
	}
	mainStored, _ := acc.String(fieldStoredKey)
	mainHash, known := hashForHexKey(mainStored)
	salt, iter, stored, server, ok := storedKeys(acc, mainHash)
	if !known || !ok {
		_, _, _ = SCRAMKeys(p.hash, password, []byte(p.salts.salt("hashed", p.host, user)), p.iterations)
		return errNotAuthorized()
	}
	gotStored, gotServer, err := SCRAMKeys(mainHash, password, []byte(salt), iter)
	if err != nil {
		return errTemporary(err)
	}
	if !hmac.Equal(gotStored, stored) || !hmac.Equal(gotServer, server) {
		return errNotAuthorized()
	}
	if disabled {
		return fail(CondAccountDisabled, "")
	}
	other := SHA256
	if mainHash == SHA256 {
		other = SHA1
	}
	if _, _, _, _, has := storedKeys(acc, other); !has {
		if err := p.addExtraKeys(ctx, user, mainStored, other, password, salt, iter); err != nil {
			p.log.Warn("auth: adding "+other.Mechanism()+" keys failed", "host", p.host, "user", user, "err", err)
		}
	}
	return nil
}

// addExtraKeys stores keys for hash h next to the main keys (after a
// successful PLAIN login), unless the account changed in the meantime.
func (p *InternalHashed) addExtraKeys(ctx context.Context, user, mainStored string, h Hash, password, salt string, iter int) error {
	stored, server, err := SCRAMKeys(h, password, []byte(salt), iter)
	if err != nil {
		return err
	}
	return storage.Update(ctx, p.store, p.host, AccountsStore, user, func(acc storage.Table) (storage.Table, error) {
		if cur, _ := acc.String(fieldStoredKey); acc == nil || cur != mainStored {
			return nil, fmt.Errorf("auth: account %s@%s changed during login", user, p.host)
		}
		acc[fieldExtraStoredPrefix+h.suffix()] = hex.EncodeToString(stored)
		acc[fieldExtraServerPrefix+h.suffix()] = hex.EncodeToString(server)
		acc[fieldExtraFor] = mainStored
		return acc, nil
	})
}

// hashLegacyPassword replaces a plaintext password field with keys and
// returns the new account table.
func (p *InternalHashed) hashLegacyPassword(ctx context.Context, user, password string) (storage.Table, error) {
	prepped, err := PreparePassword(password)
	if err != nil {
		return nil, err
	}
	var out storage.Table
	err = storage.Update(ctx, p.store, p.host, AccountsStore, user, func(acc storage.Table) (storage.Table, error) {
		if pw, _ := acc.String(fieldPassword); acc == nil || pw != password {
			return nil, fmt.Errorf("auth: account %s@%s changed during login", user, p.host)
		}
		if err := p.setKeys(acc, prepped); err != nil {
			return nil, err
		}
		out = acc
		return acc, nil
	})
	if err != nil {
		return nil, fmt.Errorf("auth: hashing plaintext password of %s@%s: %w", user, p.host, err)
	}
	return out, nil
}

// setKeys writes a new salt and keys for both hashes into acc and removes any
// plaintext password, as Prosody's set_password does.
func (p *InternalHashed) setKeys(acc storage.Table, password string) error {
	salt, err := newUUID(p.rand)
	if err != nil {
		return err
	}
	iter := p.iterations
	if n, ok := acc.Int(fieldIterations); ok && n > int64(iter) && n <= 1<<31-1 {
		iter = int(n) // never lower an account's iteration count
	}
	mainStored, mainServer, err := SCRAMKeys(p.hash, password, []byte(salt), iter)
	if err != nil {
		return err
	}
	other := SHA256
	if p.hash == SHA256 {
		other = SHA1
	}
	extraStored, extraServer, err := SCRAMKeys(other, password, []byte(salt), iter)
	if err != nil {
		return err
	}
	for _, h := range []Hash{SHA1, SHA256} {
		delete(acc, fieldExtraStoredPrefix+h.suffix())
		delete(acc, fieldExtraServerPrefix+h.suffix())
	}
	delete(acc, fieldPassword)
	acc[fieldSalt] = salt
	acc[fieldIterations] = iter
	acc[fieldStoredKey] = hex.EncodeToString(mainStored)
	acc[fieldServerKey] = hex.EncodeToString(mainServer)
	acc[fieldExtraStoredPrefix+other.suffix()] = hex.EncodeToString(extraStored)
	acc[fieldExtraServerPrefix+other.suffix()] = hex.EncodeToString(extraServer)
	acc[fieldExtraFor] = hex.EncodeToString(mainStored)
	acc[fieldUpdated] = p.now().Unix()
	return nil
}

// SetPassword implements Accounts.
func (p *InternalHashed) SetPassword(ctx context.Context, user, password string) error {
	user, err := NormalizeUsername(user, p.host)
	if err != nil {
		return err
	}
	prepped, err := PreparePassword(password)
	if err != nil {
		return err
	}
	err = storage.Update(ctx, p.store, p.host, AccountsStore, user, func(acc storage.Table) (storage.Table, error) {
		if acc == nil {
			acc = storage.Table{fieldCreated: p.now().Unix()}
		}
		if err := p.setKeys(acc, prepped); err != nil {
			return nil, err
		}
		return acc, nil
	})
	if err != nil {
		return fmt.Errorf("auth: setting password of %s@%s: %w", user, p.host, err)
	}
	return nil
}

// Delete implements Accounts.
func (p *InternalHashed) Delete(ctx context.Context, user string) error {
	return deleteAccount(ctx, p.store, p.host, user)
}

// Exists implements Accounts.
func (p *InternalHashed) Exists(ctx context.Context, user string) (bool, error) {
	return accountExists(ctx, p.store, p.host, user)
}

// Users implements Accounts.
func (p *InternalHashed) Users(ctx context.Context) ([]string, error) {
	return listAccounts(ctx, p.store, p.host)
}
