package jwt

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	gjwt "github.com/golang-jwt/jwt/v5"
)

// Claims is what a verified token says, in the shape Jitsi binds to the session
// (JITSI.md §4.4 step 5). A missing claim is the zero value.
type Claims struct {
	Issuer   string   // iss
	Subject  string   // sub: tenant, base domain or "*" (checked by VerifyRoom)
	Audience []string // aud, a single string becomes one item
	Room     string   // room: room name, "*", or a Lua pattern when Context.RoomRegex
	KeyID    string   // kid from the header (key-server modes)

	ExpiresAt time.Time // exp; zero when absent
	NotBefore time.Time // nbf; zero when absent
	IssuedAt  time.Time // iat; zero when absent or not a number

	// User is context.user, or {ID: user_id} for a token without context
	// (jitsi_meet_context_user). Nil when neither is present.
	User *User
	// Context is the context claim; nil when the token has none.
	Context *Context
	// Moderator is the top-level "moderator" claim when it is the JSON
	// boolean true (what the community token_moderation plugin reads).
	Moderator bool

	// Raw is the whole payload. Numbers are json.Number; objects are
	// map[string]any and arrays []any.
	Raw map[string]any
}

// User is context.user. String fields that are not JSON strings in the token
// are left empty (they stay visible in Raw), so odd tokens cannot crash
// consumers (SECURITY-CASES #113).
type User struct {
	ID          string // id; a JSON number is kept in its decimal form
	Name        string
	Email       string
	Avatar      string
	Affiliation string // affiliation (owner, moderator, teacher, member...)
	// Moderator is context.user.moderator being true or "true".
	Moderator bool
	// Raw is the whole context.user object.
	Raw map[string]any
}

// Context is the context claim (jitsi_meet_context_* on the session).
type Context struct {
	Group    string         // context.group
	Tenant   string         // context.tenant (jitsi_meet_str_tenant)
	Features map[string]any // context.features; nil when absent
	Room     map[string]any // context.room; nil when absent
	// RoomRegex is context.room.regex being true or "true": the room claim is
	// then a Lua pattern (see VerifyRoom).
	RoomRegex bool
	// Raw is the whole context object.
	Raw map[string]any
}

// Feature reports whether context.features[name] is true or "true".
func (c *Claims) Feature(name string) bool {
	if c == nil || c.Context == nil {
		return false
	}
	return truthy(c.Context.Features[name])
}

// IsOwner reports whether the token asks for the owner affiliation under the
// rule of Jitsi's token_affiliation module: context.user.affiliation is owner,
// moderator or teacher, or context.user.moderator is true or "true".
func (c *Claims) IsOwner() bool {
	if c == nil || c.User == nil {
		return false
	}
	switch strings.ToLower(c.User.Affiliation) {
	case "owner", "moderator", "teacher":
		return true
	}
	return c.User.Moderator
}

// TenantMismatch reports whether context.tenant is set and differs from the
// tenant of the web URL (the "prefix" query parameter of the BOSH/WebSocket
// URL). Jitsi only logs and flags this (jitsi_meet_tenant_mismatch).
func (c *Claims) TenantMismatch(urlPrefix string) bool {
	if c == nil || c.Context == nil || c.Context.Tenant == "" {
		return false
	}
	return foldName(c.Context.Tenant) != foldName(urlPrefix)
}

func truthy(v any) bool {
	switch t := v.(type) {
	case bool:
		return t
	case string:
		return t == "true"
	}
	return false
}

// errNotNumber marks exp/nbf claims that are present but not JSON numbers.
type errNotNumber struct{ claim string }

func (e errNotNumber) Error() string { return e.claim + " must be number" }

// tokenClaims is the gjwt.Claims implementation handed to the parser. It keeps
// exp/nbf type errors for the library's validator and runs the Jitsi claim
// policy in Validate, which the library calls after its own checks.
type tokenClaims struct {
	v       *Verifier
	raw     map[string]any
	bodyErr error
	exp     *gjwt.NumericDate
	nbf     *gjwt.NumericDate
	iat     *gjwt.NumericDate
	expErr  error
	nbfErr  error
	claims  *Claims
}

var _ gjwt.ClaimsValidator = (*tokenClaims)(nil)

