// Package report prints scenario results the way `nats bench` does (one
// block per run, percentiles on one line) and compares targets in a
// table with ratios.
package report

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/parley-xmpp/parley/cmd/parley-load/internal/metrics"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/scenario"
)

// Text writes one result as a readable block.
func Text(w io.Writer, r *scenario.Result) {
	label := r.Scenario
	if r.Case != "" && r.Case != r.Scenario {
		label = r.Case + " (" + r.Scenario + ")"
	}
	fmt.Fprintf(w, "%s on %s: %s\n", label, r.Target, r.Description)
	if r.Skipped != "" {
		fmt.Fprintf(w, "  skipped: %s\n\n", r.Skipped)
		return
	}
	fmt.Fprintf(w, "  params        %s\n", params(r.Params))
	if r.Setup != nil {
		rate := ""
		if r.SetupRate > 0 {
			rate = " at " + num(r.SetupRate) + "/s"
		}
		fmt.Fprintf(w, "  setup         %s sessions%s  %s\n", num(float64(r.Sessions)), rate, lat(r.Setup))
	}
	if r.FillSeconds > 0 {
		fmt.Fprintf(w, "  fill          %.2f s\n", r.FillSeconds)
	}
	if r.FillJoin != nil {
		fmt.Fprintf(w, "  fill join     %s\n", lat(r.FillJoin))
	}
	if r.FillJoinFanout != nil {
		fmt.Fprintf(w, "  fill fan-out  %s\n", fan(r.FillJoinFanout))
	}
	if r.Join != nil {
		fmt.Fprintf(w, "  join          %s\n", lat(r.Join))
	}
	if r.JoinFanout != nil {
		fmt.Fprintf(w, "  join fan-out  %s\n", fan(r.JoinFanout))
	}
	if r.Presence != nil {
		fmt.Fprintf(w, "  presence fan  %s\n", fan(r.Presence))
	}
	if r.Message != nil {
		fmt.Fprintf(w, "  message fan   %s\n", fan(r.Message))
	}
	if r.Leave != nil {
		fmt.Fprintf(w, "  leave         %s\n", lat(r.Leave))
	}
	if r.Throughput > 0 {
		fmt.Fprintf(w, "  deliveries    %s/s\n", num(r.Throughput))
	}
	if r.BytesPerSession != 0 {
		fmt.Fprintf(w, "  memory        %.1f KiB per session (RSS growth)\n", r.BytesPerSession/1024)
	}
	if r.AckRTT != nil {
		fmt.Fprintf(w, "  ack rtt       %s\n", lat(r.AckRTT))
	}
	if s := r.Server; s != nil {
		fmt.Fprintf(w, "  server        pid %d, CPU %.2f s (user %.2f, sys %.2f), RSS %s -> %s, peak %s (VmHWM %s), %d threads\n",
			s.PID, s.CPUSeconds, s.UserSeconds, s.SysSeconds, mib(s.RSSStart), mib(s.RSSEnd), mib(s.RSSPeak), mib(s.VmHWM), s.ThreadsAtEnd)
	}
	if len(r.Phases) > 0 {
		parts := make([]string, 0, len(r.Phases))
		for _, p := range r.Phases {
			parts = append(parts, fmt.Sprintf("%s %.1fs/%.2f cpu", p.Name, p.Seconds, p.CPUSeconds))
		}
		fmt.Fprintf(w, "  phases        %s\n", strings.Join(parts, ", "))
	}
	fmt.Fprintf(w, "  generator     CPU %.2f s, wall %.1f s, %s stanzas received, load %s\n", r.GeneratorCPU, r.WallSeconds, num(float64(r.Received)), r.LoadAvg)
	if r.Errors > 0 {
		fmt.Fprintf(w, "  errors        %d, first: %s\n", r.Errors, strings.Join(r.ErrorSample, " | "))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note          %s\n", n)
	}
	fmt.Fprintln(w)
}

func params(p map[string]any) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%v", k, p[k]))
	}
	return strings.Join(parts, " ")
}

