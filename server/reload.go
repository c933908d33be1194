package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/parley-xmpp/parley/config"
)

// liveSettings holds what Reload can replace while the server runs.
type liveSettings struct {
	reload  sync.Mutex // serialises Reload
	conns   connLimiter
	c2sRate atomic.Pointer[rateLimit] // limits.c2s; nil = no throttle
	// inRates are the default inbound byte rates (inlimit.go).
	inRates atomic.Pointer[inRateSettings]
	// certs is the TLS configuration handshakes use when certificates
	// come from the config files; Reload swaps it.
	certs atomic.Pointer[tls.Config]
	// applied is the configuration last applied by Reload (nil: the one
	// the server was built from).
	applied atomic.Pointer[config.Config]

	// Guarded by reload: the modules whose process-wide part is loaded,
	// and the unknown module names already logged.
	serverLoaded, reported map[string]bool
}

// ErrReloadRefused is wrapped by the errors of a Reload that applied
// nothing: the server keeps its running configuration.
var ErrReloadRefused = errors.New("server: reload refused, the running configuration stays in effect")

// Reloader is implemented by modules, authentication providers and
// components that re-read their options when the configuration is
// reloaded, as Prosody modules do on its "config-reloaded" event. Reload
// calls it once per module some running host loads (a module loaded on
// several hosts re-reads the options of each), once per host's provider,
// and once per in-process component, after Server.Config returns cfg.
// Host.Config and ComponentHost.Config keep the sections the host or
// component was built from: look sections up in cfg by name. An error is
// reported by Reload; the rest of the reload still applies (use
// ReloadChecker to refuse a reload before anything changes).
type Reloader interface {
	Reload(ctx context.Context, cfg *config.Config) error
}

// ReloadChecker is implemented by modules and components that can tell,
// before anything changes, that their options in a new configuration do
// not decode. Reload calls CheckReload on every loaded module and
// configured component first; an error (which should carry the option's
// file:line) refuses the whole reload.
type ReloadChecker interface {
	CheckReload(ctx context.Context, cfg *config.Config) error
}

// liveOption reports whether Reload applies the option itself. "log" is
// applied by the embedder, which owns the logger (cmd/parley rebuilds it).
func liveOption(name string) bool {
	switch name {
	case OptMaxConnectionsPerIP, OptConnectionLimitExempt, OptSessionRate, OptIPRate, "limits", "ssl", "certificates", "log":
		return true
	}
	return false
}

// Reload applies cfg to the running server, as Prosody's reload does on
// SIGHUP, without closing the sessions of the hosts that stay:
//
//   - parley_max_connections_per_ip and parley_connection_limit_exempt
//     apply to the next connection;
//   - mod_limits' limits.c2s, parley_session_rate and parley_ip_rate
//     apply to connections made afterwards;
//   - certificates (ssl, certificates, and the files themselves, so a
//     renewed certificate is picked up) are presented by the next TLS
//     handshake;
//   - a VirtualHost that appeared (or was enabled) is activated: its
//     authentication provider is built, its modules load, and it accepts
//     streams and is routed to once that is done; one that disappeared
//     (or was disabled) is deactivated: its sessions end with a host-gone
//     stream error and new streams to it are refused (host-unknown);
//   - an in-process Component that appeared is built and routed to; one
//     that disappeared is stopped (a MUC removes its occupants), an
//     external one that disappeared is disconnected with host-gone;
//   - Config returns cfg, so modules that look options up when they need
//     them see the new values, and the modules, authentication providers
//     and components that implement Reloader re-read their options;
//   - sessions of accounts deleted or disabled since (by another process,
//     such as `parley deluser` on this server's store) are closed with
//     not-authorized (RecheckAccounts).
//
// Reload first checks everything it can: invalid values of the options
// above, certificates that fail to load, a new VirtualHost that cannot be
// built (unknown authentication provider, bad password_hash), options a
// ReloadChecker rejects, a Component whose type changed, an external
// Component that was added, a section that switched between VirtualHost
// and Component. Any of these refuses the whole reload (the error wraps
// ErrReloadRefused and names the file:line) and the running configuration
// stays in effect. Errors found while applying (a module that fails to
// load on a new host, which is then left out; a Reloader's error) are
// returned after the rest was applied. Other changed options (listener
// ports, storage, ...) are logged as taking effect at the next restart.
func (srv *Server) Reload(ctx context.Context, cfg *config.Config) error {
	if cfg == nil {
		return fmt.Errorf("%w: no configuration", ErrReloadRefused)
	}
	if err := srv.ctx.Err(); err != nil {
		return fmt.Errorf("%w: the server has stopped (%w)", ErrReloadRefused, err)
	}
	srv.hot.reload.Lock()
	defer srv.hot.reload.Unlock()
	old := srv.Config()
	limits, err := readLiveLimits(cfg)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrReloadRefused, err)
	}
	var certs *tls.Config
	switch {
	case srv.opts.tlsConfig != nil:
		// The embedder's TLS configuration is not the config file's.
	case srv.tlsConfig == nil:
		if c, _ := srv.loadCertificates(cfg); len(c) > 0 {
			srv.log.Warn("certificates appeared in the configuration; TLS needs a restart to be enabled")
		}
	default:
		c, err := srv.loadCertificates(cfg)
		if err != nil {
			return fmt.Errorf("%w: certificates unchanged: %w", ErrReloadRefused, err)
		}
		if len(c) == 0 {
			return fmt.Errorf("%w: the new configuration has no certificate; the old ones stay", ErrReloadRefused)
		}
		certs = certConfig(c)
	}
	sections, err := srv.planSections(old, cfg)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrReloadRefused, err)
	}
	var errs []error
	for _, r := range srv.reloadables(old) {
		if c, ok := r.(ReloadChecker); ok {
			if err := c.CheckReload(ctx, cfg); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrReloadRefused, err)
	}

	srv.applyLiveLimits(limits)
	if certs != nil {
		srv.hot.certs.Store(certs)
	}
	srv.hot.applied.Store(cfg)
	srv.dropSections(ctx, sections)
	// What stays re-reads its options; what is added is built from cfg.
	existing := srv.reloadables(cfg)
	if err := srv.addSections(ctx, sections, cfg); err != nil {
		errs = append(errs, err)
	}
	for _, ch := range changedOptions(old, cfg) {
		if !liveOption(ch.name) {
			srv.log.Info("option changed: parley applies it at the next restart unless a module re-reads it",
				"option", ch.name, "section", ch.section, "pos", ch.pos)
		}
	}
	for _, r := range existing {
		if rl, ok := r.(Reloader); ok {
			if err := rl.Reload(ctx, cfg); err != nil {
				errs = append(errs, fmt.Errorf("server: reload: %w", err))
			}
		}
	}
	// Accounts deleted or disabled by another process (the command line
	// on the store of this server) lose their sessions now.
	if n, err := srv.RecheckAccounts(ctx); err != nil {
		srv.log.Warn("reload: rechecking accounts", "err", err, "sessions_closed", n)
	} else if n > 0 {
		srv.log.Info("reload: closed the sessions of deleted or disabled accounts", "sessions_closed", n)
	}
	srv.log.Info("configuration reloaded", "path", cfg.Path, "max_connections_per_ip", limits.conns.max,
		"certificates_reloaded", certs != nil, "hosts_added", len(sections.addHosts),
		"hosts_removed", len(sections.dropHosts), "components_added", len(sections.addComps),
		"components_removed", len(sections.dropComps))
	return errors.Join(errs...)
}

