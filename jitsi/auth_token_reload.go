package jitsi

import (
	"context"
	"fmt"

	"github.com/parley-xmpp/parley/auth/jwt"
	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/server"
)

// Configuration reload for the token provider, as Jitsi's token util
// re-reads the host's token options on Prosody's "config-reloaded": logins
// after the reload are verified with the new app_id, app_secret,
// asap_key_server, allow_empty_token, enable_domain_verification and the
// other options jwt.ConfigFromOptions reads; sessions that logged in
// before keep their verified claims.

var (
	_ server.Reloader      = (*TokenAuth)(nil)
	_ server.ReloadChecker = (*TokenAuth)(nil)
)

// reloadedVerifier builds the verifier of p's host from cfg; nil, nil when
// cfg no longer has the host (the server deactivates it).
func (p *TokenAuth) reloadedVerifier(cfg *config.Config) (*jwt.Verifier, error) {
	sec := cfg.Host(p.host.Name)
	if sec == nil {
		return nil, nil
	}
	v, err := verifierFromConfig(p.host.Server(), cfg, p.host.Name, p.vopts...)
	if err != nil {
		// The options come from the VirtualHost section (or the global
		// one): name the section's place in the file.
		return nil, fmt.Errorf("%s: jitsi: auth_token reload: %w", sec.Pos, err)
	}
	return v, nil
}

// CheckReload implements server.ReloadChecker: token options of the host
// that do not make a verifier refuse the reload.
func (p *TokenAuth) CheckReload(_ context.Context, cfg *config.Config) error {
	_, err := p.reloadedVerifier(cfg)
	return err
}

// Reload implements server.Reloader: the next token logins use a verifier
// built from cfg.
func (p *TokenAuth) Reload(_ context.Context, cfg *config.Config) error {
	v, err := p.reloadedVerifier(cfg)
	if err != nil || v == nil {
		return err
	}
	p.verifier.Store(v)
	if v.Config().AllowEmptyToken {
		p.log.Warn("WARNING - empty tokens allowed")
	}
	p.log.Info("token configuration reloaded")
	return nil
}
