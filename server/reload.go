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
	// certs is the TLS configuration handshakes use when certificates
	// come from the config files; Reload swaps it.
	certs atomic.Pointer[tls.Config]
	// applied is the configuration last applied by Reload (nil: the one
	// the server was built from).
	applied atomic.Pointer[config.Config]
}

// ErrReloadRefused is wrapped by the errors of a Reload that applied
// nothing: the server keeps its running configuration.
var ErrReloadRefused = errors.New("server: reload refused, the running configuration stays in effect")

// Reloader is implemented by modules and components that re-read their
// options when the configuration is reloaded, as Prosody modules do on its
// "config-reloaded" event. Reload calls it for every module some host
// loaded and every component built from the configuration. An error is
// reported by Reload; the rest of the reload still applies.
type Reloader interface {
	Reload(ctx context.Context, cfg *config.Config) error
}

// liveOption reports whether Reload applies the option itself. "log" is
// applied by the embedder, which owns the logger (cmd/parley rebuilds it).
func liveOption(name string) bool {
	switch name {
	case OptMaxConnectionsPerIP, OptConnectionLimitExempt, "limits", "ssl", "certificates", "log":
		return true
	}
	return false
}

// Reload applies cfg to the running server, as Prosody's reload does on
// SIGHUP, without closing any session:
//
//   - parley_max_connections_per_ip and parley_connection_limit_exempt
//     apply to the next connection;
//   - mod_limits' limits.c2s applies to connections made afterwards;
//   - certificates (ssl, certificates, and the files themselves, so a
//     renewed certificate is picked up) are presented by the next TLS
//     handshake;
//   - modules and components implementing Reloader re-read their options.
//
// Adding, removing or retyping a VirtualHost or Component is refused: the
// error names the section and the old configuration stays in effect. So
// are invalid values of the options above, and certificates that fail to
// load (the old ones stay). Other changed options are logged as taking
// effect at the next restart; Config keeps returning the configuration
// the server was built from.
func (srv *Server) Reload(ctx context.Context, cfg *config.Config) error {
	if cfg == nil {
		return fmt.Errorf("%w: no configuration", ErrReloadRefused)
	}
	if err := srv.ctx.Err(); err != nil {
		return fmt.Errorf("%w: the server has stopped (%w)", ErrReloadRefused, err)
	}
	srv.hot.reload.Lock()
	defer srv.hot.reload.Unlock()
	old := srv.hot.applied.Load()
	if old == nil {
		old = srv.cfg
	}
	if err := sameSections(old, cfg); err != nil {
		return fmt.Errorf("%w: %w", ErrReloadRefused, err)
	}
	rate, err := readC2SRate(cfg)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrReloadRefused, err)
	}
	conns, err := readConnLimits(sectionView{cfg: cfg})
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

	srv.hot.c2sRate.Store(rate)
	srv.hot.conns.apply(conns)
	if certs != nil {
		srv.hot.certs.Store(certs)
	}
	srv.hot.applied.Store(cfg)
	for _, ch := range changedOptions(old, cfg) {
		if !liveOption(ch.name) {
			srv.log.Info("option changed: parley applies it at the next restart unless a module re-reads it",
				"option", ch.name, "section", ch.section, "pos", ch.pos)
		}
	}
	var errs []error
	for _, r := range srv.reloaders() {
		if err := r.Reload(ctx, cfg); err != nil {
			errs = append(errs, fmt.Errorf("server: reload: %w", err))
		}
	}
	srv.log.Info("configuration reloaded", "path", cfg.Path, "max_connections_per_ip", conns.max,
		"certificates_reloaded", certs != nil)
	return errors.Join(errs...)
}

// reloaders returns the loaded modules and configured components that
// implement Reloader, each once.
func (srv *Server) reloaders() []Reloader {
	var out []Reloader
	seen := map[string]bool{}
	for _, h := range srv.Hosts() {
		for _, name := range srv.cfg.Modules(h.Config) {
			m, ok := srv.opts.modules[name]
			if r, isR := m.(Reloader); ok && isR && !seen[name] {
				seen[name] = true
				out = append(out, r)
			}
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
		if r, ok := e.impl.(Reloader); ok {
			out = append(out, r)
		}
		e.mu.RUnlock()
	}
	srv.mu.RUnlock()
	return out
}

// sameSections checks that cfg has the VirtualHosts and Components of old,
// with the same component types.
func sameSections(old, cfg *config.Config) error {
	for _, h := range cfg.Hosts {
		if old.Host(h.Name) == nil {
			return fmt.Errorf("%s: VirtualHost %q was added; adding hosts needs a restart", h.Pos, h.Name)
		}
	}
	for _, h := range old.Hosts {
		if cfg.Host(h.Name) == nil {
			return fmt.Errorf("%s: VirtualHost %q was removed; removing hosts needs a restart", cfg.Path, h.Name)
		}
	}
	for _, c := range cfg.Components {
		o := old.Component(c.Name)
		if o == nil {
			return fmt.Errorf("%s: Component %q was added; adding components needs a restart", c.Pos, c.Name)
		}
		if o.External() != c.External() || (!o.External() && o.Type != c.Type) {
			return fmt.Errorf("%s: Component %q changed type from %q to %q; that needs a restart", c.Pos, c.Name, o.Type, c.Type)
		}
	}
	for _, c := range old.Components {
		if cfg.Component(c.Name) == nil {
			return fmt.Errorf("%s: Component %q was removed; removing components needs a restart", cfg.Path, c.Name)
		}
	}
	return nil
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
