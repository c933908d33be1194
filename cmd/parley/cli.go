package main

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/parley-xmpp/parley/auth"
	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/server"
	"github.com/parley-xmpp/parley/server/storage"
)

//go:embed default.cfg.lua
var defaultConfig []byte

//go:embed dev.cfg.lua
var devConfig []byte

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// systemConfig is where Prosody keeps its config on Debian.
const systemConfig = "/etc/prosody/prosody.cfg.lua"

const usage = `parley: an XMPP server for Jitsi Meet, compatible with Prosody's config and data.

Usage:
  parley [-c FILE]                      run in the foreground
  parley [-c FILE] -cpuprofile OUT -pprof 127.0.0.1:PORT
                                        the same, with a CPU profile of the run / live pprof
  parley [-c FILE] check config         load and validate the config, then exit
  parley [-c FILE] register USER HOST PASSWORD
  parley [-c FILE] adduser JID          create an account (password prompted)
  parley [-c FILE] passwd JID           change a password (prompted)
  parley [-c FILE] deluser JID          delete an account
  parley [-c FILE] disableuser JID      disable an account (logins refused, data kept)
  parley [-c FILE] enableuser JID       enable a disabled account
  parley [-c FILE] token [--host H] [--room R] [--sub S] [--tenant T] [--moderator] [--exp 1h]
                                        print a test token signed with the host's key
  parley dev                            a Jitsi signalling plane on localhost with a development
                                        focus in place of Jicofo (no media; testing only)
  parley about                          version and environment

Without -c, parley reads ` + systemConfig + ` if it exists and otherwise serves
a built-in localhost Jitsi layout.
`

type cli struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	env    func(string) (string, bool)
	path   string
	// system is the config read when -c is not given (systemConfig).
	system string
	// docker is set when the config was built from docker-jitsi-meet's
	// environment variables.
	docker *dockerSetup
	// dev serves the built-in development layout (`parley dev`).
	dev bool
	// prof holds the -cpuprofile and -pprof flags (pprof.go).
	prof profiling
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) (string, bool)) int {
	return runWith(ctx, systemConfig, args, stdin, stdout, stderr, env)
}

// runWith is run with the fallback config path as a parameter, for tests.
func runWith(ctx context.Context, system string, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) (string, bool)) int {
	fs := flag.NewFlagSet("parley", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	var path string
	fs.StringVar(&path, "c", "", "config file")
	fs.StringVar(&path, "config", "", "config file")
	var prof profiling
	prof.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, env: env, path: path, system: system, prof: prof}
	rest := fs.Args()
	var err error
	switch {
	case len(rest) == 0:
		err = c.serve(ctx)
	case len(rest) == 1 && rest[0] == "dev":
		c.dev = true
		err = c.serve(ctx)
	case rest[0] == "help":
		fmt.Fprint(stdout, usage)
	case rest[0] == "about":
		c.about()
	case rest[0] == "check" && len(rest) == 2 && rest[1] == "config":
		err = c.checkConfig()
	case rest[0] == "register" && len(rest) == 4:
		err = c.setPassword(ctx, rest[1], rest[2], rest[3])
	case rest[0] == "adduser" && len(rest) == 2, rest[0] == "passwd" && len(rest) == 2:
		err = c.promptPassword(ctx, rest[1])
	case rest[0] == "deluser" && len(rest) == 2:
		err = c.deleteUser(ctx, rest[1])
	case rest[0] == "disableuser" && len(rest) == 2:
		err = c.setDisabled(ctx, rest[1], true)
	case rest[0] == "enableuser" && len(rest) == 2:
		err = c.setDisabled(ctx, rest[1], false)
	case rest[0] == "token":
		err = c.mintToken(rest[1:])
	default:
		fmt.Fprint(stderr, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return 1
	}
	return 0
}

// loadConfig reads the chosen config file or the built-in default.
func (c *cli) loadConfig() (*config.Config, error) {
	if c.dev {
		return config.Parse("(parley dev)", devConfig, config.WithEnv(c.env))
	}
	path := c.path
	if path == "" {
		if _, err := os.Stat(c.system); err == nil {
			path = c.system
		}
	}
	if path == "" {
		setup, ok, err := dockerEnvConfig(c.env)
		if err != nil {
			return nil, fmt.Errorf("docker-jitsi-meet environment: %w", err)
		}
		if ok {
			c.docker = &setup
			for _, w := range setup.Warnings {
				fmt.Fprintln(c.stderr, "parley: warning:", w)
			}
			return config.Parse("(docker environment)", []byte(setup.Config), config.WithEnv(c.env))
		}
		return config.Parse("(built-in default)", defaultConfig, config.WithEnv(c.env))
	}
	return config.Load(path, config.WithEnv(c.env))
}

func (c *cli) about() {
	fmt.Fprintf(c.stdout, "parley %s\n", version)
	fmt.Fprintf(c.stdout, "config: %s\n", c.configName())
}

func (c *cli) configName() string {
	if c.dev {
		return "(parley dev)"
	}
	if c.path != "" {
		return c.path
	}
	if _, err := os.Stat(c.system); err == nil {
		return c.system
	}
	if c.docker != nil {
		return "(docker environment)"
	}
	return "(built-in default)"
}

func (c *cli) checkConfig() error {
	cfg, err := c.loadConfig()
	if err != nil {
		return err
	}
	// Validate without touching the data directory.
	opts := append(allModules(slog.New(slog.NewTextHandler(io.Discard, nil))), server.WithStore(storage.NewMemoryStore()))
	if _, err := server.New(cfg, opts...); err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(c.stdout, "warning:", w.String())
	}
	fmt.Fprintf(c.stdout, "%s: OK (%d hosts, %d components)\n", c.configName(), len(cfg.Hosts), len(cfg.Components))
	return nil
}

