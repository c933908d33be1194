package auth

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
)

// passwordMechanisms is the offer of the password providers: both SCRAM
// variants, then PLAIN when the stream is encrypted (or PLAIN is allowed
// without TLS).
func passwordMechanisms(req *Request, plainOK bool) []string {
	mechs := []string{MechSCRAMSHA256, MechSCRAMSHA1}
	if req != nil && (req.Secure || plainOK) {
		mechs = append(mechs, MechPLAIN)
	}
	return mechs
}

// checkMechanism refuses mechanisms the password providers do not offer for
// req, with Prosody's conditions.
func checkMechanism(mech string, req *Request, plainOK bool) *Failure {
	switch mech {
	case MechSCRAMSHA256, MechSCRAMSHA1:
		return nil
	case MechPLAIN:
		if req == nil || !(req.Secure || plainOK) {
			return fail(CondEncryptionRequired, "PLAIN requires TLS")
		}
		return nil
	}
	return fail(CondInvalidMechanism, "")
}

func iterationCount(n int) int {
	switch {
	case n == 0:
		return DefaultIterationCount
	case n < MinIterationCount:
		return MinIterationCount
	}
	return n
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

func orNow(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}

func deleteAccount(ctx context.Context, s storage.Store, host, user string) error {
	user, err := NormalizeUsername(user, host)
	if err != nil {
		return err
	}
	if err := s.Set(ctx, host, AccountsStore, user, nil); err != nil {
		return fmt.Errorf("auth: deleting %s@%s: %w", user, host, err)
	}
	return nil
}

func accountExists(ctx context.Context, s storage.Store, host, user string) (bool, error) {
	user, err := NormalizeUsername(user, host)
	if err != nil {
		return false, err
	}
	acc, err := s.Get(ctx, host, AccountsStore, user)
	if err != nil {
		return false, fmt.Errorf("auth: reading account %s@%s: %w", user, host, err)
	}
	return acc != nil, nil
}

func listAccounts(ctx context.Context, s storage.Store, host string) ([]string, error) {
	users, err := s.Users(ctx, host, AccountsStore)
	if err != nil {
		return nil, fmt.Errorf("auth: listing accounts of %s: %w", host, err)
	}
	return users, nil
}
