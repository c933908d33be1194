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