// serve runs the server until ctx ends, then shuts down gracefully.
func (c *cli) serve(ctx context.Context) error {
	cfg, err := c.loadConfig()
	if err != nil {
		return err
	}
	log, closeLog, err := newLogger(cfg, c.stderr)
	if err != nil {
		return err
	}
	logs := newLogSwitch(log, closeLog) // SIGHUP replaces it (reload.go)
	defer logs.close()
	log = logs.logger()
	stopProf, err := c.prof.start(ctx, log)
	defer stopProf()
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		log.Warn("config", "warning", w.String())
	}
	reportIgnoredOptions(cfg, log, nil)
	if c.docker != nil {
		made, err := c.docker.prepareCertificates(time.Now())
		if err != nil {
			return err
		}
		for _, f := range made {
			log.Info("generated a self-signed certificate", "file", f)
		}
	}
	opts := append(allModules(log), server.WithModules(newDevPage()), server.WithLogger(log), server.WithVersion(version))
	srv, err := server.New(cfg, opts...)
	if err != nil {
		return err
	}
	if c.docker != nil {
		if err := c.docker.createAccounts(ctx, srv); err != nil {
			return err
		}
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	defer c.reloadOnHangup(ctx, srv, logs)()
	fmt.Fprintf(c.stdout, "parley %s serving (config: %s)\n", version, c.configName())
	for _, h := range srv.Hosts() {
		fmt.Fprintf(c.stdout, "  host %s (authentication: %s)\n", h.Name, h.Auth.Name())
	}
	for _, kind := range []string{server.ListenC2S, server.ListenC2SDirectTLS, server.ListenComponent, server.ListenHTTP} {
		for _, a := range srv.Addrs(kind) {
			fmt.Fprintf(c.stdout, "  %-15s %s\n", kind, a)
		}
	}
	<-ctx.Done()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// accounts builds the server (without listening) to reach a host's
// account store.
func (c *cli) accounts(address string) (*server.Host, string, error) {
	j, err := jid.Parse(address)
	if err != nil || j.Localpart() == "" {
		return nil, "", fmt.Errorf("%q is not a user@host address", address)
	}
	cfg, err := c.loadConfig()
	if err != nil {
		return nil, "", err
	}
	srv, err := server.New(cfg, allModules(slog.New(slog.NewTextHandler(io.Discard, nil)))...)
	if err != nil {
		return nil, "", err
	}
	h := srv.Host(j.Domainpart())
	if h == nil {
		return nil, "", fmt.Errorf("no VirtualHost %q in %s", j.Domainpart(), c.configName())
	}
	if h.Accounts == nil {
		return nil, "", fmt.Errorf("host %s (authentication %s) has no accounts", h.Name, h.Auth.Name())
	}
	return h, j.Localpart(), nil
}

func (c *cli) setPassword(ctx context.Context, user, host, password string) error {
	h, u, err := c.accounts(user + "@" + host)
	if err != nil {
		return err
	}
	if err := h.Accounts.SetPassword(ctx, u, password); err != nil {
		return fmt.Errorf("set password for %s@%s: %w", u, host, err)
	}
	return nil
}

func (c *cli) promptPassword(ctx context.Context, address string) error {
	h, u, err := c.accounts(address)
	if err != nil {
		return err
	}
	in := bufio.NewReader(c.stdin)
	fmt.Fprint(c.stdout, "Enter new password: ")
	p1, err := in.ReadString('\n')
	if err != nil && p1 == "" {
		return fmt.Errorf("read password: %w", err)
	}
	fmt.Fprint(c.stdout, "\nRetype new password: ")
	p2, _ := in.ReadString('\n')
	fmt.Fprintln(c.stdout)
	p1, p2 = strings.TrimRight(p1, "\r\n"), strings.TrimRight(p2, "\r\n")
	if p1 != p2 {
		return errors.New("passwords did not match")
	}
	if p1 == "" {
		return errors.New("empty password")
	}
	return h.Accounts.SetPassword(ctx, u, p1)
}

func (c *cli) deleteUser(ctx context.Context, address string) error {
	h, u, err := c.accounts(address)
	if err != nil {
		return err
	}
	ok, err := h.Accounts.Exists(ctx, u)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no such user %s", address)
	}
	if err := h.Accounts.Delete(ctx, u); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Deleted %s@%s.\n%s\n", u, h.Name, reloadHint)
	return nil
}

// reloadHint follows a change that must end sessions: this command edits
// the store, not the running server, which rechecks the accounts of its
// sessions when it reloads (SECURITY-CASES 40).
const reloadHint = "A running parley keeps the account's open sessions until it reloads:\n" +
	"send it SIGHUP (systemctl reload parley, or kill -HUP PID) to close them."

// setDisabled disables or enables an account, as Prosody's shell commands
// user:disable and user:enable do.
func (c *cli) setDisabled(ctx context.Context, address string, disabled bool) error {
	h, u, err := c.accounts(address)
	if err != nil {
		return err
	}
	d, ok := h.Accounts.(auth.Disabler)
	if !ok {
		return fmt.Errorf("host %s (authentication %s) cannot disable accounts", h.Name, h.Auth.Name())
	}
	if err := d.SetDisabled(ctx, u, disabled); err != nil {
		if errors.Is(err, auth.ErrNoAccount) {
			return fmt.Errorf("no such user %s", address)
		}
		return err
	}
	if !disabled {
		fmt.Fprintf(c.stdout, "Enabled %s@%s.\n", u, h.Name)
		return nil
	}
	fmt.Fprintf(c.stdout, "Disabled %s@%s.\n%s\n", u, h.Name, reloadHint)
	return nil
}
