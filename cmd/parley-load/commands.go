package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/cmd/parley-load/internal/compare"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/metrics"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/report"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/scenario"
)

// paramFlags registers the scenario knobs on fs.
func paramFlags(fs *flag.FlagSet, p *scenario.Params, sm *string) {
	fs.Float64Var(&p.Scale, "scale", 1, "multiply session, room and listener counts (0.1 for a quick run)")
	fs.StringVar(&p.Transport, "transport", "", "tcp, ws, bosh or a comma list used round-robin (default: per scenario)")
	fs.IntVar(&p.Sessions, "sessions", 0, "sessions (login, idle, route)")
	fs.IntVar(&p.Concurrency, "concurrency", 0, "sessions being opened at once")
	fs.StringVar(&p.Mechanism, "mech", "", "SASL mechanism for login: ANONYMOUS, PLAIN, SCRAM-SHA-1, SCRAM-SHA-256")
	fs.StringVar(sm, "sm", "", "XEP-0198 stream management: on or off (default: per scenario)")
	fs.IntVar(&p.AckEvery, "ack-every", 0, "request an XEP-0198 ack every N stanzas sent")
	fs.IntVar(&p.Rooms, "rooms", 0, "rooms (rooms scenario)")
	fs.IntVar(&p.Occupants, "occupants", 0, "occupants per room; active participants in bigroom")
	fs.IntVar(&p.Listeners, "listeners", 0, "passive listeners (bigroom)")
	fs.BoolVar(&p.NoVisitors, "no-visitors", false, "bigroom: listeners are participants (O(n²) presence)")
	fs.BoolVar(&p.SmallPresence, "small-presence", false, "MUC joins without the 1 KB Jitsi payload")
	fs.Float64Var(&p.JoinRate, "join-rate", 0, "joins per second (churn: also leaves per second)")
	fs.Float64Var(&p.MsgRate, "msg-rate", 0, "messages per second")
	fs.IntVar(&p.Messages, "messages", 0, "messages per occupant (rooms)")
	fs.DurationVar(&p.Duration, "duration", 0, "steady-state phase length (route, churn, bigroom)")
	fs.DurationVar(&p.Settle, "settle", 0, "wait before reading memory (idle)")
	fs.StringVar(&p.TokenSecret, "token-secret", "", "HS256 secret for the tokens scenario")
	fs.StringVar(&p.TokenIssuer, "token-iss", "", "token iss claim (app id)")
	fs.StringVar(&p.TokenAudience, "token-aud", "", "token aud claim")
}

