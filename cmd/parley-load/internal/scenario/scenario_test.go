package scenario_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/cmd/parley-load/internal/loadtest"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/metrics"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/scenario"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/xclient"
	"github.com/parley-xmpp/parley/server/servertest"
)

func execute(t *testing.T, name string, tg scenario.Target, p scenario.Params) *scenario.Result {
	t.Helper()
	sc, ok := scenario.Lookup(name)
	if !ok {
		t.Fatalf("no scenario %q", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := scenario.Execute(ctx, sc, tg, p, nil)
	if err != nil {
		t.Fatalf("%s: %v (result %+v)", name, err, res)
	}
	if res.Errors != 0 {
		t.Errorf("%s: %d errors: %v", name, res.Errors, res.ErrorSample)
	}
	if res.Server == nil || res.Server.PID != tg.PID {
		t.Errorf("%s: server usage not sampled: %+v", name, res.Server)
	}
	return res
}

// complete fails unless every expected delivery of f arrived.
func complete(t *testing.T, what string, f *metrics.FanoutResult, events int64) {
	t.Helper()
	if f == nil {
		t.Fatalf("%s: no fan-out result", what)
	}
	if f.Events != events || f.Delivered != f.Expected || f.Complete != f.Events {
		t.Errorf("%s: %+v, want %d complete events", what, f, events)
	}
	if f.Last.Count == 0 || f.Last.Max <= 0 {
		t.Errorf("%s: no latency recorded: %+v", what, f.Last)
	}
}

func target(t *testing.T) scenario.Target {
	srv := loadtest.Start(t, servertestNoLeak()...)
	tg := srv.Target
	tg.PID = os.Getpid() // the server runs in this process
	return tg
}

func TestLogin(t *testing.T) {
	tg := target(t)
	tests := []struct {
		name string
		p    scenario.Params
	}{
		{"anonymous tcp", scenario.Params{Mechanism: xclient.Anonymous, Sessions: 20, Concurrency: 4}},
		{"plain tcp", scenario.Params{Mechanism: xclient.Plain, Sessions: 12, Concurrency: 3}},
		{"scram websocket", scenario.Params{Mechanism: xclient.ScramSHA1, Sessions: 12, Concurrency: 3, Transport: "ws"}},
		{"anonymous bosh with sm", scenario.Params{Mechanism: xclient.Anonymous, Sessions: 6, Concurrency: 2, Transport: "bosh", SM: ptr(true)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := execute(t, "login", tg, tc.p)
			if res.Sessions != tc.p.Sessions || res.Setup == nil || res.Setup.Count != uint64(tc.p.Sessions) {
				t.Errorf("sessions = %d, setup %+v; want %d", res.Sessions, res.Setup, tc.p.Sessions)
			}
			if res.SetupRate <= 0 {
				t.Errorf("setup rate %v", res.SetupRate)
			}
			if !hasPhase(res, "logins") {
				t.Errorf("phases %+v lack logins", res.Phases)
			}
			if tc.p.Mechanism == xclient.ScramSHA1 && !hasPhase(res, "warm-up") {
				t.Error("SCRAM run without a warm-up")
			}
		})
	}
}

func TestIdle(t *testing.T) {
	tg := target(t)
	for _, tr := range []string{"tcp", "ws", "bosh"} {
		t.Run(tr, func(t *testing.T) {
			res := execute(t, "idle", tg, scenario.Params{Sessions: 30, Transport: tr, Settle: time.Millisecond})
			if res.Sessions != 30 {
				t.Errorf("sessions = %d, want 30", res.Sessions)
			}
			if res.BytesPerSession == 0 {
				t.Error("no memory figure")
			}
			if got := res.Params["sm"]; got != true {
				t.Errorf("sm = %v, want true by default", got)
			}
		})
	}
}

func TestRoute(t *testing.T) {
	tg := target(t)
	res := execute(t, "route", tg, scenario.Params{Sessions: 10, MsgRate: 500, Duration: 200 * time.Millisecond})
	complete(t, "messages", res.Message, 100)
	if res.Throughput <= 0 {
		t.Errorf("throughput %v", res.Throughput)
	}
}

func TestRooms(t *testing.T) {
	tg := target(t)
	for _, tr := range []string{"tcp", "ws,bosh"} {
		t.Run(tr, func(t *testing.T) {
			p := scenario.Params{Rooms: 2, Occupants: 5, JoinRate: 500, MsgRate: 500, Messages: 2, Transport: tr}
			res := execute(t, "rooms", tg, p)
			if res.Join == nil || res.Join.Count != 10 {
				t.Fatalf("joins = %+v, want 10", res.Join)
			}
			// Each room: joins see 0+1+2+3+4 = 10 earlier occupants.
			complete(t, "join fan-out", res.JoinFanout, 10)
			if res.JoinFanout.Expected != 20 {
				t.Errorf("join fan-out expected %d deliveries, want 20", res.JoinFanout.Expected)
			}
			complete(t, "presence fan-out", res.Presence, 10)
			complete(t, "message fan-out", res.Message, 20)
			if res.Message.Expected != 100 {
				t.Errorf("message deliveries expected %d, want 100", res.Message.Expected)
			}
			if res.Leave == nil || res.Leave.Count != 10 {
				t.Errorf("leaves = %+v", res.Leave)
			}
		})
	}
}

func TestChurn(t *testing.T) {
	tg := target(t)
	res := execute(t, "churn", tg, scenario.Params{Occupants: 12, JoinRate: 40, Duration: 500 * time.Millisecond})
	if res.FillJoin == nil || res.FillJoin.Count != 12 {
		t.Fatalf("fill joins = %+v", res.FillJoin)
	}
	if res.FillSeconds <= 0 {
		t.Error("no fill time")
	}
	if res.Join == nil || res.Join.Count < 15 {
		t.Fatalf("churn joins = %+v, want about 21", res.Join)
	}
	if res.Leave == nil || res.Leave.Count < 15 {
		t.Errorf("churn leaves = %+v", res.Leave)
	}
	f := res.JoinFanout
	if f == nil || f.Delivered == 0 || float64(f.Delivered) < 0.9*float64(f.Expected) {
		t.Errorf("churn join fan-out %+v", f)
	}
}

func TestBigRoom(t *testing.T) {
	tg := target(t)
	for _, visitors := range []bool{true, false} {
		name := "visitors"
		if !visitors {
			name = "participants"
		}
		t.Run(name, func(t *testing.T) {
			p := scenario.Params{Occupants: 4, Listeners: 20, JoinRate: 200, MsgRate: 50, Duration: 200 * time.Millisecond, NoVisitors: !visitors}
			res := execute(t, "bigroom", tg, p)
			if res.Join == nil || res.Join.Count != 24 {
				t.Fatalf("joins = %+v, want 24", res.Join)
			}
			complete(t, "message fan-out", res.Message, 11)
			if res.Message.Expected != 11*24 {
				t.Errorf("message deliveries expected %d, want %d", res.Message.Expected, 11*24)
			}
			// Only participants' joins are tracked: 0+1+2+3 earlier ones.
			if res.JoinFanout == nil || res.JoinFanout.Expected != 6 || res.JoinFanout.Delivered != 6 {
				t.Errorf("participant join fan-out %+v, want 6/6", res.JoinFanout)
			}
		})
	}
}

func TestTokens(t *testing.T) {
	tg := target(t)
	res := execute(t, "tokens", tg, scenario.Params{})
	if !strings.Contains(res.Skipped, "token secret") {
		t.Errorf("without a secret: skipped = %q", res.Skipped)
	}
	// The test server's anonymous host ignores the token, so this checks
	// that tokens are minted and carried, not that they are verified.
	res = execute(t, "tokens", tg, scenario.Params{TokenSecret: "s3cret", Sessions: 6, Concurrency: 2})
	if res.Sessions != 6 || res.Params["issuer"] != "parley-load" {
		t.Errorf("sessions %d, params %v", res.Sessions, res.Params)
	}
}

func TestNoMUC(t *testing.T) {
	tg := target(t)
	tg.MUC = ""
	for _, name := range []string{"rooms", "churn", "bigroom"} {
		res := execute(t, name, tg, scenario.Params{})
		if res.Skipped == "" {
			t.Errorf("%s ran without a MUC", name)
		}
	}
}

func TestLookup(t *testing.T) {
	for _, s := range scenario.All() {
		got, ok := scenario.Lookup(s.Name)
		if !ok || got.Name != s.Name || got.Description == "" {
			t.Errorf("Lookup(%q) = %+v, %v", s.Name, got, ok)
		}
	}
	if _, ok := scenario.Lookup("nope"); ok {
		t.Error("found a missing scenario")
	}
}

func hasPhase(r *scenario.Result, name string) bool {
	for _, p := range r.Phases {
		if p.Name == name {
			return true
		}
	}
	return false
}

func ptr[T any](v T) *T { return &v }

// servertestNoLeak returns the servertest options for scenario tests.
func servertestNoLeak() []servertest.Option { return nil }
