package jitsi

import (
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/server"
)

var (
	_ server.Reloader      = (*TURNCredentialsModule)(nil)
	_ server.ReloadChecker = (*TURNCredentialsModule)(nil)
)

// turnReload reads the new options of every host the module is loaded
// on; hosts cfg no longer has are skipped (the server removes them).
func (m *TURNCredentialsModule) turnReload(cfg *config.Config, apply bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(m.hosts)) {
		sec := cfg.Host(name)
		if sec == nil {
			continue
		}
		v, err := readTURNValues(cfg, sec)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if apply {
			st := m.hosts[name]
			st.vals.Store(v)
			st.enable()
		}
	}
	return errors.Join(errs...)
}

// CheckReload implements server.ReloadChecker.
func (m *TURNCredentialsModule) CheckReload(_ context.Context, cfg *config.Config) error {
	return m.turnReload(cfg, false)
}

// Reload implements server.Reloader: turncredentials_secret,
// turncredentials_ttl and turncredentials apply to the next request on
// each host, as mod_turncredentials re-reads them on "config-reloaded".
func (m *TURNCredentialsModule) Reload(_ context.Context, cfg *config.Config) error {
	return m.turnReload(cfg, true)
}
