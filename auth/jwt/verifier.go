package jwt

import (
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	gjwt "github.com/golang-jwt/jwt/v5"
)

// MaxTokenSize is the largest token Verify decodes (SECURITY-CASES #111).
// Bigger ones are refused before any base64 or JSON work.
const MaxTokenSize = 8 << 10

// Defaults for the Go-only knobs.
const (
	DefaultKeyCacheTTL      = time.Hour
	DefaultNegativeCacheTTL = 15 * time.Second
	DefaultFetchTimeout     = 10 * time.Second
	DefaultFetchRate        = 10 // new kids fetched per second
	DefaultFetchBurst       = 20
)

// Option tunes a Verifier beyond what the Prosody configuration expresses.
type Option func(*options)

type options struct {
	client  *http.Client
	now     func() time.Time
	log     *slog.Logger
	ttl     time.Duration
	negTTL  time.Duration
	timeout time.Duration
	rate    float64
	burst   int
}

// WithHTTPClient sets the client for key-server requests (default: a client
// using http.DefaultTransport).
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithClock sets the time source for exp/nbf checks and key caching.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithLogger sets the logger (default: discard). Tokens are never logged.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithKeyCacheTTL sets how long a fetched ASAP public key is used before it is
// fetched again (default DefaultKeyCacheTTL). Jitsi never refetches; a refetch
// answered 404 or 410 revokes the key, other failures keep the old key.
func WithKeyCacheTTL(d time.Duration) Option { return func(o *options) { o.ttl = d } }

// WithNegativeCacheTTL sets how long a failed key fetch is remembered before
// the kid is tried again (default DefaultNegativeCacheTTL).
func WithNegativeCacheTTL(d time.Duration) Option { return func(o *options) { o.negTTL = d } }

// WithFetchTimeout bounds one key-server request (default DefaultFetchTimeout;
// Jitsi waits 30 s and retries up to three times).
func WithFetchTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithFetchRateLimit limits fetches of kids not in the cache to perSecond with
// the given burst; tokens beyond it fail at once with "could not obtain public
// key". perSecond <= 0 disables the limit.
func WithFetchRateLimit(perSecond float64, burst int) Option {
	return func(o *options) { o.rate, o.burst = perSecond, burst }
}

// Verifier checks tokens for one VirtualHost. It is safe for concurrent use.
type Verifier struct {
	cfg     Config
	keyMode bool // public keys from a key server or key set
	hmacKey []byte
	asap    *keyFetcher
	keySet  *keySet
	parser  *gjwt.Parser
	now     func() time.Time
	log     *slog.Logger
}

