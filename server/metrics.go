package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus collectors, registered on the
// server's own registry so that two servers in one process (tests) do not
// share counters.
type metrics struct {
	sessions     prometheus.Gauge
	connections  *prometheus.CounterVec
	closes       *prometheus.CounterVec
	authFailures *prometheus.CounterVec
	stanzas      *prometheus.CounterVec
	// byTransport counts bound sessions by transport kind.
	byTransport *prometheus.GaugeVec
	// stanzasIn and stanzasOut count client stanzas by kind (message,
	// presence, iq), resolved once so the hot paths skip the label lookup.
	stanzasIn, stanzasOut [3]prometheus.Counter
	// hookSeconds is the time hook chains with handlers take, by event.
	hookSeconds *prometheus.HistogramVec
	// throttled counts the reads a rate limit paused.
	throttled prometheus.Counter
}

// stanzaKinds are the label values of stanzasIn and stanzasOut.
var stanzaKinds = [3]string{"message", "presence", "iq"}

// stanzaKind returns the index of a stanza name in stanzaKinds, or -1.
func stanzaKind(name string) int {
	switch name {
	case "message":
		return 0
	case "presence":
		return 1
	case "iq":
		return 2
	}
	return -1
}

func (m *metrics) countIn(name string) {
	if i := stanzaKind(name); i >= 0 {
		m.stanzasIn[i].Inc()
	}
}

func (m *metrics) countOut(name string) {
	if i := stanzaKind(name); i >= 0 {
		m.stanzasOut[i].Inc()
	}
}

// hookObserver returns a hook.Chain observer feeding hookSeconds for one
// event, its label resolved once.
func (m *metrics) hookObserver(name string) func(string, time.Duration) {
	h := m.hookSeconds.WithLabelValues(name)
	return func(_ string, d time.Duration) { h.Observe(d.Seconds()) }
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "parley", Subsystem: "c2s", Name: "sessions",
			Help: "Bound client sessions.",
		}),
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "parley", Subsystem: "c2s", Name: "connections_total",
			Help: "Accepted client connections by transport.",
		}, []string{"transport"}),
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "parley", Subsystem: "c2s", Name: "closes_total",
			Help: "Closed client sessions by reason.",
		}, []string{"reason"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "parley", Subsystem: "auth", Name: "failures_total",
			Help: "Failed SASL attempts by condition and reason (the token check that failed, or the condition).",
		}, []string{"condition", "reason"}),
		stanzas: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "parley", Subsystem: "router", Name: "stanzas_total",
			Help: "Routed stanzas by kind.",
		}, []string{"kind"}),
	}
	m.byTransport = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "parley", Subsystem: "c2s", Name: "sessions_by_transport",
		Help: "Bound client sessions by the transport they bound on.",
	}, []string{"transport"})
	in := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "parley", Subsystem: "c2s", Name: "stanzas_in_total",
		Help: "Stanzas received from bound clients, by kind.",
	}, []string{"kind"})
	out := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "parley", Subsystem: "c2s", Name: "stanzas_out_total",
		Help: "Stanzas queued to clients, by kind.",
	}, []string{"kind"})
	for i, k := range stanzaKinds {
		m.stanzasIn[i] = in.WithLabelValues(k)
		m.stanzasOut[i] = out.WithLabelValues(k)
	}
	m.hookSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "parley", Name: "hook_duration_seconds",
		Help:    "Time taken by the handlers of a hook chain, by Prosody event name.",
		Buckets: []float64{1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1},
	}, []string{"hook"})
	m.throttled = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "parley", Subsystem: "c2s", Name: "throttled_reads_total",
		Help: "Client reads paused because a byte-rate limit (session, address or module) was exceeded.",
	})
	reg.MustRegister(m.sessions, m.connections, m.closes, m.authFailures, m.stanzas, m.byTransport, in, out, m.hookSeconds, m.throttled)
	return m
}
