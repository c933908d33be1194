package auth_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/auth"
)

// fixtureDir is the data directory made by real Prosody (see its README.md).
const fixtureDir = "../testdata/prosody-data"

// copyFixture copies the Prosody fixture into a temporary directory: tests
// may upgrade accounts and must not touch testdata.
func copyFixture(t testing.TB) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(fixtureDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(fixtureDir, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o750)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o640)
	})
	if err != nil {
		t.Fatalf("copying fixture: %v", err)
	}
	return dst
}

// clientMech maps mechanism names to mellium's client implementations.
var clientMech = map[string]sasl.Mechanism{
	auth.MechSCRAMSHA256: sasl.ScramSha256,
	auth.MechSCRAMSHA1:   sasl.ScramSha1,
	auth.MechPLAIN:       sasl.Plain,
	auth.MechANONYMOUS:   sasl.Anonymous,
}

// login runs a complete exchange between mellium's SASL client and a
// provider, as a session would relay it. On success it returns the
// authenticated username after checking that the client accepted the
// server's final message (the SCRAM server signature).
func login(t testing.TB, p auth.Provider, req *auth.Request, mech, user, password, authzid string) (string, error) {
	t.Helper()
	x, err := p.Start(mech, req)
	if err != nil {
		return "", err
	}
	c := sasl.NewClient(clientMech[mech], sasl.Credentials(func() ([]byte, []byte, []byte) {
		return []byte(user), []byte(password), []byte(authzid)
	}))
	ctx := context.Background()
	_, resp, err := c.Step(nil)
	if err != nil {
		t.Fatalf("client initial response: %v", err)
	}
	for i := 0; i < 5; i++ {
		out, done, err := x.Step(ctx, resp)
		if err != nil {
			return "", err
		}
		if done {
			if mech == auth.MechSCRAMSHA1 || mech == auth.MechSCRAMSHA256 {
				if _, _, err := c.Step(out); err != nil {
					t.Fatalf("client rejected the server-final-message %q: %v", out, err)
				}
			} else if out != nil {
				t.Fatalf("%s success carried data %q", mech, out)
			}
			return x.Username(), nil
		}
		if _, resp, err = c.Step(out); err != nil {
			t.Fatalf("client step: %v", err)
		}
	}
	t.Fatal("exchange did not finish")
	return "", nil
}

// wantCondition fails t unless err is a *auth.Failure with condition cond.
func wantCondition(t testing.TB, err error, cond string) {
	t.Helper()
	var f *auth.Failure
	if !errors.As(err, &f) {
		t.Fatalf("error %v (%T) is not a *auth.Failure with %q", err, err, cond)
	}
	if f.Condition != cond {
		t.Fatalf("condition %q (%v), want %q", f.Condition, err, cond)
	}
}

var secure = &auth.Request{Host: "localhost", Secure: true}