// NewVerifier validates cfg and returns a Verifier. A configuration with which
// Jitsi would offer no auth backend (no app_id, no key source), or one where
// signature_algorithm cannot work with the key source, is an error here.
func NewVerifier(cfg Config, opts ...Option) (*Verifier, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	o := options{
		now:     time.Now,
		ttl:     DefaultKeyCacheTTL,
		negTTL:  DefaultNegativeCacheTTL,
		timeout: DefaultFetchTimeout,
		rate:    DefaultFetchRate,
		burst:   DefaultFetchBurst,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.client == nil {
		o.client = &http.Client{}
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.ttl <= 0 || o.negTTL <= 0 || o.timeout <= 0 {
		return nil, errors.New("jwt: cache TTLs and fetch timeout must be positive")
	}
	v := &Verifier{cfg: cfg, now: o.now, log: o.log}
	v.keyMode = cfg.ASAPKeyServer != "" || cfg.CacheKeysURL != ""
	if v.keyMode {
		if cfg.AppSecret != "" {
			o.log.Warn("jwt: app_secret is ignored because a key server is configured")
		}
		if cfg.ASAPKeyServer != "" {
			v.asap = &keyFetcher{
				server: cfg.ASAPKeyServer, alg: cfg.SignatureAlgorithm, client: o.client, now: o.now, log: o.log,
				ttl: o.ttl, negTTL: o.negTTL, timeout: o.timeout,
				keys:     newLRU[string, *keyEntry](cfg.KeyCacheSize),
				fails:    newLRU[string, failEntry](cfg.KeyCacheSize),
				inflight: make(map[string]*fetchCall),
				limiter:  newTokenBucket(o.rate, o.burst),
			}
		}
		if cfg.CacheKeysURL != "" {
			v.keySet = &keySet{url: cfg.CacheKeysURL, alg: cfg.SignatureAlgorithm, client: o.client, now: o.now, log: o.log, timeout: o.timeout}
		}
	} else {
		v.hmacKey = []byte(cfg.AppSecret)
		if len(v.hmacKey) < 32 {
			o.log.Warn("jwt: app_secret is shorter than 32 bytes; tokens may be forged by brute force")
		}
	}
	popts := []gjwt.ParserOption{
		gjwt.WithValidMethods([]string{cfg.SignatureAlgorithm}), // the only accepted alg
		gjwt.WithJSONNumber(),
		gjwt.WithStrictDecoding(),
		gjwt.WithTimeFunc(o.now),
		gjwt.WithLeeway(cfg.Leeway),
	}
	if cfg.RequireExpiration {
		popts = append(popts, gjwt.WithExpirationRequired())
	}
	v.parser = gjwt.NewParser(popts...)
	return v, nil
}

// Config returns the effective configuration, with defaults applied.
func (v *Verifier) Config() Config {
	c := v.cfg
	c.AcceptedIssuers = append([]string(nil), c.AcceptedIssuers...)
	c.AcceptedAudiences = append([]string(nil), c.AcceptedAudiences...)
	return c
}

// Verify checks a token the way Jitsi's process_and_verify_token does
// (JITSI.md §4.4) and returns its claims. An empty token returns (nil, nil)
// when allow_empty_token is set: the session is anonymous, and nil is what
// VerifyRoom expects for it. Every failure is an *Error; its Text is the
// message Jitsi would send, its Reason a stable code.
//
// The checks, in order: size; three base64url segments of JSON objects without
// duplicate keys; in key-server modes kid and alg present and alg RS*; typ
// "JWT"; alg equal to the configured algorithm (never chosen by the token);
// the key (app_secret, or the public key for kid); the signature; exp and nbf
// numbers, now < exp + leeway, now >= nbf - leeway; iss accepted; aud present
// and accepted; room present unless the claim is optional. ctx bounds the wait
// for a public key.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if token == "" {
		if v.cfg.AllowEmptyToken {
			return nil, nil
		}
		return nil, newError(ReasonTokenRequired, textTokenRequired, nil)
	}
	if len(token) > MaxTokenSize {
		return nil, newError(ReasonTokenTooLarge, textTooLarge, nil)
	}
	kid, err := v.checkHeader(token)
	if err != nil {
		return nil, err
	}
	tc := &tokenClaims{v: v}
	_, err = v.parser.ParseWithClaims(token, tc, func(*gjwt.Token) (any, error) {
		return v.key(ctx, kid)
	})
	if err != nil {
		return nil, v.mapError(err, tc)
	}
	if tc.claims == nil { // cannot happen: Validate ran and succeeded
		return nil, newError(ReasonInternal, textInternal, errors.New("claims not validated"))
	}
	tc.claims.KeyID = kid
	return tc.claims, nil
}

// checkHeader does the structural checks and the header checks Jitsi makes
// before the signature, and returns the kid in key-server modes.
func (v *Verifier) checkHeader(token string) (string, error) {
	head, rest, _ := strings.Cut(token, ".")
	body, sig, _ := strings.Cut(rest, ".")
	if head == "" || body == "" || sig == "" || strings.Count(token, ".") != 2 {
		return "", newError(ReasonMalformed, textInvalidToken, nil)
	}
	headerText := textInvalidHeader
	if v.keyMode {
		headerText = textBadFormat // what Jitsi says when it reads the header for kid
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(head)
	if err != nil {
		return "", newError(ReasonMalformed, headerText, err)
	}
	hdr, err := decodeObject(raw)
	if err != nil {
		return "", newError(ReasonMalformed, headerText, err)
	}
	if _, ok := hdr["crit"]; ok { // RFC 7515 §4.1.11: no extension is understood here
		return "", newError(ReasonMalformed, headerText, errors.New("crit header not supported"))
	}
	var kid string
	if v.keyMode {
		k, present, ok := stringClaim(hdr, "kid")
		switch {
		case !present:
			return "", newError(ReasonKeyID, textKIDMissing, nil)
		case !ok:
			return "", newError(ReasonKeyID, textKIDInvalid, errors.New("kid is not a string"))
		}
		if err := checkKeyID(k); err != nil {
			return "", newError(ReasonKeyID, textKIDInvalid, err)
		}
		alg, present, ok := stringClaim(hdr, "alg")
		switch {
		case !present:
			return "", newError(ReasonAlgorithm, textAlgMissing, nil)
		case !ok || !(strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "ES")):
			// Jitsi allows RS* only; parley also ES256/ES384 when configured
			// (the exact algorithm is checked below).
			return "", newError(ReasonAlgorithm, textAlgNotRS, nil)
		}
		kid = k
	}
	if typ, _ := hdr["typ"].(string); typ != "JWT" {
		return "", newError(ReasonType, textInvalidTyp, nil)
	}
	if alg, _ := hdr["alg"].(string); alg != v.cfg.SignatureAlgorithm {
		return "", newError(ReasonAlgorithm, textInvalidAlg, nil)
	}
	return kid, nil
}

