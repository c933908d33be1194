package server_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/servertest"
)

// memSnapshot is the process's memory after a full collection.
type memSnapshot struct {
	rss, heapInuse, heapObjects, totalAlloc uint64
	goroutines                              int
}

func snapshot(t testing.TB) memSnapshot {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSnapshot{rss: rss(t), heapInuse: ms.HeapInuse, heapObjects: ms.HeapObjects, totalAlloc: ms.TotalAlloc, goroutines: runtime.NumGoroutine()}
}

// rss reads the resident set size from /proc (0 where there is none).
func rss(t testing.TB) uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, resident uint64
	if _, err := fmt.Sscan(string(b), &size, &resident); err != nil {
		t.Fatalf("statm %q: %v", b, err)
	}
	return resident * uint64(os.Getpagesize())
}

func kib(before, after uint64) string {
	return fmt.Sprintf("%+.1f KiB", (float64(after)-float64(before))/1024)
}

const streamHeader = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>`

// billionLaughs is the CVE-2011-2205 payload: ten levels of ten entity
// references (10^9 "lol"s if anything expanded it).
func billionLaughs() string {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE lolz [<!ENTITY lol0 "lol">`)
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, `<!ENTITY lol%d "%s">`, i, strings.Repeat(fmt.Sprintf("&lol%d;", i-1), 10))
	}
	b.WriteString(`]><message>&lol9;</message>`)
	return b.String()
}

// hostileInputs are SECURITY-CASES #1/#2 (billion laughs, in the stream
// and before it), #9 (nesting 80k deep inside the 256 KiB limit) and #10
// (10k attributes, a 200 KiB attribute value, 1k xmlns declarations), each
// with the stream error it must end with.
func hostileInputs() []struct{ name, prefix, body, cond string } {
	var attrs, decls strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&attrs, " a%d=''", i)
	}
	for i := range 1000 {
		fmt.Fprintf(&decls, " xmlns:p%d='urn:x:%d'", i, i)
	}
	return []struct{ name, prefix, body, cond string }{
		{"billion laughs in the stream (#2)", streamHeader, billionLaughs(), "restricted-xml"},
		{"billion laughs before the header (#1)", `<?xml version='1.0'?>` + billionLaughs(), "", "restricted-xml"},
		{"80k-deep nesting (#9)", streamHeader, "<message>" + strings.Repeat("<a>", 80000), "policy-violation"},
		{"10k attributes (#10)", streamHeader, "<message" + attrs.String() + "/>", "policy-violation"},
		{"200 KiB attribute value (#10)", streamHeader, "<message id='" + strings.Repeat("v", 200<<10) + "'/>", "not-authorized"},
		{"1k xmlns declarations (#10)", streamHeader, "<message" + decls.String() + "/>", "policy-violation"},
	}
}

// SECURITY-CASES §9 resource bounds: 20 rounds of each hostile input from
// hostileInputs over c2s leave the heap and RSS within 1 MiB of where they
// started, every connection ends with a stream error, and no goroutine is
// left. The figures are logged for SECURITY.md (go test -run
// TestHostileInputMemory -v ./server/).
func TestHostileInputMemory(t *testing.T) {
	srv := servertest.Start(t, twoHosts)
	inputs := hostileInputs()
	inputBytes := 0
	for _, in := range inputs {
		inputBytes += len(in.prefix) + len(in.body)
	}
	round := func() {
		for _, in := range inputs {
			c, err := net.Dial("tcp", srv.C2SAddr)
			if err != nil {
				t.Fatal(err)
			}
			_ = c.SetDeadline(time.Now().Add(servertest.Wait))
			go func() { _, _ = c.Write([]byte(in.prefix + in.body)) }()
			var got bytes.Buffer
			_, _ = got.ReadFrom(c) // until the server closes
			_ = c.Close()
			if !strings.Contains(got.String(), "<stream:error>") || (in.cond != "" && !strings.Contains(got.String(), "<"+in.cond+" ")) {
				t.Fatalf("%s: server answered %.300q, want a %s stream error", in.name, got.String(), in.cond)
			}
		}
	}
	round() // warm up pools and buffers
	before := snapshot(t)
	const rounds = 20
	for range rounds {
		round()
	}
	g := settledGoroutines(t, before.goroutines)
	after := snapshot(t)
	t.Logf("SECURITY-CASES §9 hostile inputs (%d rounds x %d inputs): RSS %s, heap in use %s, heap objects %+d, goroutines %d -> %d; allocated %.2f bytes per input byte (both ends)",
		rounds, len(inputs), kib(before.rss, after.rss), kib(before.heapInuse, after.heapInuse),
		int64(after.heapObjects)-int64(before.heapObjects), before.goroutines, g,
		float64(after.totalAlloc-before.totalAlloc)/float64(rounds*inputBytes))
	if g > before.goroutines {
		t.Errorf("goroutines: %d after, %d before", g, before.goroutines)
	}
	if d := int64(after.heapInuse) - int64(before.heapInuse); d > 1<<20 {
		t.Errorf("heap in use grew by %d bytes", d)
	}
	if d := int64(after.rss) - int64(before.rss); d > 1<<20 {
		t.Errorf("RSS grew by %d bytes", d)
	}
}

// SECURITY-CASES #158 (CVE-2026-43506) at the size §9 asks for: 10k
// unauthenticated connect/drop cycles (half sending a stream header, half
// nothing) leave goroutines at the baseline and the heap within 1 MiB;
// also reports the memory an idle unauthenticated connection holds.
func TestConnectDropChurn10k(t *testing.T) {
	if testing.Short() {
		t.Skip("10k connections")
	}
	srv := servertest.Start(t, twoHosts)
	churn := func(n int) {
		for i := range n {
			c, err := net.Dial("tcp", srv.C2SAddr)
			if err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				_, _ = c.Write([]byte(streamHeader))
			}
			_ = c.Close()
		}
	}
	churn(500)
	base := snapshot(t)
	base.goroutines = settledGoroutines(t, -1)
	const cycles = 10000
	churn(cycles)
	g := settledGoroutines(t, base.goroutines)
	after := snapshot(t)
	t.Logf("SECURITY-CASES §9 connect/drop x%d: goroutines %d -> %d, heap in use %s, heap objects %+d, RSS %s",
		cycles, base.goroutines, g, kib(base.heapInuse, after.heapInuse),
		int64(after.heapObjects)-int64(base.heapObjects), kib(base.rss, after.rss))
	if g > base.goroutines {
		t.Errorf("goroutines after %d cycles: %d, baseline %d", cycles, g, base.goroutines)
	}
	if d := int64(after.heapInuse) - int64(base.heapInuse); d > 1<<20 {
		t.Errorf("heap grew by %d bytes after %d cycles", d, cycles)
	}

	// Memory per idle unauthenticated connection (header sent, features
	// read), client side included.
	const idle = 500
	conns := make([]*servertest.Raw, 0, idle)
	before := snapshot(t)
	for range idle {
		r := servertest.DialRaw(t, srv.C2SAddr)
		r.Open("example.com")
		conns = append(conns, r)
	}
	held := snapshot(t)
	t.Logf("SECURITY-CASES §9 idle unauthenticated connection: %.1f KiB heap each (%d connections, both ends in one process), %d goroutines each",
		(float64(held.heapInuse)-float64(before.heapInuse))/1024/idle, idle, (held.goroutines-before.goroutines)/idle)
	for _, r := range conns {
		_ = r.Conn.Close()
	}
}
