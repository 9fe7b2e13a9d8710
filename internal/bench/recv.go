package bench

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	parley "github.com/parley-rtc/parley/sdk/go"
)

// window is the measured interval. Packets are counted only while it is
// open, so join, warm-up and teardown never leak into the figures.
type window struct {
	open atomic.Bool
}

// stream accounts one received track at one client. Its packet handler
// runs on the SDK's reader goroutine for the track; mu makes the final
// read race-free against a packet that is being counted as the window
// closes.
type stream struct {
	w    *window
	hist *histogram // shared by the client's streams
	warm func()     // called once, on the first packet ever

	gotFirst atomic.Bool
	live     atomic.Uint64 // packets in the window, for progress lines

	mu      sync.Mutex
	seq     seqCounter
	packets uint64
	bytes   uint64
}

// onPacket is the RemoteTrack.OnPacket handler. It must not block: it
// runs on the track's reader goroutine, which also drives the SDK's
// receive interceptors.
func (s *stream) onPacket(p *rtp.Packet) {
	now := time.Now()
	if !s.gotFirst.Load() && s.gotFirst.CompareAndSwap(false, true) {
		s.warm()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.w.open.Load() {
		return
	}
	s.seq.add(p.SequenceNumber)
	s.packets++
	s.bytes += uint64(p.Header.MarshalSize() + len(p.Payload))
	s.live.Add(1)
	// Every synthetic frame here fits one packet, so every packet carries
	// a send stamp; a packet without one (a continuation) is not timed.
	if sent, _, ok := parley.ParseSyntheticStamp(p.Payload); ok {
		s.hist.record(now.Sub(sent))
	}
}

// streamTotals is what one stream saw in the window.
type streamTotals struct {
	packets, bytes, expected uint64
}

func (s *stream) totals() streamTotals {
	s.mu.Lock()
	defer s.mu.Unlock()
	return streamTotals{packets: s.packets, bytes: s.bytes, expected: s.seq.expected()}
}

// lost is expected minus received, never negative: a retransmitted or
// duplicated packet can make received exceed expected (RFC 3550 A.3
// allows the same).
func (t streamTotals) lost() uint64 {
	if t.expected > t.packets {
		return t.expected - t.packets
	}
	return 0
}

// seqCounter extends 16-bit RTP sequence numbers (RFC 3550 A.1) from the
// first packet seen and tracks the highest, so expected = highest − first
// + 1 (RFC 3550 A.3).
type seqCounter struct {
	started       bool
	base, highest uint64
}

func (c *seqCounter) add(sn uint16) {
	if !c.started {
		// Start the extended space one cycle up so a late packet from just
		// before the first one cannot underflow it.
		c.started, c.base, c.highest = true, 1<<16|uint64(sn), 1<<16|uint64(sn)
		return
	}
	// A forward step below 2^15 is newer (possibly wrapped); anything else
	// is a late or duplicated packet and does not move the highest.
	diff := (uint64(sn) - c.highest) & 0xffff
	if diff != 0 && diff < 1<<15 {
		c.highest += diff
	}
}

func (c *seqCounter) expected() uint64 {
	if !c.started {
		return 0
	}
	return c.highest - c.base + 1
}
