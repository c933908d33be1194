package server

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/stream"

	"github.com/parley-xmpp/parley/server/ipset"
	"github.com/parley-xmpp/parley/server/stanza"
)

// Per-IP connection limits. Prosody has no core option for this (its
// mod_limits throttles bytes per session, and the community modules limit
// login rates), so the options carry parley's prefix:
//
//	parley_max_connections_per_ip = 100   -- 0 turns the limit off
//	parley_connection_limit_exempt = { "127.0.0.0/8", "::1", "10.0.0.0/8",
//	    "172.16.0.0/12", "192.168.0.0/16", "fc00::/7" }
//
// A connection counts from accept (TCP c2s and direct TLS) or from the
// WebSocket upgrade or BOSH session creation (HTTP, by the client address
// resolved through trusted_proxies) until it ends. IPv6 clients count per
// /64, the block one subscriber usually holds. Loopback and private
// networks are exempt by default: Jicofo and the videobridge connect from
// there, and so does a reverse proxy in front of the HTTP transports
// (docker-jitsi-meet's web container, a Kubernetes ingress) that is not
// in trusted_proxies, whose clients would otherwise all count as one
// address (SECURITY-CASES #156). Clients on the Internet reach parley with
// public addresses, directly or resolved through a trusted proxy.
// The default byte rates (inlimit.go) use the same exemptions.

// Option names and defaults of the per-IP connection limit.
const (
	OptMaxConnectionsPerIP   = "parley_max_connections_per_ip"
	OptConnectionLimitExempt = "parley_connection_limit_exempt"
	// DefaultMaxConnectionsPerIP is the limit when the option is absent.
	DefaultMaxConnectionsPerIP = 100
)

// DefaultConnectionLimitExempt returns parley_connection_limit_exempt's
// value when the option is absent: loopback and private networks.
func DefaultConnectionLimitExempt() []string {
	return []string{"127.0.0.0/8", "::1", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"}
}

// maxRefusing bounds the goroutines that say goodbye to refused TCP
// connections; past it, refused connections are just closed.
const maxRefusing = 64

// refuseLinger bounds how long a refused TCP connection is kept to let
// the client read the stream error.
const refuseLinger = 2 * time.Second

// connLimitSettings is the parsed configuration of the limiter.
type connLimitSettings struct {
	max    int // 0 = unlimited
	exempt ipset.Set
}

// connLimiter counts live connections per client address block.
type connLimiter struct {
	mu       sync.Mutex
	set      connLimitSettings
	counts   map[netip.Addr]int
	refusing atomic.Int32
}

// readConnLimits parses the per-IP connection limit options of cfg's
// global section.
func readConnLimits(g sectionView) (connLimitSettings, error) {
	st := connLimitSettings{max: DefaultMaxConnectionsPerIP}
	if o, ok := g.get(OptMaxConnectionsPerIP); ok {
		var n float64
		switch v := o.Value.(type) {
		case float64:
			n = v
		case int64:
			n = float64(v)
		default:
			return st, fmt.Errorf("%s: %s: want a number, got %v", o.Pos, OptMaxConnectionsPerIP, o.Value)
		}
		if n < 0 || n != float64(int(n)) {
			return st, fmt.Errorf("%s: %s: want a whole number >= 0, got %v", o.Pos, OptMaxConnectionsPerIP, o.Value)
		}
		st.max = int(n)
	}
	exempt, err := ipset.Parse(g.strings(OptConnectionLimitExempt, DefaultConnectionLimitExempt()))
	if err != nil {
		return st, fmt.Errorf("%s: %s: %w", g.pos(OptConnectionLimitExempt), OptConnectionLimitExempt, err)
	}
	st.exempt = exempt
	return st, nil
}

// apply replaces the settings; live counts are kept, so a lowered limit
// refuses new connections until enough old ones have gone.
func (l *connLimiter) apply(st connLimitSettings) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.set = st
	if l.counts == nil {
		l.counts = map[netip.Addr]int{}
	}
}

