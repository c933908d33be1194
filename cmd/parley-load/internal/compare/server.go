// Package compare runs the same scenarios against several XMPP servers on
// this machine, one fresh server process per case, and collects the
// results for a side-by-side table: Prosody (Debian's package) and parley
// started from the same rendered config file.
package compare

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"text/template"
	"time"

	"github.com/parley-xmpp/parley/cmd/parley-load/internal/scenario"
)

// Kinds of server.
const (
	KindProsody = "prosody"
	KindParley  = "parley"
)

// Hosts every server gets, from the config template.
const (
	Domain     = "load.test"
	AnonDomain = "anon.test"
	MUCDomain  = "conference.load.test"
	UserPrefix = "user"
	Password   = "load-password"
	// TokenDomain is the parley-only host with Jitsi token logins,
	// TokenIssuer its app_id and TokenSecret its app_secret.
	TokenDomain = "token.test"
	TokenIssuer = "parley-load"
	TokenSecret = "parley-load-benchmark-secret-not-for-production"
)

// Server describes one server under test.
type Server struct {
	// Name labels the results ("prosody", "parley", "parley+pprof").
	Name string
	// Kind is KindProsody or KindParley.
	Kind string
	// Bin runs the server; Admin registers accounts (prosodyctl, or a
	// parley binary with the register command).
	Bin, Admin string
	// Version is reported with the results.
	Version string
	// Dir holds the config, data and logs.
	Dir string
	// C2S and HTTP are the loopback ports.
	C2S, HTTP int
	// Profile makes a parley server write a CPU profile per case
	// (parley -cpuprofile).
	Profile bool
}

// configData fills the template.
type configData struct {
	Name, Dir, LogLevel, Domain, AnonDomain, MUC string
	TokenDomain, TokenIssuer, TokenSecret        string
	C2S, HTTP                                    int
	Prosody                                      bool
}

// ConfigPath is where the rendered config goes.
func (s *Server) ConfigPath() string { return filepath.Join(s.Dir, "server.cfg.lua") }

// Render writes the server's config from the template text.
func (s *Server) Render(tmpl string) error {
	t, err := template.New("cfg").Parse(tmpl)
	if err != nil {
		return fmt.Errorf("compare: config template: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(s.Dir, "data"), 0o755); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	var b bytes.Buffer
	err = t.Execute(&b, configData{
		Name: s.Name, Dir: s.Dir, LogLevel: "warn", Domain: Domain, AnonDomain: AnonDomain, MUC: MUCDomain,
		TokenDomain: TokenDomain, TokenIssuer: TokenIssuer, TokenSecret: TokenSecret,
		C2S: s.C2S, HTTP: s.HTTP, Prosody: s.Kind == KindProsody,
	})
	if err != nil {
		return fmt.Errorf("compare: rendering config: %w", err)
	}
	return os.WriteFile(s.ConfigPath(), b.Bytes(), 0o644)
}

// Register creates n accounts user0..user(n-1), a few at a time.
func (s *Server) Register(ctx context.Context, n int) error {
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			user := UserPrefix + strconv.Itoa(i)
			var cmd *exec.Cmd
			if s.Kind == KindProsody {
				cmd = exec.CommandContext(ctx, s.Admin, "--config", s.ConfigPath(), "register", user, Domain, Password)
			} else {
				cmd = exec.CommandContext(ctx, s.Admin, "-c", s.ConfigPath(), "register", user, Domain, Password)
			}
			cmd.Dir = s.Dir
			out, err := cmd.CombinedOutput()
			if err == nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if first == nil {
				first = fmt.Errorf("compare: %s register %s: %w: %s", s.Name, user, err, bytes.TrimSpace(out))
			}
		}()
	}
	wg.Wait()
	return first
}

// Process is a running server.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	log  *os.File
}

// PID is the server's process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Start launches the server (its output appended to Dir/stdout.log) and
// waits until its c2s port, and its HTTP port if wantHTTP, accept
// connections. profile, if not empty, is the CPU profile file for a
// profiling parley build.
func (s *Server) Start(ctx context.Context, profile string, wantHTTP bool) (*Process, error) {
	var args []string
	switch s.Kind {
	case KindProsody:
		args = []string{"--config", s.ConfigPath(), "-F"}
	default:
		args = []string{"-c", s.ConfigPath()}
		if profile != "" {
			args = append(args, "-cpuprofile", profile)
		}
	}
	logf, err := os.OpenFile(filepath.Join(s.Dir, "stdout.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	cmd := exec.Command(s.Bin, args...)
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("compare: starting %s: %w", s.Name, err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{}), log: logf}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := p.waitPort(ctx, s.C2S, 30*time.Second); err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, fmt.Errorf("compare: %s: %w; see %s", s.Name, err, logf.Name())
	}
	if wantHTTP {
		if err := p.waitPort(ctx, s.HTTP, 10*time.Second); err != nil {
			_ = p.Stop(5 * time.Second)
			return nil, fmt.Errorf("compare: %s: %w; see %s", s.Name, err, logf.Name())
		}
	}
	return p, nil
}

// waitPort polls a loopback port until it accepts a connection.
func (p *Process) waitPort(ctx context.Context, port int, timeout time.Duration) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited at start-up (%v)", p.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s", addr, timeout)
		}
	}
}

// Stop sends SIGTERM, waits up to timeout, then kills the process.
func (p *Process) Stop(timeout time.Duration) error {
	defer p.log.Close()
	select {
	case <-p.done:
		return p.exitErr()
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.exitErr()
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("compare: server pid %d did not stop in %s; killed", p.PID(), timeout)
	}
}

func (p *Process) exitErr() error {
	var ee *exec.ExitError
	if p.err == nil || (errors.As(p.err, &ee) && ee.ExitCode() <= 0) {
		return nil
	}
	return p.err
}

// Target is the scenario target for this server once started.
func (s *Server) Target(users, pid int) scenario.Target {
	http := "127.0.0.1:" + strconv.Itoa(s.HTTP)
	return scenario.Target{
		Name:        s.Name,
		Version:     s.Version,
		C2S:         "127.0.0.1:" + strconv.Itoa(s.C2S),
		WebSocket:   "ws://" + http + "/xmpp-websocket",
		BOSH:        "http://" + http + "/http-bind",
		Domain:      Domain,
		AnonDomain:  AnonDomain,
		TokenDomain: TokenDomain,
		MUC:         MUCDomain,
		Users:       users,
		UserPrefix:  UserPrefix,
		Password:    Password,
		PID:         pid,
	}
}

// Version runs cmd args and returns the first line of its output.
func Version(ctx context.Context, name string, args ...string) string {
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil && len(out) == 0 {
		return ""
	}
	line, _, _ := bytes.Cut(bytes.TrimSpace(out), []byte("\n"))
	return string(line)
}

// tail returns the last n bytes of a file, for error reports.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}
