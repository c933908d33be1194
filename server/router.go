package server

import (
	"context"
	"sync"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stream"
)

// Router finds the sessions for an address. A later multi-node engine
// replaces the in-memory one; everything else goes through this interface.
type Router interface {
	// Bind registers s as the session for its full JID and returns the
	// session it replaced, if any.
	Bind(full, bare string, s *Session) (replaced *Session)
	// Unbind removes s if it is still the session for full.
	Unbind(full, bare string, s *Session)
	// Session returns the session bound to a full JID, or nil.
	Session(full string) *Session
	// Sessions returns every session of a bare JID.
	Sessions(bare string) []*Session
	// Count returns the number of bound sessions.
	Count() int
}

// memoryRouter is the single-process Router.
type memoryRouter struct {
	mu   sync.RWMutex
	full map[string]*Session
	bare map[string][]*Session
}

func newMemoryRouter() *memoryRouter {
	return &memoryRouter{full: map[string]*Session{}, bare: map[string][]*Session{}}
}

func (r *memoryRouter) Bind(full, bare string, s *Session) *Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.full[full]
	r.full[full] = s
	list := r.bare[bare]
	out := make([]*Session, 0, len(list)+1)
	for _, o := range list {
		if o != old {
			out = append(out, o)
		}
	}
	r.bare[bare] = append(out, s)
	return old
}

func (r *memoryRouter) Unbind(full, bare string, s *Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.full[full] == s {
		delete(r.full, full)
	}
	list := r.bare[bare]
	out := make([]*Session, 0, len(list))
	for _, o := range list {
		if o != s {
			out = append(out, o)
		}
	}
	if len(out) == 0 {
		delete(r.bare, bare)
	} else {
		r.bare[bare] = out
	}
}

func (r *memoryRouter) Session(full string) *Session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.full[full]
}

func (r *memoryRouter) Sessions(bare string) []*Session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]*Session(nil), r.bare[bare]...)
}

func (r *memoryRouter) Count() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.full)
}

// bind makes full the session's address; an existing session with the same
// full JID is closed with a conflict stream error, as Prosody's default
// conflict resolution ("kick_old") does.
func (srv *Server) bind(ctx context.Context, s *Session, full jid.JID) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errCloseQuietly
	}
	s.full = full
	s.bare = full.Bare().String()
	s.mu.Unlock()
	if old := srv.router.Bind(full.String(), s.bare, s); old != nil && old != s {
		old.logger().Info("resource conflict: replaced by a new session")
		old.Close(CloseReplaced, streamErr(stream.Conflict, "replaced by a new connection"))
	}
	srv.metrics.sessions.Inc()
	s.boundKind = s.t.Kind()
	srv.metrics.byTransport.WithLabelValues(s.boundKind).Inc()
	s.setLogger(s.logger().With("jid", full.String()))
	if err := s.host.Events.ResourceBound.Fire(ctx, &SessionEvent{Session: s}); err != nil && !isStop(err) {
		s.logger().Error("resource-bind hook failed", "err", err)
	}
	return nil
}

// unbind removes a closing session from the router and tells the world it
// went offline.
func (srv *Server) unbind(s *Session) {
	s.mu.Lock()
	bare := s.bare
	full := s.full
	s.mu.Unlock()
	if bare == "" {
		return
	}
	srv.router.Unbind(full.String(), bare, s)
	srv.metrics.sessions.Dec()
	srv.metrics.byTransport.WithLabelValues(s.boundKind).Dec()
	ctx := srv.ctx
	srv.presenceGone(ctx, s)
	if err := s.host.Events.SessionClosed.Fire(ctx, &SessionEvent{Session: s}); err != nil && !isStop(err) {
		s.logger().Error("resource-unbind hook failed", "err", err)
	}
}
