package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
)

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Loggers derived before a swap write to the new destination, at its
// level, with their attributes; the old destination is closed.
func TestLogSwitch(t *testing.T) {
	var a, b bytes.Buffer
	closedA := false
	logs := newLogSwitch(slog.New(slog.NewTextHandler(&a, &slog.HandlerOptions{Level: slog.LevelInfo})), func() { closedA = true })
	derived := logs.logger().With("module", "bosh").WithGroup("g")
	derived.Debug("hidden")
	derived.Info("first")
	logs.swap(slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug})), nil)
	derived.Debug("second", "k", 1)
	if !closedA {
		t.Error("the replaced destination was not closed")
	}
	if s := a.String(); strings.Contains(s, "hidden") || !strings.Contains(s, "first") || strings.Contains(s, "second") {
		t.Errorf("first destination got %q", s)
	}
	if s := b.String(); !strings.Contains(s, "msg=second") || !strings.Contains(s, "module=bosh") || !strings.Contains(s, "g.k=1") {
		t.Errorf("second destination got %q, want the debug record with module=bosh and g.k=1", s)
	}
}

const reloadBase = `interfaces = { "127.0.0.1" }
c2s_ports = { 0 }
component_ports = { 0 }
http_ports = { 0 }
storage = "memory"
allow_unencrypted_plain_auth = true
`

// SECURITY-CASES #164 and #165 through the command: SIGHUP with a broken
// file logs the error with its file:line and keeps serving; SIGHUP with a
// valid change applies it (here the log level) while a logged-in session
// stays connected.
func TestReloadOnHangup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "parley.cfg.lua")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(reloadBase + "log = { { levels = { min = \"info\" }, to = \"console\" } }\nVirtualHost \"example.com\"\n")
	stderr := &syncBuffer{}
	c := &cli{stdout: &bytes.Buffer{}, stderr: stderr, env: noEnv, path: path, system: filepath.Join(dir, "absent")}
	cfg, err := c.loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	log, closeLog, err := newLogger(cfg, c.stderr)
	if err != nil {
		t.Fatal(err)
	}
	logs := newLogSwitch(log, closeLog)
	defer logs.close()
	srv, err := server.New(cfg, server.WithLogger(logs.logger()))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	if err := srv.Host("example.com").Accounts.SetPassword(t.Context(), "alice", "secret"); err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr(server.ListenC2S)
	alice := servertest.DialRaw(t, addr)
	alice.Login("example.com", "alice", "secret", "r")
	ping := func(id string) {
		t.Helper()
		alice.Write(`<iq type='get' id='` + id + `' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>`)
		if el := alice.Next(); el.Get("id") != id || el.Get("type") != "result" {
			t.Fatalf("ping %s: %s", id, el)
		}
	}

	sig := make(chan os.Signal)
	outcome := make(chan error)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go c.watchReload(ctx, srv, logs, sig, func(err error) { outcome <- err })

	write(reloadBase + "VirtualHost \"example.com\"\nthis is not lua\n")
	sig <- syscall.SIGHUP
	err = <-outcome
	if err == nil || !strings.Contains(err.Error(), "parley.cfg.lua:8") {
		t.Fatalf("broken config: reload error %v, want one naming parley.cfg.lua:8", err)
	}
	if s := stderr.String(); !strings.Contains(s, "configuration reload failed") || !strings.Contains(s, "parley.cfg.lua:8") {
		t.Fatalf("log %q lacks the failure and its place", s)
	}
	ping("after-broken")
	servertest.DialRaw(t, addr).Open("example.com")

	write(reloadBase + "VirtualHost \"example.com\"\nVirtualHost \"new.example\"\n    authentication = \"nosuch\"\n")
	sig <- syscall.SIGHUP
	if err := <-outcome; !errors.Is(err, server.ErrReloadRefused) || !strings.Contains(err.Error(), "parley.cfg.lua:") {
		t.Fatalf("added host that cannot be built: reload error %v, want it refused with its place", err)
	}
	ping("after-refused")
	if srv.Host("new.example") != nil {
		t.Fatal("a refused reload activated its host")
	}

	write(reloadBase + "VirtualHost \"example.com\"\nVirtualHost \"new.example\"\n")
	sig <- syscall.SIGHUP
	if err := <-outcome; err != nil {
		t.Fatalf("added host: %v", err)
	}
	servertest.DialRaw(t, addr).Open("new.example")
	ping("after-host-added")

	write(reloadBase + "log = { { levels = { min = \"debug\" }, to = \"console\" } }\nVirtualHost \"example.com\"\n")
	sig <- syscall.SIGHUP
	if err := <-outcome; err != nil {
		t.Fatalf("valid config: %v", err)
	}
	logs.logger().Debug("debug is on now")
	if !strings.Contains(stderr.String(), "debug is on now") {
		t.Fatal("the new log level did not apply")
	}
	ping("after-reload")
}
