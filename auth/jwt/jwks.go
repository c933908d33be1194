package jwt

import (
	"context"
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
	key      *rsa.PublicKey
	removeAt time.Time // zero while the key is published
}

// lookup returns the key for kid, or nil if the set does not have it.
func (s *keySet) lookup(ctx context.Context, kid string) (*rsa.PublicKey, error) {
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

func (s *keySet) find(kid string, now time.Time) *rsa.PublicKey {
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

func (s *keySet) fetch(ctx context.Context) (map[string]*rsa.PublicKey, time.Duration, error) {
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
	keys, err := parseKeySet(body, s.log)
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
}

// parseKeySet reads a JWKS document or a kid -> PEM map. Entries that are not
// usable RSA verification keys are skipped with a log line; only tokens with
// RS* algorithms are ever verified with them.
func parseKeySet(body []byte, log *slog.Logger) (map[string]*rsa.PublicKey, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("parsing key set: %w", err)
	}
	keys := make(map[string]*rsa.PublicKey)
	if raw, ok := doc["keys"]; ok {
		var set []jwk
		if err := json.Unmarshal(raw, &set); err != nil {
			return nil, fmt.Errorf("parsing key set: keys: %w", err)
		}
		for _, k := range set {
			key, err := k.rsaKey()
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
		key, err := parseRSAPublicKeyPEM([]byte(pemText))
		if err != nil {
			log.Debug("jwt: skipping key set entry", "kid", kid, "err", err)
			continue
		}
		keys[kid] = key
	}
	return keys, nil
}

func (k jwk) rsaKey() (*rsa.PublicKey, error) {
	switch {
	case k.Kid == "" || checkKeyID(k.Kid) != nil:
		return nil, errors.New("missing or bad kid")
	case k.Kty != "RSA":
		return nil, fmt.Errorf("key type %q is not RSA", k.Kty)
	case k.Use != "" && k.Use != "sig":
		return nil, fmt.Errorf("key use %q is not sig", k.Use)
	}
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
