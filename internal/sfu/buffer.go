package sfu

import (
	"io"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

const (
	maxPacketBytes  = 1500 // larger datagrams are not media we forward
	videoRingSlots  = 500
	audioRingSlots  = 200
	preBindSlots    = 64
	maxNackEntries  = 128
	nackMaxTries    = 5
	nackMaxAge      = time.Second
	nackMinInterval = 20 * time.Millisecond
)

// codecKind is the payload format a buffer parses for keyframes.
type codecKind uint8

const (
	codecOther codecKind = iota
	codecOpus
	codecVP8
	codecH264
)

// extPacket is one received packet as the forward path sees it. The buffer
// reuses a single extPacket; DownTracks must not retain it or its slices.
type extPacket struct {
	hdr      *rtp.Header
	payload  []byte // points into the ring slot, padding removed
	extSN    uint64
	extTS    uint64
	arrival  int64 // wall clock, ns
	keyframe bool
	layer    int
}

type nackEntry struct {
	sn       uint64
	seen     int64
	lastSent int64
	tries    uint8
}

// bindParams describes the track a buffer is bound to.
type bindParams struct {
	track     *PublishedTrack
	layer     int
	video     bool
	clockRate uint32
	codec     codecKind
	twccID    uint8
}

// buffer receives the decrypted RTP of one SSRC from Pion's SRTP session via
// SettingEngine.BufferFactory. See the package documentation for its two
// modes (pre-bind reading, bound inline processing).
type buffer struct {
	ssrc uint32
	tr   *pubTransport

	procMu sync.Mutex     // serializes processing and fan-out (Write and bind)
	fanWG  sync.WaitGroup // reused by the parallel fan-out; guarded by procMu

	mu     sync.Mutex
	cond   sync.Cond // pre-bind readers wait here; L = &mu
	closed bool

	// pre-bind ring, served to Pion's Read while probing MID/RID.
	pre        [][]byte
	preArrival []int64
	preW, preR uint64

	bound bool
	p     bindParams

	ring     []byte // slots × maxPacketBytes, one allocation
	slotLen  []uint16
	slotHdr  []uint16 // header length
	slotPay  []uint16 // payload length without padding
	slotSN   []uint64 // extended SN stored in the slot
	slots    uint64
	hdr      rtp.Header
	ep       extPacket
	sn       seqUnwrapper
	ts       tsUnwrapper
	haveData bool

	// RFC 3550 §A.3 loss and §A.8 jitter state.
	baseSN                      uint64
	received                    uint64
	expectedPrior, receivedPrio uint64
	jitter                      float64
	lastTransit                 int64
	haveTransit                 bool

	// Last sender report from the publisher (RFC 3550 §6.4.1).
	srNTP  uint64
	srRTP  uint32
	srRecv int64 // wall clock ns

	nacks []nackEntry
}

func newBuffer(tr *pubTransport, ssrc uint32) *buffer {
	b := &buffer{ssrc: ssrc, tr: tr, pre: make([][]byte, preBindSlots), preArrival: make([]int64, preBindSlots)}
	b.cond.L = &b.mu
	return b
}

// Write is called by Pion's SRTP session with one decrypted packet. The
// slice is reused by the caller after Write returns.
func (b *buffer) Write(pkt []byte) (int, error) {
	now := time.Now().UnixNano()
	b.procMu.Lock()
	defer b.procMu.Unlock()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return len(pkt), nil // drop silently; the session is going away
	}
	if !b.bound {
		i := b.preW % preBindSlots
		b.pre[i] = append(b.pre[i][:0], pkt...)
		b.preArrival[i] = now
		b.preW++
		b.cond.Broadcast()
		b.mu.Unlock()
		return len(pkt), nil
	}
	ok := b.storeLocked(pkt, now)
	b.mu.Unlock()
	if ok {
		b.p.track.forward(&b.ep, &b.fanWG)
	}
	return len(pkt), nil
}

// Read serves Pion's probing reads before the buffer is bound. Once bound
// (or closed) it blocks until Close and then returns io.EOF.
func (b *buffer) Read(out []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for !b.closed && (b.bound || b.preR == b.preW) {
		b.cond.Wait()
	}
	if b.closed {
		return 0, io.EOF
	}
	if b.preW-b.preR > preBindSlots { // overrun: skip what was overwritten
		b.preR = b.preW - preBindSlots
	}
	src := b.pre[b.preR%preBindSlots]
	if len(out) < len(src) {
		return 0, io.ErrShortBuffer
	}
	b.preR++
	return copy(out, src), nil
}

