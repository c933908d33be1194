package jwt

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	gjwt "github.com/golang-jwt/jwt/v5"
)

const (
	// MaxKeyIDLength caps the kid header before it is hashed or logged
	// (SECURITY-CASES #106).
	MaxKeyIDLength = 256
	// minRSABits is the smallest RSA modulus accepted from a key source.
	minRSABits = 2048
	// maxKeyBody caps a key server response.
	maxKeyBody = 64 << 10
	userAgent  = "parley (auth/jwt)"
)

var (
	errKeyNotFound    = errors.New("key server has no such key")
	errKeyRateLimited = errors.New("too many new key ids being fetched")
	errConnection     = errors.New("connection to the key server failed")
)

// Retries of a key fetch after a connection failure.
const (
	maxFetchAttempts = 3
	retryPause       = 50 * time.Millisecond
)

// checkKeyID refuses kids that cannot be a sane identifier. A "/" is allowed:
// JaaS kids look like "vpaas-magic-cookie-<id>/<key>" and the kid is hashed
// before it reaches the URL, so it cannot traverse paths.
func checkKeyID(kid string) error {
	if len(kid) > MaxKeyIDLength {
		return fmt.Errorf("kid longer than %d bytes", MaxKeyIDLength)
	}
	if !utf8.ValidString(kid) {
		return errors.New("kid is not valid UTF-8")
	}
	for _, r := range kid {
		if r < 0x20 || r == 0x7f {
			return errors.New("kid contains control characters")
		}
	}
	return nil
}

// keyURL is where Jitsi looks for the public key of kid:
// <server>/<hex(sha256(kid))>.pem.
func keyURL(server, kid string) string {
	sum := sha256.Sum256([]byte(kid))
	return strings.TrimSuffix(server, "/") + "/" + hex.EncodeToString(sum[:]) + ".pem"
}

// parsePublicKeyPEM parses a PEM public key or certificate: RSA of at least
// minRSABits, or ECDSA on P-256 or P-384 (for ES256/ES384, a parley
// extension).
func parsePublicKeyPEM(pemBytes []byte) (crypto.PublicKey, error) {
	if key, err := gjwt.ParseRSAPublicKeyFromPEM(pemBytes); err == nil {
		if key.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits is below %d", key.N.BitLen(), minRSABits)
		}
		return key, nil
	}
	ec, err := gjwt.ParseECPublicKeyFromPEM(pemBytes)
	if err != nil {
		return nil, errors.New("parsing public key: not an RSA or EC public key or certificate in PEM")
	}
	if ec.Curve != elliptic.P256() && ec.Curve != elliptic.P384() {
		return nil, fmt.Errorf("EC key on %s: only P-256 and P-384 are supported", ec.Curve.Params().Name)
	}
	return ec, nil
}

// keyFits reports whether key can verify tokens signed with alg: an RSA key
// for RS*, a P-256 key for ES256, a P-384 key for ES384. A key server that
// publishes another kind of key under a kid gets no token accepted with it.
func keyFits(alg string, key crypto.PublicKey) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return isRSAAlg(alg)
	case *ecdsa.PublicKey:
		return (alg == "ES256" && k.Curve == elliptic.P256()) || (alg == "ES384" && k.Curve == elliptic.P384())
	}
	return false
}

// keyFetcher fetches ASAP public keys by kid and caches them (JITSI.md §4.4
// step 2). Unlike Jitsi it:
//   - keeps keys for ttl, then refetches; a 404/410 on refetch revokes the key,
//     any other failure keeps serving the old key (a key-server outage does
//     not stop logins for known kids, SECURITY-CASES #172);
//   - coalesces concurrent fetches of one kid into one request;
//   - remembers failures for negTTL in a separate LRU, so a flood of unknown
//     kids cannot evict good keys, and rate-limits fetches of new kids (#109);
//   - accepts only 200 with a parseable key (Jitsi also caches a 204's empty
//     body, #107) and bounds each fetch by a timeout (#108).
type keyFetcher struct {
	server  string
	alg     string // the configured algorithm: keys that do not fit it are not cached
	client  *http.Client
	now     func() time.Time
	log     *slog.Logger
	ttl     time.Duration
	negTTL  time.Duration
	timeout time.Duration

	mu       sync.Mutex
	keys     *lru[string, *keyEntry]
	fails    *lru[string, failEntry]
	inflight map[string]*fetchCall
	limiter  *tokenBucket
}