func lat(s *metrics.Summary) string {
	return fmt.Sprintf("n=%s  p50 %s  p90 %s  p99 %s  max %s", num(float64(s.Count)), ms(s.P50), ms(s.P90), ms(s.P99), ms(s.Max))
}

func fan(f *metrics.FanoutResult) string {
	unresolved := ""
	if f.Unresolved > 0 {
		unresolved = fmt.Sprintf(" (%s unconfirmed)", num(float64(f.Unresolved)))
	}
	return fmt.Sprintf("%s events%s, %s/%s delivered (%s complete); last recipient p50 %s p90 %s p99 %s max %s; each delivery p50 %s p99 %s",
		num(float64(f.Events)), unresolved, num(float64(f.Delivered)), num(float64(f.Expected)), num(float64(f.Complete)),
		ms(f.Last.P50), ms(f.Last.P90), ms(f.Last.P99), ms(f.Last.Max), ms(f.Each.P50), ms(f.Each.P99))
}

// ms formats milliseconds with three significant digits.
func ms(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.2fs", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0fms", v)
	case v >= 10:
		return fmt.Sprintf("%.1fms", v)
	default:
		return fmt.Sprintf("%.2fms", v)
	}
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// num formats with thousands separators and at most one decimal.
func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	neg := v < 0
	v = math.Abs(v)
	whole := int64(v)
	frac := ""
	if v < 100 && v != math.Trunc(v) {
		frac = fmt.Sprintf("%.1f", v-float64(whole))[1:]
	}
	s := fmt.Sprint(whole)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s + frac
}

// Metric is one comparable figure of a result.
type Metric struct {
	Name  string
	Unit  string
	Value float64
	// Lower is true when smaller is better (latency, CPU, memory).
	Lower bool
}

// Metrics extracts the figures the comparison table shows.
func Metrics(r *scenario.Result) []Metric {
	if r == nil || r.Skipped != "" {
		return nil
	}
	var out []Metric
	add := func(name, unit string, v float64, lower bool) {
		out = append(out, Metric{name, unit, v, lower})
	}
	phaseCPU := func(name string) (float64, bool) {
		for _, p := range r.Phases {
			if p.Name == name {
				return p.CPUSeconds, true
			}
		}
		return 0, false
	}
	switch r.Scenario {
	case "login", "tokens":
		add("logins/s", "/s", r.SetupRate, false)
		if r.Setup != nil {
			add("setup p50", "ms", r.Setup.P50, true)
			add("setup p99", "ms", r.Setup.P99, true)
		}
		if cpu, ok := phaseCPU("logins"); ok && r.Sessions > 0 {
			add("server CPU per login", "ms", 1000*cpu/float64(r.Sessions), true)
		}
	case "idle":
		add("sessions", "", float64(r.Sessions), false)
		add("memory per session", "KiB", r.BytesPerSession/1024, true)
		add("setup rate", "/s", r.SetupRate, false)
		if r.Setup != nil {
			add("setup p99", "ms", r.Setup.P99, true)
		}
		if cpu, ok := phaseCPU("open"); ok && r.Sessions > 0 {
			add("server CPU per session", "ms", 1000*cpu/float64(r.Sessions), true)
		}
	case "route":
		add("deliveries/s", "/s", r.Throughput, false)
		if m := r.Message; m != nil {
			add("latency p50", "ms", m.Each.P50, true)
			add("latency p99", "ms", m.Each.P99, true)
			add("delivered", "%", pct(m.Delivered, m.Expected), false)
			if cpu, ok := phaseCPU("messages"); ok && m.Delivered > 0 {
				add("server CPU per message", "µs", 1e6*cpu/float64(m.Delivered), true)
			}
		}
	case "rooms", "churn", "bigroom":
		if r.FillSeconds > 0 {
			add("fill time", "s", r.FillSeconds, true)
		}
		if r.Join != nil {
			add("join p50", "ms", r.Join.P50, true)
			add("join p99", "ms", r.Join.P99, true)
		}
		if f := r.JoinFanout; f != nil && f.Delivered > 0 {
			add("join fan-out p50", "ms", f.Last.P50, true)
			add("join fan-out p99", "ms", f.Last.P99, true)
		}
		if f := r.Presence; f != nil {
			add("presence fan-out p99", "ms", f.Last.P99, true)
		}
		if f := r.Message; f != nil {
			add("message fan-out p50", "ms", f.Last.P50, true)
			add("message fan-out p99", "ms", f.Last.P99, true)
			add("messages delivered", "%", pct(f.Delivered, f.Expected), false)
		}
	}
	if s := r.Server; s != nil {
		add("server CPU", "s", s.CPUSeconds, true)
		add("server peak RSS", "MiB", float64(s.RSSPeak)/(1<<20), true)
	}
	if r.Errors > 0 {
		add("errors", "", float64(r.Errors), true)
	}
	return out
}

