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

func TestSimulcastLayerSwitch(t *testing.T) {
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{metrics: m}
	owner := &Peer{id: "pub", e: e}
	tr := newPublishedTrack(owner, protocol.TrackInfo{TrackID: "v", Kind: protocol.KindVideo, Layers: []string{"q", "h", "f"}},
		webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000})
	var plis []uint32
	tr.sendPLI = func(ssrc uint32) { plis = append(plis, ssrc) }
	pt := &pubTransport{e: e}
	bufs := make([]*buffer, 3)
	for i := range bufs {
		bufs[i] = newBuffer(pt, uint32(100+i))
		tr.layers[i].buf.Store(bufs[i])
		tr.layers[i].ssrc.Store(uint32(100 + i))
		bufs[i].bind(bindParams{track: tr, layer: i, video: true, clockRate: 90000, codec: codecVP8})
	}
	sub := &Peer{id: "sub", e: e, sub: newSubTransport()}
	sub.subConnected.Store(true)
	dt := newDownTrack(tr, sub)
	w := &recordingWriter{}
	dt.bound, dt.ssrc, dt.pt, dt.writer = true, 7777, 96, w
	tr.addDownTrack(dt)
	if dt.target != 2 {
		t.Fatalf("default target %d, want highest layer 2", dt.target)
	}

	// Each layer has its own SN and TS space; frame k at 30 fps.
	sn := []uint16{65000, 10, 30000}
	ts := []uint32{4_000_000_000, 1000, 77}
	send := func(key map[int]bool) { // one frame on every layer, processed inline
		for l := range 3 {
			p := make([]byte, 40)
			p[0] = 0x10
			if !key[l] {
				p[1] = 0x01
			}
			p[2] = byte('0' + l)
			h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: sn[l], Timestamp: ts[l], SSRC: uint32(100 + l), Marker: true}
			if err := h.SetExtension(5, []byte{1, 2}); err != nil {
				t.Fatal(err)
			}
			raw, err := (&rtp.Packet{Header: h, Payload: p}).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			_, _ = bufs[l].Write(raw)
			sn[l]++
			ts[l] += 3000
		}
	}
	send(nil)                            // no keyframe: nothing forwarded
	send(map[int]bool{0: true, 2: true}) // f keyframe starts the DownTrack
	send(nil)
	if len(w.sns) != 2 || w.marks[0] != '2' || w.marks[1] != '2' {
		t.Fatalf("before switch: %q", w.marks)
	}
	dt.setTarget(0)
	if len(plis) != 1 || plis[0] != 100 {
		t.Fatalf("switch PLI %v, want [100]", plis)
	}
	send(nil)                   // still f until q has a keyframe
	send(map[int]bool{0: true}) // switch at q keyframe
	send(nil)
	if want := "22200"; string(w.marks) != want { // q's keyframe (frame 4) is sent before f's frame 4
		t.Fatalf("layers forwarded %q, want %q", w.marks, want)
	}
	for i := 1; i < len(w.sns); i++ {
		if w.sns[i] != w.sns[i-1]+1 {
			t.Fatalf("SN not continuous: %v", w.sns)
		}
		if w.tss[i] == w.tss[i-1] || w.tss[i]-w.tss[i-1] > 1<<31 {
			t.Fatalf("TS not increasing: %v", w.tss)
		}
		if w.ssrcs[i] != 7777 || w.extLen[i] != 0 {
			t.Fatalf("SSRC %d / %d extensions forwarded", w.ssrcs[i], w.extLen[i])
		}
	}
}
