package webhook

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics carry no app, room, user or URL labels.
type metrics struct {
	attempts   *prometheus.CounterVec // outcome: ok, error
	finished   *prometheus.CounterVec // state: delivered, failed
	dropped    prometheus.Counter
	beforeSend *prometheus.CounterVec // result: allow, veto, timeout_default, error_default
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "parley", Subsystem: "webhook", Name: "attempts_total",
			Help: "Webhook delivery attempts, by outcome."}, []string{"outcome"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "parley", Subsystem: "webhook", Name: "deliveries_total",
			Help: "Webhooks that reached a final state, by state."}, []string{"state"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "parley", Subsystem: "webhook", Name: "room_events_dropped_total",
			Help: "Room events not enqueued because the observer's hand-off queue was full or closed."}),
		beforeSend: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "parley", Subsystem: "webhook", Name: "before_send_total",
			Help: "IM before-send callbacks, by result."}, []string{"result"}),
	}
	if reg == nil {
		return m, nil
	}
	register := func(c prometheus.Collector) (prometheus.Collector, error) {
		err := reg.Register(c)
		if err == nil {
			return c, nil
		}
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, fmt.Errorf("%w: metrics: %w", ErrBadConfig, err)
		}
		return are.ExistingCollector, nil // a second instance shares the counters
	}
	for _, pc := range []**prometheus.CounterVec{&m.attempts, &m.finished, &m.beforeSend} {
		c, err := register(*pc)
		if err != nil {
			return nil, err
		}
		if v, ok := c.(*prometheus.CounterVec); ok {
			*pc = v
		}
	}
	c, err := register(m.dropped)
	if err != nil {
		return nil, err
	}
	if v, ok := c.(prometheus.Counter); ok {
		m.dropped = v
	}
	return m, nil
}
