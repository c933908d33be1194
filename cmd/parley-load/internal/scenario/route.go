package scenario

import (
	"context"
	"fmt"
	"time"

	"github.com/parley-xmpp/parley/cmd/parley-load/internal/metrics"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/xclient"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/xscan"
)

// runRoute pairs Sessions (default 200) anonymous sessions and sends chat
// messages of about 200 bytes between partners at MsgRate (default
// 2,000/s) for Duration (default 10 s); it reports delivery latency,
// throughput and the server's CPU per message.
func runRoute(ctx context.Context, r *Run) error {
	n := orInt(r.Params.Sessions, r.Params.scaled(200))
	n = max(2, n&^1)
	rate := orFloat(r.Params.MsgRate, 2000)
	dur := orDur(r.Params.Duration, 10*time.Second)
	conc := orInt(r.Params.Concurrency, 50)
	transports := r.transports(xclient.TCP)
	r.Set("sessions", n)
	r.Set("msg_rate", rate)
	r.Set("duration", dur.String())
	r.Set("transport", transports)
	r.Set("sm", r.Params.sm(true))
	total := int(rate * dur.Seconds())
	fan := metrics.NewFanout(total)
	sh := r.Shared
	handler := func(_ *xclient.Session, el []byte) {
		now := sh.Nanotime()
		if string(xscan.Name(el)) != "message" {
			return
		}
		if t, _ := xscan.Attr(el, "type"); string(t) == "error" {
			r.Error(fmt.Errorf("message error: %.300s", el))
			return
		}
		if seq, ts, kind := marker(el); kind == 'm' {
			fan.Observe(seq, time.Duration(now-ts))
		}
	}
	var setup metrics.Histogram
	sessions := r.openSessions(ctx, n, conc, func(i int) xclient.Config {
		return r.config(i, transports[i%len(transports)], "anon")
	}, func(_ int, s *xclient.Session) { s.Run(handler) }, &setup)
	r.Phase("open")
	r.Result.Sessions = count(sessions)
	r.Result.Setup = summary(&setup)
	if r.Result.Sessions < n {
		closeAll(sessions, 50)
		return fmt.Errorf("scenario: only %d of %d sessions opened", r.Result.Sessions, n)
	}
	start := time.Now()
	sent := pace(ctx, rate, total, func(i int) {
		from := sessions[i%n]
		to := sessions[(i%n)^1]
		seq := fan.Begin(1)
		b := make([]byte, 0, 400)
		b = append(b, "<message to='"...)
		b = append(b, to.JID()...)
		b = append(b, "' type='chat' id='m"...)
		b = append(b, fmt.Sprint(i)...)
		b = append(b, "' xmlns='jabber:client'><body>"...)
		b = appendBody(b, 200)
		b = append(b, "</body>"...)
		b = appendMarker(b, 'm', seq, sh.Nanotime())
		b = append(b, "</message>"...)
		if err := from.Send(b); err != nil {
			r.Error(err)
		}
	})
	waitFor(ctx, 10*time.Second, func() bool { return fan.Delivery.Count() >= uint64(sent) })
	elapsed := time.Since(start)
	r.Phase("messages")
	res := fan.Finish()
	r.Result.Message = &res
	r.Result.Throughput = float64(res.Delivered) / elapsed.Seconds()
	r.reap(sessions)
	closeAll(sessions, 50)
	r.Phase("close")
	return nil
}