// UnmarshalJSON decodes the payload strictly (see decodeObject).
func (c *tokenClaims) UnmarshalJSON(b []byte) error {
	m, err := decodeObject(b)
	if err != nil {
		c.bodyErr = err
		return err
	}
	c.raw = m
	c.exp, c.expErr = numericDate(m, "exp")
	c.nbf, c.nbfErr = numericDate(m, "nbf")
	c.iat, _ = numericDate(m, "iat") // Jitsi only prints iat; a bad one is ignored
	return nil
}

// GetExpirationTime implements gjwt.Claims.
func (c *tokenClaims) GetExpirationTime() (*gjwt.NumericDate, error) { return c.exp, c.expErr }

// GetNotBefore implements gjwt.Claims.
func (c *tokenClaims) GetNotBefore() (*gjwt.NumericDate, error) { return c.nbf, c.nbfErr }

// GetIssuedAt implements gjwt.Claims.
func (c *tokenClaims) GetIssuedAt() (*gjwt.NumericDate, error) { return c.iat, nil }

// GetIssuer implements gjwt.Claims; the issuer is checked in Validate.
func (c *tokenClaims) GetIssuer() (string, error) { return "", nil }

// GetSubject implements gjwt.Claims; sub is checked by VerifyRoom.
func (c *tokenClaims) GetSubject() (string, error) { return "", nil }

// GetAudience implements gjwt.Claims; the audience is checked in Validate.
func (c *tokenClaims) GetAudience() (gjwt.ClaimStrings, error) { return nil, nil }

// Validate applies Jitsi's claim policy in luajwtjitsi/util.lib order: iss,
// aud, room; then the shape of the claims parley reads.
func (c *tokenClaims) Validate() error {
	cfg := &c.v.cfg
	iss, present, ok := stringClaim(c.raw, "iss")
	switch {
	case !present:
		return newError(ReasonIssuer, textIssMissing, nil)
	case !ok || !(slices.Contains(cfg.AcceptedIssuers, "*") || slices.Contains(cfg.AcceptedIssuers, iss)):
		return newError(ReasonIssuer, textIssInvalid, nil)
	}
	aud, err := audience(c.raw["aud"])
	if err != nil {
		return err
	}
	if !slices.Contains(cfg.AcceptedAudiences, "*") && !slices.ContainsFunc(aud, func(a string) bool {
		return slices.Contains(cfg.AcceptedAudiences, a)
	}) {
		return newError(ReasonAudience, textAudInvalid, nil)
	}
	room, present, ok := stringClaim(c.raw, "room")
	switch {
	case c.raw["room"] == "":
		// Jitsi lets "" through as present and then no room ever matches it;
		// here it must not read as "no room claim" (any room when optional).
		return newError(ReasonClaimType, invalidClaimText("room"), nil)
	case !present && !cfg.AllowMissingRoomClaim:
		// Jitsi returns this without the not-allowed condition (JITSI.md §4.7);
		// here it is an ordinary not-allowed failure.
		return newError(ReasonRoomMissing, textRoomMissing, nil)
	case present && !ok:
		return newError(ReasonClaimType, invalidClaimText("room"), nil)
	}
	cl := &Claims{Issuer: iss, Audience: aud, Room: room, Raw: c.raw}
	if err := c.fill(cl); err != nil {
		return err
	}
	c.claims = cl
	return nil
}

// fill sets the claims parley reads beyond iss/aud/room, refusing containers of
// the wrong JSON type.
func (c *tokenClaims) fill(cl *Claims) error {
	sub, present, ok := stringClaim(c.raw, "sub")
	if present && !ok {
		return newError(ReasonClaimType, invalidClaimText("sub"), nil)
	}
	cl.Subject = sub
	if c.exp != nil {
		cl.ExpiresAt = c.exp.Time
	}
	if c.nbf != nil {
		cl.NotBefore = c.nbf.Time
	}
	if c.iat != nil {
		cl.IssuedAt = c.iat.Time
	}
	cl.Moderator = c.raw["moderator"] == true

	ctxObj, err := objectClaim(c.raw, "context", "context")
	if err != nil {
		return err
	}
	if ctxObj != nil {
		cx := &Context{Raw: ctxObj}
		cx.Group, _ = ctxObj["group"].(string)
		cx.Tenant, _ = ctxObj["tenant"].(string)
		if cx.Features, err = objectClaim(ctxObj, "features", "context"); err != nil {
			return err
		}
		if cx.Room, err = objectClaim(ctxObj, "room", "context"); err != nil {
			return err
		}
		if cx.Room != nil {
			cx.RoomRegex = truthy(cx.Room["regex"])
		}
		userObj, err := objectClaim(ctxObj, "user", "context")
		if err != nil {
			return err
		}
		if userObj != nil {
			cl.User = newUser(userObj)
		}
		cl.Context = cx
	} else if id := idString(c.raw["user_id"]); id != "" {
		cl.User = &User{ID: id}
	}
	return nil
}