type keyEntry struct {
	key     crypto.PublicKey
	fetched time.Time
	retryAt time.Time // after a failed refresh: serve the old key until then
}

type failEntry struct {
	err   error
	until time.Time
}

type fetchCall struct {
	done chan struct{}
	key  crypto.PublicKey
	err  error
}

// get returns the public key for kid, fetching it if needed. ctx bounds the
// caller's wait; the shared fetch itself is bounded by the fetch timeout so one
// impatient caller cannot fail the others.
func (f *keyFetcher) get(ctx context.Context, kid string) (crypto.PublicKey, error) {
	now := f.now()
	f.mu.Lock()
	var stale crypto.PublicKey
	if e, ok := f.keys.get(kid); ok {
		if now.Before(e.fetched.Add(f.ttl)) || now.Before(e.retryAt) {
			f.mu.Unlock()
			return e.key, nil
		}
		stale = e.key
	} else if fe, ok := f.fails.get(kid); ok {
		if now.Before(fe.until) {
			f.mu.Unlock()
			return nil, fe.err
		}
		f.fails.remove(kid)
	}
	call, ok := f.inflight[kid]
	if !ok {
		if stale == nil && !f.limiter.allow(now) {
			f.mu.Unlock()
			return nil, errKeyRateLimited
		}
		call = &fetchCall{done: make(chan struct{})}
		f.inflight[kid] = call
		go f.run(context.WithoutCancel(ctx), kid, call)
	}
	f.mu.Unlock()

	select {
	case <-call.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for public key: %w", ctx.Err())
	}
	if call.err != nil {
		if stale != nil && !errors.Is(call.err, errKeyNotFound) {
			return stale, nil
		}
		return nil, call.err
	}
	return call.key, nil
}

// run performs one fetch and publishes its result to the cache and waiters.
func (f *keyFetcher) run(ctx context.Context, kid string, call *fetchCall) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	key, err := f.fetchWithRetry(ctx, kid)
	now := f.now()

	f.mu.Lock()
	delete(f.inflight, kid)
	switch e, cached := f.keys.get(kid); {
	case err == nil:
		f.keys.add(kid, &keyEntry{key: key, fetched: now})
	case cached && !errors.Is(err, errKeyNotFound):
		e.retryAt = now.Add(f.negTTL)
		f.log.Warn("jwt: refreshing public key failed, keeping the cached one", "kid", kid, "err", err)
	default:
		f.keys.remove(kid)
		f.fails.add(kid, failEntry{err: err, until: now.Add(f.negTTL)})
		f.log.Warn("jwt: fetching public key failed", "kid", kid, "err", err)
	}
	call.key, call.err = key, err
	f.mu.Unlock()
	close(call.done)
}

// fetchWithRetry is fetch retried on connection failures (refused, reset,
// closed before an answer), at most maxFetchAttempts times with a short
// pause, all within ctx: the fetch timeout bounds the whole. HTTP answers,
// even 5xx, and timeouts are not retried, so a struggling key server gets no
// extra load (Jitsi retries only timeouts, 3 times 30 s).
func (f *keyFetcher) fetchWithRetry(ctx context.Context, kid string) (crypto.PublicKey, error) {
	pause := retryPause
	for attempt := 1; ; attempt++ {
		key, err := f.fetch(ctx, kid)
		if err == nil || attempt >= maxFetchAttempts || !errors.Is(err, errConnection) {
			return key, err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
		pause *= 2
	}
}

func (f *keyFetcher) fetch(ctx context.Context, kid string) (crypto.PublicKey, error) {
	u := keyURL(f.server, kid)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("building key request: %w", err)
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := f.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			err = fmt.Errorf("%w: %w", errConnection, err)
		}
		return nil, fmt.Errorf("fetching %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeyBody+1))
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, fmt.Errorf("fetching %s: status %d: %w", u, resp.StatusCode, errKeyNotFound)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("fetching %s: unexpected status %d", u, resp.StatusCode)
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", u, err)
	case len(body) > maxKeyBody:
		return nil, fmt.Errorf("reading %s: body over %d bytes", u, maxKeyBody)
	}
	key, err := parsePublicKeyPEM(body)
	if err != nil {
		return nil, fmt.Errorf("key from %s: %w", u, err)
	}
	if !keyFits(f.alg, key) {
		return nil, fmt.Errorf("key from %s: a %T cannot verify %s", u, key, f.alg)
	}
	return key, nil
}
