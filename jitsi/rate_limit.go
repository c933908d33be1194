package jitsi

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/ipset"
)

// RateLimitName is the module's name in modules_enabled.
const RateLimitName = "rate_limit"

// Defaults of mod_rate_limit's options (Jitsi's current module).
const (
	rlDefaultLoginRate    = 3    // new sessions per second per address
	rlDefaultIPRate       = 2000 // bytes per second for sessions of a limited address
	rlDefaultSessionRate  = 1000 // bytes per second for a session over a stanza rate
	rlDefaultTimeout      = 60 * time.Second
	rlDefaultCacheSize    = 10000
	rlDefaultPresenceRate = 4  // per second per session
	rlDefaultIQRate       = 15 // per second per session
	rlDefaultMessageRate  = 3  // per second per session
	// rlRefresh is how recently an address must have been limited for a
	// new session from it to restart its limit period.
	rlRefresh = 5 * time.Second
	// rlBurstSeconds is the burst of every rate, in seconds of it.
	rlBurstSeconds = 2
)

// RateLimit is Jitsi's mod_rate_limit. A client address that opens
// sessions faster than rate_limit_login_rate per second is limited: its
// new sessions, this one included, have their reads throttled to
// rate_limit_ip_rate bytes per second, until rate_limit_timeout seconds
// have passed since the address was last over the rate. A session that
// sends presences, IQs or messages faster than rate_limit_presence_rate,
// rate_limit_iq_rate or rate_limit_message_rate per second is throttled to
// rate_limit_session_rate for rate_limit_timeout. Throttled clients are
// slowed down, never disconnected (SECURITY-CASES 150, 153). Addresses in
// rate_limit_whitelist (IPs or CIDR ranges; loopback by default, where
// Jicofo and the videobridge connect from) are not counted; sessions that
// bind on a host in rate_limit_whitelist_hosts (the recorder's hidden
// domain, in docker-jitsi-meet) or as an account in
// rate_limit_whitelist_jids (Jitsi's earlier option) are exempt from then
// on. HTTP clients are counted by the address resolved through
// trusted_proxies.
//
// Jitsi loads it globally or, as docker-jitsi-meet does, in the main MUC
// component's modules_enabled (MUCRateLimitModule); either way it watches
// every client session of the server, and reads its options from the
// section it was enabled in (then the global one).
//
// Differences from the Lua, all deliberate: the rates are per second with
// a burst of two seconds' worth, as documented (Jitsi's Lua builds its
// throttles as "rate per two seconds", which halves each of them); the
// exempt hosts and accounts are checked once the session has bound, when
// they are known (the Lua checks when the session is created, before a
// TCP or WebSocket stream has named its host); and the throttle of a
// limited address's sessions also ends after rate_limit_timeout (the Lua
// keeps it for the session's life when the connection supports setlimit).
type RateLimit struct {
	section config.Section // where the options are read; nil = global

	mu       sync.Mutex
	srv      *server.Server
	opts     rlOptions
	now      func() time.Time
	limitedG prometheus.GaugeFunc
	logins   map[netip.Addr]*rlBucket // new-session rate per address
	limited  map[netip.Addr]time.Time // last time an address went over
	stanzas  map[*server.Session]*rlSession
}

// rlOptions are the module's options.
type rlOptions struct {
	loginRate, ipRate, sessionRate    float64
	presenceRate, iqRate, messageRate float64
	timeout                           time.Duration
	cacheSize                         int
	whitelist                         ipset.Set
	whitelistHosts, whitelistJIDs     map[string]bool
}

// rlSession is the stanza rates of one session.
type rlSession struct {
	presence, iq, message rlBucket
}

// rlBucket is a token bucket counting events.
type rlBucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

func newRLBucket(rate float64, now time.Time) rlBucket {
	return rlBucket{rate: rate, burst: rlBurstSeconds * rate, tokens: rlBurstSeconds * rate, last: now}
}

