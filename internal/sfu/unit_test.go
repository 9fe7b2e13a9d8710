package sfu

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/parley-rtc/parley/protocol"
	"github.com/pion/webrtc/v4"
)

func TestSeqUnwrap(t *testing.T) {
	var u seqUnwrapper
	base, _ := u.unwrap(65534)
	steps := []struct {
		sn     uint16
		want   int64 // relative to base
		newest bool
	}{
		{65535, 1, true}, {0, 2, true}, {1, 3, true}, {65535, 1, false}, {5, 7, true}, {3, 5, false},
	}
	for i, s := range steps {
		got, newest := u.unwrap(s.sn)
		if int64(got-base) != s.want || newest != s.newest {
			t.Fatalf("step %d sn %d: got %d newest %v, want %d %v", i, s.sn, int64(got-base), newest, s.want, s.newest)
		}
	}
	// Many wraps forward.
	var w seqUnwrapper
	first, _ := w.unwrap(0)
	var last uint64
	for i := 1; i <= 3*65536; i++ {
		last, _ = w.unwrap(uint16(i))
	}
	if last-first != 3*65536 {
		t.Fatalf("after 3 wraps: %d", last-first)
	}
}

func TestTSUnwrap(t *testing.T) {
	var u tsUnwrapper
	a := u.unwrap(0xFFFFFF00)
	b := u.unwrap(0x00000100)
	if b-a != 0x200 {
		t.Fatalf("ts wrap: %d", b-a)
	}
	if c := u.unwrap(0xFFFFFF80); c-a != 0x80 {
		t.Fatalf("old ts: %d", int64(c-a))
	}
}

func TestMungerLayerSwitch(t *testing.T) {
	var m munger
	const clock = 90000
	now := int64(1_000_000_000)
	// Layer A: SN 1000.., TS 5000.. (3000 per 33 ms frame).
	m.startSegment(1000, 5000, now, clock)
	var outSN, outTS uint64
	for i := uint64(0); i < 10; i++ {
		var ok bool
		outSN, outTS, ok = m.update(1000+i, 5000+i/2*3000, now+int64(i)*16_000_000)
		if !ok {
			t.Fatal("update refused")
		}
	}
	lastSN, lastTS := outSN, outTS
	// Switch to layer B with unrelated SN/TS 100 ms later, near wrap of 16 bits.
	switchAt := now + 9*16_000_000 + 100_000_000
	m.startSegment(70000, 1<<33, switchAt, clock)
	sn, ts, ok := m.update(70000, 1<<33, switchAt)
	if !ok || sn != lastSN+1 {
		t.Fatalf("switch SN %d, want %d", sn, lastSN+1)
	}
	if ts <= lastTS || ts-lastTS != 9000 { // 100 ms at 90 kHz
		t.Fatalf("switch TS delta %d, want 9000", ts-lastTS)
	}
	// A reordered packet from before the switch point is dropped.
	if _, _, ok := m.update(69999, 1<<33, switchAt); ok {
		t.Fatal("packet before segment start forwarded")
	}
	// Padding in sequence shifts the offset: no gap.
	m.skip(70001)
	sn2, _, _ := m.update(70002, 1<<33+3000, switchAt+33_000_000)
	if sn2 != sn+1 {
		t.Fatalf("after padding SN %d, want %d", sn2, sn+1)
	}
}

func TestSequencerNACK(t *testing.T) {
	s := newSequencer(8)
	for out := uint64(65530); out < 65540; out++ { // crosses a 16-bit wrap
		s.push(out, out+100, uint32(out)*10, uint16(out), 1, false)
	}
	now := int64(time.Second)
	e, ok := s.nack(low16(65538), now, int64(50*time.Millisecond))
	if !ok || e.inSN != 65638 || e.layer != 1 {
		t.Fatalf("nack 65538: %+v %v", e, ok)
	}
	if _, ok := s.nack(low16(65538), now+int64(10*time.Millisecond), int64(50*time.Millisecond)); ok {
		t.Fatal("repeat within window retransmitted")
	}
	if _, ok := s.nack(low16(65538), now+int64(60*time.Millisecond), int64(50*time.Millisecond)); !ok {
		t.Fatal("repeat after window refused")
	}
	if _, ok := s.nack(low16(65531), now, 0); ok { // evicted: window is 8
		t.Fatal("evicted entry retransmitted")
	}
	if _, ok := s.nack(low16(65545), now, 0); ok {
		t.Fatal("future SN retransmitted")
	}
	for i := range maxRetransmits + 2 {
		_, ok := s.nack(low16(65539), now+int64(i)*int64(time.Second), 0)
		if ok != (i < maxRetransmits) {
			t.Fatalf("retransmit %d: ok=%v", i, ok)
		}
	}
}

