package jwt

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is the token-auth configuration of one VirtualHost, as Jitsi's
// token/util.lib.lua reads it (JITSI.md §4.1). Each field names the Prosody
// option it comes from. The zero value of every field gives Jitsi's default,
// so options that default to true in Jitsi appear here negated
// (AllowMissingRoomClaim, DisableDomainVerification, DisableRoomPatterns): a
// partly filled Config is never less strict than Jitsi.
type Config struct {
	// AppID is app_id. Required. It is the default accepted issuer.
	AppID string
	// AppSecret is app_secret, the HMAC key for HS256/384/512 tokens. It is
	// used only when neither ASAPKeyServer nor CacheKeysURL is set.
	AppSecret string
	// ASAPKeyServer is asap_key_server: public keys are fetched as
	// <ASAPKeyServer>/<hex(sha256(kid))>.pem.
	ASAPKeyServer string
	// CacheKeysURL is cache_keys_url: a JWKS document, or a JSON map from kid
	// to PEM certificate (Firebase style), refreshed per its Cache-Control.
	CacheKeysURL string
	// SignatureAlgorithm is signature_algorithm. Empty means RS256 when a key
	// server is configured, else HS256. It must belong to the family of the
	// key source (RS*, or the parley extensions ES256/ES384, for key servers;
	// HS* for app_secret): the token header never chooses the key type
	// (CVE-2021-39215).
	SignatureAlgorithm string
	// AllowEmptyToken is allow_empty_token: a connection without a token
	// authenticates anonymously and skips room checks.
	AllowEmptyToken bool
	// AcceptedIssuers is asap_accepted_issuers; nil means {AppID}. "*" accepts
	// any issuer.
	AcceptedIssuers []string
	// AcceptedAudiences is asap_accepted_audiences; nil means {"*"}, which
	// accepts any non-empty aud.
	AcceptedAudiences []string
	// AllowMissingRoomClaim is asap_require_room_claim = false.
	AllowMissingRoomClaim bool
	// DisableDomainVerification is enable_domain_verification = false (the
	// plugin default is true; docker-jitsi-meet sets false).
	DisableDomainVerification bool
	// MUCDomainBase is muc_mapper_domain_base, the main VirtualHost domain.
	MUCDomainBase string
	// MUCDomainPrefix is muc_mapper_domain_prefix; empty means "conference".
	MUCDomainPrefix string
	// MUCDomain is muc_mapper_domain; empty means MUCDomainPrefix + "." +
	// MUCDomainBase when MUCDomainBase is set.
	MUCDomain string
	// KeyCacheSize is jwt_pubkey_cache_size, the number of public keys kept;
	// zero means 128.
	KeyCacheSize int
	// DisableRoomPatterns is token_regex_enabled = false: tokens whose
	// context.room.regex is set are refused at room check.
	DisableRoomPatterns bool
	// RoomPatternMaxRoomLength is token_regex_room_max_length; zero means 128.
	RoomPatternMaxRoomLength int
	// RoomPatternMaxQuantifiers is token_regex_max_quantifiers; zero means 3.
	RoomPatternMaxQuantifiers int
	// RequireExpiration is token_require_exp (parley extension; Jitsi accepts
	// tokens without exp, SECURITY-CASES #91).
	RequireExpiration bool
	// Leeway is token_leeway in seconds (parley extension). Jitsi allows no
	// clock skew, so the default is zero.
	Leeway time.Duration
}

// Option names read by ConfigFromOptions.
const (
	OptAppID               = "app_id"
	OptAppSecret           = "app_secret"
	OptASAPKeyServer       = "asap_key_server"
	OptCacheKeysURL        = "cache_keys_url"
	OptSignatureAlgorithm  = "signature_algorithm"
	OptAllowEmptyToken     = "allow_empty_token"
	OptAcceptedIssuers     = "asap_accepted_issuers"
	OptAcceptedAudiences   = "asap_accepted_audiences"
	OptRequireRoomClaim    = "asap_require_room_claim"
	OptDomainVerification  = "enable_domain_verification"
	OptMUCDomainBase       = "muc_mapper_domain_base"
	OptMUCDomainPrefix     = "muc_mapper_domain_prefix"
	OptMUCDomain           = "muc_mapper_domain"
	OptKeyCacheSize        = "jwt_pubkey_cache_size"
	OptRegexEnabled        = "token_regex_enabled"
	OptRegexRoomMaxLength  = "token_regex_room_max_length"
	OptRegexMaxQuantifiers = "token_regex_max_quantifiers"
	OptRequireExpiration   = "token_require_exp" // parley extension
	OptLeewaySeconds       = "token_leeway"      // parley extension
)

// Jitsi's defaults for unset options.
const (
	defaultMUCPrefix          = "conference"
	defaultKeyCacheSize       = 128
	defaultPatternRoomMaxLen  = 128
	defaultPatternQuantifiers = 3
)

