package servertest

// Metric returns the sum of the values of the counter or gauge name (for
// example "parley_c2s_throttled_reads_total") over all its label sets in
// the server's registry, or 0 when it has no sample yet.
func (s *Server) Metric(name string) float64 {
	s.t.Helper()
	families, err := s.Registry().Gather()
	if err != nil {
		s.t.Fatalf("servertest: gathering metrics: %v", err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}
