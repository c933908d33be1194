// Package muctest runs a MUC service without sockets, for hook tests,
// module tests and benchmarks: stanzas are handed to the service's Deliver
// and everything it sends to the users' domain lands in a Sink component.
// The server is built but not started, so the harness also runs inside a
// testing/synctest bubble.
package muctest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/stanza"
)

// Domains of the harness.
const (
	// Domain is the MUC component's domain.
	Domain = "conference.example.test"
	// UserDomain is where the users live (a Sink component).
	UserDomain = "users.example.test"
)

// Harness is a MUC service with a recording user domain.
type Harness struct {
	Server  *server.Server
	Service *muc.Service
	Sink    *Sink
}

// New builds the harness and stops the service in tb.Cleanup. globalCfg
// is the configuration's global part, componentCfg the body of the
// `Component "conference.example.test" "muc"` section.
func New(tb testing.TB, globalCfg, componentCfg string, opts ...muc.Option) *Harness {
	tb.Helper()
	h, err := Open(globalCfg, componentCfg, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := h.Close(); err != nil {
			tb.Errorf("muctest: %v", err)
		}
	})
	return h
}

// Open builds the harness; Close stops it.
func Open(globalCfg, componentCfg string, opts ...muc.Option) (*Harness, error) {
	text := "storage = \"memory\"\n" + globalCfg + "\nComponent \"" + Domain + "\" \"muc\"\n" + componentCfg + "\n"
	cfg, err := config.Parse("muctest.cfg.lua", []byte(text), config.WithEnv(func(string) (string, bool) { return "", false }))
	if err != nil {
		return nil, fmt.Errorf("muctest: config: %w", err)
	}
	srv, err := server.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("muctest: server: %w", err)
	}
	ch := &server.ComponentHost{Name: Domain, Config: cfg.Component(Domain), Server: srv}
	svc, err := muc.New(context.Background(), ch, opts...)
	if err != nil {
		return nil, fmt.Errorf("muctest: service: %w", err)
	}
	sink := &Sink{byJID: map[string][]*stanza.Element{}}
	if err := srv.AddComponent(Domain, svc); err != nil {
		return nil, fmt.Errorf("muctest: %w", err)
	}
	if err := srv.AddComponent(UserDomain, sink); err != nil {
		return nil, fmt.Errorf("muctest: %w", err)
	}
	return &Harness{Server: srv, Service: svc, Sink: sink}, nil
}

// Close stops the service.
func (h *Harness) Close() error {
	if err := h.Service.Stop(context.Background()); err != nil {
		return fmt.Errorf("muctest: stop: %w", err)
	}
	return nil
}

// User returns the full JID of a test user.
func User(name string) string { return name + "@" + UserDomain + "/res" }

// Room returns a room JID.
func Room(name string) string { return name + "@" + Domain }

// Send delivers el from from to to.
func (h *Harness) Send(from, to string, el *stanza.Element) {
	el.Set("from", from).Set("to", to)
	h.Service.Deliver(context.Background(), el)
}

// Join sends a join presence from user to room/nick, with extra children.
func (h *Harness) Join(user, occupantJID string, extra ...*stanza.Element) {
	p := stanza.New(stanza.NSClient, "presence")
	p.Add(stanza.New(muc.NS, "x"))
	p.Add(extra...)
	h.Send(user, occupantJID, p)
}

// Leave sends unavailable presence.
func (h *Harness) Leave(user, occupantJID string) {
	h.Send(user, occupantJID, stanza.New(stanza.NSClient, "presence").Set("type", "unavailable"))
}

// Sink is a component that records the stanzas routed to it.
type Sink struct {
	// CountOnly makes the sink count stanzas without keeping them.
	CountOnly bool
	// Frame makes the sink serialize every stanza, as a session's
	// transport does, so that benchmarks include that cost.
	Frame bool
	// OnDeliver, when set, is called for every stanza (after recording),
	// without the sink's lock held.
	OnDeliver func(el *stanza.Element)

	mu    sync.Mutex
	n     int
	byJID map[string][]*stanza.Element
}

// Deliver implements server.Component.
func (s *Sink) Deliver(_ context.Context, el *stanza.Element) {
	if s.Frame {
		_ = stanza.AppendIn(nil, el, stanza.NSClient)
	}
	s.mu.Lock()
	s.n++
	if !s.CountOnly {
		to := el.Get("to")
		s.byJID[to] = append(s.byJID[to], el)
	}
	s.mu.Unlock()
	if s.OnDeliver != nil {
		s.OnDeliver(el)
	}
}

// Count returns how many stanzas arrived in total.
func (s *Sink) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// Take returns and forgets the stanzas for a full JID, in arrival order.
func (s *Sink) Take(to string) []*stanza.Element {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.byJID[to]
	delete(s.byJID, to)
	return out
}

// Peek returns the stanzas for a full JID without forgetting them.
func (s *Sink) Peek(to string) []*stanza.Element {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.byJID[to])
}

// Reset forgets everything.
func (s *Sink) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byJID = map[string][]*stanza.Element{}
	s.n = 0
}
