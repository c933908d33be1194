package muc

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-xmpp/parley/server"
)

// metrics are the service's Prometheus collectors, labelled with the
// component so that several MUC components share a registry.
type metrics struct {
	joins     prometheus.Counter
	destroyed prometheus.Counter
	vetoes    *prometheus.CounterVec
}

func newMetrics(srv *server.Server, s *Service) *metrics {
	labels := prometheus.Labels{"component": s.domain}
	m := &metrics{
		joins: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "parley", Subsystem: "muc", Name: "joins_total",
			Help: "Occupants that entered a room.", ConstLabels: labels,
		}),
		destroyed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "parley", Subsystem: "muc", Name: "rooms_destroyed_total",
			Help: "Rooms destroyed (explicitly or when the last occupant left).", ConstLabels: labels,
		}),
		vetoes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "parley", Subsystem: "muc", Name: "hook_vetoes_total",
			Help: "Events stopped by a hook handler, by hook.", ConstLabels: labels,
		}, []string{"hook"}),
	}
	rooms := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "parley", Subsystem: "muc", Name: "rooms",
		Help: "Rooms in memory.", ConstLabels: labels,
	}, func() float64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return float64(len(s.rooms))
	})
	reg := srv.Registry()
	for _, c := range []prometheus.Collector{m.joins, m.destroyed, m.vetoes, rooms} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				s.log.Warn("metric not registered", "err", err)
			}
		}
	}
	return m
}

func (m *metrics) veto(hook string) { m.vetoes.WithLabelValues(hook).Inc() }
