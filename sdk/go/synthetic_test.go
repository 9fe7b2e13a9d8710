package parley

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/rtp/codecs"

	"github.com/parley-rtc/parley/protocol"
)

func TestSyntheticStampRoundTrip(t *testing.T) {
	now := time.Unix(1_700_000_000, 123456789)
	for _, codec := range []string{CodecVP8, CodecH264, CodecOpus} {
		kind := protocol.KindVideo
		if codec == CodecOpus {
			kind = protocol.KindAudio
		}
		src, err := NewSyntheticSource(SyntheticOptions{Kind: kind, Codec: codec, FrameBytes: 200})
		if err != nil {
			t.Fatal(err)
		}
		// Counters with zero runs exercise H.264 emulation prevention.
		for _, n := range []uint64{0, 1, 3, 0x0000010000000003, 1<<64 - 1} {
			for _, key := range []bool{true, false} {
				frame := src.frame(now, n, key)
				if len(frame) != 200 {
					t.Errorf("%s: frame is %d bytes", codec, len(frame))
				}
				sent, got, ok := ParseSyntheticStamp(frame)
				if !ok || got != n || !sent.Equal(now) {
					t.Errorf("%s key=%v n=%d: got %v %d %v", codec, key, n, sent, got, ok)
				}
			}
		}
	}
	if _, _, ok := ParseSyntheticStamp([]byte{1, 2, 3}); ok {
		t.Error("stamp found in garbage")
	}
}

// The stamp must survive the packetizers the publisher uses.
func TestSyntheticStampThroughPacketizers(t *testing.T) {
	now := time.Unix(1_700_000_000, 5)
	vp8, _ := NewSyntheticSource(SyntheticOptions{Codec: CodecVP8, FrameBytes: 3000})
	frame := vp8.frame(now, 1, true)
	pkts := (&codecs.VP8Payloader{EnablePictureID: true}).Payload(1200, frame)
	if _, n, ok := ParseSyntheticStamp(pkts[0]); !ok || n != 1 {
		t.Errorf("VP8 first packet: %v %d", ok, n)
	}
	if body, start := vp8FramePayload(pkts[0]); !start {
		t.Error("VP8 start bit missing")
	} else if w, h, ok := ParseVP8KeyframeSize(body); !ok || w != 320 || h != 240 {
		t.Errorf("VP8 keyframe size %dx%d %v", w, h, ok)
	}
	h264, _ := NewSyntheticSource(SyntheticOptions{Codec: CodecH264, FrameBytes: 3000})
	frame = h264.frame(now, 1, true) // counter 00…01 would be a start code unescaped
	pkts = (&codecs.H264Payloader{}).Payload(1200, frame)
	if _, n, ok := ParseSyntheticStamp(pkts[0]); !ok || n != 1 {
		t.Errorf("H.264 first packet: %v %d (%d packets)", ok, n, len(pkts))
	}
}

func TestSyntheticPacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src, err := NewSyntheticSource(SyntheticOptions{FrameRate: 25, KeyframeInterval: 5})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		start := time.Now()
		keys := 0
		for i := range 50 {
			s, err := src.NextSample(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if s.Duration != 40*time.Millisecond {
				t.Fatalf("duration %v", s.Duration)
			}
			if want := time.Duration(i) * 40 * time.Millisecond; time.Since(start) != want {
				t.Fatalf("sample %d at %v, want %v", i, time.Since(start), want)
			}
			if s.Data[0]&1 == 0 {
				keys++
			}
		}
		if keys != 10 {
			t.Errorf("%d keyframes in 50 frames, want 10", keys)
		}
		src.RequestKeyframe()
		if s, _ := src.NextSample(ctx); s.Data[0]&1 != 0 {
			t.Error("requested keyframe not produced")
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := src.NextSample(cctx); err == nil {
			t.Error("cancelled NextSample succeeded")
		}
	})
}

func TestSyntheticRejectsBadCodec(t *testing.T) {
	if _, err := NewSyntheticSource(SyntheticOptions{Kind: protocol.KindAudio, Codec: CodecVP8}); err == nil {
		t.Error("audio VP8 accepted")
	}
}