func newUser(m map[string]any) *User {
	u := &User{Raw: m, ID: idString(m["id"]), Moderator: truthy(m["moderator"])}
	u.Name, _ = m["name"].(string)
	u.Email, _ = m["email"].(string)
	u.Avatar, _ = m["avatar"].(string)
	u.Affiliation, _ = m["affiliation"].(string)
	return u
}

func idString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return t.String()
	}
	return ""
}

// stringClaim returns m[key] as a string. present is false for an absent key,
// JSON null and the empty string; ok is false for a present non-string.
func stringClaim(m map[string]any, key string) (s string, present, ok bool) {
	v, found := m[key]
	if !found || v == nil || v == "" {
		return "", false, true
	}
	s, ok = v.(string)
	return s, true, ok
}

// objectClaim returns m[key] as an object; absent and null give nil.
func objectClaim(m map[string]any, key, name string) (map[string]any, error) {
	v, found := m[key]
	if !found || v == nil {
		return nil, nil
	}
	o, ok := v.(map[string]any)
	if !ok {
		return nil, newError(ReasonClaimType, invalidClaimText(name), nil)
	}
	return o, nil
}

// audience reads aud: a non-empty string, or a non-empty array of non-empty
// strings. Jitsi compares an array with ==, so arrays only pass with "*"
// (JITSI.md §4.7); here any item may match, as RFC 7519 §4.1.3 says.
func audience(v any) ([]string, error) {
	switch t := v.(type) {
	case nil:
		return nil, newError(ReasonAudience, textAudMissing, nil)
	case string:
		if t == "" {
			return nil, newError(ReasonAudience, textAudMissing, nil)
		}
		return []string{t}, nil
	case []any:
		if len(t) == 0 {
			return nil, newError(ReasonAudience, textAudMissing, nil)
		}
		out := make([]string, 0, len(t))
		for _, e := range t {
			s, ok := e.(string)
			if !ok || s == "" {
				return nil, newError(ReasonAudience, textAudInvalid, nil)
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, newError(ReasonAudience, textAudInvalid, nil)
	}
}

// Bounds for NumericDate values, so absurd numbers cannot overflow time.Time
// arithmetic: about ±3000 years around 1970.
const maxEpochSeconds = 1e11

// numericDate reads a NumericDate claim. Jitsi requires exp and nbf to be
// numbers when present ("exp must be number"); golang-jwt alone would also
// accept numeric strings, so the type is checked here.
func numericDate(m map[string]any, key string) (*gjwt.NumericDate, error) {
	v, found := m[key]
	if !found {
		return nil, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return nil, errNotNumber{key}
	}
	f, err := n.Float64()
	if err != nil && !errors.Is(err, strconv.ErrRange) { // a range error gives ±Inf, clamped below
		return nil, errNotNumber{key}
	}
	if math.IsNaN(f) {
		return nil, errNotNumber{key}
	}
	f = math.Max(-maxEpochSeconds, math.Min(maxEpochSeconds, f))
	sec, frac := math.Modf(f)
	return &gjwt.NumericDate{Time: time.Unix(int64(sec), int64(frac*1e9))}, nil
}

// expiredText renders Jitsi's message for an expired token.
func expiredText(now time.Time, exp, iat *gjwt.NumericDate) string {
	msg := fmt.Sprintf("Not acceptable by exp (%d sec since expired", now.Unix()-exp.Unix())
	if iat != nil {
		msg += fmt.Sprintf(", valid for:%d sec", exp.Unix()-iat.Unix())
	}
	return msg + ")"
}