// key returns the verification key; its type always matches the configured
// algorithm ([]byte for HS*, *rsa.PublicKey for RS*, *ecdsa.PublicKey on the
// algorithm's curve for ES*), so a token can never get its HMAC checked with
// public-key bytes (CVE-2021-39215) nor a key of another family.
func (v *Verifier) key(ctx context.Context, kid string) (any, error) {
	if !v.keyMode {
		return v.hmacKey, nil
	}
	key, err := v.publicKey(ctx, kid)
	if err != nil {
		return nil, err
	}
	if !keyFits(v.cfg.SignatureAlgorithm, key) {
		return nil, newError(ReasonKeyUnavailable, textNoPublicKey,
			fmt.Errorf("the key for kid %q does not fit %s", kid, v.cfg.SignatureAlgorithm))
	}
	return key, nil
}

// publicKey finds the key for kid in the key set, then on the key server.
func (v *Verifier) publicKey(ctx context.Context, kid string) (crypto.PublicKey, error) {
	if v.keySet != nil {
		key, err := v.keySet.lookup(ctx, kid)
		if err != nil && v.asap == nil {
			return nil, newError(ReasonKeyUnavailable, textNoPublicKey, err)
		}
		if key != nil {
			return key, nil
		}
	}
	if v.asap == nil {
		return nil, newError(ReasonKeyUnavailable, textNoPublicKey, fmt.Errorf("kid %q not in %s", kid, OptCacheKeysURL))
	}
	key, err := v.asap.get(ctx, kid)
	if err != nil {
		return nil, newError(ReasonKeyUnavailable, textNoPublicKey, err)
	}
	return key, nil
}

// mapError turns golang-jwt's error into an *Error, choosing among several
// validation failures the one Jitsi would report first.
func (v *Verifier) mapError(err error, tc *tokenClaims) error {
	var e *Error
	switch {
	case tc.bodyErr != nil:
		return newError(ReasonMalformed, textInvalidBody, tc.bodyErr)
	case errors.Is(err, gjwt.ErrTokenMalformed):
		if tc.raw == nil {
			return newError(ReasonMalformed, textInvalidBody, err)
		}
		return newError(ReasonSignature, textInvalidSig, err) // signature segment not base64url
	case errors.Is(err, gjwt.ErrTokenUnverifiable):
		if errors.As(err, &e) {
			return e
		}
		return newError(ReasonInternal, textInternal, err)
	case errors.Is(err, gjwt.ErrTokenSignatureInvalid):
		return newError(ReasonSignature, textInvalidSig, err)
	case !errors.Is(err, gjwt.ErrTokenInvalidClaims):
		return newError(ReasonInternal, textInternal, err)
	}
	var nn errNotNumber
	switch {
	case errors.As(err, &nn) && tc.expErr != nil:
		return newError(ReasonClaimType, textExpNotNumber, nil)
	case errors.As(err, &nn):
		return newError(ReasonClaimType, textNbfNotNumber, nil)
	case errors.Is(err, gjwt.ErrTokenExpired):
		return newError(ReasonExpired, expiredText(v.now(), tc.exp, tc.iat), nil)
	case errors.Is(err, gjwt.ErrTokenNotValidYet):
		return newError(ReasonNotYetValid, textNotYetValid, nil)
	case errors.Is(err, gjwt.ErrTokenRequiredClaimMissing):
		return newError(ReasonExpirationMissing, textExpMissing, nil)
	case errors.As(err, &e):
		return e
	}
	return newError(ReasonInternal, textInternal, err)
}
