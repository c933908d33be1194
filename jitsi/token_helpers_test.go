package jitsi_test

import (
	"context"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gjwt "github.com/golang-jwt/jwt/v5"

	"github.com/parley-xmpp/parley/auth/jwt"
	"github.com/parley-xmpp/parley/bosh"
	"github.com/parley-xmpp/parley/jitsi"
	"github.com/parley-xmpp/parley/muc"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/httpx/transporttest"
	"github.com/parley-xmpp/parley/server/servertest"
	"github.com/parley-xmpp/parley/server/stanza"
	"github.com/parley-xmpp/parley/server/websocket"
)

// Shared by the token tests (prefix tk to stay clear of the MUC tests'
// helpers in this package).

const (
	tkDomain = "meet.example.test"
	tkConf   = "conference.meet.example.test"
	tkAppID  = "parley-app"
	tkSecret = "0123456789abcdef0123456789abcdef-test-secret"
	tkNSSASL = "urn:ietf:params:xml:ns:xmpp-sasl"
	tkNSBind = "urn:ietf:params:xml:ns:xmpp-bind"
	tkNSSM   = "urn:xmpp:sm:3"
)

// newTkClock returns a settable clock at the current second (tokens carry
// whole seconds).
func newTkClock() *servertest.Clock { return servertest.NewClock(time.Now().Truncate(time.Second)) }

// tkEnv is a running server with token auth, BOSH, WebSocket and a MUC.
type tkEnv struct {
	*servertest.Server
	t     testing.TB
	clock *servertest.Clock
}

// tkOptions configure tkStart.
type tkOptions struct {
	// global is placed before the sections, host inside the token
	// VirtualHost, component inside the conference component, extra after.
	global, host, component, extra string
	verifier                       []jwt.Option
	modules                        []server.Module
	// noBase leaves muc_mapper_domain_base unset.
	noBase bool
	// logger replaces the server's logger.
	logger *slog.Logger
}

// tkStart runs a server whose VirtualHost tkDomain uses token auth and
// whose conference component loads the token MUC modules it names.
func tkStart(t testing.TB, o tkOptions) *tkEnv {
	t.Helper()
	clk := newTkClock()
	base := `muc_mapper_domain_base = "` + tkDomain + `"`
	if o.noBase {
		base = ""
	}
	cfg := `
modules_enabled = { "bosh", "websocket", "presence_identity" }
consider_bosh_secure = true
consider_websocket_secure = true
` + base + `
` + o.global + `
VirtualHost "` + tkDomain + `"
    authentication = "token"
    app_id = "` + tkAppID + `"
    app_secret = "` + tkSecret + `"
` + o.host + `
VirtualHost "auth.` + tkDomain + `"
    authentication = "internal_plain"
VirtualHost "guest.` + tkDomain + `"
    authentication = "jitsi-anonymous"
Component "` + tkConf + `" "muc"
    muc_room_locking = false
` + o.component + `
` + o.extra
	vopts := append([]jwt.Option{jwt.WithClock(clk.Now)}, o.verifier...)
	mods := append([]server.Module{bosh.New(bosh.Options{}), websocket.New(websocket.Options{}), jitsi.NewPresenceIdentity()}, o.modules...)
	sopts := []server.Option{
		server.WithModules(mods...),
		server.WithAuthProvider(jitsi.TokenProviderName, jitsi.TokenAuthFactory(jitsi.TokenAuthOptions{Verifier: vopts})),
		server.WithAuthProvider(jitsi.JitsiAnonymousProviderName, jitsi.JitsiAnonymousFactory(nil)),
		server.WithComponentType("muc", muc.Factory(append(jitsi.MUCModules(), jitsi.TokenMUCModules()...)...)),
	}
	if o.logger != nil {
		sopts = append(sopts, server.WithLogger(o.logger))
	}
	srv := servertest.Start(t, cfg, servertest.WithServerOptions(sopts...))
	return &tkEnv{Server: srv, t: t, clock: clk}
}

