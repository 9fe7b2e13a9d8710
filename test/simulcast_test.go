package test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/parley-rtc/parley/protocol"
	parley "github.com/parley-rtc/parley/sdk/go"
)

// keyframeWidths returns the widths in the VP8 keyframe headers among
// the packets (RFC 7741 payload descriptor, then RFC 6386 §9.1 header).
func keyframeWidths(pkts []*rtp.Packet) []int {
	var widths []int
	for _, f := range vp8Frames(inSeqOrder(pkts)) {
		if w, _, ok := parley.ParseVP8KeyframeSize(f); ok {
			widths = append(widths, w)
		}
	}
	return widths
}

// TestSimulcastLayerChoicePerSubscriber: a publisher sends three VP8
// layers (q, h, f); a subscriber gets the full layer by default and,
// after set_layer, the quarter layer — switched on a keyframe, with no
// gap in the sequence numbers it sees.
func TestSimulcastLayerChoicePerSubscriber(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 60*time.Second)
	alice := env.client(t, "alice", parley.Listener{})
	if _, err := alice.EnterRoom(ctx, parley.EnterParams{RoomID: 31, Scene: protocol.SceneVideoCall}); err != nil {
		t.Fatal(err)
	}
	src, err := parley.NewSyntheticSource(parley.SyntheticOptions{Kind: protocol.KindVideo, Width: 640, Height: 360, FrameRate: 30, KeyframeInterval: 15})
	if err != nil {
		t.Fatal(err)
	}
	track, err := alice.PublishVideo(ctx, src, parley.VideoOptions{Simulcast: true})
	if err != nil {
		t.Fatal(err)
	}

	// Packets go to `full` until the test asks for the quarter layer.
	full, quarter := newReceived(), newReceived()
	var current atomic.Pointer[received]
	current.Store(full)
	bob := env.client(t, "bob", parley.Listener{OnRemoteTrack: func(rt *parley.RemoteTrack) {
		rt.OnPacket(func(p *rtp.Packet) { current.Load().add(p) })
	}})
	if _, err := bob.EnterRoom(ctx, parley.EnterParams{RoomID: 31, Scene: protocol.SceneVideoCall}); err != nil {
		t.Fatal(err)
	}
	for len(keyframeWidths(full.snapshot())) < 2 {
		waitFor(t, ctx, full.notify, "full-layer keyframes")
	}
	for _, w := range keyframeWidths(full.snapshot()) {
		if w != 640 {
			t.Fatalf("default layer keyframe width %d, want 640 (the highest layer)", w)
		}
	}
	current.Store(quarter)
	if err := bob.SetLayer(ctx, "alice", track.ID(), "q"); err != nil {
		t.Fatal(err)
	}
	for {
		ws := keyframeWidths(quarter.snapshot())
		if len(ws) >= 2 && ws[len(ws)-1] == 160 && ws[len(ws)-2] == 160 {
			break
		}
		waitFor(t, ctx, quarter.notify, "quarter-layer keyframes")
	}
	// The stream the subscriber sees stays continuous across the switch.
	all := inSeqOrder(append(full.snapshot(), quarter.snapshot()...))
	for i := 1; i < len(all); i++ {
		if all[i].SequenceNumber != all[i-1].SequenceNumber+1 {
			t.Fatalf("sequence gap across the layer switch: %d then %d", all[i-1].SequenceNumber, all[i].SequenceNumber)
		}
	}
}
