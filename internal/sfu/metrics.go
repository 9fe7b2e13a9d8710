package sfu

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are process-wide SFU counters. They carry no room, user or IP
// labels (privacy: no personal information in metrics).
type metrics struct {
	packetsIn, bytesIn    prometheus.Counter
	packetsOut, bytesOut  prometheus.Counter
	nacksIn, nacksOut     prometheus.Counter // NACKed packets from subscribers / to publishers
	retransmits           prometheus.Counter
	plisIn, plisOut       prometheus.Counter
	keyframeWaitDrops     prometheus.Counter
	retransmitsSuppressed prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "parley", Subsystem: "sfu", Name: name, Help: help})
	}
	m := &metrics{
		packetsIn:             c("rtp_packets_in_total", "RTP packets received from publishers."),
		bytesIn:               c("rtp_bytes_in_total", "RTP bytes received from publishers."),
		packetsOut:            c("rtp_packets_out_total", "RTP packets forwarded to subscribers."),
		bytesOut:              c("rtp_bytes_out_total", "RTP bytes forwarded to subscribers."),
		nacksIn:               c("nack_packets_in_total", "Sequence numbers NACKed by subscribers."),
		nacksOut:              c("nack_packets_out_total", "Sequence numbers NACKed towards publishers."),
		retransmits:           c("retransmits_total", "Packets retransmitted to subscribers from the ring."),
		retransmitsSuppressed: c("retransmits_suppressed_total", "NACKed packets not retransmitted (repeat, too old, evicted)."),
		plisIn:                c("pli_in_total", "PLI/FIR received from subscribers."),
		plisOut:               c("pli_out_total", "PLIs sent to publishers after throttling."),
		keyframeWaitDrops:     c("keyframe_wait_drops_total", "Video packets dropped while a DownTrack waited for a keyframe."),
	}
	if reg == nil {
		return m, nil
	}
	for _, pc := range []*prometheus.Counter{&m.packetsIn, &m.bytesIn, &m.packetsOut, &m.bytesOut, &m.nacksIn,
		&m.nacksOut, &m.retransmits, &m.retransmitsSuppressed, &m.plisIn, &m.plisOut, &m.keyframeWaitDrops} {
		if err := reg.Register(*pc); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, fmt.Errorf("%w: metrics: %w", ErrBadConfig, err)
			}
			if existing, ok := are.ExistingCollector.(prometheus.Counter); ok {
				*pc = existing // a second Engine on the same registry shares the counters
			}
		}
	}
	return m, nil
}
