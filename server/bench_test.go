package server_test

import (
	"bytes"
	"context"
	"runtime"
	"strconv"
	"testing"

	"mellium.im/sasl"

	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/servertest"
)

// BenchmarkRouteMessage measures one chat message through the server over
// real TCP: parse on the sender's reader, route, serialize into the
// recipient's queue, write. Both clients are raw sockets so client cost is
// small.
func BenchmarkRouteMessage(b *testing.B) {
	srv := servertest.Start(b, twoHosts)
	srv.CreateUser("alice", "example.com", "secret")
	srv.CreateUser("bob", "example.com", "secret")
	alice := servertest.DialRaw(b, srv.C2SAddr)
	alice.Login("example.com", "alice", "secret", "a")
	bob := servertest.DialRaw(b, srv.C2SAddr)
	bobJID := bob.Login("example.com", "bob", "secret", "b")
	msg := []byte(`<message type='chat' to='` + bobJID + `' id='x'><body>Hello, this is a typical short chat message.</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>`)
	const batch = 64
	payload := bytes.Repeat(msg, batch)
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	errs := make(chan error, 1)
	go func() {
		for sent := 0; sent < b.N; sent += batch {
			n := min(batch, b.N-sent)
			if _, err := alice.Conn.Write(payload[:n*len(msg)]); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	for i := 0; i < b.N; i++ {
		if _, err := bob.R.Next(); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLoginSCRAM measures a complete TCP login with SCRAM-SHA-1 and
// SCRAM-SHA-256 (client PBKDF2 included, as a real client pays it).
func BenchmarkLoginSCRAM(b *testing.B) {
	for _, mech := range []sasl.Mechanism{sasl.ScramSha1, sasl.ScramSha256} {
		b.Run(mech.Name, func(b *testing.B) {
			srv := servertest.Start(b, twoHosts)
			srv.CreateUser("alice", "example.com", "secret")
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s, err := srv.TryDial(b, "alice@example.com", "secret", servertest.ClientOptions{Mechanisms: []sasl.Mechanism{mech}})
				if err != nil {
					b.Fatal(err)
				}
				_ = s.Close()
				_ = s.Conn().Close()
			}
		})
	}
}

// BenchmarkSessionMemory reports the server-side heap per bound, idle TCP
// session (the client sockets live in the same process; their cost is
// small raw connections and is included, so the figure is an upper bound).
func BenchmarkSessionMemory(b *testing.B) {
	const n = 2000
	for i := 0; i < b.N; i++ {
		srv := servertest.Start(b, twoHosts, servertest.WithoutLeakCheck())
		srv.CreateUser("alice", "example.com", "secret")
		conns := make([]*servertest.Raw, 0, n)
		var before, after runtime.MemStats
		// Each GC may halve the stack of an idle goroutine: give them a few.
		gc := func(ms *runtime.MemStats) {
			for range 5 {
				runtime.GC()
			}
			runtime.ReadMemStats(ms)
		}
		gc(&before)
		for j := 0; j < n; j++ {
			c := servertest.DialRaw(b, srv.C2SAddr)
			c.Login("example.com", "alice", "secret", "r"+strconv.Itoa(j))
			conns = append(conns, c)
		}
		gc(&after)
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/n, "heap-bytes/session")
		b.ReportMetric(float64(after.StackInuse-before.StackInuse)/n, "stack-bytes/session")
		b.ReportMetric(float64(runtime.NumGoroutine())/n, "goroutines/session")
		for _, c := range conns {
			_ = c.Conn.Close()
		}
	}
}

// BenchmarkServerStart measures what servertest.Start does for a
// two-host config: parse, build, listen on port 0, then shut down (the goal
// is under 50 ms per test server).
func BenchmarkServerStart(b *testing.B) {
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		cfg, err := config.Parse("bench.cfg.lua", []byte(servertest.Defaults+twoHosts))
		if err != nil {
			b.Fatal(err)
		}
		srv, err := server.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := srv.Start(ctx); err != nil {
			b.Fatal(err)
		}
		if err := srv.Shutdown(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
