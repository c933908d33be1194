package server_test

import (
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/servertest"
)

// SECURITY-CASES 158 (CVE-2026-43506): unauthenticated connections opened
// and dropped leave no goroutines behind and no lasting heap growth.
func TestConnectDropChurn(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	const cycles = 1000
	open := `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>`
	churn := func(n int) {
		for i := 0; i < n; i++ {
			c, err := net.Dial("tcp", srv.C2SAddr)
			if err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				_, _ = c.Write([]byte(open))
			}
			_ = c.Close()
		}
	}
	churn(200) // warm up pools and caches
	baseG := settledGoroutines(t, -1)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	churn(cycles)
	g := settledGoroutines(t, baseG)
	runtime.GC()
	runtime.ReadMemStats(&after)
	if g > baseG {
		t.Fatalf("goroutines after %d connect/drop cycles: %d, baseline %d", cycles, g, baseG)
	}
	if growth := int64(after.HeapInuse) - int64(before.HeapInuse); growth > 1<<20 {
		t.Fatalf("heap grew by %d bytes after %d cycles", growth, cycles)
	}
}

// settledGoroutines waits until the goroutine count is at most want (or,
// with want < 0, stops changing) and returns it.
func settledGoroutines(t *testing.T, want int) int {
	t.Helper()
	deadline := time.Now().Add(servertest.Wait)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	last := -1
	for {
		n := runtime.NumGoroutine()
		if (want >= 0 && n <= want) || (want < 0 && n == last) || time.Now().After(deadline) {
			return n
		}
		last = n
		<-tick.C
	}
}
