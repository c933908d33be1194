package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Listener kinds, for Addrs.
const (
	ListenC2S          = "c2s"
	ListenC2SDirectTLS = "c2s_direct_tls"
	ListenComponent    = "component"
	ListenHTTP         = "http"
	ListenHTTPS        = "https"
)

// hostPorts expands Prosody's interfaces × ports into listen addresses.
// "*" means every IPv4 and IPv6 address.
func hostPorts(ifaces []string, ports []int) []string {
	wildcard := false
	for _, i := range ifaces {
		if i == "*" || i == "0.0.0.0" {
			wildcard = true
		}
	}
	var out []string
	for _, p := range ports {
		if wildcard {
			out = append(out, net.JoinHostPort("", strconv.Itoa(p)))
			continue
		}
		for _, i := range ifaces {
			out = append(out, net.JoinHostPort(strings.Trim(i, "[]"), strconv.Itoa(p)))
		}
	}
	return out
}

func (srv *Server) listen() error {
	g := sectionView{cfg: srv.cfg}
	ifaces := g.strings("interfaces", []string{"*", "::"})
	c2sPorts, err := g.ints("c2s_ports", []int{5222})
	if err != nil {
		return err
	}
	tlsPorts, err := g.ints("c2s_direct_tls_ports", nil)
	if err != nil {
		return err
	}
	legacy, err := g.ints("legacy_ssl_ports", nil)
	if err != nil {
		return err
	}
	tlsPorts = append(tlsPorts, legacy...)
	compPorts, err := g.ints("component_ports", []int{5347})
	if err != nil {
		return err
	}
	httpPorts, err := g.ints("http_ports", []int{5280})
	if err != nil {
		return err
	}
	type spec struct {
		kind  string
		addrs []string
		serve func(net.Listener)
	}
	specs := []spec{
		{ListenC2S, hostPorts(g.strings("c2s_interfaces", ifaces), c2sPorts), func(l net.Listener) { srv.acceptLoop(l, false) }},
		{ListenComponent, hostPorts(g.strings("component_interfaces", []string{"127.0.0.1", "::1"}), compPorts), srv.componentAcceptLoop},
	}
	if len(tlsPorts) > 0 {
		if srv.tlsConfig == nil {
			return fmt.Errorf("%s: c2s_direct_tls_ports needs a certificate", g.pos("c2s_direct_tls_ports"))
		}
		specs = append(specs, spec{ListenC2SDirectTLS, hostPorts(g.strings("c2s_direct_tls_interfaces", ifaces), tlsPorts), func(l net.Listener) { srv.acceptLoop(l, true) }})
	}
	if len(srv.components) == 0 || !srv.hasExternalComponents() {
		specs[1].addrs = nil
	}
	if len(srv.httpRoutes) > 0 {
		specs = append(specs, spec{ListenHTTP, hostPorts(g.strings("http_interfaces", ifaces), httpPorts), srv.serveHTTP})
		// https_ports serve the same routes over TLS with the configured
		// certificates (Prosody's default 5281), when there are any.
		httpsPorts, err := g.ints("https_ports", []int{5281})
		if err != nil {
			return err
		}
		if srv.tlsConfig != nil {
			specs = append(specs, spec{ListenHTTPS, hostPorts(g.strings("https_interfaces", ifaces), httpsPorts), func(l net.Listener) {
				srv.serveHTTP(tls.NewListener(l, srv.tlsConfig))
			}})
		}
	}
	for _, sp := range specs {
		for _, addr := range sp.addrs {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				if isIPv6Unavailable(addr, err) {
					srv.log.Warn("IPv6 unavailable, not listening", "addr", addr)
					continue
				}
				return fmt.Errorf("server: listen %s on %s: %w", sp.kind, addr, err)
			}
			srv.lmu.Lock()
			srv.listeners[sp.kind] = append(srv.listeners[sp.kind], l)
			srv.lmu.Unlock()
			srv.log.Info("listening", "kind", sp.kind, "addr", l.Addr().String())
			serve := sp.serve
			srv.Go(func() { serve(l) })
		}
	}
	return nil
}

func isIPv6Unavailable(addr string, err error) bool {
	return strings.Contains(addr, ":") && strings.HasPrefix(addr, "[") &&
		(strings.Contains(err.Error(), "cannot assign requested address") || strings.Contains(err.Error(), "address family not supported"))
}

func (srv *Server) hasExternalComponents() bool {
	for _, e := range srv.components {
		if _, ok := srv.secrets[e.name]; ok {
			return true
		}
	}
	return false
}

// Addrs returns the bound addresses of one listener kind.
func (srv *Server) Addrs(kind string) []net.Addr {
	srv.lmu.Lock()
	defer srv.lmu.Unlock()
	var out []net.Addr
	for _, l := range srv.listeners[kind] {
		out = append(out, l.Addr())
	}
	return out
}

// Addr returns the first bound address of a listener kind, or "".
func (srv *Server) Addr(kind string) string {
	if a := srv.Addrs(kind); len(a) > 0 {
		return a[0].String()
	}
	return ""
}

func (srv *Server) closeListeners() {
	srv.lmu.Lock()
	defer srv.lmu.Unlock()
	for _, ls := range srv.listeners {
		for _, l := range ls {
			_ = l.Close()
		}
	}
}

// acceptLoop accepts until the listener closes, backing off on temporary
// errors.
func (srv *Server) acceptLoop(l net.Listener, directTLS bool) {
	var delay time.Duration
	for {
		conn, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			delay = backoff(delay)
			srv.log.Warn("accept failed", "err", err, "retry_in", delay)
			select {
			case <-time.After(delay):
				continue
			case <-srv.ctx.Done():
				return
			}
		}
		delay = 0
		release, ok := srv.AcquireConn(conn.RemoteAddr().String())
		if !ok {
			srv.refuseTCP(conn, directTLS)
			continue
		}
		if !srv.Go(func() { defer release(); srv.serveTCP(conn, directTLS) }) {
			release()
			_ = conn.Close()
			return
		}
	}
}

func backoff(d time.Duration) time.Duration {
	if d == 0 {
		return 5 * time.Millisecond
	}
	if d *= 2; d > time.Second {
		d = time.Second
	}
	return d
}

func (srv *Server) serveHTTP(l net.Listener) {
	// No Read/WriteTimeout: BOSH holds requests up to bosh_max_wait and
	// sets per-request deadlines itself.
	hs := &http.Server{
		Handler:           srv.httpMux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10, // tokens in URLs can be several KiB
	}
	srv.lmu.Lock()
	srv.httpSrv = append(srv.httpSrv, hs)
	srv.lmu.Unlock()
	if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		srv.log.Error("http server failed", "err", err)
	}
}
