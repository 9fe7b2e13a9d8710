package parley

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// layerStats counts what a local pump sent on one layer.
type layerStats struct {
	bytes, frames atomic.Uint64
	width, height atomic.Int32
}

func (l *layerStats) record(frame []byte, codec string, _ time.Time) {
	l.bytes.Add(uint64(len(frame)))
	l.frames.Add(1)
	if codec == CodecVP8 {
		if w, h, ok := ParseVP8KeyframeSize(frame); ok {
			l.width.Store(int32(w))
			l.height.Store(int32(h))
		}
	}
}

// remoteStats counts what a remote track received. Loss is derived from
// RTP sequence numbers: expected = highest − first + 1 (RFC 3550 A.3).
type remoteStats struct {
	vp8   bool
	clock float64 // RTP clock rate, Hz

	mu            sync.Mutex
	bytes         uint64
	packets       uint64
	frames        uint64
	started       bool
	base, highest uint64 // extended sequence numbers
	width, height int
	// RFC 3550 §6.4.1 interarrival jitter, in RTP clock units.
	jitter      float64
	lastArrival time.Time
	lastTS      uint32
}

// remoteSnap is a point-in-time copy of remoteStats.
type remoteSnap struct {
	bytes, packets, frames, expected uint64
	width, height                    int
	jitterMs                         float64
}

func (r *remoteStats) record(p *rtp.Packet, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.clock > 0 && !r.lastArrival.IsZero() && p.Timestamp != r.lastTS {
		arrival := now.Sub(r.lastArrival).Seconds() * r.clock
		d := arrival - float64(int32(p.Timestamp-r.lastTS))
		if d < 0 {
			d = -d
		}
		r.jitter += (d - r.jitter) / 16
	}
	if p.Timestamp != r.lastTS || r.lastArrival.IsZero() {
		r.lastArrival, r.lastTS = now, p.Timestamp
	}
	r.bytes += uint64(len(p.Payload))
	r.packets++
	if p.Marker {
		r.frames++
	}
	sn := uint64(p.SequenceNumber)
	if !r.started {
		r.started, r.base, r.highest = true, sn, sn
	} else {
		// Unwrap against the highest seen: a forward step of < 2^15 is
		// newer (possibly wrapped), anything else is a late packet.
		cur := r.highest & 0xffff
		diff := (sn - cur) & 0xffff
		if diff != 0 && diff < 1<<15 {
			r.highest += diff
		}
	}
	if r.vp8 {
		if frame, start := vp8FramePayload(p.Payload); start {
			if w, h, ok := ParseVP8KeyframeSize(frame); ok {
				r.width, r.height = w, h
			}
		}
	}
}

func (r *remoteStats) snap() remoteSnap {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := remoteSnap{bytes: r.bytes, packets: r.packets, frames: r.frames, width: r.width, height: r.height}
	if r.clock > 0 {
		s.jitterMs = r.jitter / r.clock * 1000
	}
	if r.started {
		s.expected = r.highest - r.base + 1
	}
	return s
}
