package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"mellium.im/xmpp/stream"

	"github.com/parley-xmpp/parley/auth"
	"github.com/parley-xmpp/parley/config"
)

// CloseHostGone is the close reason of the sessions of a VirtualHost that
// a reload removed; they get a host-gone stream error, as Prosody's
// hostmanager.deactivate sends.
const CloseHostGone CloseReason = "host_gone"

// sectionChanges are the VirtualHosts and Components a reload adds and
// removes.
type sectionChanges struct {
	addHosts  []*Host             // built, not yet reachable nor with modules
	dropHosts []string            // running hosts the new configuration lacks or disables
	addComps  []*config.Component // in-process components to build
	dropComps []string
}

// planSections compares the running hosts and the components of old with
// cfg, and builds the hosts cfg adds (authentication provider and all),
// so that a host that cannot be built refuses the reload before anything
// changed. Retyping a component and adding an external one are refused:
// they need a restart.
func (srv *Server) planSections(old, cfg *config.Config) (sectionChanges, error) {
	var ch sectionChanges
	running := map[string]bool{}
	for _, h := range srv.Hosts() {
		running[h.Name] = true
	}
	wanted := map[string]bool{}
	for _, hc := range cfg.Hosts {
		if !(sectionView{cfg: cfg, sec: hc}).boolean("enabled", true) {
			continue
		}
		wanted[hc.Name] = true
		if running[hc.Name] {
			continue
		}
		if old.Component(hc.Name) != nil && cfg.Component(hc.Name) == nil {
			return ch, fmt.Errorf("%s: VirtualHost %q was a Component; that needs a restart", hc.Pos, hc.Name)
		}
		h, err := srv.newHost(cfg, hc)
		if err != nil {
			return ch, fmt.Errorf("VirtualHost %q: %w", hc.Name, err)
		}
		ch.addHosts = append(ch.addHosts, h)
	}
	for _, h := range srv.Hosts() {
		if !wanted[h.Name] {
			ch.dropHosts = append(ch.dropHosts, h.Name)
		}
	}
	for _, c := range cfg.Components {
		o := old.Component(c.Name)
		switch {
		case o == nil && running[c.Name]:
			return ch, fmt.Errorf("%s: Component %q was a VirtualHost; that needs a restart", c.Pos, c.Name)
		case o == nil && c.External():
			return ch, fmt.Errorf("%s: Component %q was added; adding external components needs a restart", c.Pos, c.Name)
		case o == nil:
			ch.addComps = append(ch.addComps, c)
		case o.External() != c.External() || (!o.External() && o.Type != c.Type):
			return ch, fmt.Errorf("%s: Component %q changed type from %q to %q; that needs a restart", c.Pos, c.Name, o.Type, c.Type)
		}
	}
	for _, o := range old.Components {
		if cfg.Component(o.Name) == nil {
			ch.dropComps = append(ch.dropComps, o.Name)
		}
	}
	return ch, nil
}

// dropSections deactivates the components and hosts ch removes.
func (srv *Server) dropSections(ctx context.Context, ch sectionChanges) {
	for _, name := range ch.dropComps {
		srv.deactivateComponent(ctx, name)
	}
	for _, name := range ch.dropHosts {
		srv.deactivateHost(name)
	}
}

// addSections activates the hosts, then builds the components, ch adds.
// A host whose modules fail to load, or a component that cannot be built,
// is left out and reported; the others are added.
func (srv *Server) addSections(ctx context.Context, ch sectionChanges, cfg *config.Config) error {
	var errs []error
	for _, h := range ch.addHosts {
		if err := srv.activateHost(ctx, cfg, h); err != nil {
			errs = append(errs, err)
		}
	}
	for _, cc := range ch.addComps {
		if err := srv.startComponent(ctx, cc); err != nil {
			errs = append(errs, fmt.Errorf("server: reload: %w", err))
			continue
		}
		srv.mu.Lock()
		srv.compTypes[cc.Name] = cc.Type
		srv.mu.Unlock()
		srv.log.Info("activated component", "component", cc.Name, "type", cc.Type, "pos", cc.Pos.String())
	}
	return errors.Join(errs...)
}

// activateHost loads h's modules, then makes it reachable: stream headers
// to it are accepted and stanzas to it routed from then on.
func (srv *Server) activateHost(ctx context.Context, cfg *config.Config, h *Host) error {
	if err := srv.loadHostModules(ctx, cfg, h); err != nil {
		return fmt.Errorf("server: reload: %s: VirtualHost %q left out: %w", h.Config.Pos, h.Name, err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if _, taken := srv.components[h.Name]; taken {
		return fmt.Errorf("server: reload: %s: VirtualHost %q: %w", h.Config.Pos, h.Name, errComponentExists)
	}
	srv.hosts[h.Name] = h
	srv.hostOrder = append(srv.hostOrder, h)
	srv.log.Info("activated host", "host", h.Name, "pos", h.Config.Pos.String())
	return nil
}

// deactivateHost makes the host unreachable and closes its sessions with
// a host-gone stream error, as Prosody's hostmanager.deactivate does.
// Streams still negotiating with it cannot complete a login or a bind.
func (srv *Server) deactivateHost(name string) {
	srv.mu.Lock()
	h := srv.hosts[name]
	if h == nil {
		srv.mu.Unlock()
		return
	}
	delete(srv.hosts, name)
	srv.hostOrder = slices.DeleteFunc(slices.Clone(srv.hostOrder), func(o *Host) bool { return o == h })
	srv.mu.Unlock()

	gone := streamErr(stream.HostGone, "this server has stopped serving "+name)
	// Streams that authenticate or bind from now on end at once; the
	// scan below finds every session bound before.
	h.Events.Authenticated.On(math.MaxInt, "hostmanager", func(_ context.Context, ev *AuthEvent) error {
		ev.Session.Close(CloseHostGone, gone)
		return &auth.Failure{Condition: auth.CondNotAuthorized, Text: "the host is gone"}
	})
	h.Events.ResourceBound.On(math.MaxInt, "hostmanager", func(_ context.Context, ev *SessionEvent) error {
		ev.Session.Close(CloseHostGone, gone)
		return nil
	})
	var closing []*Session
	for _, s := range srv.liveSessions() {
		if s.JID().Domainpart() == name {
			closing = append(closing, s)
		}
	}
	for _, s := range closing {
		s.Close(CloseHostGone, gone)
	}
	srv.log.Info("deactivated host", "host", name, "sessions_closed", len(closing))
}

// deactivateComponent stops routing to a component: an in-process one is
// stopped (a MUC removes its occupants), an external one is disconnected
// with a host-gone stream error and can no longer authenticate.
func (srv *Server) deactivateComponent(ctx context.Context, name string) {
	srv.mu.Lock()
	e := srv.components[name]
	delete(srv.components, name)
	delete(srv.compTypes, name)
	srv.mu.Unlock()
	if e == nil {
		return
	}
	e.mu.Lock()
	impl := e.impl
	e.impl = nil
	e.mu.Unlock()
	switch c := impl.(type) {
	case *externalComponent:
		c.close(streamErr(stream.HostGone, "this server has stopped serving "+name), false)
	case Stopper:
		srv.lmu.Lock()
		srv.stoppers = slices.DeleteFunc(srv.stoppers, func(o Stopper) bool { return o == c })
		srv.lmu.Unlock()
		if err := c.Stop(ctx); err != nil {
			srv.log.Warn("removed component did not stop cleanly", "component", name, "err", err)
		}
	}
	srv.log.Info("deactivated component", "component", name)
}
