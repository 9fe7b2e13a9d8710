package test

import (
	"sort"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/parley-rtc/parley/protocol"
	parley "github.com/parley-rtc/parley/sdk/go"
)

// inSeqOrder sorts packets by extended sequence number (unwrapping the
// 16-bit counter, RFC 3550 A.1) and drops duplicates.
func inSeqOrder(pkts []*rtp.Packet) []*rtp.Packet {
	type ext struct {
		n int64
		p *rtp.Packet
	}
	var out []ext
	var last int64
	for i, p := range pkts {
		n := int64(p.SequenceNumber)
		if i > 0 {
			// Pick the unwrapped value nearest the previous one.
			base := last &^ 0xffff
			cands := []int64{base + n - 0x10000, base + n, base + n + 0x10000}
			best := cands[0]
			for _, c := range cands[1:] {
				if abs64(c-last) < abs64(best-last) {
					best = c
				}
			}
			n = best
		}
		last = n
		out = append(out, ext{n, p})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].n < out[j].n })
	var res []*rtp.Packet
	for i, e := range out {
		if i > 0 && e.n == out[i-1].n {
			continue
		}
		res = append(res, e.p)
	}
	return res
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestSubscriberJoinPLIAndNACKRepair proves two SFU duties end to end:
// a subscriber that joins makes the SFU ask the publisher for a keyframe
// (PLI reaches the publisher), and a burst of video packets lost on the
// way to the subscriber is repaired by NACK retransmission from the SFU's
// packet ring, so the subscriber ends up with every frame the publisher
// sent, byte for byte.
func TestSubscriberJoinPLIAndNACKRepair(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 60*time.Second)

	keyframeRequests := make(chan string, 64)
	alice := env.client(t, "alice", parley.Listener{
		OnKeyframeRequest: func(trackID string) { keyframeRequests <- trackID },
	})
	if _, err := alice.EnterRoom(ctx, parley.EnterParams{RoomID: 77, Scene: protocol.SceneVideoCall}); err != nil {
		t.Fatal(err)
	}
	publishClips(t, ctx, alice, true, false)
	// With no subscriber there is no reason for a keyframe: the SFU never
	// requests one on a timer (REFERENCE.md §8.2 point 6).
	if n := len(keyframeRequests); n != 0 {
		t.Fatalf("%d keyframe requests before any subscriber joined", n)
	}

	lossy, drop, err := newLossyTransport(96)
	if err != nil {
		t.Fatal(err)
	}
	got := newReceived()
	bobTracks := make(chan *parley.RemoteTrack, 1)
	bob, err := parley.New(parley.Config{
		URL: env.srv.SignalURL(), SDKAppID: env.appID, UserID: "bob", UserSig: env.userSig(t, "bob"),
		Transport: lossy,
		Listener: parley.Listener{OnRemoteTrack: func(rt *parley.RemoteTrack) {
			rt.OnPacket(got.add)
			bobTracks <- rt
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bob.Close() })
	if err := bob.GrantConsent("2025-09-11", protocol.PurposeRTC); err != nil {
		t.Fatal(err)
	}
	if err := bob.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.EnterRoom(ctx, parley.EnterParams{RoomID: 77, Scene: protocol.SceneVideoCall}); err != nil {
		t.Fatal(err)
	}
	// proves the SFU asks the publisher for a keyframe when a subscriber joins
	waitFor(t, ctx, keyframeRequests, "a PLI at the publisher after the subscriber joined")
	waitFor(t, ctx, bobTracks, "bob's remote video track")

	// Receive some video, then lose a burst of 8 packets at bob's socket.
	for len(got.snapshot()) < 30 {
		waitFor(t, ctx, got.notify, "video packets at bob")
	}
	burst := drop.arm(8)
	waitFor(t, ctx, burst, "8 dropped packets")
	lost := drop.droppedSeqs()
	// Wait until every lost packet has been retransmitted and received.
	have := func() map[uint16]bool {
		m := map[uint16]bool{}
		for _, p := range got.snapshot() {
			m[p.SequenceNumber] = true
		}
		return m
	}
	for {
		h := have()
		missing := 0
		for _, s := range lost {
			if !h[s] {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		waitFor(t, ctx, got.notify, "retransmissions of the lost packets")
	}
	// A second of further media, then compare everything with the file.
	for start := len(got.snapshot()); len(got.snapshot()) < start+20; {
		waitFor(t, ctx, got.notify, "video after the repaired burst")
	}
	pkts := inSeqOrder(got.snapshot())
	for i := 1; i < len(pkts); i++ {
		if pkts[i].SequenceNumber != pkts[i-1].SequenceNumber+1 {
			t.Fatalf("gap after repair: seq %d then %d", pkts[i-1].SequenceNumber, pkts[i].SequenceNumber)
		}
	}
	frames := vp8Frames(pkts)
	assertContiguousRun(t, "repaired video", ivfFrames(t, vp8File), frames, 10)
}
