package muc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/hook"
	"github.com/parley-xmpp/parley/server/stanza"
)

// Service is the MUC component of one `Component "x" "muc"` section. It
// implements server.Component.
type Service struct {
	// Events are the service's hook chains (see Events).
	Events Events

	ch     *server.ComponentHost
	srv    *server.Server
	domain string
	log    *slog.Logger
	now    func() time.Time
	rand   io.Reader
	live   mucLive // options Reload replaces (reload.go)
	store  *roomStore
	met    *metrics
	// ping is set when modules_enabled names "ping": the service then
	// lists urn:xmpp:ping in its disco#info (it always answers pings).
	ping bool

	mu      sync.Mutex
	rooms   map[string]*Room
	stopFns []func()
	loaded  []string
}

var _ server.Component = (*Service)(nil)

// Factory returns the server.ComponentFactory for `Component "x" "muc"`
// sections: register it with server.WithComponentType("muc", ...).
func Factory(opts ...Option) server.ComponentFactory {
	return func(ctx context.Context, ch *server.ComponentHost) (server.Component, error) {
		return New(ctx, ch, opts...)
	}
}

// New builds the service for a component section, reads its options and
// loads the modules its modules_enabled names (from the WithModule
// registry).
func New(ctx context.Context, ch *server.ComponentHost, opts ...Option) (*Service, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	srv := ch.Server
	cfg := srv.Config()
	st, err := readSettings(cfg, ch.Config)
	if err != nil {
		return nil, err
	}
	s := &Service{
		Events: newEvents(),
		ch:     ch,
		srv:    srv,
		domain: ch.Name,
		log:    o.log,
		now:    o.now,
		rand:   o.rand,
		rooms:  map[string]*Room{},
	}
	if s.log == nil {
		s.log = srv.Logger()
	}
	s.log = s.log.With("component", "muc", "host", ch.Name)
	if s.now == nil {
		s.now = srv.Clock()
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	s.live.store(cfg, ch.Config, st, s.readAdmins(cfg, ch.Config))
	s.met = newMetrics(srv, s)
	s.met.observeHooks(&s.Events)
	s.store = newRoomStore(s)
	if err := s.store.index(ctx); err != nil {
		return nil, fmt.Errorf("muc: %s: %w", ch.Name, err)
	}
	s.registerBuiltins()
	for _, name := range cfg.Modules(ch.Config) {
		if name == ch.Config.Type {
			continue
		}
		load, ok := o.modules[name]
		if (name == "ping" || name == "iq") && !ok {
			// Prosody's core IQ handling and mod_ping: built in here.
			s.ping = s.ping || name == "ping"
			continue
		}
		if !ok {
			s.log.Info("module not available on a MUC component, ignored", "module", name)
			continue
		}
		if err := load(s); err != nil {
			return nil, fmt.Errorf("muc: %s: module %s: %w", ch.Name, name, err)
		}
		s.loaded = append(s.loaded, name)
	}
	return s, nil
}

// Domain returns the service's domain.
func (s *Service) Domain() string { return s.domain }

// Server returns the server the service runs in.
func (s *Service) Server() *server.Server { return s.srv }

// Logger returns the service's logger.
func (s *Service) Logger() *slog.Logger { return s.log }

// Now returns the service's current time.
func (s *Service) Now() time.Time { return s.now() }

// Modules lists the modules loaded from modules_enabled.
func (s *Service) Modules() []string { return slices.Clone(s.loaded) }

// ConfigSection returns the component's config section (from the
// configuration last reloaded).
func (s *Service) ConfigSection() *config.Component { return s.cfg().sec }

// Option looks up an option of the component (inherited from the global
// section as Prosody's module:get_option does).
func (s *Service) Option(key string) (*config.Option, bool) {
	c := s.cfg()
	return c.conf.Get(c.sec, key)
}

// IsAdmin reports whether the (real) JID j is an admin of this component:
// listed in its own admins or the global admins.
func (s *Service) IsAdmin(j string) bool {
	bare, ok := normalBare(j)
	return ok && s.cfg().admins[bare]
}

// SessionAlive reports whether a real full JID still has a session. It is
// false only for a user of one of this server's VirtualHosts whose session
// is gone; remote and component JIDs count as alive.
func (s *Service) SessionAlive(real string) bool {
	j, err := jid.Parse(real)
	if err != nil {
		return false
	}
	if s.srv.Host(j.Domainpart()) == nil {
		return true
	}
	return s.srv.Router().Session(j.String()) != nil
}

// OnStop registers f to run when the service stops (module timers).
func (s *Service) OnStop(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopFns = append(s.stopFns, f)
}

// Stop implements server.Stopper: it runs the OnStop functions, saves
// persistent rooms and removes every occupant with status 332 (the
// service is shutting down).
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	fns := s.stopFns
	s.stopFns = nil
	rooms := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
	var errs []error
	for _, r := range rooms {
		r.mu.Lock()
		if !r.gone && r.tomb == nil {
			if r.config.Persistent {
				if err := s.store.save(ctx, r); err != nil {
					errs = append(errs, err)
				}
			}
			if r.HasOccupants() {
				x := userX()
				addStatus(x, "332")
				r.clear(ctx, x)
			}
		}
		r.unlockAndFlush(ctx)
	}
	return errors.Join(errs...)
}

