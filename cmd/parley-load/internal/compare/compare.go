package compare

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/cmd/parley-load/internal/scenario"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/xclient"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/xscan"
)

// Case is one scenario with its parameters, run against every server.
type Case struct {
	Name     string
	Scenario string
	Params   scenario.Params
	// Needs lists capabilities the server must have (see Probe).
	Needs []string
}

// DefaultCases are the comparison's cases in run order; scale multiplies
// their sizes.
func DefaultCases(scale float64) []Case {
	p := func(f func(*scenario.Params)) scenario.Params {
		ps := scenario.Params{Scale: scale}
		f(&ps)
		return ps
	}
	return []Case{
		{"login-anon", "login", p(func(ps *scenario.Params) { ps.Mechanism = xclient.Anonymous }), []string{"tcp"}},
		{"login-plain", "login", p(func(ps *scenario.Params) { ps.Mechanism = xclient.Plain }), []string{"tcp", "password"}},
		{"login-scram", "login", p(func(ps *scenario.Params) { ps.Mechanism = xclient.ScramSHA1 }), []string{"tcp", "password"}},
		{"idle-tcp", "idle", p(func(ps *scenario.Params) { ps.Transport = xclient.TCP }), []string{"tcp"}},
		{"idle-ws", "idle", p(func(ps *scenario.Params) { ps.Transport = xclient.WebSocket }), []string{"ws"}},
		{"route-tcp", "route", p(func(*scenario.Params) {}), []string{"tcp"}},
		{"rooms-ws", "rooms", p(func(ps *scenario.Params) { ps.Transport = xclient.WebSocket }), []string{"ws", "muc"}},
		{"rooms-bosh", "rooms", p(func(ps *scenario.Params) { ps.Transport = xclient.BOSH }), []string{"bosh", "muc"}},
		{"rooms-mixed", "rooms", p(func(ps *scenario.Params) { ps.Transport = "ws,bosh" }), []string{"ws", "bosh", "muc"}},
		{"churn-tcp", "churn", p(func(*scenario.Params) {}), []string{"tcp", "muc"}},
		{"tokens-ws", "tokens", p(func(ps *scenario.Params) {
			ps.Transport, ps.TokenSecret, ps.TokenIssuer = xclient.WebSocket, TokenSecret, TokenIssuer
		}), []string{"ws", "token"}},
		{"bigroom-tcp", "bigroom", p(func(*scenario.Params) {}), []string{"tcp", "muc"}},
	}
}

// Options configure a comparison run.
type Options struct {
	Servers []*Server
	Cases   []Case
	// Template is the config template text (bench/server.cfg.lua).
	Template string
	// Users is how many password accounts to create per server.
	Users int
	// ProfileDir, if set, receives the CPU profiles of servers with Profile set.
	ProfileDir string
	// Tweak adjusts every case's parameters (command-line overrides).
	Tweak func(*scenario.Params)
	Log   *slog.Logger
	// Progress receives each result as soon as it is known.
	Progress func(*scenario.Result)
}

// Report is the JSON document of a comparison.
type Report struct {
	Started time.Time          `json:"started"`
	Machine Machine            `json:"machine"`
	Servers []ServerInfo       `json:"servers"`
	Results []*scenario.Result `json:"results"`
}

// ServerInfo describes a compared server.
type ServerInfo struct {
	Name         string          `json:"name"`
	Kind         string          `json:"kind"`
	Binary       string          `json:"binary"`
	Version      string          `json:"version"`
	Capabilities map[string]bool `json:"capabilities"`
	Missing      []string        `json:"missing,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	CPU      string `json:"cpu"`
	CPUs     int    `json:"cpus"`
	MemTotal string `json:"mem_total"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
	LoadAvg  string `json:"loadavg_at_start"`
	NoFile   string `json:"nofile_limit"`
}

// Run prepares every server (config, accounts), probes what each can do,
// then runs each case against each server in turn, restarting the server
// for every case so that memory figures start from a fresh process.
func Run(ctx context.Context, o Options) (*Report, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rep := &Report{Started: time.Now(), Machine: machine()}
	caps := map[string]map[string]bool{}
	for _, s := range o.Servers {
		if err := s.Render(o.Template); err != nil {
			return nil, err
		}
		log.Info("creating accounts", "server", s.Name, "users", o.Users)
		if err := s.Register(ctx, o.Users); err != nil {
			return nil, err
		}
		p, err := s.Start(ctx, "", false)
		if err != nil {
			return nil, err
		}
		// An HTTP listener may open a moment after c2s; give it a chance.
		_ = p.waitPort(ctx, s.HTTP, 3*time.Second)
		c, missing := Probe(ctx, s.Target(o.Users, p.PID()))
		if err := p.Stop(15 * time.Second); err != nil {
			log.Warn("stopping after probe", "server", s.Name, "err", err)
		}
		caps[s.Name] = c
		rep.Servers = append(rep.Servers, ServerInfo{Name: s.Name, Kind: s.Kind, Binary: s.Bin, Version: s.Version, Capabilities: c, Missing: missing})
		log.Info("capabilities", "server", s.Name, "caps", c, "missing", missing)
	}
	for _, cs := range o.Cases {
		sc, ok := scenario.Lookup(cs.Scenario)
		if !ok {
			return nil, fmt.Errorf("compare: unknown scenario %q in case %s", cs.Scenario, cs.Name)
		}
		params := cs.Params
		if o.Tweak != nil {
			o.Tweak(&params)
		}
		for _, s := range o.Servers {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			res := runOne(ctx, o, s, cs, sc, params, caps[s.Name], log)
			rep.Results = append(rep.Results, res)
			if o.Progress != nil {
				o.Progress(res)
			}
		}
	}
	return rep, nil
}

