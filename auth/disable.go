package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
)

// ErrNoAccount is wrapped by the errors of operations that need an existing
// account.
var ErrNoAccount = errors.New("auth: no such account")

// AccountState is the standing of one account.
type AccountState int

// Account states.
const (
	// AccountAbsent means there is no such account.
	AccountAbsent AccountState = iota
	// AccountEnabled means the account exists and may log in.
	AccountEnabled
	// AccountDisabled means the account exists but logins are refused
	// with account-disabled (the account's "disabled" field).
	AccountDisabled
)

// String returns "absent", "enabled" or "disabled".
func (s AccountState) String() string {
	switch s {
	case AccountAbsent:
		return "absent"
	case AccountEnabled:
		return "enabled"
	case AccountDisabled:
		return "disabled"
	}
	return fmt.Sprintf("AccountState(%d)", int(s))
}

// Usable reports whether an account in this state may keep its sessions.
func (s AccountState) Usable() bool { return s == AccountEnabled }

// Disabler is implemented by Accounts whose accounts can be disabled without
// being deleted, like Prosody 13's usermanager.disable_user and enable_user
// (prosodyctl shell `user:disable`). A disabled account keeps its keys and
// data; logins fail with account-disabled until it is enabled again.
type Disabler interface {
	// State reports whether the account exists and whether it is
	// disabled, with one read of the store.
	State(ctx context.Context, user string) (AccountState, error)
	// SetDisabled disables (true) or re-enables (false) an existing
	// account. An absent account gives an error wrapping ErrNoAccount.
	SetDisabled(ctx context.Context, user string, disabled bool) error
}

var (
	_ Disabler = (*InternalHashed)(nil)
	_ Disabler = (*InternalPlain)(nil)
)

// State implements Disabler.
func (p *InternalHashed) State(ctx context.Context, user string) (AccountState, error) {
	return accountState(ctx, p.store, p.host, user)
}

// SetDisabled implements Disabler.
func (p *InternalHashed) SetDisabled(ctx context.Context, user string, disabled bool) error {
	return setDisabled(ctx, p.store, p.host, user, disabled, p.now)
}

// State implements Disabler.
func (p *InternalPlain) State(ctx context.Context, user string) (AccountState, error) {
	return accountState(ctx, p.store, p.host, user)
}

// SetDisabled implements Disabler.
func (p *InternalPlain) SetDisabled(ctx context.Context, user string, disabled bool) error {
	return setDisabled(ctx, p.store, p.host, user, disabled, p.now)
}

func accountState(ctx context.Context, s storage.Store, host, user string) (AccountState, error) {
	user, err := NormalizeUsername(user, host)
	if err != nil {
		return AccountAbsent, err
	}
	acc, err := s.Get(ctx, host, AccountsStore, user)
	if err != nil {
		return AccountAbsent, fmt.Errorf("auth: reading account %s@%s: %w", user, host, err)
	}
	return stateOf(acc), nil
}

// stateOf classifies a stored account table (nil when absent).
func stateOf(acc storage.Table) AccountState {
	if acc == nil {
		return AccountAbsent
	}
	if d, _ := acc.Bool(fieldDisabled); d {
		return AccountDisabled
	}
	return AccountEnabled
}

// setDisabled writes the account's "disabled" field the way Prosody's
// mod_auth_internal_hashed does: true to disable, removed to enable, with
// "updated" set to now.
func setDisabled(ctx context.Context, s storage.Store, host, user string, disabled bool, now func() time.Time) error {
	user, err := NormalizeUsername(user, host)
	if err != nil {
		return err
	}
	err = storage.Update(ctx, s, host, AccountsStore, user, func(acc storage.Table) (storage.Table, error) {
		if acc == nil {
			return nil, ErrNoAccount
		}
		if disabled {
			acc[fieldDisabled] = true
		} else {
			delete(acc, fieldDisabled)
		}
		acc[fieldUpdated] = now().Unix()
		return acc, nil
	})
	if err != nil {
		verb := "enabling"
		if disabled {
			verb = "disabling"
		}
		return fmt.Errorf("auth: %s %s@%s: %w", verb, user, host, err)
	}
	return nil
}
