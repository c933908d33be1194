package auth

import (
	"context"
	"crypto/hmac"
	"fmt"
	"io"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
)

// PlainOptions configures InternalPlain.
type PlainOptions struct {
	// IterationCount is the PBKDF2 iteration count of the SCRAM exchanges,
	// whose keys are derived from the stored password at each login: 0
	// means DefaultIterationCount, values below MinIterationCount are raised
	// to it.
	IterationCount int
	// AllowInsecurePlain offers PLAIN on streams without TLS.
	AllowInsecurePlain bool
	// SaltKey is the secret from which the (unstored) SCRAM salts are
	// derived, per user; nil means a random key per provider, so salts
	// change when the process restarts and clients that cache salted
	// passwords recompute them.
	SaltKey []byte
	// Now is the clock for the created/updated fields; nil means time.Now.
	Now func() time.Time
	// Rand is the randomness source for nonces; nil means crypto/rand.
	Rand io.Reader
}

// InternalPlain is Prosody's internal_plain provider: passwords stored in
// clear ({ password = "..." }) in the "accounts" store. It offers
// SCRAM-SHA-256 and SCRAM-SHA-1 (keys derived from the password at login,
// with a per-user salt that is stable but not stored) and PLAIN, and
// implements Accounts.
type InternalPlain struct {
	store      storage.Store
	host       string
	iterations int
	plainOK    bool
	salts      saltDeriver
	now        func() time.Time
	rand       io.Reader
}

var (
	_ Provider = (*InternalPlain)(nil)
	_ Accounts = (*InternalPlain)(nil)
)

// NewInternalPlain returns the provider for host's accounts in s.
func NewInternalPlain(s storage.Store, host string, opts PlainOptions) *InternalPlain {
	return &InternalPlain{
		store:      s,
		host:       host,
		iterations: iterationCount(opts.IterationCount),
		plainOK:    opts.AllowInsecurePlain,
		salts:      newSaltDeriver(opts.SaltKey),
		now:        orNow(opts.Now),
		rand:       orRand(opts.Rand),
	}
}

// Name implements Provider.
func (p *InternalPlain) Name() string { return "internal_plain" }

// Mechanisms implements Provider.
func (p *InternalPlain) Mechanisms(req *Request) []string {
	return passwordMechanisms(req, p.plainOK)
}

// Start implements Provider.
func (p *InternalPlain) Start(mech string, req *Request) (Exchange, error) {
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

// password returns the account's prepared password, whether the account
// exists and whether it is disabled.
func (p *InternalPlain) password(ctx context.Context, user string) (pw string, exists, disabled bool, err error) {
	acc, err := p.store.Get(ctx, p.host, AccountsStore, user)
	if err != nil {
		return "", false, false, fmt.Errorf("auth: reading account %s@%s: %w", user, p.host, err)
	}
	if acc == nil {
		return "", false, false, nil
	}
	disabled, _ = acc.Bool(fieldDisabled)
	raw, _ := acc.String(fieldPassword)
	if raw == "" {
		return "", true, disabled, nil
	}
	pw, err = PreparePassword(raw)
	if err != nil {
		// Unusable stored password: nobody can log in with it.
		return "", true, disabled, nil
	}
	return pw, true, disabled, nil
}

func (p *InternalPlain) scramLookup(h Hash) credLookup {
	return func(ctx context.Context, user string) (scramCreds, error) {
		pw, exists, disabled, err := p.password(ctx, user)
		if err != nil {
			return scramCreds{}, err
		}
		salt := []byte(p.salts.salt("plain", p.host, user))
		valid := exists && pw != ""
		if !valid {
			// Do the derivation anyway so the timing matches.
			pw = p.salts.salt("dummy password", p.host, user)
		}
		stored, server, err := SCRAMKeys(h, pw, salt, p.iterations)
		if err != nil {
			return scramCreds{}, err
		}
		return scramCreds{salt: salt, iterations: p.iterations, storedKey: stored, serverKey: server, disabled: disabled, valid: valid}, nil
	}
}

func (p *InternalPlain) checkPlain(ctx context.Context, user, password string) *Failure {
	pw, exists, disabled, err := p.password(ctx, user)
	if err != nil {
		return errTemporary(err)
	}
	valid := exists && pw != ""
	if !valid {
		pw = p.salts.salt("dummy password", p.host, user)
	}
	if !hmac.Equal([]byte(pw), []byte(password)) || !valid {
		return errNotAuthorized()
	}
	if disabled {
		return fail(CondAccountDisabled, "")
	}
	return nil
}

// SetPassword implements Accounts.
func (p *InternalPlain) SetPassword(ctx context.Context, user, password string) error {
	user, err := NormalizeUsername(user, p.host)
	if err != nil {
		return err
	}
	prepped, err := PreparePassword(password)
	if err != nil {
		return err
	}
	now := p.now().Unix()
	err = storage.Update(ctx, p.store, p.host, AccountsStore, user, func(acc storage.Table) (storage.Table, error) {
		if acc == nil {
			acc = storage.Table{fieldCreated: now}
		}
		acc[fieldPassword] = prepped
		acc[fieldUpdated] = now
		return acc, nil
	})
	if err != nil {
		return fmt.Errorf("auth: setting password of %s@%s: %w", user, p.host, err)
	}
	return nil
}

// Delete implements Accounts.
func (p *InternalPlain) Delete(ctx context.Context, user string) error {
	return deleteAccount(ctx, p.store, p.host, user)
}

// Exists implements Accounts.
func (p *InternalPlain) Exists(ctx context.Context, user string) (bool, error) {
	return accountExists(ctx, p.store, p.host, user)
}

// Users implements Accounts.
func (p *InternalPlain) Users(ctx context.Context) ([]string, error) {
	return listAccounts(ctx, p.store, p.host)
}