func applySM(p *scenario.Params, sm string) error {
	switch sm {
	case "":
	case "on", "true", "1":
		p.SM = new(bool)
		*p.SM = true
	case "off", "false", "0":
		p.SM = new(bool)
	default:
		return fmt.Errorf("-sm: want on or off, not %q", sm)
	}
	return nil
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("parley-load run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var p scenario.Params
	var sm string
	paramFlags(fs, &p, &sm)
	var t scenario.Target
	var scenarios, jsonOut, pid string
	var verbose bool
	fs.StringVar(&scenarios, "scenario", "login", "comma list of scenarios (see parley-load list)")
	fs.StringVar(&t.Name, "name", "server", "target label in reports")
	fs.StringVar(&t.C2S, "c2s", "127.0.0.1:5222", "c2s address")
	fs.StringVar(&t.WebSocket, "ws", "ws://127.0.0.1:5280/xmpp-websocket", "WebSocket URL")
	fs.StringVar(&t.BOSH, "bosh", "http://127.0.0.1:5280/http-bind", "BOSH URL")
	fs.StringVar(&t.Domain, "domain", "load.test", "host with password accounts")
	fs.StringVar(&t.AnonDomain, "anon-domain", "anon.test", "host with anonymous login")
	fs.StringVar(&t.TokenDomain, "token-domain", "", "host with token login (default: -anon-domain)")
	fs.StringVar(&t.MUC, "muc", "conference.load.test", "MUC component domain (empty: none)")
	fs.IntVar(&t.Users, "users", 100, "accounts <user-prefix>0..N-1 on -domain")
	fs.StringVar(&t.UserPrefix, "user-prefix", "user", "account name prefix")
	fs.StringVar(&t.Password, "password", "load-password", "password of every account")
	fs.StringVar(&pid, "pid", "auto", "server pid to sample from /proc: a number, auto (the process listening on -c2s) or none")
	fs.StringVar(&jsonOut, "json", "", "write the results as JSON to this file (- for stdout)")
	fs.BoolVar(&verbose, "v", false, "log progress")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := applySM(&p, sm); err != nil {
		return err
	}
	var err error
	if t.PID, err = resolvePID(pid, t.C2S); err != nil {
		return err
	}
	log := newLogger(stderr, verbose)
	var results []*scenario.Result
	for _, name := range strings.Split(scenarios, ",") {
		sc, ok := scenario.Lookup(strings.TrimSpace(name))
		if !ok {
			return fmt.Errorf("unknown scenario %q (see parley-load list)", name)
		}
		res, err := scenario.Execute(ctx, sc, t, p, log)
		if res != nil {
			results = append(results, res)
			report.Text(stdout, res)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", sc.Name, err)
		}
	}
	if jsonOut != "" {
		return writeJSON(jsonOut, results)
	}
	return nil
}

func resolvePID(v, c2s string) (int, error) {
	switch v {
	case "none", "", "0":
		return 0, nil
	case "auto":
		_, port, ok := strings.Cut(c2s, ":")
		n, err := strconv.Atoi(port)
		if !ok || err != nil {
			return 0, fmt.Errorf("-pid auto: cannot read the port of %q", c2s)
		}
		pid, err := metrics.ListenerPID(n)
		if err != nil {
			return 0, fmt.Errorf("-pid auto: %w (use -pid none to skip server figures)", err)
		}
		return pid, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("-pid: %w", err)
	}
	return n, nil
}

func cmdCompare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("parley-load compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var p scenario.Params
	var sm string
	paramFlags(fs, &p, &sm)
	var prosody, prosodyctl, parley, tmpl, workdir, cases, jsonOut, profileDir, parleyVersion string
	var users, basePort int
	var verbose, profile bool
	fs.StringVar(&prosody, "prosody", "/usr/bin/prosody", "Prosody binary (empty: leave Prosody out)")
	fs.StringVar(&prosodyctl, "prosodyctl", "/usr/bin/prosodyctl", "prosodyctl binary")
	fs.StringVar(&parley, "parley", "", "cmd/parley binary (empty: leave it out)")
	fs.BoolVar(&profile, "profile", false, "also run parley with -cpuprofile, reported as parley+pprof (one CPU profile per case in -profile-dir)")
	fs.StringVar(&parleyVersion, "parley-version", "dev", "parley version for the report (e.g. git describe)")
	fs.StringVar(&tmpl, "template", "bench/server.cfg.lua", "config template shared by every server")
	fs.StringVar(&workdir, "workdir", "", "directory for configs, data and logs (default: a new temporary directory)")
	fs.StringVar(&cases, "cases", "all", "comma list of cases (see -h output of list) or all")
	fs.StringVar(&jsonOut, "json", "", "write the comparison as JSON to this file")
	fs.StringVar(&profileDir, "profile-dir", "", "write a CPU profile of parley+pprof per case here")
	fs.IntVar(&users, "users", 100, "password accounts to create on each server")
	fs.IntVar(&basePort, "base-port", 25200, "first loopback port; each server takes two")
	fs.BoolVar(&verbose, "v", false, "log progress")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := applySM(&p, sm); err != nil {
		return err
	}
	tmplText, err := os.ReadFile(tmpl)
	if err != nil {
		return fmt.Errorf("reading the config template: %w", err)
	}
	if workdir == "" {
		if workdir, err = os.MkdirTemp("", "parley-compare-"); err != nil {
			return err
		}
	}
	if profileDir != "" {
		if err := os.MkdirAll(profileDir, 0o755); err != nil {
			return err
		}
	}
	var servers []*compare.Server
	add := func(name, kind, bin, admin, version string, profile bool) {
		port := basePort + 2*len(servers)
		servers = append(servers, &compare.Server{
			Name: name, Kind: kind, Bin: bin, Admin: admin, Version: version,
			Dir: filepath.Join(workdir, strings.ReplaceAll(name, "+", "-")), C2S: port, HTTP: port + 1, Profile: profile,
		})
	}
	if prosody != "" {
		add("prosody", compare.KindProsody, prosody, prosodyctl, compare.Version(ctx, prosodyctl, "about"), false)
	}
	if parley != "" {
		add("parley", compare.KindParley, parley, parley, "parley "+parleyVersion, false)
	}
	if profile {
		if parley == "" {
			return errors.New("-profile needs -parley")
		}
		add("parley+pprof", compare.KindParley, parley, parley, "parley "+parleyVersion+" with -cpuprofile", true)
	}
	if len(servers) == 0 {
		return errors.New("no server to compare")
	}
	all := compare.DefaultCases(p.Scale)
	selected, err := selectCases(all, cases)
	if err != nil {
		return err
	}
	log := newLogger(stderr, verbose)
	fmt.Fprintf(stdout, "parley-load compare: %d cases on %d servers, scale %g, work dir %s\n\n", len(selected), len(servers), p.Scale, workdir)
	rep, err := compare.Run(ctx, compare.Options{
		Servers:    servers,
		Cases:      selected,
		Template:   string(tmplText),
		Users:      users,
		ProfileDir: profileDir,
		Tweak:      func(ps *scenario.Params) { override(ps, p) },
		Log:        log,
		Progress:   func(r *scenario.Result) { report.Text(stdout, r) },
	})
	if rep != nil {
		printComparison(stdout, rep)
		if jsonOut != "" {
			if werr := writeJSON(jsonOut, rep); werr != nil && err == nil {
				err = werr
			}
		}
	}
	return err
}

func selectCases(all []compare.Case, list string) ([]compare.Case, error) {
	if list == "" || list == "all" {
		return all, nil
	}
	var out []compare.Case
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		found := false
		for _, c := range all {
			if c.Name == name || c.Scenario == name {
				out = append(out, c)
				found = true
			}
		}
		if !found {
			names := make([]string, len(all))
			for i, c := range all {
				names[i] = c.Name
			}
			return nil, fmt.Errorf("unknown case %q; cases: %s", name, strings.Join(names, ", "))
		}
	}
	return out, nil
}

