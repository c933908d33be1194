package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/websocket"
)

// startDev runs `parley dev` in-process on free ports with the given extra
// environment and returns its HTTP address; it stops when the test ends
// and the test fails unless it exits with 0.
func startDev(t *testing.T, extra map[string]string) string {
	t.Helper()
	return "http://" + serving(t, []string{"dev"}, freePorts(extra), server.ListenHTTP)[server.ListenHTTP]
}

type fetched struct {
	status int
	ctype  string
	body   string
}

func fetch(t *testing.T, method, url string) fetched {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return fetched{resp.StatusCode, resp.Header.Get("Content-Type"), string(b)}
}

// TestDevPage: `parley dev` serves the lib-jitsi-meet page at /, with
// meet.jit.si's bundle by default and the local files named by
// ENV_PARLEY_DEV_LJM and ENV_PARLEY_DEV_JQUERY otherwise.
func TestDevPage(t *testing.T) {
	dir := t.TempDir()
	bundle := filepath.Join(dir, "lib-jitsi-meet.min.js")
	jquery := filepath.Join(dir, "jquery.min.js")
	const bundleText = "/* a lib-jitsi-meet stand-in */ window.JitsiMeetJS = {};\n"
	const jqueryText = "/* a jQuery stand-in */ window.jQuery = function () {};\n"
	for p, text := range map[string]string{bundle: bundleText, jquery: jqueryText} {
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name string
		env  map[string]string
		// libSrc is the bundle's script src in the page.
		libSrc string
		// files are paths under /libs/ and their expected bodies ("" = 404).
		files map[string]string
		// jquery: whether the page loads the local jQuery.
		jquery bool
	}{
		{
			name:   "default: meet.jit.si's bundle, nothing local",
			libSrc: devPageRemoteLJM,
			files:  map[string]string{"/libs/lib-jitsi-meet.min.js": "", "/libs/jquery.min.js": ""},
		},
		{
			name:   "empty variables are unset",
			env:    map[string]string{"PARLEY_DEV_LJM": "", "PARLEY_DEV_JQUERY": ""},
			libSrc: devPageRemoteLJM,
			files:  map[string]string{"/libs/lib-jitsi-meet.min.js": "", "/libs/jquery.min.js": ""},
		},
		{
			name:   "local bundle",
			env:    map[string]string{"PARLEY_DEV_LJM": bundle},
			libSrc: devPageLocalLJM,
			files:  map[string]string{"/libs/lib-jitsi-meet.min.js": bundleText, "/libs/jquery.min.js": ""},
		},
		{
			name:   "local bundle and jQuery",
			env:    map[string]string{"PARLEY_DEV_LJM": bundle, "PARLEY_DEV_JQUERY": jquery},
			libSrc: devPageLocalLJM,
			files:  map[string]string{"/libs/lib-jitsi-meet.min.js": bundleText, "/libs/jquery.min.js": jqueryText},
			jquery: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := startDev(t, tc.env)

			page := fetch(t, http.MethodGet, base+"/")
			if page.status != http.StatusOK || page.ctype != "text/html; charset=utf-8" {
				t.Fatalf("GET /: %d %q", page.status, page.ctype)
			}
			for _, want := range []string{
				`<script src="` + tc.libSrc + `"></script>`,
				`<script src="` + devPageScript + `"></script>`,
				`data-domain="localhost"`,
				`data-muc="conference.localhost"`,
				`data-focus="focus.localhost"`,
				`data-websocket="/xmpp-websocket"`,
			} {
				if !strings.Contains(page.body, want) {
					t.Errorf("the page lacks %s:\n%s", want, page.body)
				}
			}
			if got := strings.Contains(page.body, `<script src="`+devPageLocalJQuery+`">`); got != tc.jquery {
				t.Errorf("page loads the local jQuery: %v, want %v", got, tc.jquery)
			}
			if tc.libSrc == devPageLocalLJM && strings.Contains(page.body, "meet.jit.si/libs") {
				t.Error("with a local bundle the page still loads meet.jit.si's")
			}

			js := fetch(t, http.MethodGet, base+devPageScript)
			if js.status != http.StatusOK || js.ctype != "text/javascript; charset=utf-8" || js.body != string(devPageJS) {
				t.Fatalf("GET %s: %d %q, %d bytes", devPageScript, js.status, js.ctype, len(js.body))
			}
			for path, want := range tc.files {
				got := fetch(t, http.MethodGet, base+path)
				if want == "" {
					if got.status != http.StatusNotFound {
						t.Errorf("GET %s without its option: %d, want 404", path, got.status)
					}
					continue
				}
				if got.status != http.StatusOK || got.ctype != "text/javascript; charset=utf-8" || got.body != want {
					t.Errorf("GET %s: %d %q %q", path, got.status, got.ctype, got.body)
				}
			}

			if got := fetch(t, http.MethodPost, base+"/"); got.status != http.StatusMethodNotAllowed {
				t.Errorf("POST /: %d, want 405", got.status)
			}
			if got := fetch(t, http.MethodGet, base+"/no-such-page"); got.status != http.StatusNotFound {
				t.Errorf("GET /no-such-page: %d, want 404", got.status)
			}
			// The transports are still there next to the page.
			if got := fetch(t, http.MethodGet, base+"/xmpp-websocket"); got.status != http.StatusOK {
				t.Errorf("GET /xmpp-websocket: %d", got.status)
			}
		})
	}
}

