package xclient

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
)

// SASL mechanism names the client speaks.
const (
	Anonymous   = "ANONYMOUS"
	Plain       = "PLAIN"
	ScramSHA1   = "SCRAM-SHA-1"
	ScramSHA256 = "SCRAM-SHA-256"
)

// mechanism runs one SASL exchange: start returns the initial response,
// step answers a challenge, and finish checks the data in <success/>.
type mechanism interface {
	start() ([]byte, error)
	step(challenge []byte) ([]byte, error)
	finish(additional []byte) error
}

func newMechanism(name, user, password string, cache *ScramCache) (mechanism, error) {
	switch name {
	case Anonymous:
		return anonymousMech{}, nil
	case Plain:
		return plainMech{user: user, password: password}, nil
	case ScramSHA1:
		return newScram(sha1.New, name, user, password, cache), nil
	case ScramSHA256:
		return newScram(sha256.New, name, user, password, cache), nil
	}
	return nil, fmt.Errorf("xclient: unsupported SASL mechanism %q", name)
}

type anonymousMech struct{}

func (anonymousMech) start() ([]byte, error)      { return nil, nil }
func (anonymousMech) step([]byte) ([]byte, error) { return nil, nil }
func (anonymousMech) finish([]byte) error         { return nil }

type plainMech struct{ user, password string }

func (m plainMech) start() ([]byte, error) { return []byte("\x00" + m.user + "\x00" + m.password), nil }
func (plainMech) step([]byte) ([]byte, error) {
	return nil, errors.New("xclient: PLAIN got a challenge")
}
func (plainMech) finish([]byte) error { return nil }

// ScramCache remembers SCRAM salted passwords by password, salt, count
// and hash, as RFC 5802 §5.1 allows clients to, so that repeated logins
// measure the server rather than the client's PBKDF2.
type ScramCache struct {
	m sync.Map // string -> []byte
}

type scram struct {
	h        func() hash.Hash
	name     string
	user     string
	password string
	cache    *ScramCache
	nonce    string
	first    string // client-first-message-bare
	serverSg []byte
}

func newScram(h func() hash.Hash, name, user, password string, cache *ScramCache) *scram {
	return &scram{h: h, name: name, user: user, password: password, cache: cache}
}

func (s *scram) hmac(key, data []byte) []byte {
	m := hmac.New(s.h, key)
	m.Write(data)
	return m.Sum(nil)
}

func (s *scram) start() ([]byte, error) {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("xclient: scram nonce: %w", err)
	}
	s.nonce = base64.RawStdEncoding.EncodeToString(b[:])
	user := strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s.user)
	s.first = "n=" + user + ",r=" + s.nonce
	return []byte("n,," + s.first), nil
}

func (s *scram) step(challenge []byte) ([]byte, error) {
	var nonce, salt string
	iter := 0
	for _, part := range bytes.Split(challenge, []byte(",")) {
		if len(part) < 2 || part[1] != '=' {
			continue
		}
		v := string(part[2:])
		switch part[0] {
		case 'r':
			nonce = v
		case 's':
			salt = v
		case 'i':
			iter, _ = strconv.Atoi(v)
		}
	}
	if !strings.HasPrefix(nonce, s.nonce) || salt == "" || iter <= 0 {
		return nil, fmt.Errorf("xclient: bad SCRAM challenge %q", challenge)
	}
	rawSalt, err := base64.StdEncoding.DecodeString(salt)
	if err != nil {
		return nil, fmt.Errorf("xclient: SCRAM salt: %w", err)
	}
	salted, err := s.salted(rawSalt, iter)
	if err != nil {
		return nil, err
	}
	final := "c=biws,r=" + nonce
	authMsg := []byte(s.first + "," + string(challenge) + "," + final)
	clientKey := s.hmac(salted, []byte("Client Key"))
	sum := s.h()
	sum.Write(clientKey)
	stored := sum.Sum(nil)
	sig := s.hmac(stored, authMsg)
	proof := make([]byte, len(clientKey))
	for i := range proof {
		proof[i] = clientKey[i] ^ sig[i]
	}
	s.serverSg = s.hmac(s.hmac(salted, []byte("Server Key")), authMsg)
	return []byte(final + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

func (s *scram) salted(salt []byte, iter int) ([]byte, error) {
	k := s.name + "\x00" + s.password + "\x00" + string(salt) + "\x00" + strconv.Itoa(iter)
	if s.cache != nil {
		if v, ok := s.cache.m.Load(k); ok {
			return v.([]byte), nil
		}
	}
	v, err := pbkdf2.Key(s.h, s.password, salt, iter, s.h().Size())
	if err != nil {
		return nil, fmt.Errorf("xclient: pbkdf2: %w", err)
	}
	if s.cache != nil {
		s.cache.m.Store(k, v)
	}
	return v, nil
}

func (s *scram) finish(additional []byte) error {
	v, ok := bytes.CutPrefix(additional, []byte("v="))
	if !ok {
		return fmt.Errorf("xclient: SCRAM success without verifier: %q", additional)
	}
	got, err := base64.StdEncoding.DecodeString(string(v))
	if err != nil || !hmac.Equal(s.serverSg, got) {
		return errors.New("xclient: SCRAM server signature mismatch")
	}
	return nil
}