// claims returns a valid HS256 payload for tkDomain; mods change it (a nil
// value deletes the claim).
func (e *tkEnv) claims(mods map[string]any) map[string]any {
	now := e.clock.Now()
	c := map[string]any{
		"iss":  tkAppID,
		"aud":  "jitsi",
		"sub":  tkDomain,
		"room": "*",
		"iat":  now.Unix(),
		"exp":  now.Add(time.Hour).Unix(),
		"context": map[string]any{
			"user": map[string]any{"id": "u1", "name": "Alice"},
		},
	}
	for k, v := range mods {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// tkHS mints an HS256 token with the test secret.
func tkHS(t testing.TB, claims map[string]any) string {
	t.Helper()
	tok, err := jwt.Mint(claims, jwt.MintOptions{Algorithm: "HS256", Key: []byte(tkSecret)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// tkMint signs claims with any algorithm and key.
func tkMint(t testing.TB, claims map[string]any, alg string, key any, kid string) string {
	t.Helper()
	tok, err := jwt.Mint(claims, jwt.MintOptions{Algorithm: alg, Key: key, KeyID: kid})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// tkRawHS builds a token from literal header and payload JSON, signed with
// HMAC-SHA256 over key (for malformed-token cases jwt.Mint cannot make).
func tkRawHS(header, payload string, key []byte) string {
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(m.Sum(nil))
}

func tkJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func tkLoadRSA(t testing.TB, name string) *rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	k, err := gjwt.ParseRSAPrivateKeyFromPEM(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return k
}

func tkPublicPEM(t testing.TB, k *rsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func tkKidPath(kid string) string {
	sum := sha256.Sum256([]byte(kid))
	return "/" + hex.EncodeToString(sum[:]) + ".pem"
}

// tkKeyResponse is what the fake key server answers for one path.
type tkKeyResponse struct {
	status int
	body   []byte
	hang   bool // wait until the request is cancelled
}

// tkKeyServer is an ASAP key server on httptest: <url>/<hex sha256(kid)>.pem.
type tkKeyServer struct {
	*httptest.Server
	mu    sync.Mutex
	keys  map[string]tkKeyResponse // path -> response
	hits  map[string]int
	paths []string
}

func newTkKeyServer(t testing.TB) *tkKeyServer {
	ks := &tkKeyServer{keys: map[string]tkKeyResponse{}, hits: map[string]int{}}
	ks.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.mu.Lock()
		resp, ok := ks.keys[r.URL.Path]
		ks.hits[r.URL.Path]++
		ks.paths = append(ks.paths, r.URL.Path)
		ks.mu.Unlock()
		switch {
		case !ok:
			http.NotFound(w, r)
		case resp.hang:
			<-r.Context().Done()
		default:
			w.WriteHeader(resp.status)
			_, _ = w.Write(resp.body)
		}
	}))
	t.Cleanup(ks.Close)
	return ks
}

func (ks *tkKeyServer) set(kid string, r tkKeyResponse) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.keys[tkKidPath(kid)] = r
}

func (ks *tkKeyServer) remove(kid string) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	delete(ks.keys, tkKidPath(kid))
}

func (ks *tkKeyServer) count(kid string) int {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.hits[tkKidPath(kid)]
}

func (ks *tkKeyServer) allPaths() []string {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return append([]string(nil), ks.paths...)
}

// tkKeyClient returns an HTTP client for the verifier whose idle
// connections are closed before the server's leak check.
func tkKeyClient(t testing.TB) *http.Client {
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// tkConn is one client session over WebSocket or BOSH.
type tkConn interface {
	// Exchange sends one element and returns the next one received.
	Exchange(xml string) *stanza.Element
	// Send sends one element.
	Send(xml string)
	// Next returns the next element received.
	Next() *stanza.Element
	// Restart restarts the stream after SASL and returns the features.
	Restart(host string) *stanza.Element
	// Drop ends the tkTransport without closing the XMPP stream.
	Drop()
}

// tkTransport opens sessions to host with the URL query and headers given;
// it returns the connection and the stream features.
type tkTransport struct {
	name string
	open func(t testing.TB, e *tkEnv, host string, query url.Values, header http.Header) (tkConn, *stanza.Element)
}

// tkTransports lists the HTTP transports every token case runs over.
func tkTransports() []tkTransport {
	return []tkTransport{{"websocket", tkOpenWS}, {"bosh", tkOpenBOSH}}
}

type tkWSConn struct{ *transporttest.WS }

func (c tkWSConn) Restart(host string) *stanza.Element { return c.Open(host) }
func (c tkWSConn) Drop()                               { _ = c.Conn.Close() }

func tkOpenWS(t testing.TB, e *tkEnv, host string, query url.Values, header http.Header) (tkConn, *stanza.Element) {
	t.Helper()
	ws := transporttest.DialWS(t, transporttest.WSURL(e.HTTPURL, query.Encode()), header)
	f := ws.Open(host)
	return tkWSConn{ws}, f
}

// tkBOSHConn is a minimal XEP-0206 client with hand-written bodies.
type tkBOSHConn struct {
	t      testing.TB
	url    string
	hc     *http.Client
	header http.Header
	sid    string
	rid    int64
	queue  []*stanza.Element
}

func tkOpenBOSH(t testing.TB, e *tkEnv, host string, query url.Values, header http.Header) (tkConn, *stanza.Element) {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	u := e.HTTPURL + "/http-bind"
	if q := query.Encode(); q != "" {
		u += "?" + q
	}
	c := &tkBOSHConn{t: t, url: u, hc: &http.Client{Transport: tr, Timeout: servertest.Wait}, header: header, rid: 1000}
	body := c.post(`<body xmlns='` + bosh.NS + `' xmlns:xmpp='urn:xmpp:xbosh' rid='` + c.nextRID() + `' to='` + host +
		`' wait='2' hold='1' ver='1.6' xml:lang='en' xmpp:version='1.0' content='text/xml; charset=utf-8'/>`)
	c.sid = body.Get("sid")
	if c.sid == "" {
		t.Fatalf("bosh: no sid: %s", body)
	}
	// Plain URLs only on creation: later requests carry the sid.
	c.url, _, _ = strings.Cut(c.url, "?")
	c.header = nil
	f := body.Child(stanza.NSStream, "features")
	if f == nil {
		f = c.Next()
	}
	return c, f
}

func (c *tkBOSHConn) nextRID() string {
	c.rid++
	return strconv.FormatInt(c.rid, 10)
}

func (c *tkBOSHConn) post(body string) *stanza.Element {
	c.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, c.url, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	maps.Copy(req.Header, c.header)
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("bosh: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		c.t.Fatalf("bosh: status %d: %s (%v)", resp.StatusCode, data, err)
	}
	el, err := stanza.Parse(data, stanza.Limits{MaxStanza: 1 << 22})
	if err != nil {
		c.t.Fatalf("bosh: %q: %v", data, err)
	}
	return el
}

func (c *tkBOSHConn) request(attrs, payload string) *stanza.Element {
	c.t.Helper()
	b := `<body xmlns='` + bosh.NS + `' xmlns:xmpp='urn:xmpp:xbosh' sid='` + c.sid + `' rid='` + c.nextRID() + `'` + attrs
	if payload == "" {
		b += "/>"
	} else {
		b += ">" + payload + "</body>"
	}
	body := c.post(b)
	c.queue = append(c.queue, body.Elements()...)
	return body
}

func (c *tkBOSHConn) Send(xml string) {
	c.t.Helper()
	c.request("", xml)
}

func (c *tkBOSHConn) Next() *stanza.Element {
	c.t.Helper()
	deadline := time.Now().Add(servertest.Wait)
	for len(c.queue) == 0 {
		if time.Now().After(deadline) {
			c.t.Fatalf("bosh: nothing received within %s", servertest.Wait)
		}
		if body := c.request("", ""); body.Get("type") == "terminate" && len(c.queue) == 0 {
			c.t.Fatalf("bosh: session terminated: %s", body)
		}
	}
	el := c.queue[0]
	c.queue = c.queue[1:]
	return el
}

func (c *tkBOSHConn) Exchange(xml string) *stanza.Element {
	c.t.Helper()
	c.Send(xml)
	return c.Next()
}

func (c *tkBOSHConn) Restart(host string) *stanza.Element {
	c.t.Helper()
	c.request(` to='`+host+`' xml:lang='en' xmpp:restart='true'`, "")
	for {
		el := c.Next()
		if el.Name.Space == stanza.NSStream && el.Name.Local == "features" {
			return el
		}
	}
}

func (c *tkBOSHConn) Drop() { c.hc.CloseIdleConnections() }

// tkSASL runs SASL ANONYMOUS and returns <success/> or <failure/>.
func tkSASL(c tkConn) *stanza.Element {
	return c.Exchange(`<auth xmlns='` + tkNSSASL + `' mechanism='ANONYMOUS'/>`)
}

// tkFailureText returns the <text/> of a SASL failure.
func tkFailureText(el *stanza.Element) string { return el.ChildText(tkNSSASL, "text") }

// tkBind binds a resource and returns the full JID.
func tkBind(t testing.TB, c tkConn) string {
	t.Helper()
	el := c.Exchange(`<iq xmlns='jabber:client' type='set' id='bind1'><bind xmlns='` + tkNSBind + `'/></iq>`)
	if el.Get("type") != "result" {
		t.Fatalf("bind: %s", el)
	}
	return el.Child(tkNSBind, "bind").ChildText(tkNSBind, "jid")
}

// tkLogin authenticates with the token (query) and binds.
func tkLogin(t testing.TB, e *tkEnv, tr tkTransport, token string) (tkConn, string) {
	t.Helper()
	q := url.Values{}
	if token != "" {
		q.Set("token", token)
	}
	c, _ := tr.open(t, e, tkDomain, q, nil)
	if res := tkSASL(c); res.Name.Local != "success" {
		t.Fatalf("%s: token login failed: %s", tr.name, res)
	}
	c.Restart(tkDomain)
	return c, tkBind(t, c)
}

// tkJoin sends a MUC tkJoin and returns the self-presence or the error.
func tkJoin(t testing.TB, c tkConn, occupant, extra string) *stanza.Element {
	t.Helper()
	c.Send(`<presence xmlns='jabber:client' to='` + occupant + `'><x xmlns='` + muc.NS + `'/>` + extra + `</presence>`)
	for {
		el := c.Next()
		if el.Name.Local != "presence" || !strings.EqualFold(el.Get("from"), occupant) {
			continue
		}
		if el.Get("type") == "error" || tkHasStatus(el, "110") {
			return el
		}
	}
}

func tkHasStatus(el *stanza.Element, code string) bool {
	x := el.Child(muc.NSUser, "x")
	if x == nil {
		return false
	}
	for _, s := range x.Elements() {
		if s.Name.Local == "status" && s.Get("code") == code {
			return true
		}
	}
	return false
}

// tkStanzaError returns the condition and text of an error stanza.
func tkStanzaError(el *stanza.Element) (typ, cond, text string) {
	e := el.Child(stanza.NSClient, "error")
	if e == nil {
		return "", "", ""
	}
	for _, c := range e.Elements() {
		if c.Name.Space == stanza.NSStanzas {
			if c.Name.Local == "text" {
				text = c.Text()
			} else {
				cond = c.Name.Local
			}
		}
	}
	return e.Get("type"), cond, text
}

// tkItem returns the muc#user tkItem of a presence.
func tkItem(el *stanza.Element) (affiliation, role string) {
	x := el.Child(muc.NSUser, "x")
	if x == nil {
		return "", ""
	}
	it := x.Child(muc.NSUser, "item")
	if it == nil {
		return "", ""
	}
	return it.Get("affiliation"), it.Get("role")
}
