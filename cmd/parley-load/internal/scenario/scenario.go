// Package scenario holds the load generator's workloads: login rates,
// idle session memory, one-to-one routing, and MUC rooms (many small
// rooms, a churning 500-seat room, a 5,000-listener room). Each scenario
// drives one server through xclient sessions and returns a Result with
// latency percentiles and the server's resource use read from /proc.
package scenario

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/parley-xmpp/parley/cmd/parley-load/internal/metrics"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/xclient"
)

// Target is one server under test.
type Target struct {
	// Name labels results ("prosody", "parley").
	Name string `json:"name"`
	// Version is free text for reports.
	Version string `json:"version,omitempty"`
	// C2S is the TCP client address (host:port).
	C2S string `json:"c2s"`
	// WebSocket and BOSH are the HTTP endpoints.
	WebSocket string `json:"websocket,omitempty"`
	BOSH      string `json:"bosh,omitempty"`
	// Domain is the host with password accounts, AnonDomain the host
	// with anonymous login, TokenDomain the host with token login.
	Domain      string `json:"domain"`
	AnonDomain  string `json:"anon_domain"`
	TokenDomain string `json:"token_domain,omitempty"`
	// MUC is the conference component's domain.
	MUC string `json:"muc,omitempty"`
	// Users is how many accounts UserPrefix0.. exist on Domain, each
	// with the password Password.
	Users      int    `json:"users"`
	UserPrefix string `json:"-"`
	Password   string `json:"-"`
	// PID is the server process to sample (0: none).
	PID int `json:"pid,omitempty"`
}

// Params are the knobs shared by every scenario. Zero values take each
// scenario's defaults (see the scenario's documentation).
type Params struct {
	// Scale multiplies session, room and occupant counts (default 1).
	Scale float64 `json:"scale"`
	// Transport is "tcp", "ws", "bosh" or a comma list used round-robin.
	Transport string `json:"transport,omitempty"`
	// Sessions overrides the scenario's session count.
	Sessions int `json:"sessions,omitempty"`
	// Concurrency bounds sessions being opened at once.
	Concurrency int `json:"concurrency,omitempty"`
	// Mechanism is the SASL mechanism for login scenarios.
	Mechanism string `json:"mechanism,omitempty"`
	// SM turns on XEP-0198 (default true where Jitsi uses it).
	SM *bool `json:"sm,omitempty"`
	// AckEvery makes clients request acks every N stanzas sent.
	AckEvery int `json:"ack_every,omitempty"`
	// Rooms, Occupants, Listeners size MUC scenarios.
	Rooms     int `json:"rooms,omitempty"`
	Occupants int `json:"occupants,omitempty"`
	Listeners int `json:"listeners,omitempty"`
	// NoVisitors makes bigroom listeners ordinary participants whose
	// presence is broadcast (a fill costs O(n²) stanzas then).
	NoVisitors bool `json:"no_visitors,omitempty"`
	// SmallPresence sends MUC joins without the Jitsi payload (about
	// 200 bytes instead of 1.2 KB).
	SmallPresence bool `json:"small_presence,omitempty"`
	// JoinRate is joins per second (and leaves per second in churn).
	JoinRate float64 `json:"join_rate,omitempty"`
	// MsgRate is messages per second across the scenario.
	MsgRate float64 `json:"msg_rate,omitempty"`
	// Messages is how many messages each sender sends (rooms).
	Messages int `json:"messages,omitempty"`
	// Duration is how long steady-state phases last.
	Duration time.Duration `json:"duration,omitempty"`
	// Settle is the pause before memory is read (idle).
	Settle time.Duration `json:"settle,omitempty"`
	// TokenSecret signs HS256 tokens (tokens scenario); TokenIssuer and
	// TokenAudience fill iss and aud.
	TokenSecret   string `json:"-"`
	TokenIssuer   string `json:"token_issuer,omitempty"`
	TokenAudience string `json:"token_audience,omitempty"`
}

func (p Params) scaled(n int) int {
	s := p.Scale
	if s <= 0 {
		s = 1
	}
	return max(1, int(math.Round(float64(n)*s)))
}

func (p Params) sm(def bool) bool {
	if p.SM == nil {
		return def
	}
	return *p.SM
}

