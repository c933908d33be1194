package server

import (
	"crypto/tls"
	"os"
	"path/filepath"
)

// setupTLS loads certificates the way Prosody finds them: an `ssl` table
// (key, certificate) globally or per host, else files named after the host
// in the `certificates` directory (default "certs" next to the config).
// A host without a certificate is served without TLS, with a warning.
func (srv *Server) setupTLS() error {
	if srv.opts.tlsConfig != nil {
		srv.tlsConfig = srv.opts.tlsConfig
		return nil
	}
	base := "."
	if srv.cfg.Path != "" {
		base = filepath.Dir(srv.cfg.Path)
	}
	resolve := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	var certs []tls.Certificate
	seen := map[string]bool{}
	load := func(certFile, keyFile, host string) bool {
		if seen[certFile] {
			return true
		}
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			srv.log.Warn("cannot load certificate", "host", host, "cert", certFile, "err", err)
			return false
		}
		seen[certFile] = true
		certs = append(certs, c)
		return true
	}
	for _, hc := range srv.cfg.Hosts {
		v := sectionView{cfg: srv.cfg, sec: hc}
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
	if len(certs) == 0 {
		return nil
	}
	// crypto/tls servers never renegotiate (SECURITY-CASES, CVE-2021-32920).
	srv.tlsConfig = &tls.Config{Certificates: certs, MinVersion: tls.VersionTLS12}
	return nil
}
