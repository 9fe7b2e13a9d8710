package parley

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/webrtc/v4/pkg/media"
)

const mediaDir = "../../testdata/media/"

// playSeconds reads samples for d of (fake) time and returns them.
func playSeconds(t *testing.T, src SampleSource, d time.Duration) []media.Sample {
	t.Helper()
	var out []media.Sample
	start := time.Now()
	for time.Since(start) < d {
		s, err := src.NextSample(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestIVFSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src, err := NewIVFSource(mediaDir + "vp8.ivf")
		if err != nil {
			t.Fatal(err)
		}
		// 10 s of a 5 s, 15 fps clip: it loops.
		samples := playSeconds(t, src, 10*time.Second)
		if n := len(samples); n < 149 || n > 153 {
			t.Errorf("%d samples in 10 s, want ~150", n)
		}
		keys := 0
		for _, s := range samples {
			if d := s.Duration; d < 66*time.Millisecond || d > 67*time.Millisecond {
				t.Fatalf("duration %v", d)
			}
			if w, h, ok := ParseVP8KeyframeSize(s.Data); ok {
				keys++
				if w != 320 || h != 240 {
					t.Errorf("keyframe %dx%d", w, h)
				}
			}
		}
		if keys < 9 || keys > 11 {
			t.Errorf("%d keyframes in 10 s, want ~10", keys)
		}
	})
}

func TestOggSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src, err := NewOggSource(mediaDir + "opus.ogg")
		if err != nil {
			t.Fatal(err)
		}
		samples := playSeconds(t, src, 6*time.Second)
		if n := len(samples); n < 295 || n > 305 {
			t.Errorf("%d samples in 6 s, want ~300 (20 ms)", n)
		}
		for _, s := range samples {
			if s.Duration != 20*time.Millisecond || len(s.Data) == 0 {
				t.Fatalf("sample %v, %d bytes", s.Duration, len(s.Data))
			}
		}
	})
}

func TestH264Source(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src, err := NewH264Source(mediaDir+"h264.h264", 0)
		if err != nil {
			t.Fatal(err)
		}
		samples := playSeconds(t, src, 6*time.Second)
		if n := len(samples); n < 179 || n > 183 {
			t.Errorf("%d access units in 6 s, want ~180", n)
		}
		idr := 0
		for _, s := range samples {
			for i := 0; i+4 < len(s.Data); i++ {
				if s.Data[i] == 0 && s.Data[i+1] == 0 && s.Data[i+2] == 0 && s.Data[i+3] == 1 && s.Data[i+4]&0x1f == 5 {
					idr++
					break
				}
			}
		}
		if idr < 5 {
			t.Errorf("%d IDR access units in 6 s", idr)
		}
	})
}

func TestFileSourceErrors(t *testing.T) {
	if _, err := NewIVFSource(mediaDir + "missing.ivf"); err == nil {
		t.Error("missing file accepted")
	}
	if _, err := NewIVFSource(mediaDir + "opus.ogg"); err == nil {
		t.Error("ogg accepted as IVF")
	}
}