// Rooms returns the JIDs of the rooms in memory, sorted.
func (s *Service) Rooms() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.rooms))
	for j := range s.rooms {
		out = append(out, j)
	}
	sort.Strings(out)
	return out
}

// Do runs f with the room roomJID held and then routes what the room
// queued. It returns ErrNoRoom when there is no such room. f must not
// call Do for the same room.
func (s *Service) Do(ctx context.Context, roomJID string, f func(r *Room)) error {
	j, err := jid.Parse(roomJID)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrBadJID, roomJID)
	}
	key := j.Bare().String()
	for {
		r, err := s.lookup(ctx, key)
		if err != nil {
			return err
		}
		if r == nil {
			return ErrNoRoom
		}
		r.mu.Lock()
		if r.gone || r.tomb != nil {
			tomb := r.tomb != nil
			r.mu.Unlock()
			if tomb {
				return ErrNoRoom
			}
			continue
		}
		f(r)
		r.unlockAndFlush(ctx)
		return nil
	}
}

// lookup returns the room (possibly restored from storage), or nil.
func (s *Service) lookup(ctx context.Context, roomJID string) (*Room, error) {
	s.mu.Lock()
	r := s.rooms[roomJID]
	s.mu.Unlock()
	if r != nil || !s.store.has(roomJID) {
		return r, nil
	}
	restored, err := s.store.load(ctx, roomJID)
	if err != nil || restored == nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[roomJID]; r != nil {
		return r, nil
	}
	s.rooms[roomJID] = restored
	return restored, nil
}

// track adds a new room; false if one appeared meanwhile.
func (s *Service) track(r *Room) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rooms[r.jid]; ok {
		return false
	}
	s.rooms[r.jid] = r
	return true
}

// forget removes a room from memory (the room is held).
func (s *Service) forget(r *Room) {
	r.gone = true
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[r.jid] == r {
		delete(s.rooms, r.jid)
	}
}

// route sends a stanza on its way; it never blocks on a socket.
func (s *Service) route(ctx context.Context, el *stanza.Element) {
	s.srv.Route(ctx, el)
}

// newID returns a random identifier of n bytes, hex encoded.
func (s *Service) newID(n int) string {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		s.log.Error("random source failed", "err", err)
	}
	return hex.EncodeToString(b)
}

// Deliver implements server.Component: it handles one stanza addressed to
// the service, a room, or an occupant.
func (s *Service) Deliver(ctx context.Context, el *stanza.Element) {
	if !el.IsStanza() {
		return
	}
	from, err := jid.Parse(el.Get("from"))
	if err != nil {
		s.log.Debug("stanza without a valid sender dropped", "from", el.Get("from"))
		return
	}
	to, err := jid.Parse(el.Get("to"))
	if err != nil {
		s.replyNow(ctx, el, deny("modify", "jid-malformed", "", s.domain))
		return
	}
	// SECURITY-CASES 135: nicks are compared in their prepared form.
	to, changed, err := prepareOccupantJID(to)
	if err != nil {
		s.replyNow(ctx, el, deny("modify", "jid-malformed", "Invalid nickname", s.domain))
		return
	}
	if changed {
		ctx = withNickPrepared(ctx)
	}
	el.Set("from", from.String())
	el.Set("to", to.String())
	if to.Localpart() == "" {
		s.handleHost(ctx, el, from, to)
		return
	}
	s.handleRoom(ctx, el, from, to)
}

// replyNow sends an error reply to el straight away (no room involved),
// unless el is itself an error or a result.
func (s *Service) replyNow(ctx context.Context, el *stanza.Element, d *Deny) {
	if t := el.Get("type"); t == "error" || (el.Name.Local == "iq" && t == "result") {
		return
	}
	s.route(ctx, d.Reply(el))
}

// isJoin reports whether el is available presence with a MUC <x/>.
func isJoin(el *stanza.Element) bool {
	return el.Name.Local == "presence" && el.Get("type") == "" && el.Child(NS, "x") != nil
}

