package muc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/server"
)

// Reloading the configuration (SIGHUP, Prosody's "config-reloaded"): the
// service re-reads its component options. They apply to what happens
// afterwards: rooms created after the reload get the new muc_room_default_*
// configuration and restrict_room_creation, admins and
// component_admins_as_room_owners are checked with the new values, the new
// max_history_messages caps every room's history, and muc_room_locking and
// muc_tombstones apply to rooms created or destroyed afterwards. Rooms that
// exist keep their own configuration. muc_occupant_id needs a restart (it
// decides which handlers stamp presences at load).

var (
	_ server.Reloader      = (*Service)(nil)
	_ server.ReloadChecker = (*Service)(nil)
)

// mucLive holds the component options Reload replaces. The current ones
// are read without a lock on every request.
type mucLive struct {
	p atomic.Pointer[liveSettings]

	mu sync.Mutex // serialises Reload and guards the fields below
	// lockHooked and tombHooked record whether the room-lock and tombstone
	// handlers are on their chains (registerBuiltins puts them there only
	// when the option is on at load).
	lockHooked, tombHooked bool
	reloaders              []ReloadFunc
}

// liveSettings is one generation of the component's options.
type liveSettings struct {
	settings
	// admins are the bare JIDs of the component's admins (its own admins
	// option, or the global one).
	admins map[string]bool
	conf   *config.Config
	sec    *config.Component
}

// ReloadFunc re-reads a MUC module's options after a configuration reload;
// Service.Option already returns the new values when it runs.
type ReloadFunc func(ctx context.Context) error

// store makes st the current options; at load it also records which
// optional handlers registerBuiltins is about to register.
func (l *mucLive) store(cfg *config.Config, sec *config.Component, st settings, admins map[string]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.p.Load() == nil {
		l.lockHooked, l.tombHooked = st.locking, st.tombstones
	}
	l.p.Store(&liveSettings{settings: st, admins: admins, conf: cfg, sec: sec})
}

// cfg returns the component options in effect.
func (s *Service) cfg() *liveSettings { return s.live.p.Load() }

// readAdmins returns the bare JIDs the admins option of sec (or the
// global one) lists, logging and skipping invalid ones.
func (s *Service) readAdmins(cfg *config.Config, sec *config.Component) map[string]bool {
	out := map[string]bool{}
	for _, a := range cfg.Admins(sec) {
		if j, err := jid.Parse(a); err == nil {
			out[j.Bare().String()] = true
		} else {
			s.log.Warn("ignoring invalid admin JID", "jid", a)
		}
	}
	return out
}

// OnReload registers f to run after each configuration reload that
// applied new options to the service: MUC modules that read options at
// load call it to re-read them, as Prosody modules hook
// "config-reloaded". Call it from a LoadFunc.
func (s *Service) OnReload(f ReloadFunc) {
	s.live.mu.Lock()
	defer s.live.mu.Unlock()
	s.live.reloaders = append(s.live.reloaders, f)
}

// CheckReload implements server.ReloadChecker: it reports, with their
// file:line, the options of the component's section in cfg that do not
// decode, so that the server refuses the whole reload.
func (s *Service) CheckReload(_ context.Context, cfg *config.Config) error {
	sec := cfg.Component(s.domain)
	if sec == nil {
		// The server removes the component; nothing to check here.
		return nil
	}
	if _, err := readSettings(cfg, sec); err != nil {
		return fmt.Errorf("muc: reload: %w", err)
	}
	return nil
}

// Reload implements server.Reloader: the service takes the options of its
// section of cfg (see the comment at the top of this file), then runs
// the OnReload functions of its modules. Options that do not decode leave
// the old ones in effect.
func (s *Service) Reload(ctx context.Context, cfg *config.Config) error {
	sec := cfg.Component(s.domain)
	if sec == nil {
		return nil
	}
	st, err := readSettings(cfg, sec)
	if err != nil {
		return fmt.Errorf("muc: reload: the old options stay: %w", err)
	}
	admins := s.readAdmins(cfg, sec)

	s.live.mu.Lock()
	old := s.cfg()
	if st.occupantID != old.occupantID {
		s.log.Warn("muc_occupant_id changed: parley applies it at the next restart", "pos", posOf(cfg, sec, "muc_occupant_id"))
		st.occupantID = old.occupantID
	}
	s.live.p.Store(&liveSettings{settings: st, admins: admins, conf: cfg, sec: sec})
	if st.locking && !s.live.lockHooked {
		s.live.lockHooked = true
		s.Events.RoomPreCreate.On(10, builtin, s.lockNewRoom)
	}
	if st.tombstones && !s.live.tombHooked {
		s.live.tombHooked = true
		s.Events.RoomDestroyed.On(-10, builtin, s.leaveTombstone)
	}
	fns := append([]ReloadFunc(nil), s.live.reloaders...)
	s.live.mu.Unlock()

	var errs []error
	for _, f := range fns {
		if err := f(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	s.log.Info("component options reloaded", "restrict_room_creation", st.restrict, "admins", len(admins))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("muc: reload %s: %w", s.domain, err)
	}
	return nil
}

// posOf is where key is set for sec, or "" when it is not.
func posOf(cfg *config.Config, sec config.Section, key string) string {
	if o, ok := cfg.Get(sec, key); ok {
		return o.Pos.String()
	}
	return ""
}