// take spends one event; false when the bucket had none left.
func (b *rlBucket) take(now time.Time) bool {
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// full reports whether the bucket has refilled: its address is idle.
func (b *rlBucket) full(now time.Time) bool {
	return b.tokens+now.Sub(b.last).Seconds()*b.rate >= b.burst
}

// NewRateLimit returns the mod_rate_limit module for modules_enabled of
// the global section or of a VirtualHost.
func NewRateLimit() *RateLimit {
	return &RateLimit{
		logins:  map[netip.Addr]*rlBucket{},
		limited: map[netip.Addr]time.Time{},
		stanzas: map[*server.Session]*rlSession{},
	}
}

var (
	_ server.ServerModule = (*RateLimit)(nil)
	_ server.Reloader     = (*RateLimit)(nil)
)

// Name implements server.Module.
func (m *RateLimit) Name() string { return RateLimitName }

// LoadServer implements server.ServerModule: the module watches every new
// client session, whichever host it is for, like Prosody's filter hooks.
func (m *RateLimit) LoadServer(ctx context.Context, srv *server.Server) error {
	_, err := m.activate(srv)
	return err
}

// activate reads the options and starts watching srv's new sessions. It
// returns what undoes it.
func (m *RateLimit) activate(srv *server.Server) (stop func(), err error) {
	opts, err := rlReadOptions(srv.Config(), m.section)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.srv, m.opts, m.now = srv, opts, srv.Clock()
	m.mu.Unlock()
	m.limitedG = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "parley", Subsystem: "rate_limit", Name: "limited_ips",
		Help: "Client addresses mod_rate_limit currently throttles.",
	}, func() float64 { return float64(m.limitedCount()) })
	if err := srv.Registry().Register(m.limitedG); err != nil {
		return nil, fmt.Errorf("rate_limit: %w", err)
	}
	off := srv.Events().SessionCreated.On(0, RateLimitName, m.sessionCreated)
	srv.Logger().Info("rate_limit loaded", "login_rate", opts.loginRate, "ip_rate", opts.ipRate,
		"session_rate", opts.sessionRate, "timeout", opts.timeout, "presence_rate", opts.presenceRate,
		"iq_rate", opts.iqRate, "message_rate", opts.messageRate)
	return func() {
		off()
		srv.Registry().Unregister(m.limitedG)
	}, nil
}

// Load implements server.Module: it counts the stanzas the host's clients
// send, and exempts sessions once they bind on a whitelisted host or
// account.
func (m *RateLimit) Load(ctx context.Context, h *server.Host) error {
	m.watchHost(h)
	return nil
}

func (m *RateLimit) watchHost(h *server.Host) (off func()) {
	a := h.Events.PreStanza.On(1000, RateLimitName, m.stanzaIn)
	b := h.Events.ResourceBound.On(0, RateLimitName, m.bound)
	return func() { a(); b() }
}

// Reload implements server.Reloader (Jitsi re-reads its options on
// "config-reloaded"). New values apply to sessions created afterwards.
func (m *RateLimit) Reload(ctx context.Context, cfg *config.Config) error {
	return m.reread(cfg)
}

func (m *RateLimit) reread(cfg *config.Config) error {
	opts, err := rlReadOptions(cfg, m.section)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.opts = opts
	m.mu.Unlock()
	return nil
}

// MUCRateLimitModule returns mod_rate_limit for a MUC component's
// modules_enabled, where docker-jitsi-meet enables it: the options come
// from the component's section, and the module watches every client
// session of the server (once per server, however many MUCs name it).
func MUCRateLimitModule() muc.LoadFunc {
	var once loadOnce[*server.Server]
	return func(s *muc.Service) error {
		srv := s.Server()
		if !once.first(srv, s) {
			return nil
		}
		m := NewRateLimit()
		m.section = s.ConfigSection()
		stop, err := m.activate(srv)
		if err != nil {
			return err
		}
		offs := []func(){stop}
		for _, h := range srv.Hosts() {
			offs = append(offs, m.watchHost(h))
		}
		s.OnReload(func(context.Context) error {
			m.mu.Lock()
			m.section = s.ConfigSection()
			m.mu.Unlock()
			return m.reread(srv.Config())
		})
		s.OnStop(func() {
			for _, off := range offs {
				off()
			}
		})
		return nil
	}
}

// rlReadOptions reads the module's options from section (nil: global),
// falling back to the global ones.
func rlReadOptions(cfg *config.Config, section config.Section) (rlOptions, error) {
	o := rlOptions{
		loginRate:      cfg.Float(section, "rate_limit_login_rate", rlDefaultLoginRate),
		ipRate:         cfg.Float(section, "rate_limit_ip_rate", rlDefaultIPRate),
		sessionRate:    cfg.Float(section, "rate_limit_session_rate", rlDefaultSessionRate),
		timeout:        cfg.Duration(section, "rate_limit_timeout", rlDefaultTimeout),
		cacheSize:      int(cfg.Int(section, "rate_limit_cache_size", rlDefaultCacheSize)),
		presenceRate:   cfg.Float(section, "rate_limit_presence_rate", rlDefaultPresenceRate),
		iqRate:         cfg.Float(section, "rate_limit_iq_rate", rlDefaultIQRate),
		messageRate:    cfg.Float(section, "rate_limit_message_rate", rlDefaultMessageRate),
		whitelistHosts: map[string]bool{},
		whitelistJIDs:  map[string]bool{},
	}
	wl := []string{"127.0.0.1", "::1"}
	if opt, ok := cfg.Get(section, "rate_limit_whitelist"); ok {
		v, err := opt.AsStrings()
		if err != nil {
			return o, err
		}
		wl = v
	}
	set, err := ipset.Parse(wl)
	if err != nil {
		return o, fmt.Errorf("rate_limit_whitelist: %w", err)
	}
	o.whitelist = set
	for _, h := range cfg.Strings(section, "rate_limit_whitelist_hosts") {
		o.whitelistHosts[strings.ToLower(h)] = true
	}
	for _, j := range cfg.Strings(section, "rate_limit_whitelist_jids") {
		o.whitelistJIDs[strings.ToLower(j)] = true
	}
	if o.cacheSize < 1 {
		o.cacheSize = rlDefaultCacheSize
	}
	return o, nil
}

