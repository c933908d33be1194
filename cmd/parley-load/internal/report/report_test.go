package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/cmd/parley-load/internal/metrics"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/scenario"
)

func TestFormatting(t *testing.T) {
	nums := []struct {
		name string
		v    float64
		want string
	}{
		{"zero", 0, "0"},
		{"small fraction", 2.5, "2.5"},
		{"thousands", 1234567, "1,234,567"},
		{"negative", -1500, "-1,500"},
		{"large fraction dropped", 123.7, "123"},
	}
	for _, tc := range nums {
		t.Run("num "+tc.name, func(t *testing.T) {
			if got := num(tc.v); got != tc.want {
				t.Errorf("num(%v) = %q, want %q", tc.v, got, tc.want)
			}
		})
	}
	durs := []struct {
		v    float64
		want string
	}{{0.123, "0.12ms"}, {12.34, "12.3ms"}, {123.4, "123ms"}, {1234, "1.23s"}}
	for _, tc := range durs {
		if got := ms(tc.v); got != tc.want {
			t.Errorf("ms(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
	vals := []struct {
		v    float64
		want string
	}{{0, "0"}, {0.1234, "0.123"}, {5.678, "5.68"}, {56.78, "56.8"}, {567.8, "568"}, {5678, "5,678"}}
	for _, tc := range vals {
		if got := fmtValue(tc.v); got != tc.want {
			t.Errorf("fmtValue(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func result(target string, rate, cpu float64) *scenario.Result {
	return &scenario.Result{
		Scenario:  "login",
		Case:      "login-scram",
		Target:    target,
		Params:    map[string]any{"sessions": 100},
		Sessions:  100,
		Setup:     &metrics.Summary{Count: 100, P50: 2, P90: 3, P99: 4, Max: 5},
		SetupRate: rate,
		Phases:    []scenario.Phase{{Name: "logins", Seconds: 1, CPUSeconds: cpu}},
		Server:    &metrics.ServerUsage{PID: 1, CPUSeconds: cpu, RSSPeak: 10 << 20},
	}
}

func TestTable(t *testing.T) {
	skipped := &scenario.Result{Scenario: "rooms", Case: "rooms-ws", Target: "parley", Skipped: "no muc"}
	rooms := &scenario.Result{Scenario: "rooms", Case: "rooms-ws", Target: "prosody",
		Join:    &metrics.Summary{Count: 10, P50: 10, P99: 40},
		Message: &metrics.FanoutResult{Events: 5, Expected: 50, Delivered: 50, Last: metrics.Summary{P50: 5, P99: 9}},
	}
	var b bytes.Buffer
	Table(&b, []string{"prosody", "parley"}, []*scenario.Result{result("prosody", 400, 0.25), result("parley", 2000, 0.05), rooms, skipped})
	out := b.String()
	for _, want := range []string{
		"| case ",
		"| login-scram | logins/s ",
		"|     400 |  2,000 |           5.00 |",
		"| login-scram | server CPU per login (ms) |    2.50 |  0.500 |           0.20 |",
		"| rooms-ws    | join p99 (ms) ",
		"| rooms-ws    | (skipped) ",
		"n/a",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	width := len(lines[0])
	for i, l := range lines {
		if len(l) != width {
			t.Errorf("line %d is %d wide, header %d: %q", i, len(l), width, l)
		}
	}
}

func TestText(t *testing.T) {
	var b bytes.Buffer
	r := result("parley", 1234.5, 0.1)
	r.Errors = 2
	r.ErrorSample = []string{"boom"}
	r.Notes = []string{"capped"}
	Text(&b, r)
	out := b.String()
	for _, want := range []string{"login-scram (login) on parley", "100 sessions at 1,234/s", "p99 4.00ms", "errors        2, first: boom", "note          capped", "logins 1.0s/0.10 cpu"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	Text(&b, &scenario.Result{Scenario: "tokens", Target: "x", Skipped: "no secret"})
	if !strings.Contains(b.String(), "skipped: no secret") {
		t.Errorf("skipped text: %s", b.String())
	}
}

func TestMetricsPerScenario(t *testing.T) {
	tests := []struct {
		name string
		r    *scenario.Result
		want []string
	}{
		{"idle", &scenario.Result{Scenario: "idle", Sessions: 10, BytesPerSession: 2048}, []string{"sessions", "memory per session"}},
		{"route", &scenario.Result{Scenario: "route", Throughput: 10, Message: &metrics.FanoutResult{Expected: 4, Delivered: 2}}, []string{"deliveries/s", "latency p99", "delivered"}},
		{"churn", &scenario.Result{Scenario: "churn", FillSeconds: 3, JoinFanout: &metrics.FanoutResult{Delivered: 1}}, []string{"fill time", "join fan-out p99"}},
		{"skipped", &scenario.Result{Scenario: "idle", Skipped: "x"}, nil},
		{"nil", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var names []string
			for _, m := range Metrics(tc.r) {
				names = append(names, m.Name)
			}
			for _, w := range tc.want {
				found := false
				for _, n := range names {
					found = found || n == w
				}
				if !found {
					t.Errorf("metrics %v lack %q", names, w)
				}
			}
			if tc.want == nil && len(names) != 0 {
				t.Errorf("metrics = %v, want none", names)
			}
		})
	}
	for _, m := range Metrics(&scenario.Result{Scenario: "route", Message: &metrics.FanoutResult{Expected: 4, Delivered: 2}}) {
		if m.Name == "delivered" && m.Value != 50 {
			t.Errorf("delivered = %v%%, want 50", m.Value)
		}
	}
}
