package sfu

import (
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

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

// The rig runs inside a synctest bubble: time.Sleep moves the fake clock
// that stamps arrivals and throttles PLIs, so pauses take no real time.

func TestSimulcastLayerSwitch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newSimulcastRig(t, [3]bool{true, true, true})
		dt, w := r.dt, r.w
		if dt.target != 2 {
			t.Fatalf("default target %d, want highest layer 2", dt.target)
		}
		send := r.send
		send(nil) // no keyframe: nothing forwarded
		// The first packets of q and h do not count as streaming, so
		// only f, the wanted layer, was asked for a keyframe.
		if want := []uint32{102}; !slices.Equal(r.plis, want) {
			t.Fatalf("start PLIs %v, want %v", r.plis, want)
		}
		send(map[int]bool{0: true, 2: true}) // f keyframe starts the DownTrack
		send(nil)
		if len(w.sns) != 2 || w.marks[0] != '2' || w.marks[1] != '2' {
			t.Fatalf("before switch: %q", w.marks)
		}
		time.Sleep(pliThrottle)
		r.plis = nil
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
	})
}

// TestSimulcastStartsLowUntilTopLayerArrives: when the wanted (highest)
// layer has not started yet, a new subscriber begins on a lower layer
// rather than seeing nothing, and moves up at the top layer's first
// keyframe with continuous SN/TS.
func TestSimulcastStartsLowUntilTopLayerArrives(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
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
	})
}

// frames sends n frames 33 ms apart on the given layers (a keyframe on
// each layer in key for the first of them) and returns the layers
// forwarded meanwhile.
func (r *simulcastRig) frames(n int, on []int, key map[int]bool) string {
	before := len(r.w.marks)
	for i := range n {
		if i > 0 {
			key = nil
		}
		r.sendOn(on, key)
		time.Sleep(33 * time.Millisecond)
	}
	return string(r.w.marks[before:])
}

// sendOn is send restricted to some layers: the others are paused, as
// Chromium pauses upper layers when its bandwidth estimate drops.
func (r *simulcastRig) sendOn(on []int, key map[int]bool) {
	saved := slices.Clone(r.bufs)
	for l := range r.bufs {
		if !slices.Contains(on, l) {
			r.bufs[l] = nil
		}
	}
	r.send(key)
	copy(r.bufs, saved)
}

// TestSimulcastFallsBackFromPausedLayer: when the forwarded top layer
// stops while the lower ones keep streaming, the subscriber moves to the
// highest live lower layer at its keyframe (asked for by PLI) instead of
// freezing, and returns to the top at its keyframe when it resumes; SN and
// TS stay continuous throughout.
func TestSimulcastFallsBackFromPausedLayer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newSimulcastRig(t, [3]bool{true, true, true})
		all := []int{0, 1, 2}
		if got := r.frames(10, all, map[int]bool{0: true, 1: true, 2: true}); got != strings.Repeat("2", 10) {
			t.Fatalf("steady: %q", got)
		}
		r.plis = nil

		// f pauses (its last frame came 33 ms ago): for the rest of
		// layerStallTimeout nothing changes (no keyframe
		// request, the subscriber keeps waiting on f) ...
		stallFrames := int(layerStallTimeout / (33 * time.Millisecond))
		if got := r.frames(stallFrames, []int{0, 1}, nil); got != "" {
			t.Fatalf("during the first second of the pause: forwarded %q", got)
		}
		if len(r.plis) != 0 {
			t.Fatalf("PLIs before the stall timeout: %v", r.plis)
		}
		// ... then h is the best live layer: a keyframe is requested on it
		// and the subscriber switches at it.
		if got := r.frames(3, []int{0, 1}, nil); got != "" || !slices.Equal(r.plis, []uint32{101}) {
			t.Fatalf("after the timeout: forwarded %q, PLIs %v; want nothing yet and [101]", got, r.plis)
		}
		if got := r.frames(5, []int{0, 1}, map[int]bool{1: true}); got != "11111" {
			t.Fatalf("fallback: forwarded %q, want h", got)
		}
		// f resumes with an interframe (stay on h, ask f for a keyframe),
		// then its keyframe (switch up).
		r.plis = nil
		time.Sleep(pliThrottle)
		if got := r.frames(1, all, nil); got != "1" || !slices.Equal(r.plis, []uint32{102}) {
			t.Fatalf("f resumes: forwarded %q, PLIs %v; want h and [102]", got, r.plis)
		}
		if got := r.frames(3, all, map[int]bool{2: true}); got != "1222" { // h's frame, then f's keyframe and two more
			t.Fatalf("recovery: forwarded %q, want h then f", got)
		}
		r.assertContinuous()
	})
}

// TestSimulcastSparseLayersAreNotStalled: a screen share that sends one
// frame every few seconds on every layer leaves all layers silent for
// longer than layerStallTimeout; the subscriber must stay on the top
// layer and not ask for keyframes on lower ones.
func TestSimulcastSparseLayersAreNotStalled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newSimulcastRig(t, [3]bool{true, true, true})
		r.send(map[int]bool{0: true, 1: true, 2: true})
		time.Sleep(pliThrottle)
		r.plis = nil
		for range 4 {
			time.Sleep(3 * time.Second)
			r.send(nil)
		}
		if got := string(r.w.marks); got != "22222" || len(r.plis) != 0 {
			t.Fatalf("forwarded %q with PLIs %v, want f throughout and none", got, r.plis)
		}
	})
}