// sessionCreated counts a new session against its address's login rate,
// throttles it if the address is limited, and starts its stanza rates.
func (m *RateLimit) sessionCreated(_ context.Context, ev *server.SessionEvent) error {
	s := ev.Session
	ip, ok := s.RemoteIP()
	m.mu.Lock()
	defer m.mu.Unlock()
	opts := m.opts
	if !ok || opts.whitelist.Contains(ip) {
		return nil
	}
	now := m.now()
	b := m.logins[ip]
	if b == nil {
		m.evictLogins(now)
		nb := newRLBucket(opts.loginRate, now)
		b = &nb
		m.logins[ip] = b
	}
	if !b.take(now) {
		m.srv.Logger().Info("rate_limit: login rate exceeded, limiting", "ip", ip)
		m.limit(ip, now)
	}
	m.stanzas[s] = &rlSession{
		presence: newRLBucket(opts.presenceRate, now),
		iq:       newRLBucket(opts.iqRate, now),
		message:  newRLBucket(opts.messageRate, now),
	}
	s.OnClose(func() {
		m.mu.Lock()
		delete(m.stanzas, s)
		m.mu.Unlock()
	})
	since, was := m.limited[ip]
	if !was {
		return nil
	}
	switch elapsed := now.Sub(since); {
	case elapsed >= opts.timeout:
		delete(m.limited, ip)
	case elapsed < rlRefresh:
		m.limited[ip] = now
		fallthrough
	default:
		s.LimitRate(opts.ipRate, opts.timeout)
	}
	return nil
}

// bound exempts a session that bound on a whitelisted host or as a
// whitelisted account: its stanzas are no longer counted and an address
// limit it started under is lifted.
func (m *RateLimit) bound(_ context.Context, ev *server.SessionEvent) error {
	s := ev.Session
	j := s.JID()
	m.mu.Lock()
	exempt := m.opts.whitelistHosts[strings.ToLower(j.Domainpart())] ||
		m.opts.whitelistJIDs[strings.ToLower(j.Bare().String())]
	if exempt {
		delete(m.stanzas, s)
	}
	m.mu.Unlock()
	if exempt {
		s.LimitRate(0, 0)
	}
	return nil
}

// limit records that ip went over its login rate.
func (m *RateLimit) limit(ip netip.Addr, now time.Time) {
	if _, ok := m.limited[ip]; !ok && len(m.limited) >= m.opts.cacheSize {
		var oldest netip.Addr
		var at time.Time
		for k, t := range m.limited {
			if at.IsZero() || t.Before(at) {
				oldest, at = k, t
			}
		}
		delete(m.limited, oldest)
	}
	m.limited[ip] = now
}

// evictLogins makes room for one more address: idle ones go first, then
// any.
func (m *RateLimit) evictLogins(now time.Time) {
	if len(m.logins) < m.opts.cacheSize {
		return
	}
	for k, b := range m.logins {
		if b.full(now) {
			delete(m.logins, k)
		}
	}
	for k := range m.logins {
		if len(m.logins) < m.opts.cacheSize {
			return
		}
		delete(m.logins, k)
	}
}

// stanzaIn throttles a session that sends stanzas of one kind faster than
// its rate. The stanza itself goes through.
func (m *RateLimit) stanzaIn(_ context.Context, ev *server.StanzaEvent) error {
	s := ev.Session
	if s == nil {
		return nil
	}
	m.mu.Lock()
	rs := m.stanzas[s]
	if rs == nil {
		m.mu.Unlock()
		return nil
	}
	var b *rlBucket
	switch ev.Stanza.Name.Local {
	case "presence":
		b = &rs.presence
	case "iq":
		b = &rs.iq
	case "message":
		b = &rs.message
	default:
		m.mu.Unlock()
		return nil
	}
	over := !b.take(m.now())
	opts := m.opts
	m.mu.Unlock()
	if !over {
		return nil
	}
	if !s.RateLimited() {
		m.srv.Logger().Info("rate_limit: stanza rate exceeded, limiting", "kind", ev.Stanza.Name.Local, "jid", s.JID().String())
	}
	s.LimitRate(opts.sessionRate, opts.timeout)
	return nil
}

// limitedCount is the number of addresses in the limited cache.
func (m *RateLimit) limitedCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.limited)
}
