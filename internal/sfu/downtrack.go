package sfu

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Retransmission suppression window bounds (about one RTT, RFC 4585 §3.5.3).
const (
	minNackRepeat     = 20 * time.Millisecond
	maxNackRepeat     = 200 * time.Millisecond
	defaultNackRepeat = 50 * time.Millisecond
)

// DownTrack forwards one PublishedTrack to one subscriber. It is the
// webrtc.TrackLocal bound to the subscriber PeerConnection.
type DownTrack struct {
	track  *PublishedTrack
	sub    *Peer
	kind   webrtc.RTPCodecType
	sender *webrtc.RTPSender // set by the subscriber after AddTransceiverFromTrack

	mu        sync.Mutex
	bound     bool
	ssrc      uint32
	pt        uint8
	twccID    uint8
	writer    webrtc.TrackLocalWriter
	hdr       rtp.Header // scratch for the forward path
	twccBuf   [2]byte
	mung      munger
	seq       sequencer
	current   int    // layer being forwarded, -1 before the first keyframe
	target    int    // layer wanted
	packets   uint32 // RFC 3550 sender's packet count
	octets    uint32 // RFC 3550 sender's octet count
	clockRate uint32
	testDrop  func(outSN uint16) bool // tests only: simulate loss after the sequencer

	rtxMu   sync.Mutex // guards the retransmission scratch
	rtxBuf  [maxPacketBytes]byte
	rtxHdr  rtp.Header
	rtxTWCC [2]byte

	rtt      atomic.Int64  // ns, from receiver reports
	lossFrac atomic.Uint32 // last fraction lost ×256
	closed   atomic.Bool
}

func newDownTrack(t *PublishedTrack, sub *Peer) *DownTrack {
	dt := &DownTrack{track: t, sub: sub, current: -1, target: t.defaultLayer(), clockRate: t.codec.ClockRate}
	dt.kind = webrtc.RTPCodecTypeAudio
	n := audioRingSlots
	if t.video {
		dt.kind = webrtc.RTPCodecTypeVideo
		n = videoRingSlots
	}
	dt.seq = newSequencer(n)
	return dt
}

// ID is the publisher's track id (msid track).
func (d *DownTrack) ID() string { return d.track.info.TrackID }

// StreamID is the publisher's peer id (msid stream).
func (d *DownTrack) StreamID() string { return d.track.owner.id }

// RID is empty: a DownTrack sends one layer.
func (d *DownTrack) RID() string { return "" }

// Kind is audio or video.
func (d *DownTrack) Kind() webrtc.RTPCodecType { return d.kind }

// Bind is called by Pion when the subscriber PC negotiated this track.
func (d *DownTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	var chosen *webrtc.RTPCodecParameters
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, d.track.codec.MimeType) {
			chosen = &c
			break
		}
	}
	if chosen == nil {
		return webrtc.RTPCodecParameters{}, ErrCodecNotNegotiated
	}
	var twccID uint8
	for _, h := range ctx.HeaderExtensions() {
		if h.URI == transportCCURI {
			twccID = uint8(h.ID) //nolint:gosec // 1..14
		}
	}
	d.mu.Lock()
	d.bound = true
	d.ssrc = uint32(ctx.SSRC())
	d.pt = uint8(chosen.PayloadType)
	d.twccID = twccID
	d.writer = ctx.WriteStream()
	target := d.target
	d.mu.Unlock()
	d.sub.sub.register(d.ssrc, d)
	if d.sub.subConnected.Load() {
		d.track.requestKeyframe(target) // a joining subscriber needs a keyframe
	}
	return *chosen, nil
}

// Unbind is called by Pion when the track is removed or the PC closes.
func (d *DownTrack) Unbind(webrtc.TrackLocalContext) error {
	d.mu.Lock()
	d.bound = false
	ssrc := d.ssrc
	d.mu.Unlock()
	d.sub.sub.unregister(ssrc, d)
	return nil
}

// onConnected requests the start keyframe once the subscriber's transport is up.
func (d *DownTrack) onConnected() {
	d.mu.Lock()
	bound, target := d.bound, d.target
	d.mu.Unlock()
	if bound {
		d.track.requestKeyframe(target)
	}
}

// setTarget switches to another simulcast layer at its next keyframe.
func (d *DownTrack) setTarget(idx int) {
	d.mu.Lock()
	changed := d.target != idx
	d.target = idx
	d.mu.Unlock()
	if changed {
		d.track.requestKeyframe(idx)
	}
}

