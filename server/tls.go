package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/parley-xmpp/parley/config"
)

// setupTLS loads certificates the way Prosody finds them: an `ssl` table
// (key, certificate) globally or per host, else files named after the host
// in the `certificates` directory (default "certs" next to the config).
// A host without a certificate is served without TLS, with a warning.
//
// Handshakes take the certificates from hot.certs through
// GetConfigForClient, so that Reload can replace them: connections made
// after a reload present the new ones.
func (srv *Server) setupTLS() error {
	if srv.opts.tlsConfig != nil {
		srv.tlsConfig = srv.opts.tlsConfig
		return nil
	}
	certs, _ := srv.loadCertificates(srv.cfg)
	if len(certs) == 0 {
		return nil
	}
	srv.hot.certs.Store(certConfig(certs))
	// crypto/tls servers never renegotiate (SECURITY-CASES, CVE-2021-32920).
	srv.tlsConfig = &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return srv.hot.certs.Load(), nil
		},
	}
	return nil
}

func certConfig(certs []tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: certs, MinVersion: tls.VersionTLS12}
}

// loadCertificates loads the certificates cfg names. Files that fail to
// load are logged and skipped; their errors are returned too.
func (srv *Server) loadCertificates(cfg *config.Config) ([]tls.Certificate, error) {
	base := "."
	if cfg.Path != "" {
		base = filepath.Dir(cfg.Path)
	}
	resolve := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	var certs []tls.Certificate
	var errs []error
	seen := map[string]bool{}
	load := func(certFile, keyFile, host string) bool {
		if seen[certFile] {
			return true
		}
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			srv.log.Warn("cannot load certificate", "host", host, "cert", certFile, "err", err)
			errs = append(errs, fmt.Errorf("host %s: certificate %s: %w", host, certFile, err))
			return false
		}
		seen[certFile] = true
		certs = append(certs, c)
		return true
	}
	for _, hc := range cfg.Hosts {
		v := sectionView{cfg: cfg, sec: hc}
		if ssl := v.table("ssl"); ssl != nil {
			cert, _ := ssl["certificate"].(string)
			key, _ := ssl["key"].(string)
			if cert != "" && key != "" {
				load(resolve(cert), resolve(key), hc.Name)
				continue
			}
		}
		dir := resolve(v.str("certificates", "certs"))
		for _, pair := range [][2]string{
			{hc.Name + ".crt", hc.Name + ".key"},
			{filepath.Join(hc.Name, "fullchain.pem"), filepath.Join(hc.Name, "privkey.pem")},
		} {
			cf, kf := filepath.Join(dir, pair[0]), filepath.Join(dir, pair[1])
			if _, err := os.Stat(cf); err == nil && load(cf, kf, hc.Name) {
				break
			}
		}
	}
	return certs, errors.Join(errs...)
}
