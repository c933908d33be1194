package muc

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-xmpp/parley/server"
)

// metrics are the service's Prometheus collectors, labelled with the
// component so that several MUC components share a registry.
type metrics struct {
	joins     prometheus.Counter
	destroyed prometheus.Counter
	vetoes    *prometheus.CounterVec
	occupants prometheus.Gauge
	hooks     *prometheus.HistogramVec
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
	m.occupants = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "parley", Subsystem: "muc", Name: "occupants",
		Help: "Occupants in the rooms.", ConstLabels: labels,
	})
	m.hooks = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "parley", Subsystem: "muc", Name: "hook_duration_seconds",
		Help:        "Time taken by the handlers of a MUC hook chain, by Prosody event name.",
		ConstLabels: labels,
		Buckets:     []float64{1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1},
	}, []string{"hook"})
	rooms := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "parley", Subsystem: "muc", Name: "rooms",
		Help: "Rooms in memory.", ConstLabels: labels,
	}, func() float64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return float64(len(s.rooms))
	})
	reg := srv.Registry()
	for _, c := range []prometheus.Collector{m.joins, m.destroyed, m.vetoes, m.occupants, m.hooks, rooms} {
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

// observeHooks times every chain of e and counts occupants in and out.
func (m *metrics) observeHooks(e *Events) {
	observe := func(name string) func(string, time.Duration) {
		h := m.hooks.WithLabelValues(name)
		return func(_ string, d time.Duration) { h.Observe(d.Seconds()) }
	}
	e.RoomPreCreate.Observe(observe(e.RoomPreCreate.Name()))
	e.RoomCreated.Observe(observe(e.RoomCreated.Name()))
	e.OccupantPreJoin.Observe(observe(e.OccupantPreJoin.Name()))
	e.OccupantJoined.Observe(observe(e.OccupantJoined.Name()))
	e.OccupantPreLeave.Observe(observe(e.OccupantPreLeave.Name()))
	e.OccupantLeft.Observe(observe(e.OccupantLeft.Name()))
	e.OccupantPreChange.Observe(observe(e.OccupantPreChange.Name()))
	e.RoomDestroyed.Observe(observe(e.RoomDestroyed.Name()))
	e.PreSetAffiliation.Observe(observe(e.PreSetAffiliation.Name()))
	e.SetAffiliation.Observe(observe(e.SetAffiliation.Name()))
	e.ConfigForm.Observe(observe(e.ConfigForm.Name()))
	e.ConfigSubmitted.Observe(observe(e.ConfigSubmitted.Name()))
	e.DiscoInfo.Observe(observe(e.DiscoInfo.Name()))
	e.Stanza.Observe(observe(e.Stanza.Name()))
	e.Groupchat.Observe(observe(e.Groupchat.Name()))
	e.MaybeDestroyRoom.Observe(observe(e.MaybeDestroyRoom.Name()))
	e.BroadcastPresence.Observe(observe(e.BroadcastPresence.Name()))
	e.Invite.Observe(observe(e.Invite.Name()))
	e.OccupantJoined.On(1<<20, "metrics", func(context.Context, *OccupantEvent) error {
		m.occupants.Inc()
		return nil
	})
	e.OccupantLeft.On(1<<20, "metrics", func(context.Context, *OccupantEvent) error {
		m.occupants.Dec()
		return nil
	})
}