// Close wakes readers; Pion calls it when the stream ends.
func (b *buffer) Close() error {
	b.mu.Lock()
	b.closed = true
	b.cond.Broadcast()
	b.mu.Unlock()
	return nil
}

// bind attaches the buffer to a published layer and replays the packets
// that arrived while Pion was probing.
func (b *buffer) bind(p bindParams) {
	b.procMu.Lock()
	defer b.procMu.Unlock()
	b.mu.Lock()
	if b.closed || b.bound {
		b.mu.Unlock()
		return
	}
	b.p = p
	b.slots = audioRingSlots
	if p.video {
		b.slots = videoRingSlots
	}
	b.ring = make([]byte, b.slots*maxPacketBytes)
	b.slotLen = make([]uint16, b.slots)
	b.slotHdr = make([]uint16, b.slots)
	b.slotPay = make([]uint16, b.slots)
	b.slotSN = make([]uint64, b.slots)
	b.nacks = make([]nackEntry, 0, maxNackEntries)
	b.bound = true
	start := uint64(0)
	if b.preW > preBindSlots {
		start = b.preW - preBindSlots
	}
	for i := start; i < b.preW; i++ {
		if b.storeLocked(b.pre[i%preBindSlots], b.preArrival[i%preBindSlots]) {
			b.mu.Unlock()
			b.p.track.forward(&b.ep, &b.fanWG)
			b.mu.Lock()
		}
	}
	b.pre, b.preArrival = nil, nil
	b.cond.Broadcast()
	b.mu.Unlock()
}

// storeLocked parses pkt, updates statistics and NACK state, copies it into
// the ring and prepares b.ep. It reports whether the packet is forwarded.
func (b *buffer) storeLocked(pkt []byte, arrival int64) bool {
	if len(pkt) > maxPacketBytes {
		return false
	}
	hl, err := b.hdr.Unmarshal(pkt)
	if err != nil {
		return false
	}
	payLen := len(pkt) - hl
	if b.hdr.Padding && payLen > 0 {
		pad := int(pkt[len(pkt)-1])
		if pad > payLen {
			return false
		}
		payLen -= pad
	}
	if b.p.twccID != 0 {
		if ext := b.hdr.GetExtension(b.p.twccID); len(ext) >= 2 {
			b.tr.recordTWCC(b.ssrc, uint16(ext[0])<<8|uint16(ext[1]), arrival)
		}
	}
	m := b.tr.e.metrics
	m.packetsIn.Inc()
	m.bytesIn.Add(float64(len(pkt)))

	prevHighest := b.sn.highest
	extSN, newest := b.sn.unwrap(b.hdr.SequenceNumber)
	extTS := b.ts.unwrap(b.hdr.Timestamp)
	slot := extSN % b.slots
	switch {
	case !b.haveData:
		b.haveData = true
		b.baseSN = extSN
	case newest:
		if extSN > prevHighest+1 {
			b.addNacksLocked(prevHighest+1, extSN, arrival)
		}
	default:
		if b.sn.highest-extSN >= b.slots || (b.slotSN[slot] == extSN && b.slotLen[slot] != 0) {
			return false // too old for the ring, or a duplicate
		}
		b.removeNackLocked(extSN)
		if extSN < b.baseSN {
			b.baseSN = extSN
		}
	}
	b.received++
	b.updateJitterLocked(arrival, b.hdr.Timestamp)

	off := slot * maxPacketBytes
	copy(b.ring[off:off+maxPacketBytes], pkt)
	b.slotLen[slot] = uint16(len(pkt)) //nolint:gosec // bounded by maxPacketBytes
	b.slotHdr[slot] = uint16(hl)       //nolint:gosec // bounded by maxPacketBytes
	b.slotPay[slot] = uint16(payLen)   //nolint:gosec // bounded by maxPacketBytes
	b.slotSN[slot] = extSN

	payload := b.ring[off+uint64(hl) : off+uint64(hl)+uint64(payLen)]
	b.ep = extPacket{
		hdr: &b.hdr, payload: payload, extSN: extSN, extTS: extTS, arrival: arrival, layer: b.p.layer,
	}
	if b.p.video && payLen > 0 {
		switch b.p.codec {
		case codecVP8:
			b.ep.keyframe = isVP8Keyframe(payload)
		case codecH264:
			b.ep.keyframe = isH264Keyframe(payload)
		default:
		}
	}
	return true
}

