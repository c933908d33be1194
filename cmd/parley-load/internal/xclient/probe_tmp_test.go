package xclient

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestProbeTmp(t *testing.T) {
	if os.Getenv("PROBE") == "" {
		t.Skip()
	}
	sh := NewShared(10)
	for _, cfg := range []Config{
		{Transport: TCP, Addr: "127.0.0.1:25222", Domain: "anon.test", Mechanism: Anonymous, StreamManagement: true},
		{Transport: TCP, Addr: "127.0.0.1:25222", Domain: "load.test", Mechanism: Plain, Username: "u1", Password: "pw1"},
		{Transport: TCP, Addr: "127.0.0.1:25222", Domain: "load.test", Mechanism: ScramSHA1, Username: "u1", Password: "pw1", Resource: "r1"},
		{Transport: WebSocket, URL: "ws://127.0.0.1:25280/xmpp-websocket", Domain: "anon.test", Mechanism: Anonymous, StreamManagement: true},
		{Transport: BOSH, URL: "http://127.0.0.1:25280/http-bind", Domain: "anon.test", Mechanism: Anonymous, StreamManagement: true},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := Open(ctx, cfg, sh)
		cancel()
		if err != nil {
			t.Errorf("%s %s: %v", cfg.Transport, cfg.Mechanism, err)
			continue
		}
		got := make(chan string, 1)
		s.Run(func(s *Session, el []byte) { got <- string(el) })
		s.Send([]byte("<message to='" + s.JID() + "' xmlns='jabber:client'><body>hi</body></message>"))
		select {
		case m := <-got:
			t.Logf("%s %s: %s sm=%v setup=%v echo=%s", cfg.Transport, cfg.Mechanism, s.JID(), s.StreamManagement(), s.Setup, m)
		case <-time.After(3 * time.Second):
			t.Errorf("%s: no echo", cfg.Transport)
		}
		s.Close()
	}
}
