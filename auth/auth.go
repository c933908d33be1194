package auth

import (
	"context"
	"errors"
)

// Request describes the stream a SASL negotiation runs on.
type Request struct {
	// Host is the virtual host the stream is for.
	Host string
	// Secure is true when TLS is in place. PLAIN is only offered on secure
	// streams unless the provider allows it (Prosody's
	// allow_unencrypted_plain_auth).
	Secure bool
	// RemoteAddr is the client's address, for logs.
	RemoteAddr string
	// Params holds transport-supplied values such as "token" from a BOSH or
	// WebSocket query string; may be nil.
	Params map[string]string
}

// Provider is an authentication provider, Prosody's `authentication` option
// for a virtual host.
type Provider interface {
	// Name is the provider's Prosody name: "internal_hashed",
	// "internal_plain", "anonymous".
	Name() string
	// Mechanisms lists the SASL mechanisms offered on the stream described
	// by req, most preferred first.
	Mechanisms(req *Request) []string
	// Start begins an exchange with mechanism mech. A mechanism that is
	// unknown or not offered for req fails with a *Failure whose
	// Condition is CondInvalidMechanism (CondEncryptionRequired for PLAIN
	// on an insecure stream).
	Start(mech string, req *Request) (Exchange, error)
}

// Exchange is one SASL authentication exchange. It is not safe for
// concurrent use; a session drives it from one goroutine.
type Exchange interface {
	// Step consumes the client's data: the initial response or a response.
	// in is nil when the client sent none and empty (not nil) when it sent
	// "=" (an empty response). It returns a challenge (done false), or, on
	// success, the additional data to send with <success/> (done true). A
	// mechanism that needs an initial response and got none answers with an
	// empty challenge (out empty, done false), sent as an empty
	// <challenge/>. On success, out is nil when there is no additional data
	// (empty <success/>); the mechanisms here never return zero-length
	// additional data (which RFC 6120 §6.4.6 would require as "=").
	// Authentication failures are returned as *Failure; any
	// other error is internal and should be reported to the client as
	// temporary-auth-failure. After success or failure the exchange is
	// finished and further calls fail.
	Step(ctx context.Context, in []byte) (out []byte, done bool, err error)
	// Username is the authenticated localpart, normalised (PRECIS
	// UsernameCaseMapped, as a JID localpart). It is valid once Step has
	// returned done.
	Username() string
}

// Accounts manages the accounts of one virtual host. It is implemented by the
// password-based providers and used by the command line (register, passwd,
// deluser) and test harnesses.
type Accounts interface {
	// SetPassword creates the account or changes its password.
	SetPassword(ctx context.Context, user, password string) error
	// Delete removes the account (only its "accounts" entry; other stores
	// such as the roster are untouched).
	Delete(ctx context.Context, user string) error
	// Exists reports whether the account exists.
	Exists(ctx context.Context, user string) (bool, error)
	// Users lists the host's accounts, sorted.
	Users(ctx context.Context) ([]string, error)
}

// SASL failure conditions (RFC 6120 §6.5).
const (
	CondAborted              = "aborted"
	CondAccountDisabled      = "account-disabled"
	CondCredentialsExpired   = "credentials-expired"
	CondEncryptionRequired   = "encryption-required"
	CondIncorrectEncoding    = "incorrect-encoding"
	CondInvalidAuthzid       = "invalid-authzid"
	CondInvalidMechanism     = "invalid-mechanism"
	CondMalformedRequest     = "malformed-request"
	CondMechanismTooWeak     = "mechanism-too-weak"
	CondNotAuthorized        = "not-authorized"
	CondTemporaryAuthFailure = "temporary-auth-failure"
)

// SASL mechanism names.
const (
	MechSCRAMSHA256 = "SCRAM-SHA-256"
	MechSCRAMSHA1   = "SCRAM-SHA-1"
	MechPLAIN       = "PLAIN"
	MechANONYMOUS   = "ANONYMOUS"
)

// DefaultMaxAttempts is a suggested limit for failed exchanges per stream;
// RFC 6120 §6.4.5 asks for a configurable number between 2 and 5. Sessions
// enforce it, not providers.
const DefaultMaxAttempts = 5

// MaxMessageSize is the largest client message (after base64 decoding) the
// mechanisms in this package accept; longer ones fail with malformed-request.
const MaxMessageSize = 4096

// ErrExchangeFinished is wrapped by the Failure returned when Step is called
// after an exchange succeeded or failed.
var ErrExchangeFinished = errors.New("auth: exchange already finished")

// Failure is a SASL failure to report with <failure/>.
type Failure struct {
	// Condition is an RFC 6120 §6.5 condition name (the Cond constants).
	Condition string
	// Text is an optional human-readable explanation that may be sent to
	// the client. It never says whether an account exists.
	Text string
	// Reason is a short, stable code for metrics (a token failure's
	// "bad-signature", "token-expired", ...); empty means Condition.
	Reason string
	// Err is the underlying cause, for logs only (never sent).
	Err error
}

// Error implements error.
func (f *Failure) Error() string {
	s := "auth: " + f.Condition
	if f.Text != "" {
		s += ": " + f.Text
	}
	if f.Err != nil {
		s += ": " + f.Err.Error()
	}
	return s
}

// Unwrap returns the underlying cause.
func (f *Failure) Unwrap() error { return f.Err }

func fail(cond, text string) *Failure { return &Failure{Condition: cond, Text: text} }

// errNotAuthorized is the single failure for a wrong password or unknown
// account, so the two cannot be told apart.
func errNotAuthorized() *Failure { return fail(CondNotAuthorized, "") }

func errFinished() *Failure {
	return &Failure{Condition: CondNotAuthorized, Text: "out of order SASL element", Err: ErrExchangeFinished}
}

func errTemporary(err error) *Failure {
	return &Failure{Condition: CondTemporaryAuthFailure, Err: err}
}

// checkMessageSize rejects oversized client messages.
func checkMessageSize(in []byte) *Failure {
	if len(in) > MaxMessageSize {
		return fail(CondMalformedRequest, "message too long")
	}
	return nil
}
