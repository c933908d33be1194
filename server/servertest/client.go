package servertest

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
)

// ClientOptions tune Dial.
type ClientOptions struct {
	// Mechanisms offered by the client, strongest first; default
	// SCRAM-SHA-256, SCRAM-SHA-1, PLAIN.
	Mechanisms []sasl.Mechanism
	// StartTLS negotiates TLS with the server's test certificate.
	StartTLS bool
}

// Dial connects a mellium client to the server's c2s port, authenticates
// address (user@host[/resource]; host only for ANONYMOUS) with password and
// binds a resource. The session is closed in t.Cleanup.
func (s *Server) Dial(t testing.TB, address, password string, o ClientOptions) *xmpp.Session {
	t.Helper()
	sess, err := s.TryDial(t, address, password, o)
	if err != nil {
		t.Fatalf("servertest: dial %s: %v", address, err)
	}
	return sess
}

// TryDial is Dial returning the error instead of failing the test.
func (s *Server) TryDial(t testing.TB, address, password string, o ClientOptions) (*xmpp.Session, error) {
	t.Helper()
	origin, err := jid.Parse(address)
	if err != nil {
		return nil, err
	}
	mechs := o.Mechanisms
	if len(mechs) == 0 {
		mechs = []sasl.Mechanism{sasl.ScramSha256, sasl.ScramSha1, sasl.Plain}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.C2SAddr)
	if err != nil {
		return nil, err
	}
	var features []xmpp.StreamFeature
	if o.StartTLS {
		cfg := s.ClientTLS.Clone()
		cfg.ServerName = origin.Domainpart()
		features = append(features, xmpp.StartTLS(cfg))
	}
	features = append(features, xmpp.SASL("", password, mechs...), xmpp.BindResource())
	// mellium only negotiates SASL on a secure stream; on a plain test
	// connection, start in the Secure state so it goes ahead (the server
	// still decides what it offers).
	var state xmpp.SessionState
	if !o.StartTLS {
		state = xmpp.Secure
	}
	sess, err := xmpp.NewSession(ctx, origin.Domain(), origin, conn, state, xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
		return xmpp.StreamConfig{Features: features}
	}))
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	t.Cleanup(func() {
		_ = sess.Close()
		_ = conn.Close()
	})
	return sess, nil
}

// DialDirectTLS logs in over the direct TLS port (XEP-0368) with PLAIN,
// which is offered because the stream is encrypted.
func (s *Server) DialDirectTLS(t testing.TB, address, password string) *Client {
	t.Helper()
	origin, err := jid.Parse(address)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.ClientTLS.Clone()
	cfg.ServerName = origin.Domainpart()
	conn, err := tls.Dial("tcp", s.DirectTLSAddr, cfg)
	if err != nil {
		t.Fatalf("servertest: direct TLS dial: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	sess, err := xmpp.NewSession(ctx, origin.Domain(), origin, conn, xmpp.Secure, xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
		return xmpp.StreamConfig{Features: []xmpp.StreamFeature{xmpp.SASL("", password, sasl.Plain), xmpp.BindResource()}}
	}))
	if err != nil {
		_ = conn.Close()
		t.Fatalf("servertest: direct TLS login: %v", err)
	}
	return Watch(t, sess)
}
