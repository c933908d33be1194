package server

import "github.com/prometheus/client_golang/prometheus"

// metrics are the server's Prometheus collectors, registered on the
// server's own registry so that two servers in one process (tests) do not
// share counters.
type metrics struct {
	sessions     prometheus.Gauge
	connections  *prometheus.CounterVec
	closes       *prometheus.CounterVec
	authFailures *prometheus.CounterVec
	stanzas      *prometheus.CounterVec
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
			Help: "Failed SASL attempts by condition.",
		}, []string{"condition"}),
		stanzas: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "parley", Subsystem: "router", Name: "stanzas_total",
			Help: "Routed stanzas by kind.",
		}, []string{"kind"}),
	}
	reg.MustRegister(m.sessions, m.connections, m.closes, m.authFailures, m.stanzas)
	return m
}
