package server

import (
	"context"
	"errors"
	"fmt"

	"mellium.im/xmpp/stream"

	"github.com/parley-xmpp/parley/auth"
	"github.com/parley-xmpp/parley/server/hook"
)

// Account administration while the server runs (SECURITY-CASES 40). Like
// Prosody's usermanager, DeleteUser and DisableUser change the host's
// account store and then fire "user-deleted" / "user-disabled"; a built-in
// handler (mod_c2s's in Prosody, at the same priority 200) closes every
// session of the account with a not-authorized stream error, hibernated
// XEP-0198 sessions included, so none of them can be resumed.
//
// Edits made by another process (`parley deluser` on the store of a
// running server) fire nothing: RecheckAccounts finds the sessions whose
// account has gone or was disabled, and Reload (SIGHUP) calls it.
//
// A deletion between a successful SASL exchange and the resource binding
// would miss the session (it is not in the router yet), so the account is
// read again at binding, once the session is in the router: a deletion
// either happens before that read, which then sees it, or after, and then
// finds the session.

// CloseAccountRevoked is the close reason of sessions whose account was
// deleted or disabled.
const CloseAccountRevoked CloseReason = "account_revoked"

// accountHookPriority is the priority of the built-in handlers of
// UserDeleted and UserDisabled, Prosody's mod_c2s priority. A handler above
// it that returns hook.ErrStop keeps the sessions open.
const accountHookPriority = 200

// bindCheckPriority runs the account check on resource-bind before any
// module sees the new session.
const bindCheckPriority = 1 << 20

// Stream error texts, Prosody's.
const (
	textAccountDeleted  = "Account deleted"
	textAccountDisabled = "Account disabled"
)

// Errors of the account administration API.
var (
	// ErrUnknownHost is returned for a host that is not a VirtualHost of
	// the server.
	ErrUnknownHost = errors.New("server: no such VirtualHost")
	// ErrNoAccounts is returned for a host whose authentication provider
	// keeps no accounts (anonymous, token).
	ErrNoAccounts = errors.New("server: the host has no accounts")
	// ErrCannotDisable is returned for a host whose provider does not
	// implement auth.Disabler.
	ErrCannotDisable = errors.New("server: the host's accounts cannot be disabled")
)

// AccountEvent is the payload of HostEvents.UserDeleted, UserDisabled and
// UserEnabled.
type AccountEvent struct {
	// Host is the VirtualHost of the account.
	Host *Host
	// Username is the account's normalised localpart.
	Username string
}

// DeleteUser deletes the account user@host from the host's account store,
// fires "user-deleted" and so closes the account's sessions with
// not-authorized. Deleting an account that does not exist is not an error
// (as in Prosody): its sessions, if any, are closed all the same. A hook
// error other than hook.ErrStop is returned after the deletion took place.
func (srv *Server) DeleteUser(ctx context.Context, host, user string) error {
	h, u, err := srv.accountsOf(host, user)
	if err != nil {
		return err
	}
	if err := h.Accounts.Delete(ctx, u); err != nil {
		return fmt.Errorf("server: deleting %s@%s: %w", u, h.Name, err)
	}
	srv.log.Info("user account deleted", "jid", u+"@"+h.Name)
	return fireAccount(ctx, h.Events.UserDeleted, h, u)
}

// DisableUser disables the account user@host (its keys and data stay; logins
// fail with account-disabled), fires "user-disabled" and so closes the
// account's sessions with not-authorized. An absent account gives an error
// wrapping auth.ErrNoAccount; a host whose provider cannot disable accounts
// gives ErrCannotDisable.
func (srv *Server) DisableUser(ctx context.Context, host, user string) error {
	return srv.setDisabled(ctx, host, user, true)
}

// EnableUser re-enables a disabled account and fires "user-enabled".
func (srv *Server) EnableUser(ctx context.Context, host, user string) error {
	return srv.setDisabled(ctx, host, user, false)
}

func (srv *Server) setDisabled(ctx context.Context, host, user string, disabled bool) error {
	h, u, err := srv.accountsOf(host, user)
	if err != nil {
		return err
	}
	d, ok := h.Accounts.(auth.Disabler)
	if !ok {
		return fmt.Errorf("server: %s (authentication %s): %w", h.Name, h.Auth.Name(), ErrCannotDisable)
	}
	if err := d.SetDisabled(ctx, u, disabled); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if !disabled {
		srv.log.Info("user account enabled", "jid", u+"@"+h.Name)
		return fireAccount(ctx, h.Events.UserEnabled, h, u)
	}
	srv.log.Info("user account disabled", "jid", u+"@"+h.Name)
	return fireAccount(ctx, h.Events.UserDisabled, h, u)
}

// accountsOf finds host and normalises user for it.
func (srv *Server) accountsOf(host, user string) (*Host, string, error) {
	h := srv.vhost(host)
	if h == nil {
		return nil, "", fmt.Errorf("server: %q: %w", host, ErrUnknownHost)
	}
	if h.Accounts == nil {
		return nil, "", fmt.Errorf("server: %s (authentication %s): %w", h.Name, h.Auth.Name(), ErrNoAccounts)
	}
	u, err := auth.NormalizeUsername(user, h.Name)
	if err != nil {
		return nil, "", fmt.Errorf("server: %w", err)
	}
	return h, u, nil
}

