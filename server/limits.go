package server

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/config"
)

// Prosody's mod_limits (bandwidth throttling per connection type) and
// Jitsi's mod_limits_exception (unlimited_jids), for client connections.

// rateLimit is a byte rate with a burst allowance.
type rateLimit struct {
	rate  float64 // bytes per second
	burst float64 // bytes
}

// defaultUnlimitedSize is limits_exception's unlimited_size default.
const defaultUnlimitedSize = 10 << 20

// parseRate reads Prosody's "10kb/s" form (k, m, g are powers of 1000).
func parseRate(s string) (float64, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if !strings.HasSuffix(s, "/s") {
		return 0, fmt.Errorf("rate %q: want a form like \"10kb/s\"", s)
	}
	return parseBytes(strings.TrimSuffix(s, "/s"))
}

func parseBytes(s string) (float64, error) {
	s = strings.TrimSpace(s)
	mult := 1.0
	s = strings.TrimSuffix(s, "b")
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1e3, strings.TrimSuffix(s, "k")
	case strings.HasSuffix(s, "m"):
		mult, s = 1e6, strings.TrimSuffix(s, "m")
	case strings.HasSuffix(s, "g"):
		mult, s = 1e9, strings.TrimSuffix(s, "g")
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a byte count", s)
	}
	return n * mult, nil
}

// parseBurst reads a burst as seconds of the rate ("2s", Prosody's form)
// or as bytes ("25kb").
func parseBurst(s string, rate float64) (float64, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if strings.HasSuffix(s, "s") && !strings.HasSuffix(s, "b/s") {
		n, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "s")), 64)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("burst %q: want seconds like \"2s\"", s)
		}
		return n * rate, nil
	}
	return parseBytes(s)
}

// liveLimits are the limits Reload can replace: mod_limits' limits.c2s,
// the per-address connection limit and the default byte rates.
type liveLimits struct {
	c2s   *rateLimit
	conns connLimitSettings
	in    *inRateSettings
}

// readLiveLimits reads the live limits of cfg's global section.
func readLiveLimits(cfg *config.Config) (liveLimits, error) {
	var l liveLimits
	var err error
	if l.c2s, err = readC2SRate(cfg); err != nil {
		return l, err
	}
	if l.conns, err = readConnLimits(sectionView{cfg: cfg}); err != nil {
		return l, err
	}
	l.in, err = readInRates(cfg, l.conns.exempt)
	return l, err
}

// applyLiveLimits puts l in force for the connections made from now on.
func (srv *Server) applyLiveLimits(l liveLimits) {
	srv.hot.c2sRate.Store(l.c2s)
	srv.hot.conns.apply(l.conns)
	srv.hot.inRates.Store(l.in)
}

// readLimits reads the live limits, and unlimited_jids when
// limits_exception is enabled anywhere.
func (srv *Server) readLimits() error {
	l, err := readLiveLimits(srv.cfg)
	if err != nil {
		return err
	}
	srv.applyLiveLimits(l)
	srv.unlimited = map[string]bool{}
	srv.unlimitedSize = defaultUnlimitedSize
	for _, hc := range srv.cfg.Hosts {
		if !contains(srv.cfg.Modules(hc), "limits_exception") {
			continue
		}
		v := sectionView{cfg: srv.cfg, sec: hc}
		for _, j := range v.strings("unlimited_jids", nil) {
			srv.unlimited[j] = true
		}
		srv.unlimitedSize = intOr(v.str("unlimited_size", ""), srv.unlimitedSize)
	}
	return nil
}

// readC2SRate reads mod_limits' `limits.c2s` rate and burst; nil when
// mod_limits is not enabled globally or has no c2s entry.
func readC2SRate(cfg *config.Config) (*rateLimit, error) {
	g := sectionView{cfg: cfg}
	if !contains(cfg.Modules(nil), "limits") {
		return nil, nil
	}
	c2s, ok := g.table("limits")["c2s"].(map[string]any)
	if !ok {
		return nil, nil
	}
	rl := rateLimit{rate: 3000}
	if r, ok := c2s["rate"].(string); ok {
		v, err := parseRate(r)
		if err != nil {
			return nil, fmt.Errorf("%s: limits.c2s: %w", g.pos("limits"), err)
		}
		rl.rate = v
	}
	rl.burst = 2 * rl.rate
	if b, ok := c2s["burst"].(string); ok {
		v, err := parseBurst(b, rl.rate)
		if err != nil {
			return nil, fmt.Errorf("%s: limits.c2s: %w", g.pos("limits"), err)
		}
		rl.burst = v
	}
	return &rl, nil
}

// c2sRate returns the current mod_limits rate for new client connections
// (nil: no throttle). Reload replaces it.
func (srv *Server) c2sRate() *rateLimit { return srv.hot.c2sRate.Load() }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// SizeUnlimiter is implemented by transports whose stanza size limit can
// be raised for an account in unlimited_jids (limits_exception). The
// session calls it on the transport's reader goroutine, when SASL
// succeeds.
type SizeUnlimiter interface {
	UnlimitSize(maxStanza int)
}

// throttle is a token bucket that pauses a connection's reads: nothing is
// dropped, the peer just waits (Prosody's mod_limits semantics).
type throttle struct {
	rl  rateLimit
	now func() time.Time

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newThrottle(rl rateLimit, now func() time.Time) *throttle {
	return &throttle{rl: rl, now: now, tokens: rl.burst, last: now()}
}

// reserve spends n bytes and returns how long the reader must pause before
// the bucket is back to zero.
func (t *throttle) reserve(n int) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.tokens = min(t.rl.burst, t.tokens+now.Sub(t.last).Seconds()*t.rl.rate)
	t.last = now
	t.tokens -= float64(n)
	if t.tokens >= 0 {
		return 0
	}
	return time.Duration(-t.tokens / t.rl.rate * float64(time.Second))
}

// throttledReader spends what it reads in its session's rate buckets,
// pausing while one is empty.
type throttledReader struct {
	ctx context.Context
	r   io.Reader
	s   *Session
}

func (r *throttledReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		if werr := r.s.ThrottleIn(r.ctx, n); werr != nil && err == nil {
			err = werr
		}
	}
	return n, err
}
