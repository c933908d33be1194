package auth_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/auth"
	"github.com/parley-xmpp/parley/server/storage"
)

// TestDisableEnable: SECURITY-CASES 40. A disabled account refuses every
// mechanism with account-disabled (only to the right password), keeps its
// credentials, and logs in again once enabled.
func TestDisableEnable(t *testing.T) {
	ctx := context.Background()
	for _, kind := range providerKinds {
		t.Run(kind.name, func(t *testing.T) {
			p := kind.make(storage.NewMemoryStore(), "example.com")
			d, ok := p.(auth.Disabler)
			if !ok {
				t.Fatalf("%T does not implement auth.Disabler", p)
			}
			state := func(want auth.AccountState) {
				t.Helper()
				if got, err := d.State(ctx, "alice"); got != want || err != nil {
					t.Fatalf("State = %v, %v; want %v", got, err, want)
				}
			}
			state(auth.AccountAbsent)
			if err := p.SetPassword(ctx, "alice", "correct horse"); err != nil {
				t.Fatal(err)
			}
			state(auth.AccountEnabled)
			if err := d.SetDisabled(ctx, "ALICE", true); err != nil {
				t.Fatal(err)
			}
			state(auth.AccountDisabled)
			for _, mech := range passwordMechs {
				_, err := login(t, p, secure, mech, "alice", "correct horse", "")
				wantCondition(t, err, auth.CondAccountDisabled)
				_, err = login(t, p, secure, mech, "alice", "wrong", "")
				wantCondition(t, err, auth.CondNotAuthorized)
			}
			if err := d.SetDisabled(ctx, "alice", false); err != nil {
				t.Fatal(err)
			}
			state(auth.AccountEnabled)
			for _, mech := range passwordMechs {
				if u, err := login(t, p, secure, mech, "alice", "correct horse", ""); u != "alice" || err != nil {
					t.Fatalf("%s after enabling: %q, %v", mech, u, err)
				}
			}
		})
	}
}

// TestDisableAbsentAccount: disabling or enabling an account that does not
// exist fails with ErrNoAccount and creates nothing.
func TestDisableAbsentAccount(t *testing.T) {
	ctx := context.Background()
	for _, kind := range providerKinds {
		for _, disabled := range []bool{true, false} {
			t.Run(kind.name+"/"+strconv.FormatBool(disabled), func(t *testing.T) {
				p := kind.make(storage.NewMemoryStore(), "example.com")
				err := p.(auth.Disabler).SetDisabled(ctx, "nobody", disabled)
				if !errors.Is(err, auth.ErrNoAccount) {
					t.Fatalf("SetDisabled(%v) of an absent account: %v", disabled, err)
				}
				if users, err := p.Users(ctx); len(users) != 0 || err != nil {
					t.Fatalf("Users = %q, %v; want none", users, err)
				}
			})
		}
	}
}

// TestDisabledAccountFormat: the account table is written as Prosody 13's
// mod_auth_internal_hashed writes it: disabled = true, removed again on
// enabling, updated set each time; the keys stay.
func TestDisabledAccountFormat(t *testing.T) {
	ctx := context.Background()
	s := storage.NewMemoryStore()
	now := time.Unix(1700000000, 0)
	p := auth.NewInternalHashed(s, "example.com", auth.HashedOptions{Now: func() time.Time { return now }})
	if err := p.SetPassword(ctx, "alice", "pw"); err != nil {
		t.Fatal(err)
	}
	read := func() storage.Table {
		t.Helper()
		acc, err := s.Get(ctx, "example.com", auth.AccountsStore, "alice")
		if err != nil || acc == nil {
			t.Fatalf("account = %v, %v", acc, err)
		}
		return acc
	}
	key := read()["stored_key"]
	tests := []struct {
		name     string
		disabled bool
		at       int64
	}{
		{"disable", true, 1700000100},
		{"disable again", true, 1700000200},
		{"enable", false, 1700000300},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now = time.Unix(tc.at, 0)
			if err := p.SetDisabled(ctx, "alice", tc.disabled); err != nil {
				t.Fatal(err)
			}
			acc := read()
			d, present := acc.Bool("disabled")
			if tc.disabled && (!present || !d) || !tc.disabled && present {
				t.Errorf("disabled field = %v (present %v), want disabled %v", d, present, tc.disabled)
			}
			if u, _ := acc.Int("updated"); u != tc.at {
				t.Errorf("updated = %d, want %d", u, tc.at)
			}
			if acc["stored_key"] != key {
				t.Errorf("stored_key changed: %v", acc["stored_key"])
			}
		})
	}
}

func TestAccountStateString(t *testing.T) {
	tests := []struct {
		name   string
		state  auth.AccountState
		want   string
		usable bool
	}{
		{"absent", auth.AccountAbsent, "absent", false},
		{"enabled", auth.AccountEnabled, "enabled", true},
		{"disabled", auth.AccountDisabled, "disabled", false},
		{"unknown", auth.AccountState(9), "AccountState(9)", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.state.String(); got != tc.want {
				t.Errorf("String = %q, want %q", got, tc.want)
			}
			if got := tc.state.Usable(); got != tc.usable {
				t.Errorf("Usable = %v, want %v", got, tc.usable)
			}
		})
	}
}