func runOne(ctx context.Context, o Options, s *Server, cs Case, sc scenario.Scenario, params scenario.Params, caps map[string]bool, log *slog.Logger) *scenario.Result {
	res := &scenario.Result{Scenario: cs.Scenario, Case: cs.Name, Description: sc.Description, Target: s.Name, Version: s.Version, Started: time.Now()}
	var lacking []string
	for _, need := range cs.Needs {
		if !caps[need] {
			lacking = append(lacking, need)
		}
	}
	if len(lacking) > 0 {
		res.Skipped = s.Name + " cannot do " + strings.Join(lacking, ", ") + " (see the capability probe)"
		return res
	}
	profile := ""
	if s.Profile && o.ProfileDir != "" {
		profile = filepath.Join(o.ProfileDir, fmt.Sprintf("%s-%s.cpu.pprof", safe(s.Name), cs.Name))
	}
	log.Info("case", "case", cs.Name, "server", s.Name)
	p, err := s.Start(ctx, profile, caps["ws"] || caps["bosh"])
	if err != nil {
		res.Skipped = err.Error()
		return res
	}
	r, err := scenario.Execute(ctx, sc, s.Target(o.Users, p.PID()), params, log)
	if r != nil {
		r.Case = cs.Name
		res = r
	}
	if err != nil {
		res.Notes = append(res.Notes, "scenario error: "+err.Error())
	}
	select {
	case <-p.done:
		res.Notes = append(res.Notes, fmt.Sprintf("the server exited during the case: %v; log tail: %s", p.err, tail(filepath.Join(s.Dir, "stdout.log"), 600)))
	default:
	}
	if err := p.Stop(20 * time.Second); err != nil {
		res.Notes = append(res.Notes, err.Error())
	}
	return res
}

func safe(s string) string { return strings.NewReplacer("+", "_", "/", "_").Replace(s) }

// Probe finds out what a running server can do: TCP, WebSocket and BOSH
// anonymous logins, password logins, and a MUC join. It returns the
// capability set and, for what is missing, why.
func Probe(ctx context.Context, t scenario.Target) (map[string]bool, []string) {
	caps := map[string]bool{}
	var missing []string
	sh := xclient.NewShared(4)
	try := func(name string, cfg xclient.Config) *xclient.Session {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		s, err := xclient.Open(c, cfg, sh)
		if err != nil {
			missing = append(missing, name+": "+err.Error())
			return nil
		}
		caps[name] = true
		return s
	}
	anon := xclient.Config{Domain: t.AnonDomain, Mechanism: xclient.Anonymous, Addr: t.C2S}
	tcp := try("tcp", anon)
	ws := anon
	ws.Transport, ws.URL = xclient.WebSocket, t.WebSocket
	if s := try("ws", ws); s != nil {
		_ = s.Close()
	}
	bosh := anon
	bosh.Transport, bosh.URL = xclient.BOSH, t.BOSH
	if s := try("bosh", bosh); s != nil {
		_ = s.Close()
	}
	if t.Users > 0 {
		user := xclient.Config{Domain: t.Domain, Mechanism: xclient.ScramSHA1, Addr: t.C2S, Username: t.UserPrefix + "0", Password: t.Password}
		if s := try("password", user); s != nil {
			_ = s.Close()
		}
	}
	if t.TokenDomain != "" {
		tok, err := scenario.MintToken(TokenSecret, TokenIssuer, TokenIssuer, t.TokenDomain, 0)
		if err != nil {
			missing = append(missing, "token: "+err.Error())
		} else if s := try("token", xclient.Config{Transport: xclient.WebSocket, URL: t.WebSocket, Domain: t.TokenDomain,
			Mechanism: xclient.Anonymous, Token: tok}); s != nil {
			_ = s.Close()
		}
	}
	if tcp == nil || t.MUC == "" {
		return caps, missing
	}
	defer tcp.Close()
	got := make(chan string, 8)
	tcp.Run(func(_ *xclient.Session, el []byte) {
		if string(xscan.Name(el)) == "presence" {
			select {
			case got <- string(el):
			default:
			}
		}
	})
	room := "probe-" + fmt.Sprint(time.Now().UnixNano()) + "@" + t.MUC + "/probe"
	_ = tcp.Send([]byte("<presence to='" + room + "' xmlns='jabber:client'><x xmlns='http://jabber.org/protocol/muc'/></presence>"))
	timeout := time.After(5 * time.Second)
	for {
		select {
		case el := <-got:
			if strings.Contains(el, "type='error'") || strings.Contains(el, `type="error"`) {
				missing = append(missing, "muc: join refused: "+trim(el, 300))
				return caps, missing
			}
			if strings.Contains(el, "'110'") || strings.Contains(el, `"110"`) {
				caps["muc"] = true
				return caps, missing
			}
		case <-timeout:
			missing = append(missing, "muc: no answer to a join in 5 s")
			return caps, missing
		case <-ctx.Done():
			return caps, missing
		}
	}
}

func trim(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				m.MemTotal = strings.TrimSpace(v)
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.Join(strings.Fields(string(data))[:3], " ")
	}
	if data, err := os.ReadFile("/proc/self/limits"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "Max open files") {
				f := strings.Fields(line)
				if len(f) >= 5 {
					m.NoFile = f[3] + "/" + f[4]
				}
			}
		}
	}
	return m
}
