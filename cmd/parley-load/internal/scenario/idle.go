package scenario

import (
	"context"
	"time"

	"github.com/parley-xmpp/parley/cmd/parley-load/internal/metrics"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/xclient"
)

// runIdle opens Sessions (default 20,000, capped by both processes'
// open-file limits) anonymous sessions over Transport (default ws) with
// stream management, waits Settle (default 5 s), and reports the
// server's RSS growth per session.
func runIdle(ctx context.Context, r *Run) error {
	transports := r.transports(xclient.WebSocket)
	perSession := 1
	for _, t := range transports {
		if t == xclient.BOSH {
			perSession = 2
		}
	}
	want := orInt(r.Params.Sessions, r.Params.scaled(20000))
	n := want
	if budget := r.fdBudget(perSession); n > budget {
		n = budget
		r.Note("capped at %d sessions (of %d) by the open-file limit (ulimit -n)", n, want)
	}
	conc := orInt(r.Params.Concurrency, 100)
	settle := orDur(r.Params.Settle, 5*time.Second)
	r.Set("sessions", n)
	r.Set("transport", transports)
	r.Set("sm", r.Params.sm(true))
	r.Set("concurrency", conc)
	r.Set("settle", settle.String())
	before := r.ServerNow()
	var setup metrics.Histogram
	start := time.Now()
	noop := func(*xclient.Session, []byte) {}
	sessions := r.openSessions(ctx, n, conc, func(i int) xclient.Config {
		return r.config(i, transports[i%len(transports)], "anon")
	}, func(_ int, s *xclient.Session) { s.Run(noop) }, &setup)
	wall := time.Since(start)
	r.Phase("open")
	opened := count(sessions)
	r.Result.Sessions = opened
	r.Result.Setup = summary(&setup)
	r.Result.SetupRate = float64(opened) / wall.Seconds()
	select {
	case <-ctx.Done():
	case <-time.After(settle):
	}
	after := r.ServerNow()
	r.Phase("settle")
	if opened > 0 && r.Target.PID > 0 {
		r.Result.BytesPerSession = float64(after.RSSEnd-before.RSSEnd) / float64(opened)
	}
	r.reap(sessions)
	closeAll(sessions, 200)
	r.Phase("close")
	return nil
}