// ConfigFromOptions builds a Config from a Prosody option lookup. get returns
// the value of a VirtualHost option (inherited from the global section) and
// whether it is set. Values are what a Lua config decodes to: string, bool,
// float64 (Lua numbers; int and int64 are accepted too) and []any (Lua arrays). Like Prosody, a number is
// accepted where a string is expected and a single string where an array is
// expected. All problems are reported at once, each naming its option.
// The result is not validated; NewVerifier does that.
func ConfigFromOptions(get func(key string) (any, bool)) (Config, error) {
	d := optDecoder{get: get}
	var c Config
	c.AppID = d.str(OptAppID)
	c.AppSecret = d.str(OptAppSecret)
	c.ASAPKeyServer = d.str(OptASAPKeyServer)
	c.CacheKeysURL = d.str(OptCacheKeysURL)
	c.SignatureAlgorithm = d.str(OptSignatureAlgorithm)
	c.AllowEmptyToken = d.boolean(OptAllowEmptyToken, false)
	c.AcceptedIssuers = d.list(OptAcceptedIssuers)
	c.AcceptedAudiences = d.list(OptAcceptedAudiences)
	c.AllowMissingRoomClaim = !d.boolean(OptRequireRoomClaim, true)
	c.DisableDomainVerification = !d.boolean(OptDomainVerification, true)
	c.MUCDomainBase = d.str(OptMUCDomainBase)
	c.MUCDomainPrefix = d.str(OptMUCDomainPrefix)
	c.MUCDomain = d.str(OptMUCDomain)
	c.KeyCacheSize = d.integer(OptKeyCacheSize)
	c.DisableRoomPatterns = !d.boolean(OptRegexEnabled, true)
	c.RoomPatternMaxRoomLength = d.integer(OptRegexRoomMaxLength)
	c.RoomPatternMaxQuantifiers = d.integer(OptRegexMaxQuantifiers)
	c.RequireExpiration = d.boolean(OptRequireExpiration, false)
	if v, ok := d.number(OptLeewaySeconds); ok {
		if v < 0 || v > 3600 {
			d.fail(OptLeewaySeconds, fmt.Errorf("want 0..3600 seconds, got %v", v))
		} else {
			c.Leeway = time.Duration(v * float64(time.Second))
		}
	}
	return c, errors.Join(d.errs...)
}

type optDecoder struct {
	get  func(string) (any, bool)
	errs []error
}

func (d *optDecoder) fail(key string, err error) {
	d.errs = append(d.errs, fmt.Errorf("jwt: option %q: %w", key, err))
}

func (d *optDecoder) str(key string) string {
	v, ok := d.get(key)
	if !ok || v == nil {
		return ""
	}
	switch t := v.(type) {
	case string:
		return t
	case float64: // Prosody's get_option_string stringifies numbers
		return strconv.FormatFloat(t, 'f', -1, 64)
	case int:
		return strconv.Itoa(t)
	case int64:
		return strconv.FormatInt(t, 10)
	default:
		d.fail(key, fmt.Errorf("want a string, got %s", luaType(v)))
		return ""
	}
}

func (d *optDecoder) boolean(key string, def bool) bool {
	v, ok := d.get(key)
	if !ok || v == nil {
		return def
	}
	switch t := v.(type) {
	case bool:
		return t
	case string:
		switch strings.ToLower(t) {
		case "true", "yes", "on", "1":
			return true
		case "false", "no", "off", "0":
			return false
		}
	case float64:
		switch t {
		case 1:
			return true
		case 0:
			return false
		}
	}
	d.fail(key, fmt.Errorf("want a boolean, got %s %v", luaType(v), v))
	return def
}

func (d *optDecoder) number(key string) (float64, bool) {
	v, ok := d.get(key)
	if !ok || v == nil {
		return 0, false
	}
	switch t := v.(type) {
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			break
		}
		return t, true
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(t), 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, true
		}
	}
	d.fail(key, fmt.Errorf("want a number, got %s %v", luaType(v), v))
	return 0, false
}

func (d *optDecoder) integer(key string) int {
	f, ok := d.number(key)
	if !ok {
		return 0
	}
	if f != math.Trunc(f) || f < 0 || f > 1<<20 {
		d.fail(key, fmt.Errorf("want a whole number in 0..%d, got %v", 1<<20, f))
		return 0
	}
	return int(f)
}

// list returns nil when the option is unset, so NewVerifier applies Jitsi's
// default, and a non-nil (possibly empty) slice when it is set.
func (d *optDecoder) list(key string) []string {
	v, ok := d.get(key)
	if !ok || v == nil {
		return nil
	}
	switch t := v.(type) {
	case string:
		return []string{t}
	case []string:
		return append([]string{}, t...)
	case []any:
		out := make([]string, 0, len(t))
		for i, e := range t {
			s, ok := e.(string)
			if !ok {
				d.fail(key, fmt.Errorf("item %d: want a string, got %s", i+1, luaType(e)))
				continue
			}
			out = append(out, s)
		}
		return out
	default:
		d.fail(key, fmt.Errorf("want an array of strings, got %s", luaType(v)))
		return nil
	}
}

