package auth

import (
	"context"
	"io"
)

// AnonymousOptions configures Anonymous.
type AnonymousOptions struct {
	// Rand is the randomness source for usernames; nil means crypto/rand.
	Rand io.Reader
}

// Anonymous is Prosody's anonymous provider: SASL ANONYMOUS (RFC 4505), each
// login getting a fresh random username, a version 4 UUID in lowercase (as
// Jitsi's anonymous providers use). It has no accounts.
type Anonymous struct {
	host string
	rand io.Reader
}

var _ Provider = (*Anonymous)(nil)

// NewAnonymous returns the anonymous provider for host.
func NewAnonymous(host string, opts AnonymousOptions) *Anonymous {
	return &Anonymous{host: host, rand: orRand(opts.Rand)}
}

// Name implements Provider.
func (p *Anonymous) Name() string { return "anonymous" }

// Mechanisms implements Provider: ANONYMOUS, with or without TLS.
func (p *Anonymous) Mechanisms(*Request) []string { return []string{MechANONYMOUS} }

// Start implements Provider.
func (p *Anonymous) Start(mech string, _ *Request) (Exchange, error) {
	if mech != MechANONYMOUS {
		return nil, fail(CondInvalidMechanism, "")
	}
	return &anonymousExchange{rand: p.rand}, nil
}

// anonymousExchange completes in one step. The client's trace message, if
// any, is ignored (as Prosody does) apart from a size limit.
type anonymousExchange struct {
	rand     io.Reader
	finished bool
	username string
}

// Username implements Exchange.
func (x *anonymousExchange) Username() string { return x.username }

// Step implements Exchange.
func (x *anonymousExchange) Step(_ context.Context, in []byte) ([]byte, bool, error) {
	if x.finished {
		return nil, false, errFinished()
	}
	x.finished = true
	if f := checkMessageSize(in); f != nil {
		return nil, false, f
	}
	u, err := newUUID(x.rand)
	if err != nil {
		return nil, false, errTemporary(err)
	}
	x.username = u
	return nil, true, nil
}
