package compare

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/cmd/parley-load/internal/loadtest"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/scenario"
)

// TestMain doubles as a fake server process: with FAKE_SERVER set, the
// test binary either "registers" an account (appending to a file) or
// listens on the ports named in the rendered config until SIGTERM.
func TestMain(m *testing.M) {
	if mode := os.Getenv("FAKE_SERVER"); mode != "" {
		os.Exit(fakeServer(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

var portRE = regexp.MustCompile(`(c2s|http)_ports = \{ (\d+) \}`)

func fakeServer(mode string, args []string) int {
	cfgPath := ""
	for i, a := range args {
		if (a == "-c" || a == "--config") && i+1 < len(args) {
			cfgPath = args[i+1]
		}
	}
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if len(args) > 2 && args[2] == "register" {
		f, err := os.OpenFile(filepath.Join(filepath.Dir(cfgPath), "registered"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return 2
		}
		fmt.Fprintln(f, strings.Join(args[3:], " "))
		f.Close()
		return 0
	}
	if mode == "crash" {
		fmt.Println("fake server failing at start-up")
		return 3
	}
	var lns []net.Listener
	for _, m := range portRE.FindAllStringSubmatch(string(cfg), -1) {
		ln, err := net.Listen("tcp", "127.0.0.1:"+m[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		lns = append(lns, ln)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	<-sig
	for _, ln := range lns {
		ln.Close()
	}
	return 0
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func readTemplate(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../../../bench/server.cfg.lua")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestRender(t *testing.T) {
	tmpl := readTemplate(t)
	tests := []struct {
		name        string
		kind        string
		wantProsody bool
	}{
		{"prosody", KindProsody, true},
		{"parley", KindParley, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{Name: tc.name, Kind: tc.kind, Dir: t.TempDir(), C2S: 15222, HTTP: 15280}
			if err := s.Render(tmpl); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(s.ConfigPath())
			if err != nil {
				t.Fatal(err)
			}
			cfg := string(data)
			for _, want := range []string{
				"c2s_ports = { 15222 }", "http_ports = { 15280 }", `data_path = "` + s.Dir + `/data"`,
				`VirtualHost "load.test"`, `VirtualHost "anon.test"`, `Component "conference.load.test" "muc"`,
			} {
				if !strings.Contains(cfg, want) {
					t.Errorf("config lacks %q", want)
				}
			}
			if got := strings.Contains(cfg, "run_as_root"); got != tc.wantProsody {
				t.Errorf("Prosody-only lines present = %v, want %v", got, tc.wantProsody)
			}
			if _, err := os.Stat(filepath.Join(s.Dir, "data")); err != nil {
				t.Errorf("data dir: %v", err)
			}
		})
	}
	if err := (&Server{Dir: t.TempDir()}).Render("{{.Nope"); err == nil {
		t.Error("a broken template rendered")
	}
}

func fakeServerSpec(t *testing.T, mode string) *Server {
	t.Helper()
	t.Setenv("FAKE_SERVER", mode)
	s := &Server{Name: "fake", Kind: KindParley, Bin: os.Args[0], Admin: os.Args[0], Dir: t.TempDir(), C2S: freePort(t), HTTP: freePort(t)}
	if err := s.Render(readTemplate(t)); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStartStopRegister(t *testing.T) {
	s := fakeServerSpec(t, "serve")
	ctx := context.Background()
	if err := s.Register(ctx, 3); err != nil {
		t.Fatal(err)
	}
	reg, err := os.ReadFile(filepath.Join(s.Dir, "registered"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(reg)), "\n")
	if len(lines) != 3 || !strings.Contains(string(reg), "user2 load.test "+Password) {
		t.Errorf("registered:\n%s", reg)
	}
	p, err := s.Start(ctx, "", true)
	if err != nil {
		t.Fatal(err)
	}
	if p.PID() <= 0 {
		t.Errorf("pid %d", p.PID())
	}
	tg := s.Target(3, p.PID())
	if tg.C2S != fmt.Sprintf("127.0.0.1:%d", s.C2S) || tg.MUC != MUCDomain || tg.Users != 3 {
		t.Errorf("target %+v", tg)
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Errorf("stop: %v", err)
	}
	if c, err := net.Dial("tcp", tg.C2S); err == nil {
		c.Close()
		t.Error("the port still accepts after Stop")
	}
}

func TestStartFailure(t *testing.T) {
	s := fakeServerSpec(t, "crash")
	_, err := s.Start(context.Background(), "", false)
	if err == nil || !strings.Contains(err.Error(), "exited at start-up") {
		t.Errorf("err = %v, want an exit at start-up", err)
	}
	if !strings.Contains(tail(filepath.Join(s.Dir, "stdout.log"), 100), "failing at start-up") {
		t.Error("the server's output was not logged")
	}
}

func TestProbe(t *testing.T) {
	srv := loadtest.Start(t)
	caps, missing := Probe(context.Background(), srv.Target)
	for _, want := range []string{"tcp", "ws", "bosh", "password", "muc"} {
		if !caps[want] {
			t.Errorf("capability %s missing: %v", want, missing)
		}
	}
	if caps["token"] {
		t.Error("token capability claimed")
	}
	tg := srv.Target
	tg.MUC = "nowhere.load.test"
	tg.WebSocket = "ws://127.0.0.1:1/xmpp-websocket"
	caps, missing = Probe(context.Background(), tg)
	if caps["muc"] || caps["ws"] {
		t.Errorf("capabilities %v with a bad MUC and WebSocket URL", caps)
	}
	joined := strings.Join(missing, "\n")
	if !strings.Contains(joined, "ws: ") || !strings.Contains(joined, "muc: ") {
		t.Errorf("missing = %v, want ws and muc explained", missing)
	}
}

func TestDefaultCases(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range DefaultCases(0.5) {
		if seen[c.Name] {
			t.Errorf("duplicate case %s", c.Name)
		}
		seen[c.Name] = true
		if _, ok := scenario.Lookup(c.Scenario); !ok {
			t.Errorf("case %s names unknown scenario %s", c.Name, c.Scenario)
		}
		if c.Params.Scale != 0.5 {
			t.Errorf("case %s scale %v", c.Name, c.Params.Scale)
		}
		if len(c.Needs) == 0 {
			t.Errorf("case %s needs nothing", c.Name)
		}
	}
	for _, want := range []string{"login-scram", "idle-ws", "rooms-mixed", "churn-tcp", "bigroom-tcp", "tokens-ws"} {
		if !seen[want] {
			t.Errorf("no case %s", want)
		}
	}
	if m := machine(); m.CPUs <= 0 || m.Go == "" {
		t.Errorf("machine %+v", m)
	}
}
