package auth

import (
	"fmt"

	"golang.org/x/text/secure/precis"
	"mellium.im/xmpp/jid"
)

// NormalizeUsername validates user as the localpart of an account on host
// and returns its normalised form (PRECIS UsernameCaseMapped, via mellium's
// jid package): "Alice" becomes "alice". Prosody applies nodeprep, which
// agrees for the names people use.
func NormalizeUsername(user, host string) (string, error) {
	if user == "" {
		return "", fmt.Errorf("auth: empty username")
	}
	j, err := jid.New(user, host, "")
	if err != nil {
		return "", fmt.Errorf("auth: invalid username: %w", err)
	}
	if j.Localpart() == "" {
		return "", fmt.Errorf("auth: empty username after normalisation")
	}
	return j.Localpart(), nil
}

// PreparePassword applies the PRECIS OpaqueString profile (RFC 8265, the
// successor of the SASLprep that Prosody applies): non-ASCII spaces become
// U+0020, the result is NFC, and control characters are refused. ASCII
// passwords without control characters are unchanged.
func PreparePassword(password string) (string, error) {
	p, err := precis.OpaqueString.String(password)
	if err != nil {
		return "", fmt.Errorf("auth: password not allowed: %w", err)
	}
	return p, nil
}

// checkAuthzid accepts an empty authorization identity or the bare JID of
// the authenticating account (user is already normalised).
func checkAuthzid(authzid, user, host string) *Failure {
	if authzid == "" {
		return nil
	}
	want, err := jid.New(user, host, "")
	if err != nil {
		return fail(CondInvalidAuthzid, "")
	}
	got, err := jid.Parse(authzid)
	if err != nil || !got.Equal(want) {
		return fail(CondInvalidAuthzid, "authorization identity must be empty or your bare JID")
	}
	return nil
}