func orInt(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func orFloat(v, def float64) float64 {
	if v > 0 {
		return v
	}
	return def
}

func orDur(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

// Result is what one scenario run measured on one target.
type Result struct {
	Scenario    string         `json:"scenario"`
	Case        string         `json:"case,omitempty"`
	Description string         `json:"description"`
	Target      string         `json:"target"`
	Version     string         `json:"version,omitempty"`
	Params      map[string]any `json:"params"`
	Started     time.Time      `json:"started"`
	WallSeconds float64        `json:"wall_seconds"`
	LoadAvg     string         `json:"loadavg_at_start,omitempty"`

	// Sessions opened, with setup latency and rate.
	Sessions  int              `json:"sessions"`
	Setup     *metrics.Summary `json:"session_setup,omitempty"`
	SetupRate float64          `json:"setup_per_second,omitempty"`

	Join *metrics.Summary `json:"join,omitempty"`
	// FillJoin and FillJoinFanout cover the fill phase of churn.
	FillJoin       *metrics.Summary      `json:"fill_join,omitempty"`
	FillJoinFanout *metrics.FanoutResult `json:"fill_join_fanout,omitempty"`
	JoinFanout     *metrics.FanoutResult `json:"join_fanout,omitempty"`
	Presence       *metrics.FanoutResult `json:"presence_fanout,omitempty"`
	Message        *metrics.FanoutResult `json:"message_fanout,omitempty"`
	Leave          *metrics.Summary      `json:"leave,omitempty"`
	FillSeconds    float64               `json:"fill_seconds,omitempty"`
	Throughput     float64               `json:"deliveries_per_second,omitempty"`

	// Memory per idle session (idle scenario), from RSS growth.
	BytesPerSession float64 `json:"bytes_per_session,omitempty"`

	Server       *metrics.ServerUsage `json:"server,omitempty"`
	Phases       []Phase              `json:"phases,omitempty"`
	GeneratorCPU float64              `json:"generator_cpu_seconds"`
	// Received counts stanzas delivered to all the run's sessions.
	Received int64            `json:"stanzas_received"`
	AckRTT   *metrics.Summary `json:"ack_rtt,omitempty"`

	Errors      int64    `json:"errors"`
	ErrorSample []string `json:"error_sample,omitempty"`
	Notes       []string `json:"notes,omitempty"`
	Skipped     string   `json:"skipped,omitempty"`
}

// Phase is the server's CPU and memory over one part of a scenario.
type Phase struct {
	Name       string  `json:"name"`
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpu_seconds"`
	RSSEnd     int64   `json:"rss_end_bytes"`
}

// Func runs a scenario.
type Func func(ctx context.Context, r *Run) error

// Scenario is a named workload.
type Scenario struct {
	Name        string
	Description string
	Run         Func
}

// All lists the scenarios in the order reports print them.
func All() []Scenario {
	return []Scenario{
		{"login", "session setup rate: connect, SASL, bind (and SM), then close", runLogin},
		{"idle", "idle sessions held open with stream management: memory per session", runIdle},
		{"route", "one-to-one chat messages between pairs of sessions", runRoute},
		{"rooms", "(a) rooms of Jitsi-sized occupants: joins, presence updates, groupchat", runRooms},
		{"churn", "(b) one large room filled, then joins and leaves at a steady rate", runChurn},
		{"tokens", "(d) token logins (JWT in the URL, SASL ANONYMOUS) per second", runTokens},
		{"bigroom", "(e) one room: active participants talking to passive listeners", runBigRoom},
	}
}

// Lookup finds a scenario by name.
func Lookup(name string) (Scenario, bool) {
	for _, s := range All() {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}

// Run is the state of one scenario execution.
type Run struct {
	Target Target
	Params Params
	Log    *slog.Logger
	Shared *xclient.Shared
	Result *Result

	sampler *metrics.Sampler
	phaseT  time.Time
	phaseU  metrics.ServerUsage

	errMu  sync.Mutex
	errors atomic.Int64
}

// Execute runs scenario sc against t and returns its result.
func Execute(ctx context.Context, sc Scenario, t Target, p Params, log *slog.Logger) (*Result, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Run{
		Target: t,
		Params: p,
		Log:    log.With("scenario", sc.Name, "target", t.Name),
		Shared: xclient.NewShared(25000),
		Result: &Result{
			Scenario:    sc.Name,
			Description: sc.Description,
			Target:      t.Name,
			Version:     t.Version,
			Params:      map[string]any{},
			Started:     time.Now(),
			LoadAvg:     loadAvg(),
		},
	}
	if t.PID > 0 {
		s, err := metrics.StartSampler(t.PID, 100*time.Millisecond)
		if err != nil {
			return nil, fmt.Errorf("scenario: sampling server: %w", err)
		}
		r.sampler = s
		r.phaseU = s.Now()
	}
	r.phaseT = time.Now()
	cpu0 := metrics.SelfCPU()
	err := sc.Run(ctx, r)
	r.Shared.Close()
	r.Result.Received = r.Shared.Received()
	r.Result.WallSeconds = time.Since(r.Result.Started).Seconds()
	r.Result.GeneratorCPU = (metrics.SelfCPU() - cpu0).Seconds()
	if r.sampler != nil {
		u, serr := r.sampler.Stop()
		r.Result.Server = &u
		if serr != nil {
			r.Note("server sampling: %v", serr)
		}
	}
	if r.Shared != nil && r.Shared.AckRTT.Count() > 0 {
		s := r.Shared.AckRTT.Summary()
		r.Result.AckRTT = &s
	}
	r.Result.Errors = r.errors.Load()
	return r.Result, err
}

// Phase closes the current phase (server CPU and RSS since the last
// call) under name.
func (r *Run) Phase(name string) {
	now := time.Now()
	ph := Phase{Name: name, Seconds: now.Sub(r.phaseT).Seconds()}
	if r.sampler != nil {
		u := r.sampler.Now()
		ph.CPUSeconds = u.CPUSeconds - r.phaseU.CPUSeconds
		ph.RSSEnd = u.RSSEnd
		r.phaseU = u
	}
	r.phaseT = now
	r.Result.Phases = append(r.Result.Phases, ph)
	r.Log.Info("phase done", "phase", name, "seconds", fmt.Sprintf("%.2f", ph.Seconds), "server_cpu", fmt.Sprintf("%.2f", ph.CPUSeconds))
}

// ServerNow reads the server's usage so far (zero without a PID).
func (r *Run) ServerNow() metrics.ServerUsage {
	if r.sampler == nil {
		return metrics.ServerUsage{}
	}
	return r.sampler.Now()
}

// Error counts a failure and keeps the first few messages.
func (r *Run) Error(err error) {
	n := r.errors.Add(1)
	if n <= 5 {
		r.errMu.Lock()
		r.Result.ErrorSample = append(r.Result.ErrorSample, err.Error())
		r.errMu.Unlock()
		r.Log.Warn("error", "err", err)
	}
}

// Errors returns how many errors were counted.
func (r *Run) Errors() int64 { return r.errors.Load() }

// Note adds a remark to the result.
func (r *Run) Note(format string, args ...any) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	r.Result.Notes = append(r.Result.Notes, fmt.Sprintf(format, args...))
}

// Set records a parameter in the result.
func (r *Run) Set(key string, v any) { r.Result.Params[key] = v }

// transports splits the transport list (default def).
func (r *Run) transports(def string) []string {
	t := r.Params.Transport
	if t == "" {
		t = def
	}
	var out []string
	for _, s := range strings.Split(t, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// config returns the client config for session i on the given host
// kind: "anon", "user" or "token".
func (r *Run) config(i int, transport, kind string) xclient.Config {
	t := r.Target
	c := xclient.Config{
		Transport:        transport,
		Addr:             t.C2S,
		StreamManagement: r.Params.sm(true),
		AckEvery:         r.Params.AckEvery,
	}
	switch transport {
	case xclient.WebSocket:
		c.URL = t.WebSocket
	case xclient.BOSH:
		c.URL = t.BOSH
	}
	switch kind {
	case "user":
		c.Domain = t.Domain
		c.Mechanism = orStr(r.Params.Mechanism, xclient.ScramSHA1)
		c.Username = fmt.Sprintf("%s%d", t.UserPrefix, i%max(t.Users, 1))
		c.Password = t.Password
		c.Resource = fmt.Sprintf("load%d", i)
	case "token":
		c.Domain = orStr(t.TokenDomain, t.AnonDomain)
		c.Mechanism = xclient.Anonymous
	default:
		c.Domain = t.AnonDomain
		c.Mechanism = xclient.Anonymous
	}
	return c
}

func orStr(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// fdBudget is how many sessions this process and the server can hold
// given their open-file limits, keeping some descriptors spare.
func (r *Run) fdBudget(perSession int) int {
	var lim syscall.Rlimit
	budget := math.MaxInt
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		budget = int(lim.Cur) - 200
	}
	if r.Target.PID > 0 {
		if n := serverFDLimit(r.Target.PID); n > 0 {
			budget = min(budget, n-200)
		}
	}
	return budget / max(perSession, 1)
}

func serverFDLimit(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "Max open files") {
			f := strings.Fields(line)
			if len(f) >= 4 {
				var n int
				if _, err := fmt.Sscan(f[3], &n); err == nil {
					return n
				}
			}
		}
	}
	return 0
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// opened is a session and its index.
type opened struct {
	i int
	s *xclient.Session
}

// openSessions opens n sessions with at most conc in flight; cfg gives
// each one's config and ready (if not nil) runs right after each opens,
// on the opening goroutine, typically to start its reader. It records
// setup latency into hist and returns the sessions by index (nil for
// failures).
func (r *Run) openSessions(ctx context.Context, n, conc int, cfg func(i int) xclient.Config, ready func(i int, s *xclient.Session), hist *metrics.Histogram) []*xclient.Session {
	out := make([]*xclient.Session, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				octx, cancel := context.WithTimeout(ctx, 60*time.Second)
				s, err := xclient.Open(octx, cfg(i), r.Shared)
				cancel()
				if err != nil {
					r.Error(fmt.Errorf("session %d: %w", i, err))
					continue
				}
				if hist != nil {
					hist.Record(s.Setup)
				}
				out[i] = s
				if ready != nil {
					ready(i, s)
				}
			}
		}()
	}
	wg.Wait()
	return out
}

// reap counts sessions that the server or the network ended during the
// run as errors.
func (r *Run) reap(sessions []*xclient.Session) {
	dead := 0
	for _, s := range sessions {
		if s == nil {
			continue
		}
		select {
		case <-s.Done():
			if err := s.Err(); err != nil {
				dead++
				if dead <= 3 {
					r.Error(fmt.Errorf("session %s ended: %w", s.JID(), err))
				} else {
					r.errors.Add(1)
				}
			}
		default:
		}
	}
	if dead > 0 {
		r.Note("%d sessions were ended by the server or the network during the run", dead)
	}
}

// closeAll closes sessions with bounded concurrency.
func closeAll(sessions []*xclient.Session, conc int) {
	ch := make(chan *xclient.Session)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range ch {
				_ = s.Close()
			}
		}()
	}
	for _, s := range sessions {
		if s != nil {
			ch <- s
		}
	}
	close(ch)
	wg.Wait()
}

// count returns how many non-nil sessions there are.
func count(sessions []*xclient.Session) int {
	n := 0
	for _, s := range sessions {
		if s != nil {
			n++
		}
	}
	return n
}

// pace calls f(i) for i in [0, n) at rate calls per second (as fast as
// possible when rate <= 0), from one goroutine, catching up after
// stalls. It stops early when ctx ends and returns how many calls ran.
func pace(ctx context.Context, rate float64, n int, f func(i int)) int {
	start := time.Now()
	for i := range n {
		if ctx.Err() != nil {
			return i
		}
		if rate > 0 {
			due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-ctx.Done():
					t.Stop()
					return i
				case <-t.C:
				}
			}
		}
		f(i)
	}
	return n
}

// waitFor polls cond every 5 ms until it holds, ctx ends or timeout
// passes, and reports whether it held.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return cond()
		case <-t.C:
		}
	}
}

// summary is a pointer to h's summary, nil when empty.
func summary(h *metrics.Histogram) *metrics.Summary {
	if h.Count() == 0 {
		return nil
	}
	s := h.Summary()
	return &s
}
