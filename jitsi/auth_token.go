package jitsi

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-xmpp/parley/auth"
	"github.com/parley-xmpp/parley/auth/jwt"
	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/hook"
)

// TokenProviderName is the `authentication` value of Jitsi's token provider.
const TokenProviderName = "token"

// TokenVerifiedHook is the Prosody event fired after a token login.
const TokenVerifiedHook = "jitsi-authentication-token-verified"

// Session parameter keys the HTTP transports fill (JITSI.md §4.2).
const (
	ParamToken  = "token"
	ParamPrevID = "previd"
	ParamRoom   = "room"
	ParamPrefix = "prefix"
)

// authenticatedPriority runs the token provider's Authenticated handler
// before any module's, so no module sees a login whose claims are not bound.
const authenticatedPriority = 1 << 20

// pendingTTL bounds how long a verified login may wait for its session's
// Authenticated hook (it normally runs at once, on the same goroutine).
const pendingTTL = time.Minute

// TokenVerifiedEvent is the payload of the jitsi-authentication-token-verified
// hook: the session that just logged in and its verified claims (nil when the
// host allows empty tokens and the client sent none).
type TokenVerifiedEvent struct {
	Session *server.Session
	Claims  *jwt.Claims
}

// SessionToken is what the token provider binds to a session, Prosody's
// session.jitsi_meet_* fields.
type SessionToken struct {
	// Claims are the verified claims; nil for a session admitted without a
	// token (allow_empty_token).
	Claims *jwt.Claims
	// TenantMismatch is jitsi_meet_tenant_mismatch: context.tenant differs
	// from the tenant of the web URL (the "prefix" parameter). Jitsi only
	// logs and flags it.
	TenantMismatch bool
}

// ClaimsSource is implemented by authentication providers that bind token
// claims to sessions; the MUC modules use it to find a joiner's claims.
type ClaimsSource interface {
	// SessionToken returns what was bound to s, if anything.
	SessionToken(s *server.Session) (*SessionToken, bool)
}

// SessionClaims returns the verified token claims of a session: nil for a
// session of a host without token authentication, for a session admitted
// without a token, and for a nil session.
func SessionClaims(s *server.Session) *jwt.Claims {
	if s == nil || s.Host() == nil {
		return nil
	}
	cs, ok := s.Host().Auth.(ClaimsSource)
	if !ok {
		return nil
	}
	if st, ok := cs.SessionToken(s); ok {
		return st.Claims
	}
	return nil
}

// TokenAuthOptions tune the token provider beyond the configuration file.
type TokenAuthOptions struct {
	// Logger is the parent logger; nil means the server's.
	Logger *slog.Logger
	// Rand is the randomness for usernames; nil means crypto/rand.
	Rand io.Reader
	// Verifier are extra options for the token verifier (HTTP client for
	// key servers, timeouts, clock). The server's clock and logger are
	// passed first, so these override them.
	Verifier []jwt.Option
}

// TokenAuthFactory returns the factory for `authentication = "token"`, to
// register with server.WithAuthProvider(TokenProviderName, ...).
//
// The host's options (app_id, app_secret, asap_key_server, cache_keys_url,
// signature_algorithm, allow_empty_token, asap_accepted_issuers,
// asap_accepted_audiences, asap_require_room_claim,
// enable_domain_verification, muc_mapper_domain_base/_prefix,
// muc_mapper_domain, jwt_pubkey_cache_size, token_regex_*, token_require_exp,
// token_leeway), inherited from the global section, are read by
// jwt.ConfigFromOptions. Where Jitsi would log an error and offer no auth
// backend (no app_id, no key source), the server refuses to start instead.
func TokenAuthFactory(opts TokenAuthOptions) server.AuthFactory {
	return func(h *server.Host) (auth.Provider, error) {
		return NewTokenAuth(h, opts)
	}
}

// TokenAuth is Jitsi's mod_auth_token: SASL ANONYMOUS whose success depends
// on the JWT the BOSH or WebSocket session carries (JITSI.md §4.3-4.4). The
// username is a random UUID, or the username of the session whose stream
// management id the client gave as previd, so XEP-0198 resumption works.
// Verified claims are bound to the session until it closes.
type TokenAuth struct {
	// TokenVerified is jitsi-authentication-token-verified, fired for each
	// token login once the claims are bound to the session. A handler
	// error refuses the login (an *auth.Failure keeps its condition; any
	// other error is reported as not-allowed).
	TokenVerified *hook.Chain[TokenVerifiedEvent]

	host *server.Host
	// verifier is replaced when the configuration is reloaded
	// (auth_token_reload.go); vopts are the options it is built with.
	verifier atomic.Pointer[jwt.Verifier]
	vopts    []jwt.Option
	log      *slog.Logger
	rand     io.Reader
	now      func() time.Time

	mu       sync.Mutex
	pending  map[string]*pendingLogin // username -> verified login awaiting its session
	sessions map[*server.Session]*SessionToken
	byUser   map[string]*server.Session // latest token session of a username
}

