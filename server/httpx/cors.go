package httpx

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/config"
)

// CORS is the cross-origin policy of one HTTP app, as Prosody 0.12 and 13
// apply it to BOSH and WebSocket (mod_http with "cors = { enabled = true }").
// cross_domain_bosh and cross_domain_websocket are deprecated and ignored
// there, and so they are here.
type CORS struct {
	origins     map[string]bool // nil: every origin
	methods     string
	headers     string
	maxAge      string
	credentials bool
}

// LoadCORS reads access_control_allow_origins (absent, empty or containing
// "*" allows every origin), access_control_allow_methods (default GET,
// OPTIONS; the app's own methods are added), access_control_allow_headers
// (default Content-Type), access_control_allow_credentials (default false)
// and access_control_max_age (default 2 hours) from the global section.
func LoadCORS(cfg *config.Config, appMethods ...string) (*CORS, error) {
	c := &CORS{}
	list := func(key string, def []string) ([]string, error) {
		o, ok := cfg.Get(nil, key)
		if !ok {
			return def, nil
		}
		v, err := o.AsStrings()
		if err != nil {
			return nil, fmt.Errorf("httpx: %w", err)
		}
		return v, nil
	}
	origins, err := list("access_control_allow_origins", nil)
	if err != nil {
		return nil, err
	}
	if len(origins) > 0 && !slices.Contains(origins, "*") {
		c.origins = make(map[string]bool, len(origins))
		for _, o := range origins {
			c.origins[o] = true
		}
	}
	methods, err := list("access_control_allow_methods", []string{"GET", "OPTIONS"})
	if err != nil {
		return nil, err
	}
	for _, m := range appMethods {
		if !slices.Contains(methods, m) {
			methods = append(methods, m)
		}
	}
	c.methods = strings.Join(methods, ", ")
	headers, err := list("access_control_allow_headers", []string{"Content-Type"})
	if err != nil {
		return nil, err
	}
	c.headers = strings.Join(headers, ", ")
	if o, ok := cfg.Get(nil, "access_control_allow_credentials"); ok {
		if c.credentials, err = o.AsBool(); err != nil {
			return nil, fmt.Errorf("httpx: %w", err)
		}
	}
	age := 2 * time.Hour
	if o, ok := cfg.Get(nil, "access_control_max_age"); ok {
		if age, err = o.AsDuration(); err != nil {
			return nil, fmt.Errorf("httpx: %w", err)
		}
	}
	c.maxAge = strconv.FormatInt(int64(age/time.Second), 10)
	return c, nil
}

// Apply adds the CORS response headers for a request from origin (the
// request's Origin header, possibly empty). Nothing is added when an
// allowlist is configured and origin is not on it.
func (c *CORS) Apply(h http.Header, origin string) {
	if c == nil || (c.origins != nil && !c.origins[origin]) {
		return
	}
	h.Set("Access-Control-Allow-Methods", c.methods)
	h.Set("Access-Control-Allow-Headers", c.headers)
	h.Set("Access-Control-Max-Age", c.maxAge)
	if origin != "" {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
	} else {
		h.Set("Access-Control-Allow-Origin", "*")
	}
	if c.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}

// Preflight answers an OPTIONS request: the CORS headers and an empty 200.
func (c *CORS) Preflight(w http.ResponseWriter, r *http.Request) {
	c.Apply(w.Header(), r.Header.Get("Origin"))
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}
