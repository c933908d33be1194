package jwt

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"maps"
	"time"

	gjwt "github.com/golang-jwt/jwt/v5"
)

// MintOptions says how Mint signs.
type MintOptions struct {
	// Algorithm is HS256, HS384, HS512, RS256, RS384, RS512, ES256 or
	// ES384.
	Algorithm string
	// Key is the app_secret as []byte for HS*, an *rsa.PrivateKey for RS*,
	// or an *ecdsa.PrivateKey on the matching curve for ES*.
	Key any
	// KeyID is the kid header; verifiers in key-server modes require it.
	KeyID string
}

// Mint signs claims into a Jitsi-style token (header typ "JWT"), for tests and
// the `parley token` command. time.Time values in claims are written as Unix
// seconds; everything else is marshalled as encoding/json does. Typical claims:
// iss (= app_id), aud, sub, room, exp, and context{user{...}}.
func Mint(claims map[string]any, opts MintOptions) (string, error) {
	switch {
	case isHMACAlg(opts.Algorithm):
		k, ok := opts.Key.([]byte)
		if !ok || len(k) == 0 {
			return "", fmt.Errorf("jwt: mint: %s needs a non-empty []byte key, got %T", opts.Algorithm, opts.Key)
		}
	case isRSAAlg(opts.Algorithm):
		if _, ok := opts.Key.(*rsa.PrivateKey); !ok {
			return "", fmt.Errorf("jwt: mint: %s needs an *rsa.PrivateKey, got %T", opts.Algorithm, opts.Key)
		}
	case isECAlg(opts.Algorithm):
		k, ok := opts.Key.(*ecdsa.PrivateKey)
		if !ok || !keyFits(opts.Algorithm, &k.PublicKey) {
			return "", fmt.Errorf("jwt: mint: %s needs an *ecdsa.PrivateKey on its curve, got %T", opts.Algorithm, opts.Key)
		}
	default:
		return "", fmt.Errorf("jwt: mint: unsupported algorithm %q", opts.Algorithm)
	}
	method := gjwt.GetSigningMethod(opts.Algorithm)
	if method == nil {
		return "", errors.New("jwt: mint: signing method not registered")
	}
	mc := gjwt.MapClaims(maps.Clone(claims))
	if mc == nil {
		mc = gjwt.MapClaims{}
	}
	for k, val := range mc {
		if t, ok := val.(time.Time); ok {
			mc[k] = t.Unix()
		}
	}
	tok := gjwt.NewWithClaims(method, mc)
	if opts.KeyID != "" {
		tok.Header["kid"] = opts.KeyID
	}
	s, err := tok.SignedString(opts.Key)
	if err != nil {
		return "", fmt.Errorf("jwt: mint: signing: %w", err)
	}
	return s, nil
}