// override copies the command line's non-zero knobs over a case's.
func override(dst *scenario.Params, src scenario.Params) {
	if src.Transport != "" {
		dst.Transport = src.Transport
	}
	setInt := func(d *int, s int) {
		if s > 0 {
			*d = s
		}
	}
	setFloat := func(d *float64, s float64) {
		if s > 0 {
			*d = s
		}
	}
	setDur := func(d *time.Duration, s time.Duration) {
		if s > 0 {
			*d = s
		}
	}
	setInt(&dst.Sessions, src.Sessions)
	setInt(&dst.Concurrency, src.Concurrency)
	setInt(&dst.AckEvery, src.AckEvery)
	setInt(&dst.Rooms, src.Rooms)
	setInt(&dst.Occupants, src.Occupants)
	setInt(&dst.Listeners, src.Listeners)
	setInt(&dst.Messages, src.Messages)
	setFloat(&dst.JoinRate, src.JoinRate)
	setFloat(&dst.MsgRate, src.MsgRate)
	setDur(&dst.Duration, src.Duration)
	setDur(&dst.Settle, src.Settle)
	if src.Mechanism != "" {
		dst.Mechanism = src.Mechanism
	}
	if src.SM != nil {
		dst.SM = src.SM
	}
	if src.NoVisitors {
		dst.NoVisitors = true
	}
	if src.SmallPresence {
		dst.SmallPresence = true
	}
	if src.TokenSecret != "" {
		dst.TokenSecret = src.TokenSecret
		dst.TokenIssuer = src.TokenIssuer
		dst.TokenAudience = src.TokenAudience
	}
}

func printComparison(w io.Writer, rep *compare.Report) {
	m := rep.Machine
	fmt.Fprintf(w, "Machine: %s, %d CPUs, %s RAM, Linux %s, %s, nofile %s, load at start %s\n", m.CPU, m.CPUs, m.MemTotal, m.Kernel, m.Go, m.NoFile, m.LoadAvg)
	targets := make([]string, 0, len(rep.Servers))
	for _, s := range rep.Servers {
		fmt.Fprintf(w, "Server %s: %s (%s)\n", s.Name, s.Version, s.Binary)
		for _, miss := range s.Missing {
			fmt.Fprintf(w, "  missing %s\n", miss)
		}
		targets = append(targets, s.Name)
	}
	fmt.Fprintln(w)
	report.Table(w, targets, rep.Results)
}

func cmdTable(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: parley-load table FILE.json")
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	var rep compare.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	for _, r := range rep.Results {
		report.Text(stdout, r)
	}
	printComparison(stdout, &rep)
	return nil
}

func cmdList(w io.Writer) {
	for _, s := range scenario.All() {
		fmt.Fprintf(w, "%-8s %s\n", s.Name, s.Description)
	}
	fmt.Fprintln(w, "\ncompare cases:")
	for _, c := range compare.DefaultCases(1) {
		fmt.Fprintf(w, "  %-12s %s (needs %s)\n", c.Name, c.Scenario, strings.Join(c.Needs, ", "))
	}
}