// TestDevPageFileReadPerRequest: a rebuilt bundle is served without a
// restart.
func TestDevPageFileReadPerRequest(t *testing.T) {
	bundle := filepath.Join(t.TempDir(), "ljm.js")
	if err := os.WriteFile(bundle, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := startDev(t, map[string]string{"PARLEY_DEV_LJM": bundle})
	if got := fetch(t, http.MethodGet, base+devPageLocalLJM); got.body != "first" {
		t.Fatalf("first GET: %q", got.body)
	}
	if err := os.WriteFile(bundle, []byte("second, longer"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := fetch(t, http.MethodGet, base+devPageLocalLJM); got.body != "second, longer" {
		t.Fatalf("GET after the rewrite: %q", got.body)
	}
	if err := os.Remove(bundle); err != nil {
		t.Fatal(err)
	}
	if got := fetch(t, http.MethodGet, base+devPageLocalLJM); got.status != http.StatusNotFound {
		t.Fatalf("GET after removing the file: %d, want 404", got.status)
	}
}

// TestDevPageStartErrors: a bundle path that is not a file, or a host
// without WebSocket, stops the server at start-up with a clear error.
func TestDevPageStartErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  string
		want string
	}{
		{
			name: "missing bundle",
			cfg:  "dev_page_lib_jitsi_meet = \"" + filepath.Join(dir, "absent.js") + "\"\nVirtualHost \"localhost\"\n modules_enabled = { \"websocket\", \"dev_page\" }\n",
			want: "dev_page_lib_jitsi_meet",
		},
		{
			name: "bundle is a directory",
			cfg:  "dev_page_jquery = \"" + dir + "\"\nVirtualHost \"localhost\"\n modules_enabled = { \"websocket\", \"dev_page\" }\n",
			want: "not a regular file",
		},
		{
			name: "bundle path not a string",
			cfg:  "dev_page_lib_jitsi_meet = { 1 }\nVirtualHost \"localhost\"\n modules_enabled = { \"websocket\", \"dev_page\" }\n",
			want: "dev_page_lib_jitsi_meet",
		},
		{
			name: "no websocket",
			cfg:  "VirtualHost \"localhost\"\n modules_enabled = { \"dev_page\" }\n",
			want: "does not enable websocket",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse("test.cfg.lua", []byte("interfaces = { \"127.0.0.1\" }\nc2s_ports = { 0 }\nhttp_ports = { 0 }\n"+tc.cfg))
			if err != nil {
				t.Fatal(err)
			}
			srv, err := server.New(cfg, server.WithStore(storage.NewMemoryStore()),
				server.WithModules(websocket.New(websocket.Options{}), newDevPage()))
			if err != nil {
				t.Fatal(err)
			}
			err = srv.Start(t.Context())
			if err == nil {
				_ = srv.Shutdown(context.Background())
				t.Fatal("the server started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// TestDevPageSettings: the page follows the config's names (main_muc, the
// focus component, http_paths.websocket).
func TestDevPageSettings(t *testing.T) {
	cfg, err := config.Parse("test.cfg.lua", []byte(`
http_paths = { websocket = "/ws/" }
VirtualHost "other.example"
VirtualHost "meet.example"
    modules_enabled = { "websocket", "dev_page" }
    main_muc = "rooms.meet.example"
Component "rooms.meet.example" "muc"
Component "jicofo.meet.example" "client_proxy"
`))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(cfg, server.WithStore(storage.NewMemoryStore()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := devPageSettings(cfg, srv.Hosts())
	if err != nil {
		t.Fatal(err)
	}
	want := devPageData{Domain: "meet.example", MUC: "rooms.meet.example", Focus: "jicofo.meet.example", WebSocket: "/ws"}
	if got != want {
		t.Fatalf("settings %+v, want %+v", got, want)
	}
}