func (s *Service) handleRoom(ctx context.Context, el *stanza.Element, from, to jid.JID) {
	roomJID := to.Bare().String()
	for {
		r, err := s.lookup(ctx, roomJID)
		if err != nil {
			s.log.Error("room could not be restored", "room", roomJID, "err", err)
			s.replyNow(ctx, el, deny("wait", "resource-constraint", "", s.domain))
			return
		}
		if r == nil {
			if !isJoin(el) {
				if el.Get("type") != "error" {
					s.replyNow(ctx, el, deny("cancel", "item-not-found", "", s.domain))
				}
				return
			}
			if to.Resourcepart() == "" {
				// SECURITY-CASES 127: a join needs a nick.
				s.replyNow(ctx, el, deny("modify", "jid-malformed", "", roomJID))
				return
			}
			r = newRoom(s, roomJID)
			r.mu.Lock()
			if !s.track(r) {
				r.mu.Unlock()
				continue
			}
			r.firstPresence(ctx, el, from, to)
			r.unlockAndFlush(ctx)
			return
		}
		r.mu.Lock()
		if r.gone {
			r.mu.Unlock()
			continue
		}
		if r.tomb != nil {
			if r.tombstoneBlocks(ctx, el, from) {
				r.unlockAndFlush(ctx)
				return
			}
			r.unlockAndFlush(ctx)
			continue
		}
		r.dispatch(ctx, el, from, to)
		r.unlockAndFlush(ctx)
		return
	}
}

// handleHost answers stanzas to the service's own domain.
func (s *Service) handleHost(ctx context.Context, el *stanza.Element, _, _ jid.JID) {
	if el.Name.Local != "iq" {
		if el.Name.Local == "message" {
			switch el.Get("type") {
			case "error", "groupchat", "headline":
			default:
				s.replyNow(ctx, el, deny("cancel", "service-unavailable", "", ""))
			}
		}
		return
	}
	typ := el.Get("type")
	if typ != "get" && typ != "set" {
		return
	}
	q := el.FirstElement()
	if q == nil {
		s.replyNow(ctx, el, deny("modify", "bad-request", "", ""))
		return
	}
	switch {
	case typ == "get" && q.Name.Space == NSDiscoInfo && q.Name.Local == "query":
		s.route(ctx, s.serviceDiscoInfo(el, q))
	case typ == "get" && q.Name.Space == NSDiscoItems && q.Name.Local == "query":
		s.route(ctx, s.serviceDiscoItems(ctx, el, q))
	case typ == "get" && q.Name.Space == NSPing && q.Name.Local == "ping":
		// XEP-0199: Jicofo and the bridge ping the MUCs they use.
		s.route(ctx, reply(el))
	case typ == "get" && q.Name.Space == NSUnique && q.Name.Local == "unique":
		res := reply(el)
		res.Add(stanza.New(NSUnique, "unique").AddText(strings.ToLower(s.newID(9))))
		s.route(ctx, res)
	default:
		s.replyNow(ctx, el, deny("cancel", "service-unavailable", "", ""))
	}
}

// CreateRoom creates roomJID on behalf of a module, as Prosody's
// create_room does for Jitsi's lobby and breakout rooms: no occupant and no
// owner, the service's room defaults, not locked, and not subject to
// restrict_room_creation. setup runs with the new room held before anyone
// can reach it; RoomCreated then fires with a nil Stanza and a zero From.
// created is false, and setup does not run, when the room already exists;
// a tombstone is replaced.
func (s *Service) CreateRoom(ctx context.Context, roomJID string, setup func(*Room)) (created bool, err error) {
	j, err := jid.Parse(roomJID)
	if err != nil || j.Localpart() == "" || j.Domainpart() != s.domain {
		return false, fmt.Errorf("%w: %q", ErrBadJID, roomJID)
	}
	key := j.Bare().String()
	for {
		r, err := s.lookup(ctx, key)
		if err != nil {
			return false, err
		}
		if r != nil {
			r.mu.Lock()
			switch {
			case r.gone:
				r.mu.Unlock()
				continue
			case r.tomb == nil:
				r.mu.Unlock()
				return false, nil
			}
			s.forget(r)
			if err := s.store.remove(ctx, r.jid); err != nil {
				s.log.Error("tombstone not deleted", "room", r.jid, "err", err)
			}
			r.unlockAndFlush(ctx)
			continue
		}
		r = newRoom(s, key)
		r.mu.Lock()
		if !s.track(r) {
			r.mu.Unlock()
			continue
		}
		c := s.cfg().defaults
		c.PresenceBroadcast = slices.Clone(c.PresenceBroadcast)
		r.config = c
		if setup != nil {
			setup(r)
		}
		if err := s.Events.RoomCreated.Fire(ctx, &RoomCreateEvent{Room: r}); err != nil && !errors.Is(err, hook.ErrStop) {
			s.log.Error("muc-room-created hook failed", "room", r.jid, "err", err)
		}
		r.unlockAndFlush(ctx)
		return true, nil
	}
}
