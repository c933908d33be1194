// Package httpx holds what parley's HTTP transports (BOSH and WebSocket)
// share with each other and with small HTTP modules: the client's address
// and security behind trusted proxies, CORS headers as Prosody 0.12 and 13
// send them, the session parameters Jitsi reads from the request, which
// requests a transport serves (Prosody's HTTP host routing), route
// registration from http_paths, standalone framing of stanzas, and the
// /health endpoint (module "http_health").
package httpx

import (
	"fmt"
	"html"
	"net/http"
	"strings"

	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/server"
)

// Settings are the HTTP options every transport reads from the global
// section of the configuration.
type Settings struct {
	// Proxies are the trusted_proxies (default 127.0.0.1 and ::1).
	Proxies Proxies
	// RegionHeader is the HTTP header Jitsi's mod_jitsi_session reads the
	// client's region from: region_header_name with '_' turned into '-'
	// (default "X-Proxy-Region").
	RegionHeader string
}

// LoadSettings reads trusted_proxies and region_header_name.
func LoadSettings(cfg *config.Config) (*Settings, error) {
	st := &Settings{}
	proxies := []string{"127.0.0.1", "::1"}
	if o, ok := cfg.Get(nil, "trusted_proxies"); ok {
		v, err := o.AsStrings()
		if err != nil {
			return nil, fmt.Errorf("httpx: %w", err)
		}
		proxies = v
	}
	p, err := ParseProxies(proxies)
	if err != nil {
		return nil, fmt.Errorf("httpx: trusted_proxies: %w", err)
	}
	st.Proxies = p
	region := cfg.String(nil, "region_header_name", "x_proxy_region")
	st.RegionHeader = http.CanonicalHeaderKey(strings.ReplaceAll(region, "_", "-"))
	return st, nil
}

// Path returns the URL path of an HTTP app: http_paths[app] from the global
// section, or def, normalised as Prosody does (a leading slash, no trailing
// slash).
func Path(cfg *config.Config, app, def string) (string, error) {
	p := def
	if o, ok := cfg.Get(nil, "http_paths"); ok {
		m, err := o.AsStringMap()
		if err != nil {
			return "", fmt.Errorf("httpx: %w", err)
		}
		if v, ok := m[app]; ok {
			p = v
		}
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if len(p) > 1 {
		p = strings.TrimRight(p, "/")
		if p == "" {
			p = "/"
		}
	}
	return p, nil
}

// Mount registers h on path and on path + "/" (Prosody answers both), and
// turns the mux's panic on a duplicate route into an error.
func Mount(srv *server.Server, path string, h http.Handler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("httpx: mounting %s: %v", path, r)
		}
	}()
	if path == "/" {
		srv.HandleHTTP("/{$}", h)
		return nil
	}
	srv.HandleHTTP(path, h)
	srv.HandleHTTP(path+"/{$}", h)
	return nil
}

// Params returns the session parameters Jitsi's Prosody plugins take from
// the HTTP request that creates a BOSH or WebSocket session
// (mod_auth_token init_session, mod_jitsi_session): the URL query's token,
// room, prefix, previd and customusername, the bearer token of the
// Authorization header (the query's token wins), the User-Agent and the
// region header. Keys with empty values are left out.
func Params(r *http.Request, regionHeader string) map[string]string {
	m := make(map[string]string, 4)
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	if a := r.Header.Get("Authorization"); len(a) > len("Bearer ") && strings.EqualFold(a[:len("Bearer ")], "Bearer ") {
		set("token", a[len("Bearer "):])
	}
	q := r.URL.Query()
	for _, k := range []string{"token", "room", "prefix", "previd", "customusername"} {
		set(k, q.Get(k))
	}
	set("user_agent", r.UserAgent())
	if regionHeader != "" {
		set("region", r.Header.Get(regionHeader))
	}
	return m
}

// InfoPage writes the short HTML page Prosody shows for a plain GET on a
// transport endpoint, with a warning when the endpoint is not considered
// secure.
func InfoPage(w http.ResponseWriter, r *http.Request, title, message string, secure bool) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><head><title>")
	b.WriteString(html.EscapeString(title))
	b.WriteString("</title></head><body>\n<h1>")
	b.WriteString(html.EscapeString(title))
	b.WriteString("</h1>\n<p>")
	b.WriteString(html.EscapeString(message))
	b.WriteString("</p>\n")
	if !secure {
		b.WriteString("<p><strong>This endpoint is not considered secure!</strong></p>\n")
	}
	b.WriteString("</body></html>\n")
	_, _ = w.Write([]byte(b.String()))
}