func luaType(v any) string {
	switch v.(type) {
	case nil:
		return "nil"
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64, int, int64:
		return "number"
	case []any, []string, map[string]any:
		return "table"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// isHMACAlg and isRSAAlg name the algorithms Jitsi's luajwtjitsi supports;
// isECAlg the ECDSA ones parley adds for key-server modes.
func isHMACAlg(alg string) bool { return alg == "HS256" || alg == "HS384" || alg == "HS512" }

func isRSAAlg(alg string) bool { return alg == "RS256" || alg == "RS384" || alg == "RS512" }

func isECAlg(alg string) bool { return alg == "ES256" || alg == "ES384" }

// isPublicKeyAlg names the algorithms usable with a key server.
func isPublicKeyAlg(alg string) bool { return isRSAAlg(alg) || isECAlg(alg) }

// normalize validates c and returns a copy with defaults applied.
func (c Config) normalize() (Config, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("jwt: config: "+format, args...)) }

	if c.AppID == "" {
		bad("'%s' must not be empty", OptAppID)
	}
	rsaMode := c.ASAPKeyServer != "" || c.CacheKeysURL != ""
	if !rsaMode && c.AppSecret == "" {
		// An empty app_secret is refused too: as an HMAC key it would let anyone mint tokens.
		bad("'%s', '%s' or '%s' must be specified", OptAppSecret, OptASAPKeyServer, OptCacheKeysURL)
	}
	for _, u := range []struct{ key, val string }{{OptASAPKeyServer, c.ASAPKeyServer}, {OptCacheKeysURL, c.CacheKeysURL}} {
		if u.val == "" {
			continue
		}
		p, err := url.Parse(u.val)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.RawQuery != "" || p.Fragment != "" {
			bad("'%s' must be an absolute http(s) URL without query, got %q", u.key, u.val)
		}
	}
	if c.SignatureAlgorithm == "" {
		if rsaMode {
			c.SignatureAlgorithm = "RS256"
		} else {
			c.SignatureAlgorithm = "HS256"
		}
	}
	switch {
	case rsaMode && !isPublicKeyAlg(c.SignatureAlgorithm):
		bad("'%s' %q cannot be used with a key server (want RS256, RS384, RS512, ES256 or ES384)", OptSignatureAlgorithm, c.SignatureAlgorithm)
	case !rsaMode && !isHMACAlg(c.SignatureAlgorithm):
		bad("'%s' %q cannot be used with '%s' (want HS256, HS384 or HS512)", OptSignatureAlgorithm, c.SignatureAlgorithm, OptAppSecret)
	}
	if c.AcceptedIssuers == nil {
		c.AcceptedIssuers = []string{c.AppID}
	}
	if c.AcceptedAudiences == nil {
		c.AcceptedAudiences = []string{"*"}
	}
	for _, l := range []struct {
		key  string
		list []string
	}{{OptAcceptedIssuers, c.AcceptedIssuers}, {OptAcceptedAudiences, c.AcceptedAudiences}} {
		if len(l.list) == 0 {
			bad("'%s' is empty: no token could ever be accepted", l.key)
		}
		for _, s := range l.list {
			if s == "" {
				bad("'%s' contains an empty string", l.key)
			}
		}
	}
	c.AcceptedIssuers = append([]string(nil), c.AcceptedIssuers...)
	c.AcceptedAudiences = append([]string(nil), c.AcceptedAudiences...)
	if c.MUCDomainPrefix == "" {
		c.MUCDomainPrefix = defaultMUCPrefix
	}
	c.MUCDomainBase = strings.ToLower(c.MUCDomainBase)
	c.MUCDomainPrefix = strings.ToLower(c.MUCDomainPrefix)
	c.MUCDomain = strings.ToLower(c.MUCDomain)
	if c.MUCDomain == "" && c.MUCDomainBase != "" {
		c.MUCDomain = c.MUCDomainPrefix + "." + c.MUCDomainBase
	}
	if c.KeyCacheSize < 0 || c.RoomPatternMaxRoomLength < 0 || c.RoomPatternMaxQuantifiers < 0 {
		bad("sizes and limits must not be negative")
	}
	if c.KeyCacheSize == 0 {
		c.KeyCacheSize = defaultKeyCacheSize
	}
	if c.RoomPatternMaxRoomLength == 0 {
		c.RoomPatternMaxRoomLength = defaultPatternRoomMaxLen
	}
	if c.RoomPatternMaxQuantifiers == 0 {
		c.RoomPatternMaxQuantifiers = defaultPatternQuantifiers
	}
	if c.Leeway < 0 {
		bad("leeway must not be negative")
	}
	return c, errors.Join(errs...)
}
