package server_test

import (
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/servertest"
)

const connLimitConfig = `
parley_max_connections_per_ip = 2
parley_connection_limit_exempt = {}
VirtualHost "example.com"
    c2s_require_encryption = false
`

// A client address over parley_max_connections_per_ip gets a stream
// header and a policy-violation stream error on the c2s port; the slot
// comes back when one of its connections ends.
func TestConnLimitTCP(t *testing.T) {
	srv := servertest.Start(t, connLimitConfig)
	a := servertest.DialRaw(t, srv.C2SAddr)
	a.Open("example.com")
	b := servertest.DialRaw(t, srv.C2SAddr)
	b.Open("example.com")

	c := servertest.DialRaw(t, srv.C2SAddr)
	c.Write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>`)
	c.ReadHeader()
	c.ExpectStreamError("policy-violation")

	a.Conn.Close()
	servertest.Eventually(t, "a slot to be free again", func() bool {
		d := servertest.DialRaw(t, srv.C2SAddr)
		defer d.Conn.Close()
		d.Write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>`)
		d.ReadHeader()
		el := d.Next()
		return el.Name.Local == "features"
	})
}

// The default exempts loopback: Jicofo and the videobridge connect from
// there.
func TestConnLimitLoopbackExemptByDefault(t *testing.T) {
	srv := servertest.Start(t, `
parley_max_connections_per_ip = 1
VirtualHost "example.com"
    c2s_require_encryption = false
`)
	for range 3 {
		r := servertest.DialRaw(t, srv.C2SAddr)
		r.Open("example.com")
	}
}

// Direct TLS connections over the limit are closed before any handshake.
func TestConnLimitDirectTLS(t *testing.T) {
	srv := servertest.Start(t, `
c2s_direct_tls_ports = { 0 }
parley_max_connections_per_ip = 1
parley_connection_limit_exempt = {}
VirtualHost "example.com"
`, servertest.WithTLS())
	cfg := srv.ClientTLS.Clone()
	cfg.ServerName = "example.com"
	first, err := tls.Dial("tcp", srv.DirectTLSAddr, cfg)
	if err != nil {
		t.Fatalf("first connection: %v", err)
	}
	defer first.Close()
	raw, err := net.DialTimeout("tcp", srv.DirectTLSAddr, servertest.Wait)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(servertest.Wait))
	second := tls.Client(raw, cfg)
	err = second.Handshake()
	if err == nil {
		t.Fatal("second direct TLS connection completed its handshake over the limit")
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("handshake timed out instead of being refused: %v", err)
	}
}
