package server

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/server/hook"
	"github.com/parley-xmpp/parley/server/ipset"
)

// Inbound byte rates, on by default. Every transport (TCP, WebSocket and
// BOSH) spends what it reads from a client in up to three token buckets
// and pauses reading while one of them is empty, so an over-eager client
// waits and loses nothing (Prosody's mod_limits semantics):
//
//   - the session's own rate: mod_limits' `limits.c2s` when that module is
//     enabled and configured (every client, as in Prosody), and otherwise
//     parley's default, `parley_session_rate` ("10kb/s", the rate Jitsi's
//     configurations give mod_limits), for clients outside
//     parley_connection_limit_exempt;
//   - the client address's rate, shared by all sessions from one address
//     (IPv6: one /64): `parley_ip_rate` ("100kb/s"), for clients outside
//     parley_connection_limit_exempt;
//   - a rate a module imposes for a while (Session.LimitRate; Jitsi's
//     mod_rate_limit).
//
// Bursts are two seconds of the rate, as in Prosody. The two parley
// options take a rate ("25kb/s") or false to turn them off. Accounts in
// unlimited_jids (limits_exception) are exempt from all three once they
// have authenticated.

// Options of the default inbound rates.
const (
	OptSessionRate = "parley_session_rate"
	OptIPRate      = "parley_ip_rate"
	// DefaultSessionRate and DefaultIPRate apply when the options are
	// absent.
	DefaultSessionRate = "10kb/s"
	DefaultIPRate      = "100kb/s"
)

// burstSeconds is the default burst, in seconds of the rate.
const burstSeconds = 2

// inRateSettings are the parsed default rates.
type inRateSettings struct {
	session *rateLimit // parley_session_rate; nil = off
	ip      *rateLimit // parley_ip_rate; nil = off
	exempt  ipset.Set
}

// readInRates parses parley_session_rate and parley_ip_rate from cfg's
// global section; exempt is parley_connection_limit_exempt, parsed.
func readInRates(cfg *config.Config, exempt ipset.Set) (*inRateSettings, error) {
	g := sectionView{cfg: cfg}
	st := &inRateSettings{exempt: exempt}
	for _, o := range []struct {
		name, def string
		dst       **rateLimit
	}{{OptSessionRate, DefaultSessionRate, &st.session}, {OptIPRate, DefaultIPRate, &st.ip}} {
		text := o.def
		if opt, ok := g.get(o.name); ok {
			switch v := opt.Value.(type) {
			case bool:
				if v {
					return nil, fmt.Errorf("%s: %s: want a rate like %q or false", opt.Pos, o.name, o.def)
				}
				continue
			case string:
				text = v
			default:
				return nil, fmt.Errorf("%s: %s: want a rate like %q or false, got %v", opt.Pos, o.name, o.def, opt.Value)
			}
		}
		r, err := parseRate(text)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", g.pos(o.name), o.name, err)
		}
		*o.dst = &rateLimit{rate: r, burst: burstSeconds * r}
	}
	return st, nil
}

// inLimits is a session's inbound rate state: the transports' reads spend
// in every bucket that is set.
type inLimits struct {
	off     atomic.Bool // unlimited_jids
	session *throttle   // set before the session is used; nil = none
	ip      *ipBucket   // shared with the address's other sessions
	imposed atomic.Pointer[imposedLimit]
}

// imposedLimit is a rate set by a module until a deadline.
type imposedLimit struct {
	t     *throttle
	until time.Time
}

// ipBucket is the token bucket of one client address block, counted by
// the sessions that use it.
type ipBucket struct {
	t    *throttle
	key  netip.Addr
	refs int // guarded by ipRates.mu
}

// ipRates holds the buckets of the client addresses with live sessions.
type ipRates struct {
	mu      sync.Mutex
	buckets map[netip.Addr]*ipBucket
}

// acquire returns key's bucket, made with rl if it is new.
func (r *ipRates) acquire(key netip.Addr, rl rateLimit, now func() time.Time) *ipBucket {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.buckets == nil {
		r.buckets = map[netip.Addr]*ipBucket{}
	}
	b := r.buckets[key]
	if b == nil {
		b = &ipBucket{t: newThrottle(rl, now), key: key}
		r.buckets[key] = b
	}
	b.refs++
	return b
}

// release drops a session's reference to b.
func (r *ipRates) release(b *ipBucket) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b.refs--; b.refs <= 0 {
		delete(r.buckets, b.key)
	}
}