// reloadables returns what may implement Reloader or ReloadChecker, each
// once: the modules the running hosts load (by cfg's modules_enabled), the
// hosts' authentication providers, and the in-process components.
func (srv *Server) reloadables(cfg *config.Config) []any {
	var out []any
	seen := map[string]bool{}
	for _, h := range srv.Hosts() {
		// Host.Config keeps the section the host was built from; the
		// modules cfg enables are those of its section in cfg.
		sec := cfg.Host(h.Name)
		if sec == nil {
			sec = h.Config
		}
		for _, name := range cfg.Modules(sec) {
			if m, ok := srv.opts.modules[name]; ok && !seen[name] {
				seen[name] = true
				out = append(out, m)
			}
		}
		if h.Auth != nil {
			out = append(out, h.Auth)
		}
	}
	srv.mu.RLock()
	names := make([]string, 0, len(srv.components))
	for name := range srv.components {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		e := srv.components[name]
		e.mu.RLock()
		if _, ext := e.impl.(*externalComponent); e.impl != nil && !ext {
			out = append(out, e.impl)
		}
		e.mu.RUnlock()
	}
	srv.mu.RUnlock()
	return out
}

// optionChange is one option whose value differs between two
// configurations.
type optionChange struct {
	section string // "" for the global section
	name    string
	pos     string // where the new value was set, or "" when it was removed
}

// changedOptions lists the options whose values differ, by section then
// name.
func changedOptions(old, cfg *config.Config) []optionChange {
	var out []optionChange
	diff := func(section string, a, b config.Options) {
		names := map[string]bool{}
		for k := range a {
			names[k] = true
		}
		for k := range b {
			names[k] = true
		}
		keys := make([]string, 0, len(names))
		for k := range names {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			oa, ob := a[k], b[k]
			switch {
			case oa == nil && ob == nil:
			case oa == nil || ob == nil:
				pos := ""
				if ob != nil {
					pos = ob.Pos.String()
				}
				out = append(out, optionChange{section, k, pos})
			case !reflect.DeepEqual(oa.Value, ob.Value):
				out = append(out, optionChange{section, k, ob.Pos.String()})
			}
		}
	}
	diff("", old.Global, cfg.Global)
	for _, h := range cfg.Hosts {
		if oh := old.Host(h.Name); oh != nil {
			diff(h.Name, oh.Options, h.Options)
		}
	}
	for _, c := range cfg.Components {
		if oc := old.Component(c.Name); oc != nil {
			diff(c.Name, oc.Options, c.Options)
		}
	}
	return out
}
