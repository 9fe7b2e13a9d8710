package sfu

import (
	"fmt"
	"testing"
	"time"

	"github.com/parley-rtc/parley/protocol"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// discardWriter stands in for the SRTP write stream: it marshals the header
// (as srtp does) and drops the packet.
type discardWriter struct{ buf []byte }

func (w *discardWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	n, err := h.MarshalTo(w.buf)
	return n + len(payload), err
}

func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// benchTrack builds a bound VP8 buffer with n started DownTracks.
func benchTrack(tb testing.TB, n int) (*buffer, *Engine) {
	tb.Helper()
	m, err := newMetrics(nil)
	if err != nil {
		tb.Fatal(err)
	}
	e := &Engine{metrics: m, pool: newFanoutPool(2)}
	owner := &Peer{id: "pub", e: e}
	tr := newPublishedTrack(owner, protocol.TrackInfo{TrackID: "v", Kind: protocol.KindVideo},
		webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000})
	tr.sendPLI = func(uint32) {}
	pt := &pubTransport{e: e, twcc: twcc.NewRecorder(1), twccStart: time.Now()}
	b := newBuffer(pt, 1234)
	tr.layers[0].buf.Store(b)
	tr.layers[0].ssrc.Store(1234)
	b.bind(bindParams{track: tr, layer: 0, video: true, clockRate: 90000, codec: codecVP8, twccID: 3})
	for i := range n {
		sub := &Peer{id: fmt.Sprint("s", i), e: e, sub: newSubTransport()}
		sub.subConnected.Store(true)
		dt := newDownTrack(tr, sub)
		dt.bound, dt.ssrc, dt.pt, dt.twccID = true, uint32(5000+i), 96, 1
		dt.writer = &discardWriter{buf: make([]byte, 64)}
		tr.addDownTrack(dt)
	}
	return b, e
}

// benchPacket is a 1,200-byte VP8 packet with a transport-wide CC extension.
func benchPacket(tb testing.TB, key bool) []byte {
	tb.Helper()
	h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 1, Timestamp: 1, SSRC: 1234}
	if err := h.SetExtension(3, []byte{0, 1}); err != nil {
		tb.Fatal(err)
	}
	payload := make([]byte, 1200-h.MarshalSize())
	payload[0] = 0x10
	if !key {
		payload[1] = 0x01
	}
	raw, err := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

func BenchmarkForward(b *testing.B) {
	for _, n := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("downtracks=%d", n), func(b *testing.B) {
			buf, e := benchTrack(b, n)
			defer e.pool.close()
			key := benchPacket(b, true)
			delta := benchPacket(b, false)
			_, _ = buf.Write(key)            // start every DownTrack
			sn, twccOff := uint16(1), 12+4+1 // TWCC value after header + one-byte ext header + id/len
			b.ReportAllocs()
			b.SetBytes(int64(len(delta)))
			b.ResetTimer()
			for range b.N {
				sn++
				delta[2], delta[3] = byte(sn>>8), byte(sn)
				delta[twccOff], delta[twccOff+1] = byte(sn>>8), byte(sn)
				_, _ = buf.Write(delta)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/pkt-out")
		})
	}
}

// TestForwardAllocs pins the zero-allocation forward path.
func TestForwardAllocs(t *testing.T) {
	for _, n := range []int{4, 40} {
		buf, e := benchTrack(t, n)
		key, delta := benchPacket(t, true), benchPacket(t, false)
		_, _ = buf.Write(key)
		sn := uint16(1)
		allocs := testing.AllocsPerRun(2000, func() {
			sn++
			delta[2], delta[3] = byte(sn>>8), byte(sn)
			delta[17], delta[18] = byte(sn>>8), byte(sn)
			_, _ = buf.Write(delta)
		})
		e.pool.close()
		if allocs != 0 {
			t.Errorf("%d downtracks: %v allocs per forwarded packet", n, allocs)
		}
	}
}