// writeRTP forwards one packet: select by layer, wait for keyframes,
// rewrite SSRC/PT/SN/TS, drop all header extensions but our own TWCC
// sequence number, remember it for NACK, send. It allocates nothing.
func (d *DownTrack) writeRTP(ep *extPacket) {
	if d.closed.Load() || !d.sub.subConnected.Load() {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.bound {
		return
	}
	if d.track.video && d.current != d.target && ep.keyframe {
		switch {
		case ep.layer == d.target:
			// Switch (or start) at a keyframe of the wanted layer.
			d.mung.startSegment(ep.extSN, ep.extTS, ep.arrival, d.clockRate)
			d.current = d.target
		case d.current < 0 && ep.layer < d.target && d.track.layers[d.target].buf.Load() == nil:
			// Nothing forwarded yet and the wanted layer has not
			// started arriving at all: begin with a lower layer that
			// has, and move up at the wanted layer's first keyframe.
			// (When it is arriving, its keyframe was requested; wait.)
			d.mung.startSegment(ep.extSN, ep.extTS, ep.arrival, d.clockRate)
			d.current = ep.layer
		}
	} else if d.track.video && d.current < 0 {
		d.sub.e.metrics.keyframeWaitDrops.Inc()
		return
	} else if !d.track.video && d.current < 0 {
		d.mung.startSegment(ep.extSN, ep.extTS, ep.arrival, d.clockRate)
		d.current = ep.layer
	}
	if ep.layer != d.current {
		return
	}
	if len(ep.payload) == 0 {
		d.mung.skip(ep.extSN)
		return
	}
	outSN, outTS, ok := d.mung.update(ep.extSN, ep.extTS, ep.arrival)
	if !ok {
		return
	}
	h := &d.hdr
	h.Version = 2
	h.Padding = false
	h.Marker = ep.hdr.Marker
	h.PayloadType = d.pt
	h.SequenceNumber = uint16(outSN) //nolint:gosec // low 16 bits on the wire
	h.Timestamp = uint32(outTS)      //nolint:gosec // low 32 bits on the wire
	h.SSRC = d.ssrc
	h.CSRC = h.CSRC[:0]
	twccSN := d.stampTWCC(h, d.twccBuf[:])
	d.seq.push(outSN, ep.extSN, h.Timestamp, twccSN, ep.layer, h.Marker)
	if d.testDrop != nil && d.testDrop(h.SequenceNumber) {
		return
	}
	if _, err := d.writer.WriteRTP(h, ep.payload); err != nil {
		return
	}
	d.packets++
	d.octets += uint32(len(ep.payload)) //nolint:gosec // wraps by definition (RFC 3550 §6.4.1)
	m := d.sub.e.metrics
	m.packetsOut.Inc()
	m.bytesOut.Add(float64(len(ep.payload) + h.MarshalSize()))
}

// stampTWCC replaces all header extensions with the subscriber transport's
// transport-wide sequence number, if negotiated.
func (d *DownTrack) stampTWCC(h *rtp.Header, buf []byte) uint16 {
	h.Extension = false
	h.Extensions = h.Extensions[:0]
	h.ExtensionProfile = 0
	if d.twccID == 0 {
		return 0
	}
	sn := uint16(d.sub.sub.twccSeq.Add(1)) //nolint:gosec // 16-bit on the wire
	buf[0], buf[1] = byte(sn>>8), byte(sn)
	_ = h.SetExtension(d.twccID, buf)
	return sn
}

// handleRTCP processes feedback from the subscriber for this DownTrack.
func (d *DownTrack) handleRTCP(pkt rtcp.Packet, now int64) {
	switch p := pkt.(type) {
	case *rtcp.TransportLayerNack:
		for _, pair := range p.Nacks {
			pair.Range(func(sn uint16) bool {
				d.retransmit(sn, now)
				return true
			})
		}
	case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
		d.sub.e.metrics.plisIn.Inc()
		d.mu.Lock()
		layer := d.current
		if d.target != d.current {
			layer = d.target
		}
		d.mu.Unlock()
		d.track.requestKeyframe(layer)
	case *rtcp.ReceiverReport:
		d.handleReports(p.Reports, now)
	case *rtcp.SenderReport:
		d.handleReports(p.Reports, now)
	default:
	}
}

// handleReports derives RTT from LSR/DLSR (RFC 3550 §6.4.1) and keeps the
// last fraction lost.
func (d *DownTrack) handleReports(reports []rtcp.ReceptionReport, now int64) {
	for _, r := range reports {
		if r.SSRC != d.ssrc {
			continue
		}
		d.lossFrac.Store(uint32(r.FractionLost))
		if r.LastSenderReport == 0 {
			continue
		}
		mid := uint32(toNTP(now) >> 16) //nolint:gosec // middle 32 bits
		rtt := mid - r.LastSenderReport - r.Delay
		if rtt < 1<<31 {
			d.rtt.Store(int64(rtt) * int64(time.Second) / 65536)
		}
	}
}

// RTT returns the round-trip time to the subscriber from its receiver reports.
func (d *DownTrack) RTT() time.Duration { return time.Duration(d.rtt.Load()) }

func (d *DownTrack) nackRepeat() int64 {
	rtt := d.rtt.Load()
	if rtt == 0 {
		return int64(defaultNackRepeat)
	}
	return min(max(rtt, int64(minNackRepeat)), int64(maxNackRepeat))
}

// retransmit resends a NACKed packet from the publisher's ring on the
// primary SSRC (plain retransmission as RFC 4588 §1 describes; no RTX yet).
func (d *DownTrack) retransmit(sn uint16, now int64) {
	m := d.sub.e.metrics
	m.nacksIn.Inc()
	d.mu.Lock()
	e, ok := d.seq.nack(sn, now, d.nackRepeat())
	ssrc, pt, writer, twccID := d.ssrc, d.pt, d.writer, d.twccID
	d.mu.Unlock()
	if !ok || writer == nil || int(e.layer) >= len(d.track.layers) {
		m.retransmitsSuppressed.Inc()
		return
	}
	buf := d.track.layers[e.layer].buf.Load()
	if buf == nil {
		m.retransmitsSuppressed.Inc()
		return
	}
	d.rtxMu.Lock()
	defer d.rtxMu.Unlock()
	_, hl, pl, ok := buf.copyPacket(e.inSN, d.rtxBuf[:])
	if !ok {
		m.retransmitsSuppressed.Inc()
		return
	}
	h := &d.rtxHdr
	h.Version = 2
	h.Marker = e.marker
	h.PayloadType = pt
	h.SequenceNumber = sn
	h.Timestamp = e.outTS
	h.SSRC = ssrc
	h.Extension, h.Extensions = false, h.Extensions[:0]
	// The retransmission must be byte-identical to the original: same SSRC
	// and SN means the same SRTP index, so any header change (e.g. a new
	// transport-wide SN) would reuse an AEAD-GCM nonce for different
	// authenticated data (RFC 7714 §8.1). Hence the original TWCC SN.
	if twccID != 0 {
		d.rtxTWCC[0], d.rtxTWCC[1] = byte(e.twccSN>>8), byte(e.twccSN)
		_ = h.SetExtension(twccID, d.rtxTWCC[:])
	}
	if _, err := writer.WriteRTP(h, d.rtxBuf[hl:hl+pl]); err == nil {
		m.retransmits.Inc()
	}
}

// senderReport builds an RFC 3550 §6.4.1 sender report. The NTP↔RTP
// mapping is the publisher's (translated by the timestamp offset), so that
// audio and video of one publisher stay synchronised at the subscriber;
// before the publisher's first SR it is extrapolated from the wall clock.
func (d *DownTrack) senderReport(now int64) (*rtcp.SenderReport, bool) {
	d.mu.Lock()
	if !d.bound || d.current < 0 || !d.mung.started {
		d.mu.Unlock()
		return nil, false
	}
	layer, tsOff, lastTS, lastWall := d.current, d.mung.tsOff, d.mung.lastOutTS, d.mung.lastWall
	ssrc, packets, octets, clock := d.ssrc, d.packets, d.octets, uint64(d.clockRate)
	d.mu.Unlock()

	ntp, rtpTS := toNTP(now), uint32(lastTS+uint64(max(now-lastWall, 0))*clock/1e9) //nolint:gosec // wire width
	if buf := d.track.layers[layer].buf.Load(); buf != nil {
		if srNTP, srRTP, srRecv, ok := buf.senderClock(); ok {
			elapsed := max(now-srRecv, 0)
			ntp = srNTP + nsToNTPDuration(elapsed)
			rtpTS = srRTP + uint32(uint64(elapsed)*clock/1e9) - uint32(tsOff) //nolint:gosec // modulo 2^32
		}
	}
	return &rtcp.SenderReport{SSRC: ssrc, NTPTime: ntp, RTPTime: rtpTS, PacketCount: packets, OctetCount: octets}, true
}

// toNTP converts Unix nanoseconds to a 64-bit NTP timestamp (RFC 5905 §6).
func toNTP(unixNano int64) uint64 {
	const ntpEpochOffset = 2208988800             // seconds from 1900 to 1970
	secs := uint64(unixNano/1e9) + ntpEpochOffset //nolint:gosec // after 1970
	frac := uint64(unixNano%1e9) << 32 / 1e9      //nolint:gosec // < 2^32
	return secs<<32 | frac
}

// nsToNTPDuration converts a non-negative duration in ns to 32.32 fixed point.
func nsToNTPDuration(ns int64) uint64 {
	return uint64(ns/1e9)<<32 | uint64(ns%1e9)<<32/1e9 //nolint:gosec // ns >= 0
}
