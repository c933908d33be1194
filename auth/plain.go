package auth

import (
	"bytes"
	"context"
	"unicode/utf8"
)

// ParsePlain splits a SASL PLAIN message (RFC 4616 §2):
//
//	message = [authzid] NUL authcid NUL passwd
//
// The message must be UTF-8 with exactly two NULs, and authcid and passwd
// must not be empty. Failures have condition malformed-request.
func ParsePlain(msg []byte) (authzid, authcid, password string, err error) {
	if !utf8.Valid(msg) {
		return "", "", "", malformed("message is not UTF-8")
	}
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 {
		return "", "", "", malformed("want authzid NUL authcid NUL password")
	}
	if len(parts[1]) == 0 || len(parts[2]) == 0 {
		return "", "", "", malformed("empty username or password")
	}
	return string(parts[0]), string(parts[1]), string(parts[2]), nil
}

// passwordCheck verifies a password for a normalised username; it returns
// nil on success and a *Failure otherwise.
type passwordCheck func(ctx context.Context, user, password string) *Failure

// plainExchange is the server side of PLAIN.
type plainExchange struct {
	host     string
	check    passwordCheck
	state    scramState // reuses the start / sent-empty / finished states
	username string
}

// Username implements Exchange.
func (x *plainExchange) Username() string { return x.username }

// Step implements Exchange.
func (x *plainExchange) Step(ctx context.Context, in []byte) ([]byte, bool, error) {
	switch x.state {
	case scramStart, scramSentEmpty:
		if in == nil && x.state == scramStart {
			x.state = scramSentEmpty
			return []byte{}, false, nil
		}
		x.state = scramFinished
		user, f := x.run(ctx, in)
		if f != nil {
			return nil, false, f
		}
		x.username = user
		return nil, true, nil
	}
	return nil, false, errFinished()
}

func (x *plainExchange) run(ctx context.Context, in []byte) (string, *Failure) {
	if len(in) == 0 {
		return "", malformed("missing PLAIN message")
	}
	if f := checkMessageSize(in); f != nil {
		return "", f
	}
	authzid, authcid, password, err := ParsePlain(in)
	if err != nil {
		return "", err.(*Failure)
	}
	user, err := NormalizeUsername(authcid, x.host)
	if err != nil {
		return "", &Failure{Condition: CondMalformedRequest, Text: "invalid username", Err: err}
	}
	if f := checkAuthzid(authzid, user, x.host); f != nil {
		return "", f
	}
	password, err = PreparePassword(password)
	if err != nil {
		return "", &Failure{Condition: CondMalformedRequest, Text: "invalid password", Err: err}
	}
	if f := x.check(ctx, user, password); f != nil {
		return "", f
	}
	return user, nil
}