// tracked returns the number of address blocks with a bucket.
func (r *ipRates) tracked() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.buckets)
}

// setupInLimits gives a new session its rate buckets, from the transport's
// client address and the settings in force.
func (srv *Server) setupInLimits(s *Session) {
	st := srv.hot.inRates.Load()
	if rl := srv.c2sRate(); rl != nil {
		s.in.session = newThrottle(*rl, srv.opts.clock)
	}
	if st == nil {
		return
	}
	addr, key, ok := clientKey(s.t.RemoteAddr())
	if !ok || st.exempt.Contains(addr) {
		return
	}
	if s.in.session == nil && st.session != nil {
		s.in.session = newThrottle(*st.session, srv.opts.clock)
	}
	if st.ip != nil {
		b := srv.ipRates.acquire(key, *st.ip, srv.opts.clock)
		s.in.ip = b
		s.OnClose(func() { srv.ipRates.release(b) })
	}
}

// ThrottleIn spends n bytes the client sent in the session's rate buckets
// and, when one is empty, waits until it has refilled or ctx ends.
// Transports call it for every read (TCP) or message (WebSocket, BOSH
// body) before handling what they read, so a client over its rate is
// paused, never cut off.
func (s *Session) ThrottleIn(ctx context.Context, n int) error {
	if n <= 0 || s.in.off.Load() {
		return nil
	}
	var wait time.Duration
	if t := s.in.session; t != nil {
		wait = max(wait, t.reserve(n))
	}
	if b := s.in.ip; b != nil {
		wait = max(wait, b.t.reserve(n))
	}
	if im := s.in.imposed.Load(); im != nil {
		if s.srv.opts.clock().Before(im.until) {
			wait = max(wait, im.t.reserve(n))
		} else {
			s.in.imposed.CompareAndSwap(im, nil)
		}
	}
	if wait <= 0 {
		return nil
	}
	s.srv.metrics.throttled.Inc()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// LimitRate throttles the session's reads to bytesPerSecond (burst: two
// seconds' worth) for d, on top of its other limits; called again, it
// replaces the rate and restarts d. It is how modules such as Jitsi's
// mod_rate_limit slow a client down without disconnecting it. A rate of
// zero or less lifts the imposed limit.
func (s *Session) LimitRate(bytesPerSecond float64, d time.Duration) {
	if bytesPerSecond <= 0 || d <= 0 {
		s.in.imposed.Store(nil)
		return
	}
	now := s.srv.opts.clock()
	rl := rateLimit{rate: bytesPerSecond, burst: burstSeconds * bytesPerSecond}
	if old := s.in.imposed.Load(); old != nil && old.t.rl == rl {
		// Keep the bucket's debt: only the deadline moves.
		s.in.imposed.Store(&imposedLimit{t: old.t, until: now.Add(d)})
		return
	}
	s.in.imposed.Store(&imposedLimit{t: newThrottle(rl, s.srv.opts.clock), until: now.Add(d)})
}

// RateLimited reports whether a module's LimitRate is in force.
func (s *Session) RateLimited() bool {
	im := s.in.imposed.Load()
	return im != nil && s.srv.opts.clock().Before(im.until)
}

// unlimitIn lifts every inbound rate (unlimited_jids).
func (s *Session) unlimitIn() { s.in.off.Store(true) }

// RemoteAddr returns the client's address as the transport knows it (for
// HTTP transports, resolved through trusted_proxies).
func (s *Session) RemoteAddr() string { return s.t.RemoteAddr() }

// RemoteIP returns the client's IP address; ok is false when the
// transport's address is not an IP address.
func (s *Session) RemoteIP() (ip netip.Addr, ok bool) {
	addr, _, ok := clientKey(s.t.RemoteAddr())
	return addr, ok
}

// ServerEvents are the hook chains that concern the whole server rather
// than one host.
type ServerEvents struct {
	// SessionCreated runs when a client connection (or a BOSH session)
	// starts, before its stream header names a host: the point where
	// Prosody runs its session filter hooks. Handlers run on the
	// transport's goroutine and must not block.
	SessionCreated *hook.Chain[SessionEvent]
}

func newServerEvents() ServerEvents {
	return ServerEvents{SessionCreated: hook.NewChain[SessionEvent]("session-created")}
}

// Events returns the server-wide hook chains.
func (srv *Server) Events() *ServerEvents { return &srv.events }