func pct(a, b int64) float64 {
	if b == 0 {
		return 100
	}
	return 100 * float64(a) / float64(b)
}

// Table writes, for every case, each metric per target and the ratio of
// every other target to the first (the baseline). Results are matched by
// case name; targets appear in the order given.
func Table(w io.Writer, targets []string, results []*scenario.Result) {
	byCase := map[string]map[string]*scenario.Result{}
	var cases []string
	for _, r := range results {
		c := r.Case
		if c == "" {
			c = r.Scenario
		}
		if byCase[c] == nil {
			byCase[c] = map[string]*scenario.Result{}
			cases = append(cases, c)
		}
		byCase[c][r.Target] = r
	}
	var lines [][]string
	head := []string{"case", "metric"}
	head = append(head, targets...)
	for _, t := range targets[1:] {
		head = append(head, t+"/"+targets[0])
	}
	lines = append(lines, head)
	for _, c := range cases {
		rows := map[string][]string{}
		var order []string
		for ti, t := range targets {
			r := byCase[c][t]
			if r != nil && r.Skipped != "" {
				if _, ok := rows["(skipped)"]; !ok {
					order = append(order, "(skipped)")
					rows["(skipped)"] = make([]string, len(targets))
				}
				rows["(skipped)"][ti] = "n/a"
			}
			for _, m := range Metrics(r) {
				key := m.Name
				if m.Unit != "" && m.Unit != "/s" {
					key += " (" + m.Unit + ")"
				}
				if _, ok := rows[key]; !ok {
					order = append(order, key)
					rows[key] = make([]string, len(targets))
				}
				rows[key][ti] = fmtValue(m.Value)
			}
		}
		vals := func(key string, ti int) (float64, bool) {
			r := byCase[c][targets[ti]]
			for _, m := range Metrics(r) {
				k := m.Name
				if m.Unit != "" && m.Unit != "/s" {
					k += " (" + m.Unit + ")"
				}
				if k == key {
					return m.Value, true
				}
			}
			return 0, false
		}
		for _, key := range order {
			line := []string{c, key}
			for ti := range targets {
				v := rows[key][ti]
				if v == "" {
					v = "-"
				}
				line = append(line, v)
			}
			for ti := 1; ti < len(targets); ti++ {
				a, okA := vals(key, 0)
				b, okB := vals(key, ti)
				if okA && okB && a != 0 {
					line = append(line, fmt.Sprintf("%.2f", b/a))
				} else {
					line = append(line, "-")
				}
			}
			lines = append(lines, line)
		}
	}
	markdown(w, lines)
}

// markdown writes rows as a Markdown table with padded columns; the first
// row is the header. Text columns are left-aligned, figures right-aligned.
func markdown(w io.Writer, rows [][]string) {
	if len(rows) == 0 {
		return
	}
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	line := func(cells []string, sep bool) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range cells {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			switch {
			case sep && i < 2:
				b.WriteString(" " + strings.Repeat("-", width[i]) + " |")
			case sep:
				b.WriteString(" " + strings.Repeat("-", width[i]-1) + ": |")
			case i < 2:
				b.WriteString(" " + c + pad + " |")
			default:
				b.WriteString(" " + pad + c + " |")
			}
		}
		fmt.Fprintln(w, b.String())
	}
	line(rows[0], false)
	line(rows[0], true)
	for _, r := range rows[1:] {
		line(r, false)
	}
}

func fmtValue(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 1000:
		return num(math.Round(v))
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	case math.Abs(v) >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}
