package auth

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// scramCreds are what the server needs for one SCRAM exchange.
type scramCreds struct {
	salt       []byte
	iterations int
	storedKey  []byte
	serverKey  []byte
	disabled   bool
	// valid is false when there is no account or it has no keys for the
	// exchange's hash. The exchange then runs to the end with the salt and
	// iteration count given here and random keys, and fails with
	// not-authorized like a wrong password.
	valid bool
}

// credLookup returns the credentials of a normalised username for one hash.
type credLookup func(ctx context.Context, user string) (scramCreds, error)

// serverNonceBytes is the amount of randomness in our part of the nonce.
const serverNonceBytes = 18

// scramExchange is the server side of SCRAM-SHA-1 / SCRAM-SHA-256 (RFC 5802,
// RFC 7677) without channel binding, over stored keys: it never sees or
// derives the password.
type scramExchange struct {
	h      Hash
	host   string
	lookup credLookup
	rand   io.Reader
	// serverNonce overrides the random server nonce (tests only).
	serverNonce string

	state           scramState
	username        string
	gs2Header       string
	clientFirstBare string
	serverFirst     string
	nonce           string
	creds           scramCreds
}

type scramState int

const (
	scramStart     scramState = iota
	scramSentEmpty            // sent an empty challenge for a missing initial response
	scramSentFirst            // sent server-first-message
	scramFinished             // succeeded or failed
)

func newSCRAM(h Hash, host string, lookup credLookup, r io.Reader) *scramExchange {
	return &scramExchange{h: h, host: host, lookup: lookup, rand: orRand(r)}
}

// Username implements Exchange.
func (x *scramExchange) Username() string { return x.username }

// Step implements Exchange.
func (x *scramExchange) Step(ctx context.Context, in []byte) ([]byte, bool, error) {
	switch x.state {
	case scramStart, scramSentEmpty:
		if in == nil && x.state == scramStart {
			// No initial response: ask for it with an empty challenge
			// (RFC 6120 §6.4.2).
			x.state = scramSentEmpty
			return []byte{}, false, nil
		}
		out, f := x.first(ctx, in)
		if f != nil {
			x.state = scramFinished
			return nil, false, f
		}
		x.state = scramSentFirst
		return out, false, nil
	case scramSentFirst:
		x.state = scramFinished
		out, f := x.final(in)
		if f != nil {
			return nil, false, f
		}
		return out, true, nil
	}
	return nil, false, errFinished()
}

func (x *scramExchange) first(ctx context.Context, in []byte) ([]byte, *Failure) {
	if len(in) == 0 {
		return nil, fail(CondMalformedRequest, "missing client-first-message")
	}
	if f := checkMessageSize(in); f != nil {
		return nil, f
	}
	cf, f := parseClientFirst(string(in))
	if f != nil {
		return nil, f
	}
	user, err := NormalizeUsername(cf.username, x.host)
	if err != nil {
		return nil, &Failure{Condition: CondMalformedRequest, Text: "invalid username", Err: err}
	}
	if f := checkAuthzid(cf.authzid, user, x.host); f != nil {
		return nil, f
	}
	x.username = user
	creds, err := x.lookup(ctx, user)
	if err != nil {
		return nil, errTemporary(err)
	}
	if len(creds.storedKey) != x.h.Size() || len(creds.serverKey) != x.h.Size() {
		creds.valid = false
	}
	if !creds.valid {
		// Random keys: the exchange does the same work and fails at the
		// end. Both keys must have the right size for that.
		var err1, err2 error
		creds.storedKey, err1 = randomBytes(x.rand, x.h.Size())
		creds.serverKey, err2 = randomBytes(x.rand, x.h.Size())
		if err1 != nil || err2 != nil {
			return nil, errTemporary(err1)
		}
	}
	snonce := x.serverNonce
	if snonce == "" {
		b, err := randomBytes(x.rand, serverNonceBytes)
		if err != nil {
			return nil, errTemporary(err)
		}
		snonce = base64.StdEncoding.EncodeToString(b)
	}
	x.creds = creds
	x.gs2Header = cf.gs2Header
	x.clientFirstBare = cf.bare
	x.nonce = cf.nonce + snonce
	x.serverFirst = "r=" + x.nonce + ",s=" + base64.StdEncoding.EncodeToString(creds.salt) +
		",i=" + strconv.Itoa(creds.iterations)
	return []byte(x.serverFirst), nil
}

