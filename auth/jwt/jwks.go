package jwt

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	maxKeySetBody = 1 << 20
	// Timings from Jitsi's cache_keys_url handling (token/util.lib.lua).
	keySetDefaultTTL   = 6 * time.Hour    // no Cache-Control max-age
	keySetRetry        = 30 * time.Second // after a failed refresh
	keySetGrace        = 90 * time.Minute // a key dropped from the set stays this long
	keySetEarly        = 60 * time.Second // refresh this much before max-age runs out
	keySetUnknownRetry = 30 * time.Second // an unknown kid triggers a refresh at most this often
)

// keySet holds the keys published at cache_keys_url: a JWKS document
// ({"keys":[{"kid","kty":"RSA","n","e"}...]}) or a map from kid to PEM
// certificate (Firebase). It is loaded on first use and refreshed lazily when
// stale; a failed refresh keeps the old keys and is retried after 30 s, as in
// Jitsi. Jitsi fetches the set only on a timer; here an unknown kid also
// triggers a refresh (at most every 30 s) so a rotated key works at once.
type keySet struct {
	url     string
	alg     string // the configured algorithm: keys that do not fit it are skipped
	client  *http.Client
	now     func() time.Time
	log     *slog.Logger
	timeout time.Duration

	mu          sync.Mutex
	keys        map[string]*setKey
	loaded      bool
	nextRefresh time.Time
	lastAttempt time.Time
	inflight    *fetchCall
}

type setKey struct {
	key      crypto.PublicKey
	removeAt time.Time // zero while the key is published
}

// lookup returns the key for kid, or nil if the set does not have it.
func (s *keySet) lookup(ctx context.Context, kid string) (crypto.PublicKey, error) {
	now := s.now()
	s.mu.Lock()
	key := s.find(kid, now)
	refresh := !s.loaded || !now.Before(s.nextRefresh) ||
		(key == nil && !now.Before(s.lastAttempt.Add(keySetUnknownRetry)))
	if !refresh {
		s.mu.Unlock()
		return key, nil
	}
	call := s.inflight
	if call == nil {
		call = &fetchCall{done: make(chan struct{})}
		s.inflight = call
		s.lastAttempt = now
		go s.run(context.WithoutCancel(ctx), call)
	}
	s.mu.Unlock()

	select {
	case <-call.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for %s: %w", OptCacheKeysURL, ctx.Err())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.find(kid, s.now()), nil
}

func (s *keySet) find(kid string, now time.Time) crypto.PublicKey {
	k, ok := s.keys[kid]
	if !ok {
		return nil
	}
	if !k.removeAt.IsZero() && !now.Before(k.removeAt) {
		delete(s.keys, kid)
		return nil
	}
	return k.key
}

func (s *keySet) run(ctx context.Context, call *fetchCall) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	keys, ttl, err := s.fetch(ctx)
	now := s.now()

	s.mu.Lock()
	s.inflight = nil
	if err != nil {
		s.nextRefresh = now.Add(keySetRetry)
		s.log.Warn("jwt: fetching key set failed", "url", s.url, "err", err)
	} else {
		s.loaded = true
		s.nextRefresh = now.Add(ttl)
		if s.keys == nil {
			s.keys = make(map[string]*setKey)
		}
		for kid, k := range s.keys {
			if _, still := keys[kid]; !still && k.removeAt.IsZero() {
				k.removeAt = now.Add(keySetGrace)
			}
		}
		for kid, k := range keys {
			s.keys[kid] = &setKey{key: k}
		}
	}
	call.err = err
	s.mu.Unlock()
	close(call.done)
}

func (s *keySet) fetch(ctx context.Context) (map[string]crypto.PublicKey, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("building key set request: %w", err)
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("fetching key set: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("fetching key set: unexpected status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySetBody+1))
	if err != nil {
		return nil, 0, fmt.Errorf("reading key set: %w", err)
	}
	if len(body) > maxKeySetBody {
		return nil, 0, fmt.Errorf("reading key set: body over %d bytes", maxKeySetBody)
	}
	keys, err := parseKeySet(body, s.alg, s.log)
	if err != nil {
		return nil, 0, err
	}
	return keys, keySetTTL(resp.Header.Get("Cache-Control")), nil
}

