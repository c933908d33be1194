package bosh_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/bosh"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/httpx"
	"github.com/parley-xmpp/parley/server/httpx/transporttest"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
	"github.com/parley-xmpp/parley/server/websocket"
)

const baseConfig = `
modules_enabled = { "bosh", "websocket", "http_health", "test_params" }
consider_bosh_secure = true
consider_websocket_secure = true
VirtualHost "example.com"
VirtualHost "anon.example"
    authentication = "anonymous"
`

// env is a running test server and its transport modules.
type env struct {
	*servertest.Server
	params *transporttest.ParamsModule
	bosh   *bosh.Module
}

// startServer starts a server with the bosh, websocket, http_health and
// test_params modules; global holds global options (placed before
// baseConfig) and sections more VirtualHosts or Components (after it).
func startServer(t testing.TB, global, sections string, opts ...server.Option) *env {
	t.Helper()
	return startWith(t, global+baseConfig+sections, bosh.Options{}, opts...)
}

// startWith starts a server with the whole config cfg.
func startWith(t testing.TB, cfg string, bo bosh.Options, opts ...server.Option) *env {
	t.Helper()
	e := &env{params: transporttest.NewParamsModule(), bosh: bosh.New(bo)}
	mods := server.WithModules(e.bosh, websocket.New(websocket.Options{}), httpx.NewHealth(), e.params)
	e.Server = servertest.Start(t, cfg, servertest.WithServerOptions(append([]server.Option{mods}, opts...)...))
	return e
}

// httpClient returns a client with its own connection pool, closed at the
// end of the test.
func httpClient(t testing.TB) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: servertest.Wait}
}

// boshClient speaks BOSH with hand-written bodies.
type boshClient struct {
	t      testing.TB
	url    string
	hc     *http.Client
	do     func(*http.Request) (*http.Response, error)
	header http.Header // sent with every request
	sid    string
	rid    int64
}

func newBOSH(t testing.TB, url string) *boshClient {
	hc := httpClient(t)
	return &boshClient{t: t, url: url, hc: hc, do: hc.Do, header: http.Header{}, rid: 4000}
}

// postRaw sends body and returns the status and response bytes.
func (c *boshClient) postRaw(body string) (int, http.Header, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.url, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	resp, err := c.do(req)
	if err != nil {
		c.t.Fatalf("bosh: POST: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("bosh: reading response: %v", err)
	}
	return resp.StatusCode, resp.Header, data
}

// post sends body and parses the response <body/>.
func (c *boshClient) post(body string) *stanza.Element {
	c.t.Helper()
	status, h, data := c.postRaw(body)
	if status != http.StatusOK {
		c.t.Fatalf("bosh: status %d: %s", status, data)
	}
	if ct := h.Get("Content-Type"); ct != "text/xml; charset=utf-8" {
		c.t.Fatalf("bosh: Content-Type %q", ct)
	}
	el, err := stanza.Parse(data, stanza.Limits{MaxStanza: 1 << 22})
	if err != nil {
		c.t.Fatalf("bosh: response %q: %v", data, err)
	}
	if el.Name.Local != "body" || el.Name.Space != bosh.NS {
		c.t.Fatalf("bosh: response is not a body: %s", data)
	}
	return el
}

// create sends a session creation request to host with extra attributes.
func (c *boshClient) create(host, extra string) *stanza.Element {
	c.t.Helper()
	body := c.post(`<body xmlns='` + bosh.NS + `' xmlns:xmpp='urn:xmpp:xbosh' rid='` + c.nextRID() + `' to='` + host +
		`' wait='60' hold='1' ver='1.6' xml:lang='en' xmpp:version='1.0' content='text/xml; charset=utf-8'` + extra + `/>`)
	c.sid = body.Get("sid")
	if body.Get("type") == "terminate" {
		return body
	}
	if c.sid == "" {
		c.t.Fatalf("bosh: creation response without sid: %s", body)
	}
	return body
}

func (c *boshClient) nextRID() string {
	c.rid++
	return strconv.FormatInt(c.rid, 10)
}

// send sends payload in the next request and returns the response.
func (c *boshClient) send(payload string) *stanza.Element {
	c.t.Helper()
	return c.sendAttrs("", payload)
}

// sendAttrs sends a request with extra attributes and payload.
func (c *boshClient) sendAttrs(extra, payload string) *stanza.Element {
	c.t.Helper()
	return c.post(c.bodyXML(c.nextRID(), extra, payload))
}

func (c *boshClient) bodyXML(rid, extra, payload string) string {
	b := `<body xmlns='` + bosh.NS + `' xmlns:xmpp='urn:xmpp:xbosh' sid='` + c.sid + `' rid='` + rid + `'` + extra
	if payload == "" {
		return b + `/>`
	}
	return b + `>` + payload + `</body>`
}

// exchange sends one element and returns the first element received,
// polling with empty requests until one comes.
func (c *boshClient) exchange(payload string) *stanza.Element {
	c.t.Helper()
	body := c.send(payload)
	for i := 0; len(body.Elements()) == 0; i++ {
		if i > 5 || body.Get("type") == "terminate" {
			c.t.Fatalf("bosh: no reply to %s: %s", payload, body)
		}
		body = c.send("")
	}
	return body.Elements()[0]
}

// restart sends the XEP-0206 restart request and returns the features.
func (c *boshClient) restart(host string) *stanza.Element {
	c.t.Helper()
	body := c.sendAttrs(` to='`+host+`' xml:lang='en' xmpp:restart='true'`, "")
	f := body.Child(stanza.NSStream, "features")
	if f == nil {
		c.t.Fatalf("bosh: restart response without features: %s", body)
	}
	return f
}

// login creates a session on host, authenticates with mech and binds; it
// returns the bound JID.
func (c *boshClient) login(host string, mech sasl.Mechanism, user, password string) string {
	c.t.Helper()
	body := c.create(host, "")
	if body.Child(stanza.NSStream, "features") == nil {
		c.t.Fatalf("bosh: creation response without features: %s", body)
	}
	if res := transporttest.SASL(c.t, c.exchange, mech, user, password); res.Name.Local != "success" {
		c.t.Fatalf("bosh: SASL %s: %s", mech.Name, res)
	}
	c.restart(host)
	return transporttest.BoundJID(c.t, c.exchange(transporttest.BindIQ))
}

// poll sends empty requests until an element matching match arrives.
func (c *boshClient) poll(match func(*stanza.Element) bool) *stanza.Element {
	c.t.Helper()
	deadline := time.Now().Add(servertest.Wait)
	for time.Now().Before(deadline) {
		body := c.send("")
		if body.Get("type") == "terminate" {
			c.t.Fatalf("bosh: session terminated while polling: %s", body)
		}
		for _, el := range body.Elements() {
			if match(el) {
				return el
			}
		}
	}
	c.t.Fatalf("bosh: nothing matching within %s", servertest.Wait)
	return nil
}

// inMemory returns a client that calls h directly, without a network,
// with requests bound to ctx (for synctest bubbles).
func inMemory(t testing.TB, ctx context.Context, h http.Handler) *boshClient {
	c := &boshClient{t: t, url: "http://example.com/http-bind", header: http.Header{}, rid: 4000}
	c.do = func(r *http.Request) (*http.Response, error) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r.WithContext(ctx))
		return rec.Result(), nil
	}
	return c
}
