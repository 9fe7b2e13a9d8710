package sfu

import (
	"testing"

	"github.com/parley-rtc/parley/protocol"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// recordingWriter remembers the headers and first payload bytes written.
type recordingWriter struct {
	sns    []uint16
	tss    []uint32
	marks  []byte // payload[2] identifies the layer in this test
	ssrcs  []uint32
	extLen []int
}

func (w *recordingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.sns = append(w.sns, h.SequenceNumber)
	w.tss = append(w.tss, h.Timestamp)
	w.marks = append(w.marks, payload[2])
	w.ssrcs = append(w.ssrcs, h.SSRC)
	w.extLen = append(w.extLen, len(h.Extensions))
	return len(payload), nil
}

func (w *recordingWriter) Write(b []byte) (int, error) { return len(b), nil }

// simulcastRig is a three-layer (q, h, f) VP8 track with one DownTrack,
// driven packet by packet through real buffers.
type simulcastRig struct {
	t    *testing.T
	tr   *PublishedTrack
	bufs []*buffer
	dt   *DownTrack
	w    *recordingWriter
	plis []uint32
	sn   []uint16
	ts   []uint32
}

// newSimulcastRig builds the rig; started[i] says whether layer i has
// begun arriving (has a bound buffer) when the DownTrack is created.
func newSimulcastRig(t *testing.T, started [3]bool) *simulcastRig {
	t.Helper()
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{metrics: m}
	owner := &Peer{id: "pub", e: e}
	r := &simulcastRig{t: t, w: &recordingWriter{}, bufs: make([]*buffer, 3),
		// Each layer has its own SN and TS space; frame k at 30 fps.
		sn: []uint16{65000, 10, 30000}, ts: []uint32{4_000_000_000, 1000, 77}}
	r.tr = newPublishedTrack(owner, protocol.TrackInfo{TrackID: "v", Kind: protocol.KindVideo, Layers: []string{"q", "h", "f"}},
		webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000})
	r.tr.sendPLI = func(ssrc uint32) { r.plis = append(r.plis, ssrc) }
	for i, on := range started {
		if on {
			r.start(i)
		}
	}
	sub := &Peer{id: "sub", e: e, sub: newSubTransport()}
	sub.subConnected.Store(true)
	r.dt = newDownTrack(r.tr, sub)
	r.dt.bound, r.dt.ssrc, r.dt.pt, r.dt.writer = true, 7777, 96, r.w
	r.tr.addDownTrack(r.dt)
	return r
}

// start makes layer i begin arriving.
func (r *simulcastRig) start(i int) {
	pt := &pubTransport{e: r.tr.owner.e}
	r.bufs[i] = newBuffer(pt, uint32(100+i))
	r.tr.layers[i].buf.Store(r.bufs[i])
	r.tr.layers[i].ssrc.Store(uint32(100 + i))
	r.bufs[i].bind(bindParams{track: r.tr, layer: i, video: true, clockRate: 90000, codec: codecVP8})
}

// send writes one frame on every started layer, processed inline;
// key names the layers whose frame is a keyframe.
func (r *simulcastRig) send(key map[int]bool) {
	for l := range 3 {
		if r.bufs[l] == nil {
			continue
		}
		p := make([]byte, 40)
		p[0] = 0x10
		if !key[l] {
			p[1] = 0x01
		}
		p[2] = byte('0' + l)
		h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: r.sn[l], Timestamp: r.ts[l], SSRC: uint32(100 + l), Marker: true}
		if err := h.SetExtension(5, []byte{1, 2}); err != nil {
			r.t.Fatal(err)
		}
		raw, err := (&rtp.Packet{Header: h, Payload: p}).Marshal()
		if err != nil {
			r.t.Fatal(err)
		}
		_, _ = r.bufs[l].Write(raw)
		r.sn[l]++
		r.ts[l] += 3000
	}
}

// assertContinuous checks the subscriber saw one SSRC with continuous SN,
// increasing TS and no forwarded header extensions.
func (r *simulcastRig) assertContinuous() {
	w := r.w
	for i := 1; i < len(w.sns); i++ {
		if w.sns[i] != w.sns[i-1]+1 {
			r.t.Fatalf("SN not continuous: %v", w.sns)
		}
		if w.tss[i] == w.tss[i-1] || w.tss[i]-w.tss[i-1] > 1<<31 {
			r.t.Fatalf("TS not increasing: %v", w.tss)
		}
		if w.ssrcs[i] != 7777 || w.extLen[i] != 0 {
			r.t.Fatalf("SSRC %d / %d extensions forwarded", w.ssrcs[i], w.extLen[i])
		}
	}
}

func TestSimulcastLayerSwitch(t *testing.T) {
	r := newSimulcastRig(t, [3]bool{true, true, true})
	dt, w := r.dt, r.w
	if dt.target != 2 {
		t.Fatalf("default target %d, want highest layer 2", dt.target)
	}
	send := r.send
	send(nil)                            // no keyframe: nothing forwarded
	send(map[int]bool{0: true, 2: true}) // f keyframe starts the DownTrack
	send(nil)
	if len(w.sns) != 2 || w.marks[0] != '2' || w.marks[1] != '2' {
		t.Fatalf("before switch: %q", w.marks)
	}
	dt.setTarget(0)
	if len(r.plis) != 1 || r.plis[0] != 100 {
		t.Fatalf("switch PLI %v, want [100]", r.plis)
	}
	send(nil)                   // still f until q has a keyframe
	send(map[int]bool{0: true}) // switch at q keyframe
	send(nil)
	if want := "22200"; string(w.marks) != want { // q's keyframe (frame 4) is sent before f's frame 4
		t.Fatalf("layers forwarded %q, want %q", w.marks, want)
	}
	r.assertContinuous()
}

// TestSimulcastStartsLowUntilTopLayerArrives: when the wanted (highest)
// layer has not started yet, a new subscriber begins on a lower layer
// rather than seeing nothing, and moves up at the top layer's first
// keyframe with continuous SN/TS.
func TestSimulcastStartsLowUntilTopLayerArrives(t *testing.T) {
	r := newSimulcastRig(t, [3]bool{true, false, false})
	r.send(nil)                   // q interframe: still waiting
	r.send(map[int]bool{0: true}) // q keyframe: start on q
	r.send(nil)
	r.start(2)
	r.send(nil)                   // f interframe: stay on q
	r.send(map[int]bool{2: true}) // f keyframe: move up
	r.send(nil)
	if want := "000022"; string(r.w.marks) != want {
		t.Fatalf("layers forwarded %q, want %q", r.w.marks, want)
	}
	r.assertContinuous()
}