func (x *scramExchange) final(in []byte) ([]byte, *Failure) {
	if len(in) == 0 {
		return nil, fail(CondMalformedRequest, "missing client-final-message")
	}
	if f := checkMessageSize(in); f != nil {
		return nil, f
	}
	cf, f := parseClientFinal(string(in))
	if f != nil {
		return nil, f
	}
	cb, err := base64.StdEncoding.Strict().DecodeString(cf.channelBinding)
	if err != nil {
		return nil, fail(CondMalformedRequest, "invalid channel binding encoding")
	}
	if string(cb) != x.gs2Header {
		return nil, fail(CondMalformedRequest, "channel binding does not match the GS2 header")
	}
	if cf.nonce != x.nonce {
		return nil, fail(CondMalformedRequest, "wrong nonce")
	}
	proof, err := base64.StdEncoding.Strict().DecodeString(cf.proof)
	if err != nil || len(proof) != x.h.Size() {
		return nil, fail(CondMalformedRequest, "invalid proof")
	}
	authMessage := x.clientFirstBare + "," + x.serverFirst + "," + cf.withoutProof
	clientKey := x.h.hmac(x.creds.storedKey, authMessage)
	for i := range clientKey {
		clientKey[i] ^= proof[i]
	}
	ok := hmac.Equal(x.h.sum(clientKey), x.creds.storedKey)
	serverSignature := x.h.hmac(x.creds.serverKey, authMessage)
	if !ok || !x.creds.valid {
		return nil, errNotAuthorized()
	}
	if x.creds.disabled {
		return nil, fail(CondAccountDisabled, "")
	}
	return []byte("v=" + base64.StdEncoding.EncodeToString(serverSignature)), nil
}

// clientFirst is a parsed client-first-message (RFC 5802 §7).
type clientFirst struct {
	gs2Header string // "n,," or "y,,", with the authzid if any
	authzid   string // unescaped
	username  string // unescaped, not yet normalised
	nonce     string
	bare      string // client-first-message-bare, for the AuthMessage
}

func malformed(text string) *Failure { return fail(CondMalformedRequest, text) }

// parseClientFirst parses a client-first-message for a server that offers no
// channel binding: the GS2 flag must be "n" or "y"; "p=" is refused.
func parseClientFirst(msg string) (clientFirst, *Failure) {
	var cf clientFirst
	if !utf8.ValidString(msg) {
		return cf, malformed("message is not UTF-8")
	}
	flag, rest, ok := strings.Cut(msg, ",")
	if !ok {
		return cf, malformed("missing GS2 header")
	}
	switch {
	case flag == "n" || flag == "y":
	case strings.HasPrefix(flag, "p="):
		return cf, malformed("channel binding is not supported")
	default:
		return cf, malformed("invalid GS2 channel binding flag")
	}
	az, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return cf, malformed("missing GS2 header")
	}
	if az != "" {
		if !strings.HasPrefix(az, "a=") {
			return cf, malformed("invalid authorization identity")
		}
		if cf.authzid, ok = unescapeSaslname(az[2:]); !ok {
			return cf, malformed("invalid authorization identity")
		}
	}
	cf.gs2Header = msg[:len(flag)+1+len(az)+1]
	cf.bare = bare
	attrs := strings.Split(bare, ",")
	if strings.HasPrefix(attrs[0], "m=") {
		return cf, malformed("mandatory extensions are not supported")
	}
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "n=") || !strings.HasPrefix(attrs[1], "r=") {
		return cf, malformed("want n=username,r=nonce")
	}
	if cf.username, ok = unescapeSaslname(attrs[0][2:]); !ok {
		return cf, malformed("invalid username encoding")
	}
	cf.nonce = attrs[1][2:]
	if !validNonce(cf.nonce) {
		return cf, malformed("invalid nonce")
	}
	for _, a := range attrs[2:] {
		if !validExtension(a) {
			return cf, malformed("invalid attribute")
		}
	}
	return cf, nil
}

// clientFinal is a parsed client-final-message.
type clientFinal struct {
	channelBinding string // base64
	nonce          string
	proof          string // base64
	withoutProof   string // client-final-message-without-proof
}

func parseClientFinal(msg string) (clientFinal, *Failure) {
	var cf clientFinal
	if !utf8.ValidString(msg) {
		return cf, malformed("message is not UTF-8")
	}
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return cf, malformed("missing proof")
	}
	cf.withoutProof, cf.proof = msg[:i], msg[i+len(",p="):]
	attrs := strings.Split(cf.withoutProof, ",")
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "c=") || !strings.HasPrefix(attrs[1], "r=") {
		return cf, malformed("want c=...,r=...,p=...")
	}
	cf.channelBinding, cf.nonce = attrs[0][2:], attrs[1][2:]
	for _, a := range attrs[2:] {
		if !validExtension(a) {
			return cf, malformed("invalid attribute")
		}
	}
	return cf, nil
}

// unescapeSaslname decodes a saslname: non-empty, no NUL, and "=" only in
// "=2C" (",") and "=3D" ("=").
func unescapeSaslname(s string) (string, bool) {
	if s == "" || strings.IndexByte(s, 0) >= 0 {
		return "", false
	}
	if !strings.Contains(s, "=") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", false
		}
		i += 2
	}
	return b.String(), true
}

// escapeSaslname is the inverse of unescapeSaslname.
func escapeSaslname(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

// validNonce checks RFC 5802's printable: %x21-2B / %x2D-7E, at least one.
func validNonce(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}

// validExtension checks attr-val (ALPHA "=" value) for an optional
// extension; the reserved "m" is refused.
func validExtension(a string) bool {
	if len(a) < 2 || a[1] != '=' || a[0] == 'm' {
		return false
	}
	c := a[0]
	if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
		return false
	}
	return strings.IndexByte(a, 0) < 0
}