func TestPLIThrottle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		owner := &Peer{id: "p"}
		tr := newPublishedTrack(owner, protocol.TrackInfo{TrackID: "v", Kind: protocol.KindVideo, Layers: []string{"q", "h", "f"}},
			webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000})
		var sent []uint32
		tr.sendPLI = func(ssrc uint32) { sent = append(sent, ssrc) }
		for i, l := range tr.layers {
			l.ssrc.Store(uint32(100 + i))
		}
		for range 10 { // ten subscribers ask at once: one PLI
			tr.requestKeyframe(2)
		}
		tr.requestKeyframe(0) // another layer has its own throttle
		time.Sleep(400 * time.Millisecond)
		tr.requestKeyframe(2) // still throttled
		time.Sleep(101 * time.Millisecond)
		tr.requestKeyframe(2)
		want := []uint32{102, 100, 102}
		if len(sent) != len(want) {
			t.Fatalf("PLIs %v, want %v", sent, want)
		}
		for i := range want {
			if sent[i] != want[i] {
				t.Fatalf("PLIs %v, want %v", sent, want)
			}
		}
	})
}

func TestKeyframeDetection(t *testing.T) {
	cases := []struct {
		name string
		f    func([]byte) bool
		p    []byte
		want bool
	}{
		{"vp8 key", isVP8Keyframe, []byte{0x10, 0x00, 0x9d}, true},
		{"vp8 delta", isVP8Keyframe, []byte{0x10, 0x01}, false},
		{"vp8 continuation", isVP8Keyframe, []byte{0x00, 0x00}, false},
		{"vp8 key 15-bit picture id", isVP8Keyframe, []byte{0x90, 0x80, 0x81, 0x23, 0x00}, true},
		{"vp8 key 7-bit picture id + tl0 + tid", isVP8Keyframe, []byte{0x90, 0xE0, 0x05, 0x01, 0x20, 0x00}, true},
		{"vp8 delta with ext", isVP8Keyframe, []byte{0x90, 0x80, 0x05, 0x01}, false},
		{"vp8 truncated", isVP8Keyframe, []byte{0x90}, false},
		{"h264 idr", isH264Keyframe, []byte{0x65, 0x88}, true},
		{"h264 sps", isH264Keyframe, []byte{0x67, 0x42}, true},
		{"h264 non-idr", isH264Keyframe, []byte{0x41, 0x9a}, false},
		{"h264 stap-a sps", isH264Keyframe, []byte{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}, true},
		{"h264 stap-a non-idr", isH264Keyframe, []byte{0x78, 0x00, 0x02, 0x41, 0x9a}, false},
		{"h264 fu-a idr start", isH264Keyframe, []byte{0x7c, 0x85, 0x88}, true},
		{"h264 fu-a idr middle", isH264Keyframe, []byte{0x7c, 0x05, 0x88}, false},
		{"h264 stap-a bad size", isH264Keyframe, []byte{0x78, 0x00, 0x09, 0x67}, false},
		{"empty", isH264Keyframe, nil, false},
	}
	for _, c := range cases {
		if got := c.f(c.p); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func FuzzKeyframe(f *testing.F) {
	f.Add([]byte{0x90, 0xE0, 0x05, 0x01, 0x20, 0x00})
	f.Add([]byte{0x78, 0x00, 0x02, 0x67, 0x42})
	f.Fuzz(func(_ *testing.T, p []byte) {
		_ = isVP8Keyframe(p)
		_ = isH264Keyframe(p)
	})
}

func low16(v uint64) uint16 { return uint16(v) }
