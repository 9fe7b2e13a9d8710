package sfu

import dto "github.com/prometheus/client_model/go"

func (e *Engine) metricsRetransmits() float64 {
	var m dto.Metric
	_ = e.metrics.retransmits.Write(&m)
	return m.GetCounter().GetValue()
}
