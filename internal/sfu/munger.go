package sfu

// munger maps incoming (extended) sequence numbers and timestamps of the
// layer being forwarded onto one continuous outgoing stream. Offsets are
// 64-bit and applied modulo 2^64, so SN/TS stay continuous across layer
// switches and pauses (RFC 3550 §5.1: SN increments by one per packet, TS
// follows the sampling clock).
type munger struct {
	started   bool
	snOff     uint64 // out = in - snOff
	tsOff     uint64 // out = in - tsOff
	segStart  uint64 // first incoming SN of the current segment
	highestIn uint64
	lastOutSN uint64
	lastOutTS uint64
	lastWall  int64 // arrival of the packet that set lastOutTS
}

// startSegment makes inSN/inTS (arriving at wall time now) continue the
// outgoing stream: SN = last+1 and TS advanced by the wall-clock gap.
func (m *munger) startSegment(inSN, inTS uint64, now int64, clockRate uint32) {
	if !m.started {
		m.started = true
		m.snOff, m.tsOff = 0, 0
		m.lastOutSN, m.lastOutTS = inSN-1, inTS
	} else {
		outSN := m.lastOutSN + 1
		delta := uint64(1)
		if gap := now - m.lastWall; gap > 0 && clockRate > 0 {
			delta = max(uint64(gap)*uint64(clockRate)/1e9, 1)
		}
		outTS := m.lastOutTS + delta
		m.snOff = inSN - outSN
		m.tsOff = inTS - outTS
	}
	m.segStart, m.highestIn = inSN, inSN-1
	m.lastWall = now
}

// update returns the outgoing SN/TS for a packet of the current segment;
// ok is false for packets older than the segment start.
func (m *munger) update(inSN, inTS uint64, now int64) (outSN, outTS uint64, ok bool) {
	if inSN < m.segStart {
		return 0, 0, false
	}
	outSN, outTS = inSN-m.snOff, inTS-m.tsOff
	if inSN > m.highestIn {
		m.highestIn = inSN
	}
	if outSN > m.lastOutSN {
		m.lastOutSN, m.lastOutTS, m.lastWall = outSN, outTS, now
	}
	return outSN, outTS, true
}

// skip drops the next packet in sequence (padding only) without leaving a
// gap in the outgoing sequence numbers.
func (m *munger) skip(inSN uint64) {
	if inSN == m.highestIn+1 && inSN >= m.segStart {
		m.highestIn = inSN
		m.snOff++
	}
}

// seqEntry remembers one sent packet for retransmission (RFC 4585 §6.2.1).
type seqEntry struct {
	outSN    uint64
	inSN     uint64
	outTS    uint32
	twccSN   uint16 // transport-wide SN stamped on the original
	layer    int8
	marker   bool
	valid    bool
	nacks    uint8
	lastNack int64
}

// maxRetransmits bounds retransmissions of one packet to one subscriber.
const maxRetransmits = 4

// sequencer maps outgoing sequence numbers to ring packets.
type sequencer struct {
	entries []seqEntry
	highest uint64
}

func newSequencer(n int) sequencer { return sequencer{entries: make([]seqEntry, n)} }

func (s *sequencer) push(outSN, inSN uint64, outTS uint32, twccSN uint16, layer int, marker bool) {
	e := &s.entries[outSN%uint64(len(s.entries))]
	*e = seqEntry{outSN: outSN, inSN: inSN, outTS: outTS, twccSN: twccSN, layer: int8(layer), marker: marker, valid: true} //nolint:gosec // few layers
	s.highest = max(s.highest, outSN)
}

// nack looks up a NACKed 16-bit sequence number. It refuses packets that
// left the window, were retransmitted less than minInterval ago (a repeat
// within about one RTT), or were retransmitted maxRetransmits times.
func (s *sequencer) nack(sn uint16, now, minInterval int64) (seqEntry, bool) {
	diff := int16(sn - uint16(s.highest)) //nolint:gosec // wrap-around is the point
	if diff > 0 {
		return seqEntry{}, false
	}
	ext := uint64(int64(s.highest) + int64(diff)) //nolint:gosec // bounded by the window check below
	if s.highest-ext >= uint64(len(s.entries)) {
		return seqEntry{}, false
	}
	e := &s.entries[ext%uint64(len(s.entries))]
	if !e.valid || e.outSN != ext || e.nacks >= maxRetransmits || (e.nacks > 0 && now-e.lastNack < minInterval) {
		return seqEntry{}, false
	}
	e.nacks++
	e.lastNack = now
	return *e, true
}
