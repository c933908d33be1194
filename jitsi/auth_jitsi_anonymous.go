package jitsi

import (
	"context"
	"crypto/rand"
	"io"

	"github.com/parley-xmpp/parley/auth"
	"github.com/parley-xmpp/parley/server"
)

// JitsiAnonymousProviderName is the `authentication` value of Jitsi's
// anonymous provider.
const JitsiAnonymousProviderName = "jitsi-anonymous"

// JitsiAnonymousFactory returns the factory for `authentication =
// "jitsi-anonymous"`, to register with
// server.WithAuthProvider(JitsiAnonymousProviderName, ...). r is the
// randomness for usernames; nil means crypto/rand.
func JitsiAnonymousFactory(r io.Reader) server.AuthFactory {
	return func(h *server.Host) (auth.Provider, error) {
		return NewJitsiAnonymous(h.Server(), r), nil
	}
}

// JitsiAnonymous is Jitsi's mod_auth_jitsi-anonymous: SASL ANONYMOUS with a
// random UUID username, except that a client reconnecting with the stream
// management id of its previous session in the previd parameter gets that
// session's username back, so it can resume it (XEP-0198). An unknown previd
// silently gives a fresh UUID (SECURITY-CASES 171); the 128-bit random
// stream management id is the only secret.
type JitsiAnonymous struct {
	srv  *server.Server
	rand io.Reader
}

var _ auth.Provider = (*JitsiAnonymous)(nil)

// NewJitsiAnonymous returns the provider; r nil means crypto/rand.
func NewJitsiAnonymous(srv *server.Server, r io.Reader) *JitsiAnonymous {
	if r == nil {
		r = rand.Reader
	}
	return &JitsiAnonymous{srv: srv, rand: r}
}

// Name implements auth.Provider.
func (p *JitsiAnonymous) Name() string { return JitsiAnonymousProviderName }

// Mechanisms implements auth.Provider: ANONYMOUS, with or without TLS.
func (p *JitsiAnonymous) Mechanisms(*auth.Request) []string { return []string{auth.MechANONYMOUS} }

// Start implements auth.Provider.
func (p *JitsiAnonymous) Start(mech string, req *auth.Request) (auth.Exchange, error) {
	if mech != auth.MechANONYMOUS {
		return nil, &auth.Failure{Condition: auth.CondInvalidMechanism}
	}
	x := &anonExchange{p: p}
	if req != nil {
		x.params, x.host = req.Params, req.Host
	}
	return x, nil
}

// anonExchange completes in one step; the client's trace is ignored.
type anonExchange struct {
	p        *JitsiAnonymous
	params   map[string]string
	host     string
	finished bool
	username string
}

// Username implements auth.Exchange.
func (x *anonExchange) Username() string { return x.username }

// Step implements auth.Exchange.
func (x *anonExchange) Step(_ context.Context, in []byte) ([]byte, bool, error) {
	if x.finished {
		return nil, false, &auth.Failure{Condition: auth.CondNotAuthorized, Text: "out of order SASL element", Err: auth.ErrExchangeFinished}
	}
	x.finished = true
	if len(in) > auth.MaxMessageSize {
		return nil, false, &auth.Failure{Condition: auth.CondMalformedRequest, Text: "message too long"}
	}
	u, _, err := pickUsername(x.p.srv, x.host, x.params, x.p.rand)
	if err != nil {
		return nil, false, &auth.Failure{Condition: auth.CondTemporaryAuthFailure, Err: err}
	}
	x.username = u
	return nil, true, nil
}
