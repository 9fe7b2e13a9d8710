package sfu

import (
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
	"github.com/pion/transport/v5/packetio"
)

// rtcpBuffer receives the decrypted RTCP packets addressed to one SSRC and
// dispatches them inline. Nothing reads it; Read blocks until Close.
type rtcpBuffer struct {
	ssrc   uint32
	handle func(ssrc uint32, pkt rtcp.Packet, now int64)
	once   sync.Once
	done   chan struct{}
}

func newRTCPBuffer(ssrc uint32, handle func(uint32, rtcp.Packet, int64)) *rtcpBuffer {
	return &rtcpBuffer{ssrc: ssrc, handle: handle, done: make(chan struct{})}
}

func (r *rtcpBuffer) Write(b []byte) (int, error) {
	select {
	case <-r.done:
		return len(b), nil
	default:
	}
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		return len(b), nil //nolint:nilerr // malformed RTCP is dropped, not fatal to the session
	}
	now := time.Now().UnixNano()
	for _, p := range pkts {
		r.handle(r.ssrc, p, now)
	}
	return len(b), nil
}

func (r *rtcpBuffer) Read([]byte) (int, error) {
	<-r.done
	return 0, io.EOF
}

func (r *rtcpBuffer) Close() error {
	r.once.Do(func() { close(r.done) })
	return nil
}

// pubTransport is the SFU side of a publisher PeerConnection.
type pubTransport struct {
	e          *Engine
	senderSSRC uint32

	mu      sync.Mutex
	buffers map[uint32]*buffer

	twccMu    sync.Mutex
	twcc      *twcc.Recorder
	twccStart time.Time
}

func newPubTransport(e *Engine) *pubTransport {
	ssrc := rand.Uint32() //nolint:gosec // an RTCP sender SSRC, not a secret
	return &pubTransport{
		e: e, senderSSRC: ssrc, buffers: map[uint32]*buffer{},
		twcc: twcc.NewRecorder(ssrc), twccStart: time.Now(),
	}
}

// factory is the SettingEngine.BufferFactory of the publisher PC.
func (t *pubTransport) factory(kind packetio.BufferPacketType, ssrc uint32) io.ReadWriteCloser {
	if kind == packetio.RTCPBufferPacket {
		return newRTCPBuffer(ssrc, t.handleRTCP)
	}
	b := newBuffer(t, ssrc)
	t.mu.Lock()
	t.buffers[ssrc] = b
	t.mu.Unlock()
	return b
}

func (t *pubTransport) buffer(ssrc uint32) *buffer {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buffers[ssrc]
}

// handleRTCP takes the publisher's sender reports (RFC 3550 §6.4.1).
func (t *pubTransport) handleRTCP(ssrc uint32, pkt rtcp.Packet, now int64) {
	sr, ok := pkt.(*rtcp.SenderReport)
	if !ok || sr.SSRC != ssrc {
		return
	}
	if b := t.buffer(ssrc); b != nil {
		b.handleSR(sr, now)
	}
}

// recordTWCC notes a packet arrival for transport-wide congestion control
// feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3).
func (t *pubTransport) recordTWCC(ssrc uint32, seq uint16, arrival int64) {
	t.twccMu.Lock()
	t.twcc.Record(ssrc, seq, (arrival-t.twccStart.UnixNano())/1000)
	t.twccMu.Unlock()
}

func (t *pubTransport) twccFeedback() []rtcp.Packet {
	t.twccMu.Lock()
	defer t.twccMu.Unlock()
	if t.twcc.PacketsHeld() == 0 {
		return nil
	}
	return t.twcc.BuildFeedbackPacket()
}

// subTransport is the SFU side of a subscriber PeerConnection.
type subTransport struct {
	mu      sync.RWMutex
	dts     map[uint32]*DownTrack
	twccSeq atomic.Uint32 // transport-wide sequence number of this PC
}

func newSubTransport() *subTransport { return &subTransport{dts: map[uint32]*DownTrack{}} }

func (t *subTransport) factory(kind packetio.BufferPacketType, ssrc uint32) io.ReadWriteCloser {
	if kind == packetio.RTCPBufferPacket {
		return newRTCPBuffer(ssrc, t.handleRTCP)
	}
	return newBuffer(nil, ssrc) // subscribers send no media; stays unbound
}

func (t *subTransport) register(ssrc uint32, dt *DownTrack) {
	t.mu.Lock()
	t.dts[ssrc] = dt
	t.mu.Unlock()
}

func (t *subTransport) unregister(ssrc uint32, dt *DownTrack) {
	t.mu.Lock()
	if t.dts[ssrc] == dt {
		delete(t.dts, ssrc)
	}
	t.mu.Unlock()
}

func (t *subTransport) handleRTCP(ssrc uint32, pkt rtcp.Packet, now int64) {
	t.mu.RLock()
	dt := t.dts[ssrc]
	t.mu.RUnlock()
	if dt != nil {
		dt.handleRTCP(pkt, now)
	}
}

func (t *subTransport) downTracks() []*DownTrack {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]*DownTrack, 0, len(t.dts))
	for _, dt := range t.dts {
		out = append(out, dt)
	}
	return out
}