func fireAccount(ctx context.Context, c *hook.Chain[AccountEvent], h *Host, user string) error {
	err := c.Fire(ctx, &AccountEvent{Host: h, Username: user})
	if err != nil && !isStop(err) {
		return fmt.Errorf("server: %s hook for %s@%s: %w", c.Name(), user, h.Name, err)
	}
	return nil
}

// RecheckAccounts closes, with not-authorized, every bound session
// (hibernated ones included) of a host with accounts whose account no longer
// exists or is disabled, for account edits made by another process. It
// returns how many sessions it closed. Hosts without accounts (anonymous,
// token) are skipped. An account whose state cannot be read keeps its
// sessions, and the error is returned with the others.
func (srv *Server) RecheckAccounts(ctx context.Context) (closed int, err error) {
	type account struct {
		host *Host
		user string
	}
	accounts := map[string]account{}
	for _, s := range srv.liveSessions() {
		s.mu.Lock()
		bare, full, done := s.bare, s.full, s.closed
		s.mu.Unlock()
		if done || bare == "" {
			continue
		}
		if _, seen := accounts[bare]; seen {
			continue
		}
		h := srv.vhost(full.Domainpart())
		if h == nil || h.Accounts == nil {
			continue
		}
		accounts[bare] = account{host: h, user: full.Localpart()}
	}
	var errs []error
	for _, a := range accounts {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("server: rechecking accounts: %w", err))
			break
		}
		st, err := accountState(ctx, a.host, a.user)
		if err != nil {
			errs = append(errs, fmt.Errorf("server: rechecking %s@%s: %w", a.user, a.host.Name, err))
			continue
		}
		if !st.Usable() {
			closed += srv.closeAccount(a.host, a.user, revokedText(st))
		}
	}
	return closed, errors.Join(errs...)
}

// liveSessions returns a snapshot of every session that has not ended
// (hibernated ones included).
func (srv *Server) liveSessions() []*Session {
	srv.lmu.Lock()
	defer srv.lmu.Unlock()
	out := make([]*Session, 0, len(srv.live))
	for s := range srv.live {
		out = append(out, s)
	}
	return out
}

// accountState reads an account's state through the host's provider: one
// read with an auth.Disabler, otherwise existence only.
func accountState(ctx context.Context, h *Host, user string) (auth.AccountState, error) {
	if d, ok := h.Accounts.(auth.Disabler); ok {
		return d.State(ctx, user)
	}
	ok, err := h.Accounts.Exists(ctx, user)
	if err != nil || !ok {
		return auth.AccountAbsent, err
	}
	return auth.AccountEnabled, nil
}

func revokedText(st auth.AccountState) string {
	if st == auth.AccountDisabled {
		return textAccountDisabled
	}
	return textAccountDeleted
}

// closeAccount closes every session bound to user@h and returns how many
// it closed.
func (srv *Server) closeAccount(h *Host, user, text string) int {
	n := 0
	for _, s := range srv.router.Sessions(user + "@" + h.Name) {
		if s.revoke(text) {
			n++
		}
	}
	if n > 0 {
		srv.log.Info("closed the sessions of a revoked account", "jid", user+"@"+h.Name, "sessions", n, "why", text)
	}
	return n
}

// revoke closes the session with not-authorized unless it already ended,
// and reports whether it did.
func (s *Session) revoke(text string) bool {
	s.mu.Lock()
	done := s.closed
	s.mu.Unlock()
	if done {
		return false
	}
	s.logger().Info("closing session: account revoked", "why", text)
	s.Close(CloseAccountRevoked, streamErr(stream.NotAuthorized, text))
	return true
}

// onAccountChanges registers the built-in account handlers on a new host's
// chains (called by newHostEvents).
func (e *HostEvents) onAccountChanges() {
	e.UserDeleted.On(accountHookPriority, "c2s", closeOnRevoke(textAccountDeleted))
	e.UserDisabled.On(accountHookPriority, "c2s", closeOnRevoke(textAccountDisabled))
	e.ResourceBound.On(bindCheckPriority, "c2s", checkAccountOnBind)
}

func closeOnRevoke(text string) hook.Handler[AccountEvent] {
	return func(_ context.Context, ev *AccountEvent) error {
		if ev.Host != nil && ev.Host.srv != nil {
			ev.Host.srv.closeAccount(ev.Host, ev.Username, text)
		}
		return nil
	}
}

// checkAccountOnBind reads the account again when a session of a host with
// accounts binds its resource: SASL succeeded earlier, and the account may
// have been deleted or disabled since. The session is already in the
// router, so a deletion after this read finds it there. It runs on the
// session's goroutine. A store error keeps the session (SASL just read the
// same store).
func checkAccountOnBind(ctx context.Context, ev *SessionEvent) error {
	s := ev.Session
	if s == nil {
		return nil
	}
	h := s.host
	if h == nil || h.Accounts == nil || s.username == "" {
		return nil
	}
	st, err := accountState(ctx, h, s.username)
	if err != nil {
		s.logger().Warn("cannot recheck the account at resource binding", "err", err)
		return nil
	}
	if st.Usable() {
		return nil
	}
	s.revoke(revokedText(st))
	// Later resource-bind handlers must not see a session that was
	// already unbound.
	return hook.ErrStop
}
