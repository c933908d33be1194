package jitsi_test

import (
	"bytes"
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/parley-xmpp/parley/auth/jwt"
	"github.com/parley-xmpp/parley/server/httpx/transporttest"
	"github.com/parley-xmpp/parley/server/stanza"
)

// benchLogin does one complete token login over WebSocket: upgrade,
// <open/>, SASL ANONYMOUS with the token, restart, bind, <close/>.
func benchLogin(ctx context.Context, u string) error {
	d := gws.Dialer{Subprotocols: []string{"xmpp"}, HandshakeTimeout: transporttest.Wait}
	c, resp, err := d.DialContext(ctx, u, nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(transporttest.Wait))
	send := func(s string) error { return c.WriteMessage(gws.TextMessage, []byte(s)) }
	// The client only looks at the element name, so that the benchmark
	// measures the server more than the client's XML parsing.
	read := func() ([]byte, error) {
		_, data, err := c.ReadMessage()
		return data, err
	}
	open := `<open xmlns='` + stanza.NSFraming + `' to='` + tkDomain + `' version='1.0'/>`
	steps := []struct {
		send  string
		reads int
		want  string
	}{
		{open, 2, "<stream:features"},
		{`<auth xmlns='` + tkNSSASL + `' mechanism='ANONYMOUS'/>`, 1, "<success"},
		{open, 2, "<stream:features"},
		{`<iq xmlns='jabber:client' type='set' id='b'><bind xmlns='` + tkNSBind + `'/></iq>`, 1, "<iq"},
		{`<close xmlns='` + stanza.NSFraming + `'/>`, 1, "<close"},
	}
	for _, st := range steps {
		if err := send(st.send); err != nil {
			return err
		}
		var last []byte
		for range st.reads {
			if last, err = read(); err != nil {
				return err
			}
		}
		if !bytes.HasPrefix(last, []byte(st.want)) || (st.want == "<iq" && !bytes.Contains(last, []byte("type='result'"))) {
			return &benchError{string(last)}
		}
	}
	return nil
}

type benchError struct{ got string }

func (e *benchError) Error() string { return "unexpected " + e.got }

func benchLogins(b *testing.B, e *tkEnv, token string) {
	u := transporttest.WSURL(e.HTTPURL, url.Values{"token": {token}}.Encode())
	ctx := context.Background()
	if err := benchLogin(ctx, u); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := benchLogin(ctx, u); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "logins/s")
}

// BenchmarkTokenLoginWebSocketHS256 is token logins per second end to end
// over WebSocket, client and server in one process (goal: 2,000/s).
func BenchmarkTokenLoginWebSocketHS256(b *testing.B) {
	e := tkStart(b, tkOptions{})
	benchLogins(b, e, tkHS(b, e.claims(map[string]any{"exp": time.Now().Add(24 * time.Hour).Unix()})))
}

// BenchmarkTokenLoginWebSocketRS256 is the same with an RS256 token whose
// key is cached after the first login.
func BenchmarkTokenLoginWebSocketRS256(b *testing.B) {
	rsaA := tkLoadRSA(b, "rsa_a.pem")
	ks := newTkKeyServer(b)
	ks.set("bench", tkKeyResponse{status: 200, body: tkPublicPEM(b, rsaA)})
	e := tkStart(b, tkOptions{
		host:     `    asap_key_server = "` + ks.URL + `"` + "\n",
		verifier: []jwt.Option{jwt.WithHTTPClient(tkKeyClient(b))},
	})
	benchLogins(b, e, tkMint(b, e.claims(map[string]any{"exp": time.Now().Add(24 * time.Hour).Unix()}), "RS256", rsaA, "bench"))
	if n := ks.count("bench"); n != 1 {
		b.Fatalf("key fetched %d times", n)
	}
}

// BenchmarkTokenVerifyRoom is the cost of the token_verification check
// on a join (JoinEvent to VerifyRoom, without the MUC).
func BenchmarkTokenVerifyRoom(b *testing.B) {
	v, err := jwt.NewVerifier(jwt.Config{AppID: tkAppID, AppSecret: tkSecret, MUCDomainBase: tkDomain})
	if err != nil {
		b.Fatal(err)
	}
	c, err := v.Verify(context.Background(), tkHS(b, map[string]any{"iss": tkAppID, "aud": "jitsi", "sub": "tenanta", "room": "Room1"}))
	if err != nil {
		b.Fatal(err)
	}
	node := strings.ToLower("[tenanta]room1")
	for b.Loop() {
		if err := v.VerifyRoom(c, node, tkConf); err != nil {
			b.Fatal(err)
		}
	}
}
