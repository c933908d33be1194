package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	gjwt "github.com/golang-jwt/jwt/v5"

	"github.com/parley-xmpp/parley/auth/jwt"
	"github.com/parley-xmpp/parley/config"
)

const tokenUsage = `Usage: parley [-c FILE] token [flags]

Prints a Jitsi Meet token (JWT) for a VirtualHost with authentication = "token",
signed with the host's app_secret (or with --key for key-server hosts).

Flags:
`

// mintToken is `parley token`: it signs a test token from the config's
// app_id/app_secret (and signature_algorithm) and prints it.
func (c *cli) mintToken(args []string) error {
	fs := flag.NewFlagSet("parley token", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprint(c.stderr, tokenUsage)
		fs.PrintDefaults()
	}
	host := fs.String("host", "", "VirtualHost whose token settings to use (default: the first token host)")
	room := fs.String("room", "*", `room claim: a room name, or "*" for every room`)
	sub := fs.String("sub", "", "sub claim (default: the tenant if given, else the host's domain)")
	tenant := fs.String("tenant", "", "tenant: context.tenant, and the default sub")
	moderator := fs.Bool("moderator", false, "make the user a moderator (context.user.moderator/affiliation and top-level moderator)")
	exp := fs.Duration("exp", time.Hour, "lifetime of the token")
	name := fs.String("name", "", "context.user.name")
	userID := fs.String("user-id", "", "context.user.id")
	email := fs.String("email", "", "context.user.email")
	keyFile := fs.String("key", "", "private key (PEM; RSA, or EC for ES256/ES384) for hosts that verify with a key server")
	kid := fs.String("kid", "", "kid header for --key")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("token: unexpected argument %q", fs.Arg(0))
	}
	if *exp <= 0 {
		return errors.New("token: --exp must be positive")
	}
	cfg, err := c.loadConfig()
	if err != nil {
		return err
	}
	hc, err := tokenHost(cfg, *host)
	if err != nil {
		return err
	}
	jc, err := jwt.ConfigFromOptions(func(key string) (any, bool) {
		o, ok := cfg.Get(hc, key)
		if !ok {
			return nil, false
		}
		return o.Value, true
	})
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	v, err := jwt.NewVerifier(jc)
	if err != nil {
		return fmt.Errorf("token: %s: %w", hc.Name, err)
	}
	eff := v.Config()
	mo := jwt.MintOptions{Algorithm: eff.SignatureAlgorithm, KeyID: *kid}
	rsaMode := eff.ASAPKeyServer != "" || eff.CacheKeysURL != ""
	switch {
	case rsaMode && *keyFile == "":
		return fmt.Errorf("token: %s verifies tokens with public keys; give its private key with --key and --kid", hc.Name)
	case rsaMode:
		pem, err := os.ReadFile(*keyFile)
		if err != nil {
			return fmt.Errorf("token: reading --key: %w", err)
		}
		if *kid == "" {
			return errors.New("token: --kid is required with --key")
		}
		if strings.HasPrefix(eff.SignatureAlgorithm, "ES") {
			mo.Key, err = gjwt.ParseECPrivateKeyFromPEM(pem)
		} else {
			mo.Key, err = gjwt.ParseRSAPrivateKeyFromPEM(pem)
		}
		if err != nil {
			return fmt.Errorf("token: --key %s: %w", *keyFile, err)
		}
	default:
		mo.Key = []byte(eff.AppSecret)
	}
	claims := tokenClaims(eff, hc.Name, tokenRequest{
		room: *room, sub: *sub, tenant: *tenant, moderator: *moderator,
		name: *name, userID: *userID, email: *email,
	}, time.Now(), *exp)
	tok, err := jwt.Mint(claims, mo)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	if !rsaMode {
		// Check the result with the host's own rules before printing it.
		if _, err := v.Verify(context.Background(), tok); err != nil {
			return fmt.Errorf("token: the host would refuse the token: %w", err)
		}
	}
	fmt.Fprintln(c.stdout, tok)
	return nil
}

type tokenRequest struct {
	room, sub, tenant   string
	moderator           bool
	name, userID, email string
}

// tokenHost returns the VirtualHost named name, or the first one with
// authentication = "token".
func tokenHost(cfg *config.Config, name string) (*config.Host, error) {
	if name != "" {
		h := cfg.Host(name)
		if h == nil {
			return nil, fmt.Errorf("token: no VirtualHost %q in the config", name)
		}
		return h, nil
	}
	for _, h := range cfg.Hosts {
		if cfg.String(h, "authentication", "") == "token" {
			return h, nil
		}
	}
	return nil, errors.New(`token: no VirtualHost has authentication = "token"; choose one with --host`)
}

// tokenClaims builds the payload: iss and aud the host accepts, sub, room,
// iat and exp, and a context with the user and tenant.
func tokenClaims(cfg jwt.Config, host string, r tokenRequest, now time.Time, ttl time.Duration) map[string]any {
	iss := cfg.AppID
	for _, i := range cfg.AcceptedIssuers {
		if i != "*" {
			iss = i
			break
		}
	}
	aud := "jitsi"
	for _, a := range cfg.AcceptedAudiences {
		if a != "*" {
			aud = a
			break
		}
	}
	sub := r.sub
	if sub == "" {
		if r.tenant != "" {
			sub = strings.ToLower(r.tenant)
		} else {
			sub = host
		}
	}
	user := map[string]any{}
	if r.userID != "" {
		user["id"] = r.userID
	}
	if r.name != "" {
		user["name"] = r.name
	}
	if r.email != "" {
		user["email"] = r.email
	}
	if r.moderator {
		user["moderator"] = true
		user["affiliation"] = "owner"
	}
	ctx := map[string]any{"user": user}
	if r.tenant != "" {
		ctx["tenant"] = r.tenant
	}
	claims := map[string]any{
		"iss":     iss,
		"aud":     aud,
		"sub":     sub,
		"room":    r.room,
		"iat":     now.Unix(),
		"exp":     now.Add(ttl).Unix(),
		"context": ctx,
	}
	if r.moderator {
		claims["moderator"] = true
	}
	return claims
}
