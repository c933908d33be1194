package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPprofLoopbackOnly: -pprof refuses any address that is not loopback,
// before the server starts.
func TestPprofLoopbackOnly(t *testing.T) {
	for _, tc := range []struct {
		name, addr string
	}{
		{name: "all interfaces v4", addr: "0.0.0.0:0"},
		{name: "all interfaces, empty host", addr: ":6060"},
		{name: "all interfaces v6", addr: "[::]:0"},
		{name: "host name", addr: "localhost:6060"},
		{name: "no port", addr: "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "", "-pprof", tc.addr)
			if code != 1 || !strings.Contains(stderr, "-pprof") {
				t.Fatalf("exit %d, stderr %q; want 1 and a -pprof error", code, stderr)
			}
		})
	}
}

// TestProfilingServesAndWrites: -pprof answers on loopback and
// -cpuprofile leaves a non-empty profile once stopped.
func TestProfilingServesAndWrites(t *testing.T) {
	p := profiling{cpuFile: filepath.Join(t.TempDir(), "cpu.pprof"), addr: "127.0.0.1:0"}
	stop, err := p.start(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		stop()
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + p.bound + "/debug/pprof/cmdline")
	if err != nil {
		stop()
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	stop()
	if resp.StatusCode != http.StatusOK || len(body) == 0 {
		t.Fatalf("GET cmdline: %s, %d bytes", resp.Status, len(body))
	}
	fi, err := os.Stat(p.cpuFile)
	if err != nil || fi.Size() == 0 {
		t.Fatalf("CPU profile: %v, %v", fi, err)
	}
	if _, err := http.Get("http://" + p.bound + "/debug/pprof/cmdline"); err == nil {
		t.Fatal("pprof still answers after stop")
	}
}