// clientKey parses remote ("ip", "ip:port", "[ip]:port") into the key it
// counts under. ok is false when remote is not an IP address (such as a
// Unix socket): such connections are not limited.
func clientKey(remote string) (addr, key netip.Addr, ok bool) {
	s := strings.TrimSpace(remote)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err2 := netip.ParseAddrPort(s)
		if err2 != nil {
			a, err = netip.ParseAddr(strings.Trim(s, "[]"))
			if err != nil {
				return netip.Addr{}, netip.Addr{}, false
			}
		} else {
			a = ap.Addr()
		}
	}
	a = a.Unmap().WithZone("")
	key = a
	if a.Is6() {
		key = netip.PrefixFrom(a, 64).Masked().Addr()
	}
	return a, key, true
}

// acquire counts one more connection from remote. It returns false,
// counting nothing, when that address block is at its limit; otherwise
// release must be called exactly once when the connection ends.
func (l *connLimiter) acquire(remote string) (release func(), ok bool) {
	addr, key, ok := clientKey(remote)
	if !ok {
		return func() {}, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.set.max == 0 {
		return func() {}, true
	}
	if l.set.exempt.Contains(addr) {
		return func() {}, true
	}
	if l.counts[key] >= l.set.max {
		return nil, false
	}
	l.counts[key]++
	sl := &slot{l: l, key: key}
	return sl.release, true
}

// slot is one counted connection.
type slot struct {
	l    *connLimiter
	key  netip.Addr
	done atomic.Bool
}

// release gives the slot back; later calls do nothing.
func (s *slot) release() {
	if s.done.Swap(true) {
		return
	}
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	if s.l.counts[s.key]--; s.l.counts[s.key] <= 0 {
		delete(s.l.counts, s.key)
	}
}

// tracked returns the number of address blocks with live counted
// connections.
func (l *connLimiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.counts)
}

// AcquireConn counts a new connection from the client address remote
// ("ip" or "ip:port"; for HTTP transports, the address resolved through
// trusted_proxies) against parley_max_connections_per_ip. When the
// address is over the limit it returns ok false and the transport must
// refuse the connection (HTTP transports answer 503). Otherwise release
// must be called once when the connection or session ends.
func (srv *Server) AcquireConn(remote string) (release func(), ok bool) {
	release, ok = srv.hot.conns.acquire(remote)
	if !ok {
		srv.log.Debug("connection refused: too many connections from this address", "remote", remote)
	}
	return release, ok
}

// connLimitText is the text of the stream error for refused connections.
const connLimitText = "too many connections from your address"

// refuseTCP ends a TCP connection over the per-IP limit. A plain c2s
// connection gets a stream header and a policy-violation stream error (the
// condition Prosody's community connection throttles use); a direct TLS
// connection is closed without a handshake, which would cost the server
// more than the client. The goodbye runs in a goroutine, bounded in number
// and time, that reads what the client sent so that closing does not turn
// into a reset that loses the error.
func (srv *Server) refuseTCP(conn net.Conn, directTLS bool) {
	lim := &srv.hot.conns
	if directTLS || lim.refusing.Add(1) > maxRefusing {
		if !directTLS {
			lim.refusing.Add(-1)
		}
		_ = conn.Close()
		return
	}
	ok := srv.Go(func() {
		defer lim.refusing.Add(-1)
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(refuseLinger))
		if _, err := conn.Write(refusalBytes()); err != nil {
			return
		}
		if cw, ok := conn.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		var buf [512]byte
		for {
			if _, err := conn.Read(buf[:]); err != nil {
				return
			}
		}
	})
	if !ok {
		lim.refusing.Add(-1)
		_ = conn.Close()
	}
}

// refusalBytes is a whole client stream: header, policy-violation error
// and end, sent before the client's own header has been read (RFC 6120
// §4.9.1.1).
func refusalBytes() []byte {
	b := stanza.AppendStreamHeader(nil, stanza.NSClient, attr("id", randomID()), attr("version", "1.0"))
	b = stanza.AppendStreamElement(b, streamErrorElement(streamErr(stream.PolicyViolation, connLimitText)))
	return append(b, stanza.StreamClose...)
}

// RefuseOverLimit answers an HTTP request whose client is over
// parley_max_connections_per_ip: 503 with a Retry-After, which browsers'
// XMPP libraries treat as a temporary failure.
func RefuseOverLimit(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "30")
	http.Error(w, connLimitText, http.StatusServiceUnavailable)
}
