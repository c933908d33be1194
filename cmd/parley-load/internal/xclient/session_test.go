package xclient_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/cmd/parley-load/internal/loadtest"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/xclient"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/xscan"
)

// open logs in with cfg and fails the test on error; the session is
// closed at cleanup.
func open(t *testing.T, cfg xclient.Config, sh *xclient.Shared) *xclient.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := xclient.Open(ctx, cfg, sh)
	if err != nil {
		t.Fatalf("open %s/%s: %v", cfg.Transport, cfg.Mechanism, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// collect starts s's reader and returns a channel of copies of what
// arrives.
func collect(s *xclient.Session) <-chan []byte {
	ch := make(chan []byte, 64)
	s.Run(func(_ *xclient.Session, el []byte) { ch <- bytes.Clone(el) })
	return ch
}

// eventually polls cond for up to 10 s.
func eventually(cond func() bool) bool {
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

func next(t *testing.T, ch <-chan []byte) []byte {
	t.Helper()
	select {
	case el := <-ch:
		return el
	case <-time.After(10 * time.Second):
		t.Fatal("nothing arrived in 10 s")
		return nil
	}
}

func TestLoginAndEcho(t *testing.T) {
	srv := loadtest.Start(t)
	sh := xclient.NewShared(8)
	t.Cleanup(sh.Close)
	tests := []struct {
		name string
		cfg  xclient.Config
		// wantJID is a prefix of the bound JID.
		wantJID string
	}{
		{"tcp anonymous", xclient.Config{Transport: xclient.TCP, Mechanism: xclient.Anonymous, Domain: "anon.test"}, ""},
		{"tcp plain", xclient.Config{Transport: xclient.TCP, Mechanism: xclient.Plain, Domain: "load.test",
			Username: "user0", Password: loadtest.Password, Resource: "r1"}, "user0@load.test/r1"},
		{"tcp scram-sha-1", xclient.Config{Transport: xclient.TCP, Mechanism: xclient.ScramSHA1, Domain: "load.test",
			Username: "user1", Password: loadtest.Password, Resource: "r2"}, "user1@load.test/r2"},
		{"tcp scram-sha-256", xclient.Config{Transport: xclient.TCP, Mechanism: xclient.ScramSHA256, Domain: "load.test",
			Username: "user2", Password: loadtest.Password, Resource: "r3"}, "user2@load.test/r3"},
		{"tcp stream management", xclient.Config{Transport: xclient.TCP, Mechanism: xclient.Anonymous, Domain: "anon.test",
			StreamManagement: true, AckEvery: 1}, ""},
		{"websocket", xclient.Config{Transport: xclient.WebSocket, Mechanism: xclient.Anonymous, Domain: "anon.test",
			StreamManagement: true}, ""},
		{"bosh", xclient.Config{Transport: xclient.BOSH, Mechanism: xclient.Anonymous, Domain: "anon.test"}, ""},
		{"bosh scram", xclient.Config{Transport: xclient.BOSH, Mechanism: xclient.ScramSHA1, Domain: "load.test",
			Username: "user0", Password: loadtest.Password, Resource: "b1"}, "user0@load.test/b1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Addr, cfg.URL = srv.C2SAddr, ""
			switch cfg.Transport {
			case xclient.WebSocket:
				cfg.URL = srv.Target.WebSocket
			case xclient.BOSH:
				cfg.URL = srv.Target.BOSH
			}
			s := open(t, cfg, sh)
			if tc.wantJID != "" && s.JID() != tc.wantJID {
				t.Errorf("JID = %q, want %q", s.JID(), tc.wantJID)
			}
			if !strings.Contains(s.JID(), "@"+cfg.Domain+"/") {
				t.Errorf("JID %q is not on %s", s.JID(), cfg.Domain)
			}
			if s.StreamManagement() != cfg.StreamManagement {
				t.Errorf("stream management = %v, want %v", s.StreamManagement(), cfg.StreamManagement)
			}
			if s.Setup <= 0 {
				t.Errorf("setup time %v not recorded", s.Setup)
			}
			in := collect(s)
			for i := range 3 {
				body := "ping " + string(rune('a'+i))
				msg := "<message to='" + s.JID() + "' type='chat' xmlns='jabber:client'><body>" + body + "</body></message>"
				if err := s.Send([]byte(msg)); err != nil {
					t.Fatalf("send: %v", err)
				}
				el := next(t, in)
				if got, _ := xscan.Text(el, "body"); got != body {
					t.Errorf("echo %d body = %q, want %q (%s)", i, got, body, el)
				}
			}
			if cfg.AckEvery > 0 {
				// Every send asked for an ack; the server must answer.
				if !eventually(func() bool { return s.Acked() >= 3 }) {
					t.Errorf("server acknowledged %d stanzas, want 3", s.Acked())
				}
				if sh.AckRTT.Count() == 0 {
					t.Error("no ack round trip recorded")
				}
			}
		})
	}
}

func TestLoginFailures(t *testing.T) {
	srv := loadtest.Start(t)
	sh := xclient.NewShared(4)
	t.Cleanup(sh.Close)
	tests := []struct {
		name string
		cfg  xclient.Config
		want string
	}{
		{"wrong password scram", xclient.Config{Mechanism: xclient.ScramSHA1, Domain: "load.test", Username: "user0", Password: "nope"}, "failed"},
		{"wrong password plain", xclient.Config{Mechanism: xclient.Plain, Domain: "load.test", Username: "user0", Password: "nope"}, "failed"},
		{"mechanism not offered", xclient.Config{Mechanism: xclient.Anonymous, Domain: "load.test"}, "does not offer"},
		{"unknown mechanism", xclient.Config{Mechanism: "X-NOPE", Domain: "load.test"}, "does not offer"},
		{"unknown transport", xclient.Config{Transport: "carrier-pigeon", Mechanism: xclient.Anonymous, Domain: "anon.test"}, "unknown transport"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Addr = srv.C2SAddr
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := xclient.Open(ctx, cfg, sh)
			if err == nil {
				s.Close()
				t.Fatal("login succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// TestClose checks that a closed session reports a clean end and refuses
// to send.
func TestClose(t *testing.T) {
	srv := loadtest.Start(t)
	sh := xclient.NewShared(2)
	t.Cleanup(sh.Close)
	s := open(t, xclient.Config{Addr: srv.C2SAddr, Mechanism: xclient.Anonymous, Domain: "anon.test"}, sh)
	s.Run(func(*xclient.Session, []byte) {})
	if err := s.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("session not done after Close")
	}
	if err := s.Err(); err != nil {
		t.Errorf("Err after a clean close = %v", err)
	}
	if err := s.Send([]byte("<presence xmlns='jabber:client'/>")); err == nil {
		t.Error("Send after Close succeeded")
	}
}

// TestServerEndsSession logs in twice with the same full JID: the server
// replaces the first session (RFC 6120 §7.7.2.2), which must then report
// an error rather than a clean close.
func TestServerEndsSession(t *testing.T) {
	srv := loadtest.Start(t)
	sh := xclient.NewShared(2)
	t.Cleanup(sh.Close)
	cfg := xclient.Config{Addr: srv.C2SAddr, Mechanism: xclient.Plain, Domain: "load.test", Username: "user0", Password: loadtest.Password, Resource: "same"}
	first := open(t, cfg, sh)
	first.Run(func(*xclient.Session, []byte) {})
	second := open(t, cfg, sh)
	if second.JID() != "user0@load.test/same" {
		t.Fatalf("second JID %q", second.JID())
	}
	select {
	case <-first.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the replaced session did not end")
	}
	if err := first.Err(); err == nil || !strings.Contains(err.Error(), "conflict") {
		t.Errorf("Err = %v, want a conflict stream error", err)
	}
}
