package jitsitest

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"sync"

	"github.com/parley-xmpp/parley/server/stanza"
)

// Jibri's presence namespaces (jibri-status in jibribrewery).
const (
	NSJibri       = "http://jitsi.org/protocol/jibri"
	NSJibriHealth = "http://jitsi.org/protocol/health"
)

// MemberConfig is a brewery member's connection (JVB, Jibri, Jigasi): an
// account on auth.D, the brewery room and the nick.
type MemberConfig struct {
	// Domain, User and Password are the account (jvb@auth.D, ...).
	Domain, User, Password string
	// Resource to bind (default User).
	Resource string
	// Brewery is the brewery room JID; Nick the member's nick in it.
	Brewery, Nick string
	// Status is the presence extension the member publishes (colibri
	// stats, jibri-status); it can be replaced with Publish.
	Status *stanza.Element
	// Handler answers IQ requests (nil: disco#info and ping only).
	Handler IQHandler
	// TLS is the STARTTLS client configuration.
	TLS *tls.Config
	// Log receives debug output.
	Log *slog.Logger
}

// Member is a component that announces itself in a brewery MUC.
type Member struct {
	*Peer
	cfg MemberConfig
}

// StartMember logs in and joins the brewery with cfg.Status.
func StartMember(ctx context.Context, addr string, cfg MemberConfig) (*Member, error) {
	if cfg.Resource == "" {
		cfg.Resource = cfg.User
	}
	c, err := Dial(ctx, addr, Config{Domain: cfg.Domain, User: cfg.User, Password: cfg.Password, Resource: cfg.Resource,
		TLS: cfg.TLS, StreamManagement: true, Log: cfg.Log})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.User, err)
	}
	m := &Member{Peer: newPeer(c, cfg.Handler, nil), cfg: cfg}
	var ext []*stanza.Element
	if cfg.Status != nil {
		ext = append(ext, cfg.Status)
	}
	if _, err := m.Join(ctx, cfg.Brewery, cfg.Nick, ext...); err != nil {
		_ = m.Close()
		return nil, fmt.Errorf("%s: joining %s: %w", cfg.User, cfg.Brewery, err)
	}
	return m, nil
}

// Occupant is the member's occupant JID in the brewery.
func (m *Member) Occupant() string { return m.cfg.Brewery + "/" + m.cfg.Nick }

// Publish re-sends the brewery presence with a new status extension, as
// the bridge does on every stats interval (MucPublisher).
func (m *Member) Publish(ctx context.Context, status *stanza.Element) error {
	pr := stanza.New(stanza.NSClient, "presence").Set("to", m.Occupant()).Add(status)
	return m.Send(ctx, pr)
}

// JVBConfig is the bridge's XMPP client config (jvb.conf, MUC_JIDS).
type JVBConfig struct {
	// Domain is auth.D; User defaults to "jvb".
	Domain, User, Password string
	// Brewery is jvbbrewery@internal.auth.D; Nick the bridge's MUC nick.
	Brewery, Nick string
	// Stress is the initial stress_level stat.
	Stress string
	// TLS is the STARTTLS client configuration.
	TLS *tls.Config
	// Log receives debug output.
	Log *slog.Logger
}

// JVB is a videobridge-shaped brewery member: it publishes colibri stats
// and answers Colibri2 conference-modify and health checks that arrive
// through its brewery occupant JID.
type JVB struct {
	*Member
	mu       sync.Mutex
	requests []*stanza.Element
}

// StartJVB logs in and joins the brewery with stats.
func StartJVB(ctx context.Context, addr string, cfg JVBConfig) (*JVB, error) {
	if cfg.User == "" {
		cfg.User = "jvb"
	}
	v := &JVB{}
	m, err := StartMember(ctx, addr, MemberConfig{Domain: cfg.Domain, User: cfg.User, Password: cfg.Password,
		Brewery: cfg.Brewery, Nick: cfg.Nick, Status: BridgeStats(cfg.Stress), Handler: v.handleIQ, TLS: cfg.TLS, Log: cfg.Log})
	if err != nil {
		return nil, fmt.Errorf("jvb: %w", err)
	}
	v.Member = m
	return v, nil
}

// BridgeStats is the stats extension a bridge publishes.
func BridgeStats(stress string) *stanza.Element {
	return StatsElement([2]string{"stress_level", stress}, [2]string{"region", "test"},
		[2]string{"relay_id", "jvb-test"}, [2]string{"version", "2.3-test"}, [2]string{"drain", "false"})
}

func (v *JVB) handleIQ(_ context.Context, iq *stanza.Element) *stanza.Element {
	switch q := iq.FirstElement(); {
	case q == nil:
		return nil
	case q.Name.Space == NSColibri2 && q.Name.Local == "conference-modify":
		v.mu.Lock()
		v.requests = append(v.requests, iq)
		v.mu.Unlock()
		mod := stanza.New(NSColibri2, "conference-modified").Set("meeting-id", q.Get("meeting-id")).Set("name", q.Get("name"))
		for _, ep := range q.Elements() {
			if ep.Name.Local == "endpoint" {
				mod.Add(stanza.New(NSColibri2, "endpoint").Set("id", ep.Get("id")).
					Add(stanza.New(NSColibri2, "transport").Add(stanza.New("urn:xmpp:jingle:transports:ice-udp:1", "transport").
						Set("ufrag", "u").Set("pwd", "p"))))
			}
		}
		return Result(iq).Add(mod)
	case q.Name.Space == NSHealthCheck:
		return Result(iq)
	}
	return nil
}

// Colibri2Requests are the conference-modify IQs the bridge answered.
func (v *JVB) Colibri2Requests() []*stanza.Element {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]*stanza.Element(nil), v.requests...)
}

// JibriStatus is Jibri's brewery presence extension (idle and healthy).
func JibriStatus(busy string) *stanza.Element {
	return stanza.New(NSJibri, "jibri-status").
		Add(stanza.New(NSJibri, "busy-status").Set("status", busy)).
		Add(stanza.New(NSJibriHealth, "health-status").Set("status", "healthy"))
}

// JigasiStats is Jigasi's brewery presence extension (colibri stats with
// its SIP/transcription support).
func JigasiStats() *stanza.Element {
	return StatsElement([2]string{"stress_level", "0.0"}, [2]string{"supports_sip", "true"},
		[2]string{"supports_transcription", "true"}, [2]string{"conferences", "0"})
}
