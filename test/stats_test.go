package test

import (
	"testing"
	"time"

	"github.com/parley-rtc/parley/protocol"
	parley "github.com/parley-rtc/parley/sdk/go"
)

// TestStatisticsEveryTwoSeconds: over a real call the SDK reports TRTC
// onStatistics fields every 2 s (default interval) with the remote
// stream's true resolution (from the VP8 keyframes of the 320x240 test
// clip), frame rate near the clip's 15 fps, non-zero bitrates, no loss on
// loopback, and network quality Excellent.
func TestStatisticsEveryTwoSeconds(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 60*time.Second)
	aliceStats := make(chan parley.Statistics, 16)
	bobStats := make(chan parley.Statistics, 16)
	bobQuality := make(chan parley.Quality, 16)
	alice := env.client(t, "alice", parley.Listener{OnStatistics: func(s parley.Statistics) { aliceStats <- s }})
	bob := env.client(t, "bob", parley.Listener{
		OnStatistics:     func(s parley.Statistics) { bobStats <- s },
		OnNetworkQuality: func(q parley.Quality, _ []parley.RemoteQuality) { bobQuality <- q },
	})
	for _, c := range []*parley.Client{alice, bob} {
		if _, err := c.EnterRoom(ctx, parley.EnterParams{RoomID: 8, Scene: protocol.SceneVideoCall}); err != nil {
			t.Fatal(err)
		}
	}
	publishClips(t, ctx, alice, true, true)

	// Skip rounds until bob has seen alice's video for a whole interval.
	var s parley.Statistics
	var prev time.Time
	for {
		s = waitFor(t, ctx, bobStats, "bob's statistics")
		now := time.Now()
		if !prev.IsZero() {
			if gap := now.Sub(prev); gap < 1500*time.Millisecond || gap > 2500*time.Millisecond {
				t.Fatalf("statistics interval %v, want about 2 s", gap)
			}
		}
		prev = now
		if len(s.Remote) > 0 && s.Remote[0].VideoBitrate > 0 && s.Remote[0].Width > 0 && s.Remote[0].AudioBitrate > 0 {
			break
		}
	}
	// One more full round with media flowing throughout.
	s = waitFor(t, ctx, bobStats, "bob's next statistics")
	var r *parley.RemoteStats
	for i := range s.Remote {
		if s.Remote[i].UserID == "alice" && s.Remote[i].StreamType == parley.StatsStreamBig {
			r = &s.Remote[i]
		}
	}
	if r == nil {
		t.Fatalf("no big-stream remote stats for alice: %+v", s.Remote)
	}
	if r.Width != 320 || r.Height != 240 {
		t.Errorf("remote resolution %dx%d, want 320x240", r.Width, r.Height)
	}
	if r.FrameRate < 12 || r.FrameRate > 18 {
		t.Errorf("remote frame rate %d, want about 15", r.FrameRate)
	}
	if r.VideoBitrate == 0 || r.AudioBitrate == 0 {
		t.Errorf("remote bitrates video %d audio %d kbps, want > 0", r.VideoBitrate, r.AudioBitrate)
	}
	if r.VideoPacketLoss != 0 || r.AudioPacketLoss != 0 || s.DownLoss != 0 {
		t.Errorf("loss on loopback: video %d%% audio %d%% down %d%%", r.VideoPacketLoss, r.AudioPacketLoss, s.DownLoss)
	}
	if s.ReceivedBytes == 0 {
		t.Error("receivedBytes 0")
	}
	// The latest quality report (early ones may be Unknown, before any
	// measurement) must be Excellent on loopback.
	latest := waitFor(t, ctx, bobQuality, "a network quality report")
	for len(bobQuality) > 0 {
		latest = <-bobQuality
	}
	if latest != parley.QualityExcellent {
		t.Errorf("network quality %d on loopback, want %d (excellent)", latest, parley.QualityExcellent)
	}
	as := waitFor(t, ctx, aliceStats, "alice's statistics")
	if as.SentBytes == 0 || len(as.Local) == 0 {
		t.Fatalf("publisher statistics: %+v", as)
	}
	var sawVideo bool
	for _, l := range as.Local {
		if l.VideoBitrate > 0 {
			sawVideo = true
		}
	}
	if !sawVideo {
		t.Errorf("publisher local stats show no video bitrate: %+v", as.Local)
	}
}