// keySetTTL follows Jitsi: max-age minus 60 s when max-age exceeds 60 s,
// max-age itself otherwise, six hours without one.
func keySetTTL(cacheControl string) time.Duration {
	for _, d := range strings.Split(cacheControl, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		if !strings.EqualFold(name, "max-age") {
			continue
		}
		secs, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
		if err != nil || secs < 0 {
			break
		}
		ttl := time.Duration(min(secs, int64(365*24*3600))) * time.Second
		if ttl > keySetEarly {
			ttl -= keySetEarly
		}
		return ttl
	}
	return keySetDefaultTTL
}

type jwk struct {
	Kid string `json:"kid"`
	Kty string `json:"kty"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseKeySet reads a JWKS document or a kid -> PEM map. Entries that are not
// usable RSA or EC (P-256, P-384) verification keys are skipped with a log
// line; a key is only ever used for the algorithm family it fits (keyFits).
func parseKeySet(body []byte, alg string, log *slog.Logger) (map[string]crypto.PublicKey, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("parsing key set: %w", err)
	}
	keys := make(map[string]crypto.PublicKey)
	if raw, ok := doc["keys"]; ok {
		var set []jwk
		if err := json.Unmarshal(raw, &set); err != nil {
			return nil, fmt.Errorf("parsing key set: keys: %w", err)
		}
		for _, k := range set {
			key, err := k.publicKey()
			if err == nil && !keyFits(alg, key) {
				err = fmt.Errorf("a %T cannot verify %s", key, alg)
			}
			if err != nil {
				log.Debug("jwt: skipping key set entry", "kid", k.Kid, "err", err)
				continue
			}
			keys[k.Kid] = key
		}
		return keys, nil
	}
	for kid, raw := range doc {
		var pemText string
		if err := json.Unmarshal(raw, &pemText); err != nil || !strings.HasPrefix(pemText, "-----BEGIN") {
			continue
		}
		if checkKeyID(kid) != nil {
			continue
		}
		key, err := parsePublicKeyPEM([]byte(pemText))
		if err == nil && !keyFits(alg, key) {
			err = fmt.Errorf("a %T cannot verify %s", key, alg)
		}
		if err != nil {
			log.Debug("jwt: skipping key set entry", "kid", kid, "err", err)
			continue
		}
		keys[kid] = key
	}
	return keys, nil
}

func (k jwk) publicKey() (crypto.PublicKey, error) {
	switch {
	case k.Kid == "" || checkKeyID(k.Kid) != nil:
		return nil, errors.New("missing or bad kid")
	case k.Use != "" && k.Use != "sig":
		return nil, fmt.Errorf("key use %q is not sig", k.Use)
	case k.Kty == "RSA":
		return k.rsaKey()
	case k.Kty == "EC":
		return k.ecKey()
	}
	return nil, fmt.Errorf("key type %q is not RSA or EC", k.Kty)
}

// ecKey reads an EC JWK (RFC 7518 §6.2.1) on P-256 or P-384.
func (k jwk) ecKey() (*ecdsa.PublicKey, error) {
	var curve elliptic.Curve
	switch k.Crv {
	case "P-256":
		curve = elliptic.P256()
	case "P-384":
		curve = elliptic.P384()
	default:
		return nil, fmt.Errorf("curve %q is not P-256 or P-384", k.Crv)
	}
	size := (curve.Params().BitSize + 7) / 8
	xb, err1 := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.X, "="))
	yb, err2 := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.Y, "="))
	if err1 != nil || err2 != nil || len(xb) != size || len(yb) != size {
		return nil, errors.New("bad EC coordinates")
	}
	key := &ecdsa.PublicKey{Curve: curve, X: new(big.Int).SetBytes(xb), Y: new(big.Int).SetBytes(yb)}
	if _, err := key.ECDH(); err != nil { // rejects points not on the curve
		return nil, fmt.Errorf("bad EC point: %w", err)
	}
	return key, nil
}

func (k jwk) rsaKey() (*rsa.PublicKey, error) {
	nb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.N, "="))
	if err != nil {
		return nil, fmt.Errorf("bad modulus: %w", err)
	}
	eb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.E, "="))
	if err != nil || len(eb) == 0 || len(eb) > 4 {
		return nil, errors.New("bad exponent")
	}
	e := 0
	for _, b := range eb {
		e = e<<8 | int(b)
	}
	if e < 3 || e%2 == 0 {
		return nil, errors.New("bad exponent")
	}
	key := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: e}
	if key.N.BitLen() < minRSABits {
		return nil, fmt.Errorf("RSA key of %d bits is below %d", key.N.BitLen(), minRSABits)
	}
	return key, nil
}
