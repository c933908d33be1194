package scenario

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-xmpp/parley/cmd/parley-load/internal/metrics"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/xclient"
)

// runLogin opens Sessions (default 2,000) sessions, Concurrency (default
// 50) at a time, each closed as soon as it is bound; the mechanism is
// Params.Mechanism (default SCRAM-SHA-1; ANONYMOUS logs in to the
// anonymous host). SCRAM's salted passwords are computed once per account
// in a warm-up, so the timed part measures the server.
func runLogin(ctx context.Context, r *Run) error {
	mech := orStr(r.Params.Mechanism, xclient.ScramSHA1)
	kind := "user"
	if mech == xclient.Anonymous {
		kind = "anon"
	}
	return loginLoop(ctx, r, mech, kind, nil)
}

// runTokens is runLogin with a fresh HS256 token per session in the URL
// (WebSocket by default) and SASL ANONYMOUS, as Jitsi Meet logs in.
func runTokens(ctx context.Context, r *Run) error {
	if r.Params.TokenSecret == "" {
		r.Result.Skipped = "no token secret given (-token-secret); the target needs token authentication"
		return nil
	}
	if r.Params.Transport == "" {
		r.Params.Transport = xclient.WebSocket
	}
	iss := orStr(r.Params.TokenIssuer, "parley-load")
	aud := orStr(r.Params.TokenAudience, iss)
	sub := orStr(r.Target.TokenDomain, r.Target.AnonDomain)
	key := r.Params.TokenSecret
	mint := func(i int) (string, error) { return MintToken(key, iss, aud, sub, i) }
	r.Set("issuer", iss)
	r.Set("audience", aud)
	return loginLoop(ctx, r, xclient.Anonymous, "token", mint)
}

func loginLoop(ctx context.Context, r *Run, mech, kind string, mint func(int) (string, error)) error {
	n := orInt(r.Params.Sessions, r.Params.scaled(2000))
	conc := orInt(r.Params.Concurrency, 50)
	transports := r.transports(xclient.TCP)
	r.Set("sessions", n)
	r.Set("concurrency", conc)
	r.Set("mechanism", mech)
	r.Set("transport", transports)
	r.Set("sm", r.Params.sm(false))
	r.Params.SM = boolPtr(r.Params.sm(false))
	cfg := func(i int) (xclient.Config, error) {
		c := r.config(i, transports[i%len(transports)], kind)
		c.Mechanism = mech
		if mint != nil {
			tok, err := mint(i)
			if err != nil {
				return c, fmt.Errorf("scenario: signing token: %w", err)
			}
			c.Token = tok
		}
		return c, nil
	}
	if kind == "user" && (mech == xclient.ScramSHA1 || mech == xclient.ScramSHA256) {
		// Warm the client's salted-password cache: one login per account.
		warm := min(r.Target.Users, n)
		r.openSessions(ctx, warm, conc, func(i int) xclient.Config {
			c, _ := cfg(i)
			return c
		}, func(_ int, s *xclient.Session) { _ = s.Close() }, nil)
		r.Phase("warm-up")
		if r.Errors() > 0 {
			return errors.New("scenario: warm-up logins failed")
		}
	}
	var setup metrics.Histogram
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range min(conc, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := cfg(i)
				if err != nil {
					r.Error(err)
					continue
				}
				octx, cancel := context.WithTimeout(ctx, 60*time.Second)
				s, err := xclient.Open(octx, c, r.Shared)
				cancel()
				if err != nil {
					r.Error(fmt.Errorf("login %d: %w", i, err))
					continue
				}
				setup.Record(s.Setup)
				_ = s.Close()
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	r.Phase("logins")
	r.Result.Sessions = int(setup.Count())
	r.Result.Setup = summary(&setup)
	r.Result.SetupRate = float64(setup.Count()) / wall.Seconds()
	return nil
}

func boolPtr(b bool) *bool { return &b }

// MintToken signs a Jitsi Meet style HS256 token for user i: issuer iss
// (Jitsi's app_id), audience aud, subject sub (the tenant or domain),
// any room, valid for an hour.
func MintToken(secret, iss, aud, sub string, i int) (string, error) {
	now := time.Now()
	claims := jwt.MapClaims{
		"iss":  iss,
		"aud":  aud,
		"sub":  sub,
		"room": "*",
		"iat":  now.Unix(),
		"nbf":  now.Add(-time.Minute).Unix(),
		"exp":  now.Add(time.Hour).Unix(),
		"context": map[string]any{
			"user": map[string]any{"id": fmt.Sprintf("load-%d", i), "name": fmt.Sprintf("Load %d", i)},
		},
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("scenario: signing a token: %w", err)
	}
	return tok, nil
}
