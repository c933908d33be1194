package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/httpx"
)

//go:embed devpage.html
var devPageHTML string

//go:embed devpage.js
var devPageJS []byte

const (
	// devPageName is the module name a host lists in modules_enabled.
	devPageName = "dev_page"
	// devPageLJMOption is the path of a lib-jitsi-meet bundle to serve
	// (global section). Without it the page loads meet.jit.si's.
	devPageLJMOption = "dev_page_lib_jitsi_meet"
	// devPageJQueryOption is the path of a jQuery build to serve and load
	// before the bundle, for bundles that take jQuery from the page.
	devPageJQueryOption = "dev_page_jquery"

	devPageRemoteLJM   = "https://meet.jit.si/libs/lib-jitsi-meet.min.js"
	devPageLocalLJM    = "/libs/lib-jitsi-meet.min.js"
	devPageLocalJQuery = "/libs/jquery.min.js"
	devPageScript      = "/parley-dev-page.js"
)

// devPage is the "dev_page" module of `parley dev`: a small lib-jitsi-meet
// page at / that joins a meeting anonymously over the same origin's
// WebSocket, so that two browser tabs show a meeting with nothing else
// running. Development and testing only: it is registered by the parley
// command and runs only on a config that names it in modules_enabled.
type devPage struct{}

// newDevPage returns the dev_page module.
func newDevPage() *devPage { return &devPage{} }

// Name implements server.Module.
func (*devPage) Name() string { return devPageName }

// Load implements server.Module; the page is server-wide.
func (*devPage) Load(context.Context, *server.Host) error { return nil }

// devPageData is what the page template is filled with.
type devPageData struct {
	Domain, MUC, Focus, WebSocket string
	LJM, JQuery                   string
}

// LoadServer mounts the page, its script and the configured local files.
func (*devPage) LoadServer(_ context.Context, srv *server.Server) error {
	cfg := srv.Config()
	data, err := devPageSettings(cfg, srv.Hosts())
	if err != nil {
		return err
	}
	ljm, err := devPageFile(cfg, devPageLJMOption)
	if err != nil {
		return err
	}
	jq, err := devPageFile(cfg, devPageJQueryOption)
	if err != nil {
		return err
	}
	data.LJM = devPageRemoteLJM
	if ljm != "" {
		data.LJM = devPageLocalLJM
	}
	if jq != "" {
		data.JQuery = devPageLocalJQuery
	}
	page, err := renderDevPage(data)
	if err != nil {
		return err
	}
	if err := httpx.Mount(srv, "/", staticHandler("text/html; charset=utf-8", page)); err != nil {
		return err
	}
	srv.HandleHTTP(devPageScript, staticHandler("text/javascript; charset=utf-8", devPageJS))
	if ljm != "" {
		srv.HandleHTTP(devPageLocalLJM, fileHandler(ljm))
	}
	if jq != "" {
		srv.HandleHTTP(devPageLocalJQuery, fileHandler(jq))
	}
	srv.Logger().Info("development page (testing only)", "path", "/", "lib-jitsi-meet", firstNonEmpty(ljm, devPageRemoteLJM))
	return nil
}

// devPageSettings picks the first host that enables dev_page and reads
// what lib-jitsi-meet needs to join there: the domain, the conference MUC
// (main_muc, else conference.<domain>), the focus (a dev_focus or
// client_proxy component, else focus.<domain>) and the WebSocket path.
func devPageSettings(cfg *config.Config, hosts []*server.Host) (devPageData, error) {
	var d devPageData
	for _, h := range hosts {
		mods := cfg.Modules(h.Config)
		if !slices.Contains(mods, devPageName) {
			continue
		}
		if !slices.Contains(mods, "websocket") {
			return d, fmt.Errorf("dev_page: host %s does not enable websocket, which the page connects with", h.Name)
		}
		d.Domain = h.Name
		break
	}
	if d.Domain == "" {
		return d, errors.New("dev_page: no VirtualHost enables it")
	}
	d.MUC = "conference." + d.Domain
	for _, h := range hosts {
		if h.Name == d.Domain {
			d.MUC = cfg.String(h.Config, "main_muc", d.MUC)
		}
	}
	d.Focus = "focus." + d.Domain
	for _, c := range cfg.Components {
		if (c.Type == jitsi.DevFocusType || c.Type == jitsi.ClientProxyType) && strings.HasSuffix(c.Name, "."+d.Domain) {
			d.Focus = c.Name
			break
		}
	}
	ws, err := httpx.Path(cfg, "websocket", "/xmpp-websocket")
	if err != nil {
		return d, fmt.Errorf("dev_page: %w", err)
	}
	d.WebSocket = ws
	return d, nil
}

// devPageFile reads a path option of the global section and checks that
// it names a regular file; "" when the option is unset or empty.
func devPageFile(cfg *config.Config, key string) (string, error) {
	o, ok := cfg.Get(nil, key)
	if !ok {
		return "", nil
	}
	p, err := o.AsString()
	if err != nil {
		return "", fmt.Errorf("dev_page: %s: %w", key, err)
	}
	if p == "" {
		return "", nil
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("dev_page: %s: %w", key, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("dev_page: %s (%s): %w", key, o.Pos, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("dev_page: %s (%s): %s is not a regular file", key, o.Pos, abs)
	}
	return abs, nil
}

func renderDevPage(d devPageData) ([]byte, error) {
	t, err := template.New("devpage.html").Parse(devPageHTML)
	if err != nil {
		return nil, fmt.Errorf("dev_page: parsing the page template: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, struct {
		devPageData
		Script string
	}{d, devPageScript}); err != nil {
		return nil, fmt.Errorf("dev_page: rendering the page: %w", err)
	}
	return b.Bytes(), nil
}

// allowRead answers anything but GET and HEAD with 405; it reports
// whether the request may go on.
func allowRead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// staticHandler serves fixed content, never cached (the page changes
// with the options).
func staticHandler(contentType string, body []byte) http.Handler {
	start := time.Now()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowRead(w, r) {
			return
		}
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		http.ServeContent(w, r, "", start, bytes.NewReader(body))
	})
}

// fileHandler serves a JavaScript file from disk, read on every request
// so that a rebuilt bundle is picked up without a restart.
func fileHandler(path string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowRead(w, r) {
			return
		}
		f, err := os.Open(path)
		if err != nil {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, "", fi.ModTime(), f)
	})
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
