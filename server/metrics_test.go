package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
)

func TestOpenMetrics(t *testing.T) {
	srv := servertest.Start(t, `
modules_enabled = { "http_openmetrics" }
VirtualHost "example.com"
`)
	srv.CreateUser("alice", "example.com", "secret")
	alice := srv.Connect(t, "alice@example.com", "secret", servertest.ClientOptions{})
	ping := stanza.New(stanza.NSClient, "iq").Set("type", "get").Set("to", "example.com").Add(stanza.New("urn:xmpp:ping", "ping"))
	if r := alice.Request(ping); r.Get("type") != "result" {
		t.Fatalf("ping: %s", r)
	}
	if srv.HTTPURL == "" {
		t.Fatal("no HTTP listener for /metrics")
	}
	resp, err := http.Get(srv.HTTPURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		"parley_c2s_sessions 1",
		`parley_c2s_connections_total{transport="c2s"} 1`,
		`parley_c2s_sessions_by_transport{transport="c2s"} 1`,
		`parley_c2s_stanzas_in_total{kind="iq"} 1`,
		`parley_c2s_stanzas_out_total{kind="iq"} 2`, // the bind result and the pong
	} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("/metrics lacks %q:\n%s", want, body)
		}
	}
}

// TestHTTPSPorts: with a certificate, the HTTP routes are also served over
// TLS on https_ports.
func TestHTTPSPorts(t *testing.T) {
	srv := servertest.Start(t, `
modules_enabled = { "http_openmetrics" }
VirtualHost "example.com"
`, servertest.WithTLS())
	if srv.HTTPSURL == "" {
		t.Fatal("no HTTPS listener")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: srv.ClientTLS}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(srv.HTTPSURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics over TLS: %s", resp.Status)
	}
}

// TestOpenMetricsAccess: as Prosody's mod_http_openmetrics, /metrics is for
// openmetrics_allow_ips (loopback by default) and openmetrics_allow_cidr.
func TestOpenMetricsAccess(t *testing.T) {
	for _, tc := range []struct {
		name, cfg string
		want      int
	}{
		{"loopback by default", ``, http.StatusOK},
		{"not listed", `openmetrics_allow_ips = { "192.0.2.1" }`, http.StatusForbidden},
		{"listed network", `openmetrics_allow_ips = { "192.0.2.1" }
openmetrics_allow_cidr = "127.0.0.0/8"`, http.StatusOK},
		{"other network", `openmetrics_allow_ips = {}
openmetrics_allow_cidr = "172.16.0.0/12"`, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := servertest.Start(t, `
modules_enabled = { "http_openmetrics" }
`+tc.cfg+`
VirtualHost "example.com"
`)
			resp, err := http.Get(srv.HTTPURL + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("GET /metrics: %s, want %d", resp.Status, tc.want)
			}
		})
	}
}
