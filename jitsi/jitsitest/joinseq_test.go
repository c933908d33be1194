package jitsitest_test

import (
	"context"
	"crypto/tls"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/cmd/parley/builtin"
	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/jitsi/jitsitest"
	"github.com/parley-xmpp/parley/server/servertest"
)

// startFile loads a Prosody config file with the real loader (Include
// included) and serves it with every built-in module on loopback.
func startFile(t testing.TB, path string) *servertest.Server {
	t.Helper()
	cfg, err := config.Load(path, config.WithEnv(func(string) (string, bool) { return "", false }))
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	return servertest.StartConfig(t, cfg, servertest.WithTLS(), servertest.WithServerOptions(builtin.Options(log)...))
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestJoinSequenceDebian runs JITSI.md §7 against the Debian config
// (config/testdata/jitsi-debian.cfg.lua: jitsi-anonymous on D,
// conference.D, internal.auth.D, per-component admins).
func TestJoinSequenceDebian(t *testing.T) {
	s := startFile(t, filepath.Join("..", "..", "config", "testdata", "jitsi-debian.cfg.lua"))
	s.CreateUser("focus", "auth.meet.example.com", "focus-pw")
	s.CreateUser("jvb", "auth.meet.example.com", "jvb-pw")
	d := jitsitest.Deployment{C2SAddr: s.C2SAddr, HTTPURL: s.HTTPURL, Domain: "meet.example.com", AuthDomain: "auth.meet.example.com",
		MUC: "conference.meet.example.com", InternalMUC: "internal.auth.meet.example.com", Focus: "focus.meet.example.com",
		FocusPassword: "focus-pw", JVBPassword: "jvb-pw", TLS: s.ClientTLS}
	runJoinSequence(t, d)
}

// TestJoinSequenceDockerFiles runs JITSI.md §7 against the rendered
// docker-jitsi-meet config (config/testdata/docker/prosody.cfg.lua with
// its conf.d Include: jitsi-anonymous on meet.jitsi, muc.meet.jitsi,
// internal-muc.meet.jitsi, global admins, c2s_require_encryption).
// Jicofo and JVB skip certificate checks as Docker configures them.
func TestJoinSequenceDockerFiles(t *testing.T) {
	s := startFile(t, filepath.Join("..", "..", "config", "testdata", "docker", "prosody.cfg.lua"))
	s.CreateUser("focus", "auth.meet.jitsi", "focus-pw")
	s.CreateUser("jvb", "auth.meet.jitsi", "jvb-pw")
	d := jitsitest.Deployment{C2SAddr: s.C2SAddr, HTTPURL: s.HTTPURL, Domain: "meet.jitsi", AuthDomain: "auth.meet.jitsi",
		MUC: "muc.meet.jitsi", InternalMUC: "internal-muc.meet.jitsi", Focus: "focus.meet.jitsi",
		FocusPassword: "focus-pw", JVBPassword: "jvb-pw", TLS: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // as Docker's jicofo/jvb
	runJoinSequence(t, d)
}

// runJoinSequence runs the P0 join sequence (JITSI.md §7 steps 1-6; the
// §2 rows each step covers are cited in jitsitest.RunJoinSequence) and
// returns the connected clients.
func runJoinSequence(t *testing.T, d jitsitest.Deployment) *jitsitest.Sequence {
	t.Helper()
	seq, err := jitsitest.RunJoinSequence(testContext(t), d)
	t.Cleanup(func() { _ = seq.Close() })
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// BenchmarkFocusRequest measures one conference request from a web
// client through client_proxy to the Jicofo-shaped focus and back (JITSI.md
// §7 step 4 for a room the focus already runs), on the Debian config.
func BenchmarkFocusRequest(b *testing.B) {
	s := startFile(b, filepath.Join("..", "..", "config", "testdata", "jitsi-debian.cfg.lua"))
	s.CreateUser("focus", "auth.meet.example.com", "focus-pw")
	s.CreateUser("jvb", "auth.meet.example.com", "jvb-pw")
	ctx := testContext(b)
	seq, err := jitsitest.RunJoinSequence(ctx, jitsitest.Deployment{C2SAddr: s.C2SAddr, HTTPURL: s.HTTPURL, Domain: "meet.example.com",
		AuthDomain: "auth.meet.example.com", MUC: "conference.meet.example.com", InternalMUC: "internal.auth.meet.example.com",
		Focus: "focus.meet.example.com", FocusPassword: "focus-pw", JVBPassword: "jvb-pw", TLS: s.ClientTLS})
	b.Cleanup(func() { _ = seq.Close() })
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := seq.Web.Conference(ctx, "focus.meet.example.com", seq.Room); err != nil {
			b.Fatal(err)
		}
	}
}