type pendingLogin struct {
	token   *SessionToken
	resumed bool // the username came from previd
	at      time.Time
}

var (
	_ auth.Provider = (*TokenAuth)(nil)
	_ ClaimsSource  = (*TokenAuth)(nil)
)

// NewTokenAuth builds the token provider of host h from its configuration and
// hooks it into h.Events.Authenticated.
func NewTokenAuth(h *server.Host, opts TokenAuthOptions) (*TokenAuth, error) {
	srv := h.Server()
	log := opts.Logger
	if log == nil {
		log = srv.Logger()
	}
	log = log.With("module", "auth_token", "host", h.Name)
	vopts := append([]jwt.Option{jwt.WithLogger(log)}, opts.Verifier...)
	// The host's own configuration: for a host a reload adds,
	// srv.Config is still the previous one at this point.
	v, err := verifierFromConfig(srv, h.SourceConfig(), h.Name, vopts...)
	if err != nil {
		return nil, err
	}
	p := &TokenAuth{
		TokenVerified: hook.NewChain[TokenVerifiedEvent](TokenVerifiedHook),
		host:          h,
		vopts:         vopts,
		log:           log,
		rand:          opts.Rand,
		now:           srv.Clock(),
		pending:       map[string]*pendingLogin{},
		sessions:      map[*server.Session]*SessionToken{},
		byUser:        map[string]*server.Session{},
	}
	if p.rand == nil {
		p.rand = rand.Reader
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.verifier.Store(v)
	if v.Config().AllowEmptyToken {
		log.Warn("WARNING - empty tokens allowed")
	}
	h.Events.Authenticated.On(authenticatedPriority, "auth_token", p.bind)
	return p, nil
}

// VerifierForHost builds a token verifier from the options of the
// VirtualHost named host (inherited from the global section), with the
// server's clock; opts come after it.
func VerifierForHost(srv *server.Server, host string, opts ...jwt.Option) (*jwt.Verifier, error) {
	return verifierFromConfig(srv, srv.Config(), host, opts...)
}

// verifierFromConfig builds the token verifier of the VirtualHost named
// host from cfg.
func verifierFromConfig(srv *server.Server, cfg *config.Config, host string, opts ...jwt.Option) (*jwt.Verifier, error) {
	sec := cfg.Host(host)
	if sec == nil {
		return nil, fmt.Errorf("jitsi: token configuration: no VirtualHost %q", host)
	}
	jc, err := jwt.ConfigFromOptions(func(key string) (any, bool) {
		o, ok := cfg.Get(sec, key)
		if !ok {
			return nil, false
		}
		return o.Value, true
	})
	if err != nil {
		return nil, fmt.Errorf("jitsi: token configuration of %s: %w", host, err)
	}
	all := []jwt.Option{jwt.WithClock(srv.Clock())}
	v, err := jwt.NewVerifier(jc, append(all, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("jitsi: token configuration of %s: %w", host, err)
	}
	return v, nil
}

// Verifier returns the host's token verifier (the one built from the
// configuration last reloaded).
func (p *TokenAuth) Verifier() *jwt.Verifier { return p.verifier.Load() }

// Name implements auth.Provider.
func (p *TokenAuth) Name() string { return TokenProviderName }

// Mechanisms implements auth.Provider: ANONYMOUS only, the only mechanism
// of the plugin's SASL profile.
func (p *TokenAuth) Mechanisms(*auth.Request) []string { return []string{auth.MechANONYMOUS} }

// Start implements auth.Provider.
func (p *TokenAuth) Start(mech string, req *auth.Request) (auth.Exchange, error) {
	if mech != auth.MechANONYMOUS {
		return nil, &auth.Failure{Condition: auth.CondInvalidMechanism}
	}
	var params map[string]string
	if req != nil {
		params = req.Params
	}
	return &tokenExchange{p: p, params: params}, nil
}

// SessionToken implements ClaimsSource.
func (p *TokenAuth) SessionToken(s *server.Session) (*SessionToken, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, ok := p.sessions[s]
	return st, ok
}

// tokenExchange runs process_and_verify_token on the session's token when
// the client's ANONYMOUS message arrives; its trace is ignored.
type tokenExchange struct {
	p        *TokenAuth
	params   map[string]string
	finished bool
	username string
}

// Username implements auth.Exchange.
func (x *tokenExchange) Username() string { return x.username }

// Step implements auth.Exchange.
func (x *tokenExchange) Step(ctx context.Context, in []byte) ([]byte, bool, error) {
	if x.finished {
		return nil, false, &auth.Failure{Condition: auth.CondNotAuthorized, Text: "out of order SASL element", Err: auth.ErrExchangeFinished}
	}
	x.finished = true
	if len(in) > auth.MaxMessageSize {
		return nil, false, &auth.Failure{Condition: auth.CondMalformedRequest, Text: "message too long"}
	}
	p := x.p
	claims, err := p.Verifier().Verify(ctx, x.params[ParamToken])
	if err != nil {
		var je *jwt.Error
		if !errors.As(err, &je) {
			return nil, false, &auth.Failure{Condition: auth.CondTemporaryAuthFailure, Err: err}
		}
		p.log.Warn("Error verifying token", "reason", je.Reason, "err", je.Err,
			"tenant", x.params[ParamPrefix], "room", x.params[ParamRoom])
		return nil, false, &auth.Failure{Condition: jwt.Condition, Text: je.Text, Reason: string(je.Reason), Err: err}
	}
	st := &SessionToken{Claims: claims}
	if claims.TenantMismatch(x.params[ParamPrefix]) {
		st.TenantMismatch = true
		p.log.Info("token tenant does not match the URL tenant", "tenant", x.params[ParamPrefix])
	}
	user, resumed, err := pickUsername(p.host.Server(), p.host.Name, x.params, p.rand)
	if err != nil {
		return nil, false, &auth.Failure{Condition: auth.CondTemporaryAuthFailure, Err: err}
	}
	if err := p.hold(user, &pendingLogin{token: st, resumed: resumed, at: p.now()}); err != nil {
		return nil, false, err
	}
	x.username = user
	return nil, true, nil
}

// pickUsername returns the username of the live session whose stream
// management id is params["previd"], or else a fresh UUID.
func pickUsername(srv *server.Server, host string, params map[string]string, r io.Reader) (user string, resumed bool, err error) {
	if prev := params[ParamPrevID]; prev != "" {
		if u, ok := srv.UsernameForResumption(host, prev); ok && u != "" {
			return u, true, nil
		}
	}
	u, err := randomUUID(r)
	return u, false, err
}

// hold parks a verified login until the Authenticated hook binds it to its
// session. Two logins cannot wait under one username at once (only previd
// reuse could cause that): the second is told to retry.
func (p *TokenAuth) hold(user string, pl *pendingLogin) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, busy := p.pending[user]; busy && pl.at.Sub(old.at) < pendingTTL {
		return &auth.Failure{Condition: auth.CondTemporaryAuthFailure, Text: "another login for this user is in progress"}
	}
	p.pending[user] = pl
	return nil
}

// bind is the Authenticated handler: it binds the login's claims to the
// session and fires jitsi-authentication-token-verified.
func (p *TokenAuth) bind(ctx context.Context, ev *server.AuthEvent) error {
	s := ev.Session
	p.mu.Lock()
	pl := p.pending[ev.Username]
	delete(p.pending, ev.Username)
	if pl == nil {
		p.mu.Unlock()
		return &auth.Failure{Condition: auth.CondTemporaryAuthFailure, Err: errors.New("jitsi: token login without a verified token")}
	}
	st := pl.token
	if pl.resumed {
		if prev := p.byUser[ev.Username]; prev != nil && prev != s {
			st = resumedToken(p.sessions[prev], st)
		}
	}
	_, known := p.sessions[s]
	p.sessions[s] = st
	p.byUser[ev.Username] = s
	p.mu.Unlock()
	if !known {
		user := ev.Username
		s.OnClose(func() { p.forget(s, user) })
	}
	if err := p.TokenVerified.Fire(ctx, &TokenVerifiedEvent{Session: s, Claims: st.Claims}); err != nil {
		p.forget(s, ev.Username)
		var f *auth.Failure
		if errors.As(err, &f) {
			return f
		}
		return &auth.Failure{Condition: jwt.Condition, Err: err}
	}
	return nil
}

func (p *TokenAuth) forget(s *server.Session, user string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.sessions, s)
	if p.byUser[user] == s {
		delete(p.byUser, user)
	}
}

// resumedToken decides which claims a session gets when it logs in again
// with previd to resume an older one (SECURITY-CASES 117, 118): a fresh
// token for the same room replaces the old claims; a token for another room
// does not (the old claims stay, and so do their features); no token never
// erases verified claims.
func resumedToken(old, fresh *SessionToken) *SessionToken {
	switch {
	case old == nil || old.Claims == nil:
		return fresh
	case fresh == nil || fresh.Claims == nil:
		return old
	case strings.EqualFold(old.Claims.Room, fresh.Claims.Room):
		return fresh
	}
	return old
}

// randomUUID returns a lowercase version 4 UUID, the usernames Jitsi's
// anonymous providers hand out.
func randomUUID(r io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("jitsi: reading random bytes: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}