// updateJitterLocked implements the interarrival jitter estimate of
// RFC 3550 §6.4.1 / §A.8 in RTP timestamp units.
func (b *buffer) updateJitterLocked(arrival int64, ts uint32) {
	if b.p.clockRate == 0 {
		return
	}
	arrivalRTP := arrival / 1000 * int64(b.p.clockRate) / 1_000_000
	transit := arrivalRTP - int64(ts)
	if b.haveTransit {
		d := transit - b.lastTransit
		if d < 0 {
			d = -d
		}
		b.jitter += (float64(d) - b.jitter) / 16
	}
	b.lastTransit, b.haveTransit = transit, true
}

func (b *buffer) addNacksLocked(from, to uint64, now int64) {
	if to-from > maxNackEntries {
		from = to - maxNackEntries
	}
	for sn := from; sn < to; sn++ {
		if len(b.nacks) == maxNackEntries {
			copy(b.nacks, b.nacks[1:])
			b.nacks = b.nacks[:len(b.nacks)-1]
		}
		b.nacks = append(b.nacks, nackEntry{sn: sn, seen: now})
	}
}

func (b *buffer) removeNackLocked(sn uint64) {
	for i := range b.nacks {
		if b.nacks[i].sn == sn {
			b.nacks = append(b.nacks[:i], b.nacks[i+1:]...)
			return
		}
	}
}

// collectNacks appends the sequence numbers due for a (re)NACK to out
// (RFC 4585 §6.2.1), dropping entries that are too old or tried too often.
func (b *buffer) collectNacks(now int64, out []uint16) []uint16 {
	b.mu.Lock()
	defer b.mu.Unlock()
	kept := b.nacks[:0]
	for _, n := range b.nacks {
		if n.tries >= nackMaxTries || now-n.seen > int64(nackMaxAge) {
			continue
		}
		if now-n.lastSent >= int64(nackMinInterval) {
			n.tries++
			n.lastSent = now
			out = append(out, uint16(n.sn)) //nolint:gosec // low 16 bits on the wire
		}
		kept = append(kept, n)
	}
	b.nacks = kept
	return out
}

// handleSR records a sender report of this SSRC (RFC 3550 §6.4.1).
func (b *buffer) handleSR(sr *rtcp.SenderReport, now int64) {
	b.mu.Lock()
	b.srNTP, b.srRTP, b.srRecv = sr.NTPTime, sr.RTPTime, now
	b.mu.Unlock()
}

// senderClock returns the publisher's last NTP↔RTP mapping.
func (b *buffer) senderClock() (ntp uint64, rtpTS uint32, recv int64, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.srNTP, b.srRTP, b.srRecv, b.srRecv != 0
}

// receptionReport builds the report block for this SSRC (RFC 3550 §6.4.1,
// §A.3). ok is false before the first packet.
func (b *buffer) receptionReport(now int64) (rtcp.ReceptionReport, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.bound || !b.haveData {
		return rtcp.ReceptionReport{}, false
	}
	expected := b.sn.highest - b.baseSN + 1
	lost := int64(expected) - int64(b.received) //nolint:gosec // counters stay far below 2^63
	lost = max(min(lost, 0x7FFFFF), -0x800000)  // 24-bit signed
	expInt := expected - b.expectedPrior
	recvInt := b.received - b.receivedPrio
	b.expectedPrior, b.receivedPrio = expected, b.received
	var fraction uint8
	if expInt > 0 && expInt > recvInt {
		fraction = uint8((expInt - recvInt) << 8 / expInt) //nolint:gosec // < 256
	}
	rr := rtcp.ReceptionReport{
		SSRC:               b.ssrc,
		FractionLost:       fraction,
		TotalLost:          uint32(lost) & 0xFFFFFF,      //nolint:gosec // two's complement on 24 bits
		LastSequenceNumber: uint32(b.sn.highest - 1<<16), //nolint:gosec // cycles<<16 | seq
		Jitter:             uint32(b.jitter),
	}
	if b.srRecv != 0 {
		rr.LastSenderReport = uint32(b.srNTP >> 16)                      //nolint:gosec // middle 32 bits of NTP
		rr.Delay = uint32((now - b.srRecv) * 65536 / int64(time.Second)) //nolint:gosec // 1/65536 s units
	}
	return rr, true
}

// copyPacket copies the stored packet with extended sequence number sn into
// dst and returns its header and payload lengths.
func (b *buffer) copyPacket(sn uint64, dst []byte) (n, hdrLen, payLen int, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.bound || b.slots == 0 {
		return 0, 0, 0, false
	}
	slot := sn % b.slots
	if b.slotSN[slot] != sn || b.slotLen[slot] == 0 {
		return 0, 0, 0, false
	}
	off := slot * maxPacketBytes
	n = copy(dst, b.ring[off:off+uint64(b.slotLen[slot])])
	return n, int(b.slotHdr[slot]), int(b.slotPay[slot]), true
}
