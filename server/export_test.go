package server

import dto "github.com/prometheus/client_model/go"

// ClosesCount returns how many sessions closed for reason, for tests.
func ClosesCount(s *Server, reason string) float64 {
	var m dto.Metric
	if err := s.metrics.closes.WithLabelValues(reason).Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
