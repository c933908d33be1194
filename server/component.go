package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/server/stanza"
)

// Component is an in-process component (MUC, Jitsi's focus and helpers):
// it receives every stanza addressed to its domain or a JID under it, and
// sends with Server.Route.
type Component interface {
	// Deliver handles one stanza. It runs on the sender's goroutine and
	// must not block for long; the component owns el afterwards.
	Deliver(ctx context.Context, el *stanza.Element)
}

// ComponentHost is what a component factory gets: its domain, its config
// section, and the server.
type ComponentHost struct {
	Name   string
	Config *config.Component
	Server *Server
}

// ParentHost returns the VirtualHost the component is a subdomain of (the
// host features_identity adds identities to), or nil.
func (c *ComponentHost) ParentHost() *Host {
	name := c.Name
	for {
		i := strings.IndexByte(name, '.')
		if i < 0 {
			return nil
		}
		name = name[i+1:]
		if h := c.Server.vhost(name); h != nil {
			return h
		}
	}
}

// ComponentFactory builds the component of one `Component "domain" "type"`
// section.
type ComponentFactory func(ctx context.Context, ch *ComponentHost) (Component, error)

// componentEntry is one routable component domain.
type componentEntry struct {
	name string
	mu   sync.RWMutex
	impl Component // nil while an external component is disconnected
	srv  *Server
}

func (c *componentEntry) deliver(ctx context.Context, el *stanza.Element) {
	c.mu.RLock()
	impl := c.impl
	c.mu.RUnlock()
	if impl == nil {
		c.srv.bounce(ctx, el, "wait", "service-unavailable", "the component is not connected")
		return
	}
	impl.Deliver(ctx, el)
}

func (c *componentEntry) attach(impl Component) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.impl != nil {
		return false
	}
	c.impl = impl
	return true
}

func (c *componentEntry) detach(impl Component) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.impl == impl {
		c.impl = nil
	}
}

// errComponentExists is returned when a domain is already served.
var errComponentExists = errors.New("server: domain already served")

// AddComponent serves domain with an in-process component, for embedders
// and tests; config-file components are created by New.
func (srv *Server) AddComponent(domain string, c Component) error {
	if err := srv.addComponent(domain, c); err != nil {
		return err
	}
	srv.notifyComponent(domain, c)
	return nil
}

func (srv *Server) addComponent(domain string, c Component) error {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if _, ok := srv.hosts[domain]; ok {
		return fmt.Errorf("server: add component %s: %w", domain, errComponentExists)
	}
	if e, ok := srv.components[domain]; ok {
		if !e.attach(c) {
			return fmt.Errorf("server: add component %s: %w", domain, errComponentExists)
		}
		return nil
	}
	srv.components[domain] = &componentEntry{name: domain, impl: c, srv: srv}
	return nil
}

// WhenComponent calls f with the in-process component serving domain: at
// once if it is already there, otherwise as soon as it is added. It is
// Prosody's process_host_module for components: host modules load before
// the components of the config, so a module that hooks into a MUC
// component (lobby, breakout rooms) waits for it this way. f runs on the
// goroutine that adds the component, without server locks held.
func (srv *Server) WhenComponent(domain string, f func(Component)) {
	srv.mu.Lock()
	if e, ok := srv.components[domain]; ok {
		e.mu.RLock()
		impl := e.impl
		e.mu.RUnlock()
		if _, ext := impl.(*externalComponent); impl != nil && !ext {
			srv.mu.Unlock()
			f(impl)
			return
		}
	}
	if srv.componentWaiters == nil {
		srv.componentWaiters = map[string][]func(Component){}
	}
	srv.componentWaiters[domain] = append(srv.componentWaiters[domain], f)
	srv.mu.Unlock()
}

// notifyComponent runs the WhenComponent callbacks waiting for domain.
func (srv *Server) notifyComponent(domain string, c Component) {
	srv.mu.Lock()
	waiters := srv.componentWaiters[domain]
	delete(srv.componentWaiters, domain)
	srv.mu.Unlock()
	for _, f := range waiters {
		f(c)
	}
}

// reportMissingComponents logs the components modules waited for that the
// configuration never created.
func (srv *Server) reportMissingComponents() {
	srv.mu.Lock()
	domains := make([]string, 0, len(srv.componentWaiters))
	for d := range srv.componentWaiters {
		domains = append(domains, d)
	}
	srv.mu.Unlock()
	sort.Strings(domains)
	for _, d := range domains {
		srv.log.Warn("a module needs a component that is not configured", "component", d)
	}
}

func (srv *Server) component(domain string) *componentEntry {
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	return srv.components[domain]
}

func (srv *Server) componentDomains() []string {
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	out := make([]string, 0, len(srv.components))
	for d := range srv.components {
		out = append(out, d)
	}
	sort.Strings(out)
	return slices.Clip(out)
}

// Component returns the in-process component serving domain, or nil (no
// such component, or an external one, connected or not).
func (srv *Server) Component(domain string) Component {
	e := srv.component(domain)
	if e == nil {
		return nil
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if _, ext := e.impl.(*externalComponent); ext {
		return nil
	}
	return e.impl
}
